"""Figures 2 and 5, engine overhead and memory, from the same runs of the demo.

Three programs run alternately as fresh processes on the same raw data: the engine
(``python run.py pipeline --case demo``), the plain script (``plain_demo.py``: same
plugins, same reads and writes, no framework) and the plain script with the engine's
fsyncs. Each child's own peak RSS comes from ``os.wait4``. The sizes of the datasets are
measured afterwards by loading every persisted dataset of the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import (
    BENCH_DIR,
    PYTHON,
    Figure,
    ProcResult,
    Row,
    Scale,
    Stat,
    alternate,
    difference,
    megabytes,
    ratio,
    run_timed,
    say,
    verdict,
)

OVERHEAD_TARGET = 1.05
MEMORY_TARGET = 1.5
FLOOR_IMPORTS = "import numpy, pandas, pyarrow, pyarrow.parquet, pyarrow.feather"


@dataclass
class DemoRuns:
    """Wall times and peak RSS of the alternated runs, by variant."""

    results: dict[str, list[ProcResult]]
    rows: int
    same_outputs: str

    def seconds(self, name: str) -> list[float]:
        return [r.seconds for r in self.results[name]]

    def rss_mb(self, name: str) -> list[float]:
        return [r.max_rss_bytes / 1e6 for r in self.results[name]]

    def runner_seconds(self) -> list[float]:
        """The engine's own "finished: N steps in X s" (the runner loop) per run."""
        found = []
        for result in self.results["engine"]:
            match = re.search(r"finished: \d+ steps in ([0-9.]+) s", result.stdout)
            if match is None:
                raise ValueError("the engine's output has no 'finished ... in X s' line")
            found.append(float(match.group(1)))
        return found


def _commands(project: Path, work: Path) -> dict[str, list[str | Path]]:
    plain = [PYTHON, BENCH_DIR / "plain_demo.py", "--project", project]
    return {
        "engine": [PYTHON, project / "run.py", "pipeline", "--case", "demo"],
        "plain": [*plain, "--out", work / "plain-out"],
        "plain+fsync": [*plain, "--out", work / "plain-fsync-out", "--fsync"],
    }


def run_demo(scale: Scale, project: Path, work: Path) -> DemoRuns:
    """One warm-up run of each variant, then ``scale.demo_reps`` alternated rounds."""
    logs = work / "demo-logs"
    logs.mkdir()
    commands = _commands(project, work)

    def variant(name: str) -> Callable[[], ProcResult]:
        slug = name.replace("+", "-")
        return lambda: run_timed(commands[name], cwd=project, log=logs / f"{slug}.out")

    variants = {name: variant(name) for name in commands}
    say(f"demo at {scale.demo_rows:,} rows: warm-up run of each variant")
    alternate(variants, 1)
    same = _compare_outputs(project / "cases" / "demo" / "data", work / "plain-out")
    say(f"demo: {scale.demo_reps} alternated rounds of {', '.join(commands)}")
    return DemoRuns(alternate(variants, scale.demo_reps), scale.demo_rows, same)


def _compare_outputs(engine: Path, plain: Path) -> str:
    """Proof that the baseline does the same work: its outputs equal the engine's."""
    names = sorted(p.name for p in engine.iterdir() if p.is_file() and not p.name.startswith("."))
    differ = [n for n in names if (engine / n).read_bytes() != (plain / n).read_bytes()]
    if differ:
        return f"WARNING: the plain script's outputs differ from the engine's: {', '.join(differ)}"
    return f"the plain script's {len(names)} output files are byte-identical to the engine's"


def overhead_figure(runs: DemoRuns) -> Figure:
    engine, plain, durable = (runs.seconds(n) for n in ("engine", "plain", "plain+fsync"))
    overhead = ratio(engine, plain)
    figure = Figure(
        "Engine overhead",
        f"The demo pipeline at {runs.rows:,} wheel-speed rows, each variant a fresh process "
        "timed from the parent (interpreter start and imports included): "
        "`python run.py pipeline --case demo` vs `python benchmarks/plain_demo.py` (the "
        "same plugin classes called on a dict, the same pyarrow/pandas reads and writes, "
        "no config, plan, checks, atomic rename or fsync) vs the plain script with the "
        "engine's fsync of every file and folder. Ratios are per round.",
    )
    outside = difference(engine, runs.runner_seconds())
    figure.rows += [
        Row("engine: `run.py pipeline --case demo`", Stat.of(engine), "s"),
        Row("plain script", Stat.of(plain), "s"),
        Row("plain script + fsync", Stat.of(durable), "s"),
        Row(
            "engine ÷ plain script",
            overhead,
            "×",
            f"≤ {OVERHEAD_TARGET}×",
            verdict(overhead.median <= OVERHEAD_TARGET),
            "the issue's figure",
            headline=True,
        ),
        Row(
            "engine ÷ (plain script + fsync)",
            ratio(engine, durable),
            "×",
            notes="the framework's cost beyond durability",
        ),
        Row("engine − plain script", difference(engine, plain), "s"),
        Row("cost of the fsyncs (plain + fsync − plain)", difference(durable, plain), "s"),
        Row(
            "engine outside its runner loop",
            outside,
            "s",
            notes="start-up, imports, config, plan, checks, summary table",
        ),
    ]
    figure.notes.append(f"{len(engine)} rounds after one warm-up round; {runs.same_outputs}.")
    return figure


