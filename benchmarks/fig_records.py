"""What run records cost, measured side by side: recording on against recording off.

Three figures, each printed as a table and written as JSON (``--output``):

1. a 10-step chain of trivial plugins (memory data) run in-process through
   ``Session.run_pipeline``, with the run's ``RunRecorder`` and with it replaced by a
   listener that does nothing, alternating; the figure is the median extra milliseconds
   per run (target: under 10 ms);
2. the shipped demo at ``--rows`` wheel-speed rows through ``Session.run_pipeline``, each
   run in a fresh process, recording on and off alternating; the figure is the median
   per-round ratio (target: under 1.05);
3. ``python run.py runs`` and ``python run.py show`` with 10,000 runs in the store (made
   with ``SqliteRunStore`` directly, each with the demo's 8 steps and 25 datasets), as
   fresh processes; the figure is the median wall time (target: under 200 ms).

Run from the repository root: ``python benchmarks/fig_records.py [--rows N] [--rounds K]``.
It works on a throwaway copy of the project under ``benchmarks/.work/records``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from datareplay.project.paths import Project
    from datareplay.session import Session
    root, case, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    session = Session(Project.at(root))
    if mode == "off":
        session._recorder = lambda *args, **kwargs: (lambda event: None)
    started = time.perf_counter()
    session.run_pipeline(case)
    print(time.perf_counter() - started)
    """
)

START = '''
from datareplay import BasePlugin
class ChainStart(BasePlugin):
    """Start a chain."""
    outputs = {"dst": "A tuple."}
    def run(self, hub):
        hub["dst"] = (0,)
'''
STEP = '''
from datareplay import BasePlugin
class ChainStep(BasePlugin):
    """One link of a chain."""
    inputs = {"src": "A tuple."}
    outputs = {"dst": "The same tuple."}
    def run(self, hub):
        hub["dst"] = hub["src"]
'''


def chain_project(root: Path, n: int = 10) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "modules").mkdir()
    (root / "config" / "global.yaml").write_text("plugins: {paths: [modules]}\n")
    (root / "modules" / "chain_start.py").write_text(START)
    (root / "modules" / "chain_step.py").write_text(STEP)
    lines = ["data_sources:"] + [f"  d{i}: {{format: memory}}" for i in range(n)]
    lines += ["pipeline:", "  - {plugin: ChainStart, name: n0, outputs: {dst: d0}}"]
    lines += [
        f"  - {{plugin: ChainStep, name: n{i}, inputs: {{src: d{i - 1}}}, outputs: {{dst: d{i}}}}}"
        for i in range(1, n)
    ]
    (root / "cases" / "chain").mkdir(parents=True)
    (root / "cases" / "chain" / "case.yaml").write_text("\n".join(lines) + "\n")
    return root


def chain_figure(root: Path, rounds: int) -> dict[str, Any]:
    import logging

    from datareplay.project.paths import Project
    from datareplay.session import Session

    logging.disable(logging.CRITICAL)
    project = Project.at(chain_project(root))
    on, off = Session(project), Session(project)
    off._recorder = lambda *args, **kwargs: lambda event: None  # type: ignore[method-assign]
    for session in (on, off):  # warm-up: imports, registry, database
        session.run_pipeline("chain")
    times: dict[str, list[float]] = {"on": [], "off": []}
    for index in range(rounds):
        order = (("on", on), ("off", off)) if index % 2 == 0 else (("off", off), ("on", on))
        for mode, session in order:
            started = time.perf_counter()
            session.run_pipeline("chain")
            times[mode].append(time.perf_counter() - started)
    logging.disable(logging.NOTSET)
    extra = [1000 * (a - b) for a, b in zip(times["on"], times["off"], strict=True)]
    return {
        "samples": {"on": times["on"], "off": times["off"]},
        "recording on, median ms": 1000 * statistics.median(times["on"]),
        "recording off, median ms": 1000 * statistics.median(times["off"]),
        "extra ms per 10-step run (median of rounds)": statistics.median(extra),
        "spread ms": [min(extra), max(extra)],
        "target": "< 10 ms",
    }


