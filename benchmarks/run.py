"""Run the Data Replay benchmarks and write RESULTS.md.

    python benchmarks/run.py             # full scale, a few minutes -> benchmarks/RESULTS.md
    python benchmarks/run.py --quick     # small scale, < 1 min -> .work/quick/RESULTS.md

benchmarks/RESULTS.md is written only from a committed tree (``--allow-dirty`` writes it
anyway, every verdict marked unreproducible); it names the full commit measured.

Figures (see the issue "benchmarks"): CLI start, engine overhead, per-step overhead,
persistence and memory, data-quality checks (issue 7), content hashing (issue "Engine
core"), scaling of the quality steps from 1 to 10 million rows, the same workload
against Kedro (issue 14), plus a profile of the demo run written next to the results.
Everything runs on a throwaway copy of the project under ``benchmarks/.work/``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import fig_cli
import fig_demo
import fig_hash
import fig_kedro
import fig_persistence
import fig_quality
import fig_scaling
import fig_steps
import workspace
from benchlib import (
    BENCH_DIR,
    FULL,
    PYTHON,
    QUICK,
    Baseline,
    BenchError,
    Figure,
    Row,
    Scale,
    run_timed,
    say,
)
from report import Profile, render

# The engine the side-by-side figures compare with: the last revision before the issue
# "Engine core" (StepSpec/execute, run events, DataCatalog + DataHub, content hashing,
# gc.freeze). Move it forward when a later round of engine work is to be judged.
DEFAULT_BASELINE = "591bd97"
FIGURES = (
    "cli",
    "demo",
    "steps",
    "persistence",
    "quality",
    "hashing",
    "scaling",
    "records",
    "kedro",
)
EXCERPT_LINES = 60
UNREPRODUCIBLE = "unreproducible (uncommitted changes)"
COMMITTED_RESULTS = BENCH_DIR / "RESULTS.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small scale, under a minute (no timing conclusions)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results file (default benchmarks/RESULTS.md, or the git-ignored "
        "benchmarks/.work/quick/RESULTS.md with --quick); profiles go beside it",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=BENCH_DIR / ".work",
        help="folder for the throwaway project (default benchmarks/.work)",
    )
    parser.add_argument(
        "--kedro-venv",
        type=Path,
        default=BENCH_DIR / ".work" / "kedro-venv",
        help="cached venv with kedro for the kedro comparisons",
    )
    parser.add_argument(
        "--no-kedro", action="store_true", help="skip kedro in the comparisons (CLI, workload)"
    )
    parser.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        metavar="REV",
        help="git revision of the engine to compare with side by side (CLI start, demo); "
        f"default {DEFAULT_BASELINE} (before the issue 'Engine core'); 'auto' = the parent "
        "of the last commit that changed src/datareplay; 'none' skips",
    )
    parser.add_argument(
        "--only", default=",".join(FIGURES), help=f"comma-separated subset of {', '.join(FIGURES)}"
    )
    parser.add_argument("--keep", action="store_true", help="keep the throwaway project")
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="write benchmarks/RESULTS.md from a tree with uncommitted changes; every "
        f"verdict then reads '{UNREPRODUCIBLE}'",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(sorted(unknown))}; use {', '.join(FIGURES)}")
    if args.output is None:
        quick = BENCH_DIR / ".work" / "quick" / "RESULTS.md"
        args.output = quick if args.quick else BENCH_DIR / "RESULTS.md"
    return args


class Bench:
    """One benchmark run: its scale, folders, figures and remarks."""

    def __init__(self, args: argparse.Namespace, git: workspace.GitState) -> None:
        self.args = args
        self.git = git
        self.scale: Scale = QUICK if args.quick else FULL
        self.output: Path = args.output.resolve()
        self.output.parent.mkdir(parents=True, exist_ok=True)
        args.work.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix=f"{self.scale.mode}-", dir=args.work))
        self.engine = workspace.snapshot_engine(self.work / "engine")
        self.baseline, self.baseline_note = self._baseline(args.baseline)
        self.project = workspace.make_project(self.work / "project")
        self.figures: list[Figure] = []
        self.profiles: list[Profile] = []
        self.notes: list[str] = []
        self.failed = False
        self.demo_rows = 0
        self.load_start = _load()

    def _baseline(self, wanted: str) -> tuple[Baseline | None, str]:
        """The previous engine's snapshot, or None and why not."""
        if wanted == "none":
            return None, "no comparison with an earlier engine: --baseline none"
        rev = workspace.previous_revision() if wanted == "auto" else wanted
        if not rev:
            return None, "no comparison with an earlier engine: git could not name one"
        dest = self.work / "baseline-engine"
        try:
            short, subject = workspace.snapshot_revision(rev, dest)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            return None, f"no comparison with the engine of {rev}: {str(exc)[:300]}"
        say(f"previous engine for side-by-side runs: {short} ({subject[:60]})")
        baseline = Baseline(short, subject, workspace.engine_env(dest))
        return baseline, f"src/datareplay of {short} ({subject}), extracted at the start ({dest})"

    def figure(self, title: str, build: Callable[[], list[Figure]]) -> None:
        """Measure one or more figures; a failure becomes a row instead of a crash."""
        started = time.perf_counter()
        try:
            built = build()
        except (BenchError, OSError, AssertionError, ValueError) as exc:
            traceback.print_exc()
            self.failed = True
            built = [
                Figure(
                    title,
                    "The measurement failed.",
                    [Row("failed", None, "", verdict="error", notes=str(exc)[:500])],
                )
            ]
        load = os.getloadavg()[0]
        for figure in built:
            figure.seconds = (time.perf_counter() - started) / len(built)
            figure.notes.append(f"Load average (1 min) when it finished: {load:.2f}.")
        self.figures += built

    def cli(self) -> list[Figure]:
        if self.args.no_kedro:
            kedro = fig_cli.Kedro(None, "", "skipped: --no-kedro")
        else:
            kedro = fig_cli.find_kedro(self.args.kedro_venv, install=not self.scale.quick)
        return [fig_cli.measure(self.scale, self.project, self.work, kedro, self.baseline)]

    def demo_data(self) -> int:
        """Generate the demo recording once per benchmark run; return its row count."""
        rows = self.scale.demo_rows
        if self.demo_rows != rows:
            say(f"generating the demo recording at {rows:,} rows")
            seconds = workspace.generate_raw(self.project, rows)
            self.notes.append(
                f"Demo recording: {rows:,} wheel-speed rows (seed {workspace.SEED}), "
                f"{workspace.raw_bytes(self.project) / 1e6:,.0f} MB of parquet, generated "
                f"once in {seconds:.1f} s by scripts/generation.py."
            )
            self.demo_rows = rows
        return rows

    def demo(self) -> list[Figure]:
        rows = self.demo_data()
        runs = fig_demo.run_demo(self.scale, self.project, self.work, self.baseline)
        figures = [
            fig_demo.overhead_figure(runs),
            fig_demo.memory_figure(runs, self.project, self.work),
        ]
        try:
            self.profile_demo(rows)
        except BenchError as exc:
            traceback.print_exc()
            self.failed = True
            self.notes.append(f"The profile of the demo run failed: {str(exc)[:300]}")
        return figures

    def profile_demo(self, rows: int) -> None:
        text = self.output.parent / "profile.txt"
        html = self.output.parent / "profile.html"
        say(f"profiling the demo run at {rows:,} rows")
        cmd = [
            PYTHON,
            BENCH_DIR / "profile_demo.py",
            "--project",
            self.project,
            "--text",
            text,
            "--html",
            html,
        ]
        run_timed(cmd, cwd=self.project, log=self.work / "profile.out")
        files = (text,)  # profile.html is written beside it too, but kept out of git
        excerpt = "\n".join(text.read_text().splitlines()[:EXCERPT_LINES])
        self.profiles.append(
            Profile(
                files,
                f"one run of `python run.py pipeline --case demo` at {rows:,} rows, "
                "profiled in-process through the command line.",
                excerpt,
            )
        )

    def steps(self) -> list[Figure]:
        target = self.output.parent / "profile-steps.txt"
        figure = fig_steps.measure(self.scale, self.work, target)
        if target.is_file():
            self.profiles.append(
                Profile(
                    (target,),
                    "cProfile of `Session.run_pipeline` on the 1,000-step chain "
                    "(per-step overhead), sorted by cumulative and by own time.",
                    "",
                )
            )
        return [figure]

    def persistence(self) -> list[Figure]:
        return [fig_persistence.measure(self.scale, self.work)]

    def quality(self) -> list[Figure]:
        return [fig_quality.measure(self.scale)]

    def hashing(self) -> list[Figure]:
        self.demo_data()
        return [fig_hash.figure(fig_hash.run_hashing(self.scale, self.project, self.work))]

    def scaling(self) -> list[Figure]:
        return [fig_scaling.measure(self.scale, self.work)]

    def records(self) -> list[Figure]:
        import fig_records

        figures: list[Figure] = fig_records.measure(self.scale, self.work)
        return figures

    def kedro(self) -> list[Figure]:
        if self.args.no_kedro:
            kedro = fig_cli.Kedro(None, "", "skipped: --no-kedro")
        else:
            kedro = fig_cli.find_kedro(
                self.args.kedro_venv, install=not self.scale.quick, data=True
            )
        return [fig_kedro.measure(self.scale, self.work, kedro)]

    def run(self) -> int:
        started = time.perf_counter()
        chosen = self.args.only.split(",")
        titles = {
            "cli": "CLI start",
            "demo": "Engine overhead and memory",
            "steps": "Per-step overhead",
            "persistence": "Persistence",
            "quality": "Data-quality checks",
            "hashing": "Content hashing",
            "scaling": "Scaling",
            "records": "Run records and live progress",
            "kedro": fig_kedro.TITLE,
        }
        for name in FIGURES:
            if name in chosen:
                self.figure(titles[name], getattr(self, name))
        self.figures.sort(key=_figure_order)
        warning = ""
        if not self.git.clean:
            warning = f"Measured on a tree that is not a commit: {_why_unreproducible(self.git)}"
            if self.args.allow_dirty:
                warning += f"; every verdict reads {UNREPRODUCIBLE!r}"
                for row in (row for figure in self.figures for row in figure.rows):
                    if row.verdict:
                        row.verdict = UNREPRODUCIBLE
            warning += "."
        text = render(
            scale=self.scale,
            commit=self.git.commit + (" plus uncommitted changes" if self.git.dirty else ""),
            warning=warning,
            machine=[
                *workspace.machine(self.work, self.git),
                (
                    "engine measured",
                    f"snapshot of src/datareplay taken at the start ({self.engine})",
                ),
                ("engine compared with", self.baseline_note),
                ("load average 1/5/15 min, start → end", f"{self.load_start} → {_load()}"),
            ],
            figures=self.figures,
            profiles=self.profiles,
            command="python benchmarks/run.py"
            + (" --quick" if self.scale.quick else "")
            + (" --allow-dirty" if self.args.allow_dirty else ""),
            seconds=time.perf_counter() - started,
            notes=self.notes,
        )
        self.output.write_text(text, encoding="utf-8")
        say(f"wrote {self.output}")
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        return 1 if self.failed else 0