# -- memory ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Peak:
    """The moment of the run with the largest two datasets in memory."""

    step: str
    pair: tuple[tuple[str, int], tuple[str, int]]
    alive: dict[str, int]

    @property
    def two_largest(self) -> int:
        return self.pair[0][1] + self.pair[1][1]


def dataset_sizes(project: Path) -> tuple[dict[str, int], list[Any]]:
    """Deep in-memory size of every dataset of the demo, loaded from its file, and the
    plan's steps (for which datasets are alive together)."""
    from datareplay.project import Project
    from datareplay.session import Session

    opened = Session(Project.at(project)).open_case("demo")
    sizes: dict[str, int] = {}
    for name in opened.hub.sources:
        if opened.hub.available(name):
            value = opened.hub[name]
            sizes[name] = _deep_size(value)
            opened.hub.release(name)
    return sizes, list(opened.plan.steps)


def _deep_size(value: Any) -> int:
    if hasattr(value, "memory_usage"):
        return int(value.memory_usage(index=True, deep=True).sum())
    import pickle

    return len(pickle.dumps(value))  # a stand-in for JSON values; tiny in the demo


def peak_pair(sizes: dict[str, int], steps: list[Any]) -> Peak:
    """Replay the runner's memory policy: while a step runs, its inputs, its outputs and
    every dataset not yet released are alive; after it, data no later step touches is
    released. Returns the step with the largest two alive datasets."""
    last: dict[str, int] = {}
    for position, step in enumerate(steps):
        for name in [*step.reads.values(), *step.writes.values()]:
            last[name] = position
    alive: set[str] = set()
    best: Peak | None = None
    for position, step in enumerate(steps):
        alive |= {*step.reads.values(), *step.writes.values()}
        ranked = sorted(((n, sizes.get(n, 0)) for n in alive), key=lambda item: -item[1])
        ranked += [("none", 0)] * (2 - len(ranked))
        candidate = Peak(step.name, (ranked[0], ranked[1]), dict(ranked))
        if best is None or candidate.two_largest > best.two_largest:
            best = candidate
        if position < len(steps) - 1:
            alive = {n for n in alive if last.get(n, -1) > position}
    assert best is not None
    return best


def library_floor(work: Path) -> ProcResult:
    """Peak RSS of an interpreter that only imports the data libraries."""
    return run_timed([PYTHON, "-c", FLOOR_IMPORTS], cwd=work, log=work / "floor.out")


def memory_figure(runs: DemoRuns, project: Path, work: Path) -> Figure:
    say("memory: loading every dataset of the run to measure its size")
    sizes, steps = dataset_sizes(project)
    peak = peak_pair(sizes, steps)
    floor_mb = library_floor(work).max_rss_bytes / 1e6
    pair_mb = peak.two_largest / 1e6
    engine_rss, plain_rss = runs.rss_mb("engine"), runs.rss_mb("plain")
    engine_ratio = Stat.of(v / pair_mb for v in engine_rss)
    (a, a_size), (b, b_size) = peak.pair
    figure = Figure(
        "Memory",
        f"Peak RSS of the demo at {runs.rows:,} rows (the engine-overhead runs; each child's "
        "own maximum from `os.wait4`) vs the deep in-memory size "
        "(`DataFrame.memory_usage(deep=True)`) of the largest two datasets alive at the "
        "same time, found by replaying the runner's release policy over the plan with "
        "every dataset loaded back from its file.",
    )
    figure.rows += [
        Row("engine peak RSS", Stat.of(engine_rss), "MB"),
        Row("plain script peak RSS", Stat.of(plain_rss), "MB"),
        Row(
            "largest two datasets alive at once",
            Stat.of([pair_mb]),
            "MB",
            notes=f"step {peak.step}: {a} {megabytes(a_size)} + {b} {megabytes(b_size)}",
        ),
        Row(
            "engine peak RSS ÷ largest two",
            engine_ratio,
            "×",
            f"≤ {MEMORY_TARGET}×",
            verdict(engine_ratio.median <= MEMORY_TARGET),
            headline=True,
        ),
        Row(
            "plain script peak RSS ÷ largest two",
            Stat.of(v / pair_mb for v in plain_rss),
            "×",
            notes="the same plugins without the framework",
        ),
        Row("engine ÷ plain script peak RSS", ratio(engine_rss, plain_rss), "×"),
        Row(
            "interpreter + numpy/pandas/pyarrow imported",
            Stat.of([floor_mb]),
            "MB",
            notes="the floor every variant pays",
        ),
        Row(
            "(engine peak − floor) ÷ largest two",
            Stat.of((v - floor_mb) / pair_mb for v in engine_rss),
            "×",
        ),
    ]
    alive = ", ".join(f"{n} {megabytes(s)}" for n, s in peak.alive.items())
    total = sum(peak.alive.values())
    figure.notes += [
        f"Alive during step {peak.step}: {alive} (together {megabytes(total)}).",
        "Sizes of every dataset: "
        + ", ".join(f"{n} {megabytes(s)}" for n, s in sorted(sizes.items(), key=lambda i: -i[1]))
        + ".",
    ]
    return figure