def demo_figure(root: Path, rows: int, rounds: int) -> dict[str, Any]:
    ignore = shutil.ignore_patterns("__pycache__", ".work", ".datareplay", "data")
    for part in ("config", "modules", "scripts", "templates"):
        shutil.copytree(REPO / part, root / part, ignore=ignore)
    (root / "cases" / "demo").mkdir(parents=True)
    shutil.copy2(REPO / "cases" / "demo" / "case.yaml", root / "cases" / "demo" / "case.yaml")
    subprocess.run(
        [PYTHON, root / "scripts" / "generation.py", "--rows", str(rows), "--root", root],
        check=True,
        capture_output=True,
    )

    def one(mode: str) -> float:
        done = subprocess.run(
            [PYTHON, "-c", CHILD, str(root), "demo", mode],
            check=True,
            capture_output=True,
            text=True,
        )
        return float(done.stdout.strip().splitlines()[-1])

    one("on")
    one("off")
    ratios, on, off = [], [], []
    for index in range(rounds):
        first, second = ("on", "off") if index % 2 == 0 else ("off", "on")
        a = one(first)
        b = one(second)
        t_on, t_off = (a, b) if first == "on" else (b, a)
        on.append(t_on)
        off.append(t_off)
        ratios.append(t_on / t_off)
    return {
        "samples": {"on": on, "off": off},
        "rows": rows,
        "recording on, median s": statistics.median(on),
        "recording off, median s": statistics.median(off),
        "on / off (median of rounds)": statistics.median(ratios),
        "spread": [min(ratios), max(ratios)],
        "target": "< 1.05",
    }


def store_figure(root: Path, runs: int, rounds: int) -> dict[str, Any]:
    from datareplay.records.store import DatasetVersion, RunRecord, SqliteRunStore, StepRecord

    ignore = shutil.ignore_patterns("__pycache__", ".work", ".datareplay", "data")
    for part in ("config", "modules"):
        shutil.copytree(REPO / part, root / part, ignore=ignore)
    shutil.copy2(REPO / "run.py", root / "run.py")
    (root / "cases" / "demo").mkdir(parents=True)
    shutil.copy2(REPO / "cases" / "demo" / "case.yaml", root / "cases" / "demo" / "case.yaml")
    store = SqliteRunStore(root / ".datareplay" / "runs.sqlite")
    config = {"data": {"pipeline": [{"plugin": f"P{i}"} for i in range(8)]}, "origins": {}}
    started = time.time() - runs
    for n in range(runs):
        run_id = f"20260101-{n:06d}-{n % 4096:06x}"
        store.begin_run(
            RunRecord(
                run_id,
                "demo",
                "pipeline",
                ("run.py", "pipeline", "--case", "demo"),
                started + n,
                None,
                "running",
                None,
                None,
                None,
                1,
                "bench",
                config,
                {},
                8,
            )
        )
        for position in range(1, 9):
            versions = tuple(
                DatasetVersion(
                    role,
                    f"p{k}",
                    f"s{position}_{k}",
                    "parquet",
                    f"cases/demo/data/s{position}_{k}.parquet",
                    f"xxh3_128:{n:016x}{position:08x}{k:08x}",
                    1000,
                    10,
                    3,
                    "DataFrame 10×3",
                )
                for k, role in enumerate(("input", "input", "output"))
            )
            store.add_step(
                run_id,
                StepRecord(
                    position,
                    position - 1,
                    f"step{position}",
                    f"P{position}",
                    "m",
                    "xxh3_128:0",
                    {"a": 1},
                    "succeeded",
                    0.1,
                    (),
                    None,
                    versions,
                ),
            )
        store.end_run(
            run_id,
            status="succeeded",
            exit_code=0,
            failed_step=None,
            error=None,
            ended=started + n + 0.5,
        )
    store.close()
    middle = f"20260101-{runs // 2:06d}"
    commands = {
        "runs": ["runs"],
        "runs --json --limit 100": ["runs", "--json", "--limit", "100"],
        "show last": ["show", "last"],
        f"show {middle} (a prefix)": ["show", middle],
    }
    out: dict[str, Any] = {"runs in the store": runs, "target": "< 200 ms", "samples": {}}
    for label, args in commands.items():
        times = []
        for _ in range(rounds):
            began = time.perf_counter()
            subprocess.run(
                [PYTHON, root / "run.py", *args], check=True, capture_output=True, cwd=root
            )
            times.append(1000 * (time.perf_counter() - began))
        out[f"{label}, median ms"] = statistics.median(times)
        out["samples"][label] = times
    return out