def _load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def _figure_order(figure: Figure) -> int:
    order = [
        "CLI start",
        "Engine overhead",
        "Per-step overhead",
        "Persistence",
        "Memory",
        "Data-quality checks",
        "Content hashing",
        "Scaling",
        "Run records",
        "Live progress",
        fig_kedro.TITLE,
    ]
    return order.index(figure.title) if figure.title in order else len(order)


def _why_unreproducible(git: workspace.GitState, shown: int = 5) -> str:
    if not git.commit:
        return "git cannot tell which commit it is"
    more = len(git.dirty) - shown
    files = ", ".join(git.dirty[:shown]) + (f" and {more} more" if more > 0 else "")
    return f"uncommitted changes in {files}"


def main(argv: list[str] | None = None) -> int:
    # every figure measures steps that run: incremental runs would restore them from
    # the previous round (the incremental figure turns it back on for its own runs)
    before = os.environ.get("DATAREPLAY_NO_CACHE")
    os.environ["DATAREPLAY_NO_CACHE"] = "1"
    try:
        return _main(argv)
    finally:
        if before is None:
            os.environ.pop("DATAREPLAY_NO_CACHE", None)
        else:
            os.environ["DATAREPLAY_NO_CACHE"] = before


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    git = workspace.git_state()
    if args.output.resolve() == COMMITTED_RESULTS and not git.clean and not args.allow_dirty:
        print(
            f"error: {COMMITTED_RESULTS.relative_to(BENCH_DIR.parent)} is written from a "
            f"commit only ({_why_unreproducible(git)}); commit first, or pass --allow-dirty "
            "to mark every verdict unreproducible",
            file=sys.stderr,
        )
        return 2
    bench = Bench(args, git)
    try:
        return bench.run()
    except KeyboardInterrupt:
        say(f"interrupted; the throwaway project is left in {bench.work}")
        return 130


if __name__ == "__main__":
    sys.exit(main())