def measure(scale: Any, work: Path) -> list[Any]:
    """The figure of the benchmark suite (``benchmarks/run.py --only records``)."""
    from benchlib import Figure, Row, Stat, judge, ratio
    from fig_progress import progress_figure

    shutil.rmtree(work / "records", ignore_errors=True)
    runs = 500 if scale.quick else 10_000
    rounds = 2 if scale.quick else 3
    chain = chain_figure(work / "records" / "chain", rounds=10 if scale.quick else 40)
    demo = demo_figure(work / "records" / "demo", scale.demo_rows, rounds)
    store = store_figure(work / "records" / "store", runs, rounds if scale.quick else 5)
    extra = Stat.of(1000 * (a - b) for a, b in zip(*chain["samples"].values(), strict=True))
    cost = ratio(demo["samples"]["on"], demo["samples"]["off"])
    rows = [
        Row(
            f"shipped demo at {scale.demo_rows:,} rows: recording on ÷ off",
            cost,
            "×",
            "< 1.05×",
            judge(cost, lambda v: v < 1.05),
            "records, object store, environment; alternating, each run a fresh process",
            True,
        ),
        Row(
            "10-step run: extra time with recording",
            extra,
            "ms",
            "< 10 ms",
            judge(extra, lambda v: v < 10),
            "in-process Session.run_pipeline, memory data, recorder on vs a no-op listener",
            True,
        ),
    ]
    for label, samples in store["samples"].items():
        stat = Stat.of(samples)
        rows.append(
            Row(
                f"`run.py {label}` with {runs:,} runs in the store",
                stat,
                "ms",
                "< 200 ms",
                judge(stat, lambda v: v < 200),
                "a fresh process, interpreter start included",
                label == "runs",
            )
        )
    figure = Figure(
        "Run records",
        "What recording every run costs, measured side by side: the shipped demo through "
        "`Session.run_pipeline` in fresh processes with the run's `RunRecorder` and with a "
        "listener that does nothing, alternating; a 10-step chain of trivial plugins the "
        "same way in one process; and `runs`/`show` as fresh processes on a store holding "
        "many runs of 8 steps and 24 datasets each (written with `SqliteRunStore`).",
        rows,
    )
    shutil.rmtree(work / "records", ignore_errors=True)
    return [figure, progress_figure(scale, work)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--only", default="chain,demo,store")
    ns = parser.parse_args()
    work = REPO / "benchmarks" / ".work" / "records"
    shutil.rmtree(work, ignore_errors=True)
    results: dict[str, Any] = {"commit": _commit()}
    parts = ns.only.split(",")
    if "chain" in parts:
        results["chain"] = chain_figure(work / "chain", rounds=max(ns.rounds * 10, 20))
    if "demo" in parts:
        results["demo"] = demo_figure(work / "demo", ns.rows, ns.rounds)
    if "store" in parts:
        results["store"] = store_figure(work / "store", ns.runs, ns.rounds)
    text = json.dumps(results, indent=2)
    print(text)
    if ns.output is not None:
        ns.output.write_text(text + "\n")
    shutil.rmtree(work, ignore_errors=True)


def _commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


if __name__ == "__main__":
    main()
