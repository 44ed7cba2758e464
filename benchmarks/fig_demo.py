"""Figures 2 and 5, engine overhead and memory, from the same runs of the demo.

Four programs run alternately as fresh processes on the same raw data:

* ``demo``: ``python run.py pipeline --case demo``, the demo case as shipped;
* ``engine``: ``python run.py pipeline --case bench_plain``, a case the benchmark derives
  from the demo: the steps that run the project's own plugins (``modules/``), every data
  source's format and path spelled out, no data-quality checks;
* ``plain``: ``plain_demo.py`` running that same derived case with no framework;
* ``plain+fsync``: the same with the engine's fsyncs;
* ``previous``: the shipped demo again with an earlier engine (``--baseline``), when one
  is given.

engine ÷ plain is the framework's cost; demo ÷ engine is what the data-quality steps
and checks of the shipped demo add. Each child's own peak RSS comes from ``os.wait4`` in
a small launcher. The sizes of the datasets are measured afterwards by loading every
persisted dataset of the demo.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from benchlib import (
    BENCH_DIR,
    PYTHON,
    Baseline,
    Figure,
    ProcResult,
    Row,
    Scale,
    Stat,
    alternate,
    difference,
    judge,
    megabytes,
    ratio,
    ratio_rows,
    run_launched,
    say,
)

OVERHEAD_TARGET = 1.05
NO_SLOWER = 1.05
MEMORY_TARGET = 1.5
FLOOR_IMPORTS = "import numpy, pandas, pyarrow, pyarrow.parquet, pyarrow.feather"
PLAIN_CASE = "bench_plain"
SUFFIXES = {
    ".parquet": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".csv": "csv",
    ".json": "json",
    ".pkl": "pickle",
}
ALIASES = {"arrow": "feather", "ipc": "feather", "pkl": "pickle"}


# -- the derived case ------------------------------------------------------------------


@dataclass(frozen=True)
class DerivedCase:
    """The demo reduced to the project's own plugins, for the engine-vs-plain runs."""

    file: Path
    kept: list[str]
    dropped: list[str]
    checks_removed: int


def _project_plugins(modules: Path) -> set[str]:
    """Class names defined at the top level of the project's plugin modules."""
    names: set[str] = set()
    for path in modules.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    return names


def _default_format(project: Path, demo: dict[str, Any]) -> str:
    config = yaml.safe_load((project / "config" / "global.yaml").read_text()) or {}
    fmt = (config.get("data") or {}).get("default_format") or "parquet"
    return str((demo.get("data") or {}).get("default_format") or fmt)


def derive_plain_case(project: Path) -> DerivedCase:
    """Write ``cases/bench_plain/case.yaml`` from the demo case (see the module doc)."""
    demo = yaml.safe_load((project / "cases" / "demo" / "case.yaml").read_text())
    own = _project_plugins(project / "modules")
    default = _default_format(project, demo)
    sources: dict[str, Any] = {}
    removed = 0
    for name, spec in (demo.get("data_sources") or {}).items():
        spec = dict(spec or {})
        removed += len(spec.pop("checks", None) or [])
        fmt = spec.get("format") or SUFFIXES.get(Path(spec.get("path", "")).suffix) or default
        spec["format"] = ALIASES.get(fmt, fmt)
        sources[name] = spec
    steps = demo["pipeline"]
    derived = {
        **{k: v for k, v in demo.items() if k not in ("data_sources", "pipeline")},
        "description": "The demo's own-plugin steps, for the engine-overhead benchmark.",
        "data_sources": sources,
        "pipeline": [step for step in steps if step["plugin"] in own],
    }
    folder = project / "cases" / PLAIN_CASE
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "case.yaml"
    target.write_text(yaml.safe_dump(derived, sort_keys=False), encoding="utf-8")
    return DerivedCase(
        target,
        [_label(s) for s in steps if s["plugin"] in own],
        [_label(s) for s in steps if s["plugin"] not in own],
        removed,
    )


def _label(step: dict[str, Any]) -> str:
    name = step.get("name")
    return f"{name} ({step['plugin']})" if name and name != step["plugin"] else step["plugin"]


# -- the runs --------------------------------------------------------------------------


@dataclass
class DemoRuns:
    """Wall times and peak RSS of the alternated runs, by variant."""

    results: dict[str, list[ProcResult]]
    rows: int
    case: DerivedCase
    same_outputs: str
    baseline: Baseline | None = None
    warmup: bool = True

    def seconds(self, name: str) -> list[float]:
        return [r.seconds for r in self.results[name]]

    def cpu(self, name: str) -> list[float]:
        return [r.cpu_seconds for r in self.results[name]]

    def rss_mb(self, name: str) -> list[float]:
        return [r.max_rss_bytes / 1e6 for r in self.results[name]]

    def runner_seconds(self, name: str) -> list[float]:
        """The engine's own "finished: N steps in X s" (the runner loop) per run."""
        found = []
        for result in self.results[name]:
            match = re.search(r"finished: \d+ steps in ([0-9.]+) s", result.stdout)
            if match is None:
                raise ValueError("the engine's output has no 'finished: N steps in X s' line")
            found.append(float(match.group(1)))
        return found


def _commands(project: Path, work: Path, case: DerivedCase) -> dict[str, list[str | Path]]:
    plain = [PYTHON, BENCH_DIR / "plain_demo.py", "--project", project, "--case-file", case.file]
    pipeline = [PYTHON, project / "run.py", "pipeline", "--case"]
    return {
        "demo": [*pipeline, "demo"],
        "engine": [*pipeline, PLAIN_CASE],
        "plain": [*plain, "--out", work / "plain-out"],
        "plain+fsync": [*plain, "--out", work / "plain-fsync-out", "--fsync"],
    }


def run_demo(scale: Scale, project: Path, work: Path, baseline: Baseline | None = None) -> DemoRuns:
    """One warm-up run of each variant (not in quick mode, a smoke test), then
    ``scale.demo_reps`` alternated rounds."""
    logs = work / "demo-logs"
    logs.mkdir()
    case = derive_plain_case(project)
    commands = _commands(project, work, case)
    envs: dict[str, dict[str, str] | None] = dict.fromkeys(commands)
    if baseline is not None:
        commands["previous"] = commands["demo"]
        envs["previous"] = baseline.env

    def variant(name: str) -> Callable[[], ProcResult]:
        slug = name.replace("+", "-")
        log = logs / f"{slug}.out"
        return lambda: run_launched(commands[name], cwd=project, log=log, env=envs[name])

    variants = {name: variant(name) for name in commands}
    if not scale.quick:
        say(f"demo at {scale.demo_rows:,} rows: warm-up run of {', '.join(commands)}")
        alternate(variants, 1, settle=os.sync)
    say(f"demo at {scale.demo_rows:,} rows: {scale.demo_reps} alternated rounds")
    results = alternate(variants, scale.demo_reps, settle=os.sync)
    same = _compare_outputs(project / "cases" / PLAIN_CASE / "data", work / "plain-out")
    return DemoRuns(results, scale.demo_rows, case, same, baseline, warmup=not scale.quick)


def _compare_outputs(engine: Path, plain: Path) -> str:
    """Proof that the baseline does the same work: its outputs equal the engine's, byte
    for byte or, where the engine's file carries more (its fidelity metadata, its JSON
    codec), as the values each side's own reader loads back."""
    names = sorted(p.name for p in plain.iterdir() if p.is_file())
    missing = [n for n in names if not (engine / n).is_file()]
    if missing or not names:
        return f"WARNING: the engine wrote none of the plain script's {missing or 'outputs'}"
    same_bytes = [n for n in names if (engine / n).read_bytes() == (plain / n).read_bytes()]
    other = [n for n in names if n not in same_bytes]
    differ = [n for n in other if not _same_value(engine / n, plain / n)]
    if differ:
        return f"WARNING: the plain script's outputs differ from the engine's: {differ}"
    text = f"the plain script's {len(names)} output files equal the engine's"
    if not other:
        return text + ", byte for byte"
    return (
        f"{text}: {len(same_bytes)} byte for byte, {len(other)} ({', '.join(other)}) as the "
        "values read back (the engine's files also carry its fidelity metadata)"
    )


def _same_value(engine_file: Path, plain_file: Path) -> bool:
    import pandas as pd
    import plain_demo

    from datareplay.data.formats import FORMATS

    fmt = SUFFIXES.get(engine_file.suffix, "")
    if fmt not in FORMATS:
        return False
    ours, theirs = FORMATS[fmt].read(engine_file), plain_demo.read(fmt, plain_file)
    if isinstance(ours, pd.DataFrame) and isinstance(theirs, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(ours, theirs)
        except AssertionError:
            return False
        return True
    return bool(ours == theirs)


def overhead_figure(runs: DemoRuns) -> Figure:
    demo, engine, plain, durable = (
        runs.seconds(n) for n in ("demo", "engine", "plain", "plain+fsync")
    )
    figure = Figure(
        "Engine overhead",
        f"The demo at {runs.rows:,} wheel-speed rows, each run a fresh process timed from "
        "a small launcher (interpreter start and imports included), four variants "
        "alternating: the shipped demo (`run.py pipeline --case demo`); the engine on "
        f"`{PLAIN_CASE}`, derived from the demo (its steps with the project's own plugins, "
        "every format and path spelled out, no data-quality checks); "
        "`benchmarks/plain_demo.py` running that derived case with no framework (the same "
        "plugin classes on dicts, the same pyarrow/pandas reads and writes; no config "
        "validation, plan, checks, atomic rename or fsync); and the plain script with the "
        "engine's fsync of every file and folder. Ratios are per round; `os.sync()` runs "
        "(untimed) before every run, so no run pays for write-back another one left.",
    )
    figure.rows += [
        Row("shipped demo: `run.py pipeline --case demo`", Stat.of(demo), "s"),
        *_baseline_rows(runs, demo),
        Row(f"engine: `run.py pipeline --case {PLAIN_CASE}`", Stat.of(engine), "s"),
        Row("plain script", Stat.of(plain), "s"),
        Row("plain script + fsync", Stat.of(durable), "s"),
        *ratio_rows(
            "engine ÷ plain script",
            engine,
            plain,
            cpu=(runs.cpu("engine"), runs.cpu("plain")),
            limit=OVERHEAD_TARGET,
            target=f"≤ {OVERHEAD_TARGET}×",
            notes="the issue's figure: same plugins, same files",
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
            difference(engine, runs.runner_seconds("engine")),
            "s",
            notes="interpreter, imports, config, plan, checks, summary table",
        ),
        Row(
            "shipped demo ÷ engine on the derived case",
            ratio(demo, engine),
            "×",
            notes="what the demo's data-quality steps and checks add",
        ),
    ]
    case = runs.case
    if runs.baseline is not None:
        figure.notes.append(
            f"The {runs.baseline.label} is src/datareplay of {runs.baseline.rev} "
            f"({runs.baseline.subject[:80]}), run on the same project copy and data."
        )
    figure.notes += [
        f"{len(engine)} rounds"
        + (" after one warm-up round" if runs.warmup else "")
        + f"; {runs.same_outputs}.",
        f"`{PLAIN_CASE}` keeps {', '.join(case.kept)}; it leaves out "
        f"{', '.join(case.dropped) or 'nothing'} (built-in plugins, which need the engine's "
        f"hub) and {case.checks_removed} check(s) declared on data sources.",
    ]
    return figure


def _baseline_rows(runs: DemoRuns, demo: list[float]) -> list[Row]:
    if runs.baseline is None:
        return []
    previous = runs.seconds("previous")
    return [
        Row(f"shipped demo, {runs.baseline.label}", Stat.of(previous), "s"),
        *ratio_rows(
            f"shipped demo: this engine ÷ {runs.baseline.label}",
            demo,
            previous,
            cpu=(runs.cpu("demo"), runs.cpu("previous")),
            limit=NO_SLOWER,
            target=f"≤ {NO_SLOWER}× (no slower)",
            notes="per round; the same project, data and command",
        ),
    ]


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


def _deep_size(value: Any) -> int:
    if hasattr(value, "memory_usage"):
        return int(value.memory_usage(index=True, deep=True).sum())
    import pickle

    return len(pickle.dumps(value))  # a stand-in for JSON values; tiny in the demo


def dataset_sizes(project: Path) -> tuple[dict[str, int], list[Any]]:
    """Deep in-memory size of every dataset of the demo, loaded from its file, and the
    plan's steps (for which datasets are alive together)."""
    from datareplay.project.paths import Project
    from datareplay.session import Session

    opened = Session(Project.at(project)).open_case("demo")
    sizes: dict[str, int] = {}
    for name in opened.hub.sources:
        if opened.hub.available(name):
            sizes[name] = _deep_size(opened.hub[name])
            opened.hub.release(name)
    return sizes, list(opened.plan.steps)


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
        pair = [*ranked, ("none", 0), ("none", 0)][:2]
        candidate = Peak(step.name, (pair[0], pair[1]), dict(ranked))
        if best is None or candidate.two_largest > best.two_largest:
            best = candidate
        if position < len(steps) - 1:
            alive = {n for n in alive if last.get(n, -1) > position}
    assert best is not None
    return best


def library_floor(work: Path) -> ProcResult:
    """Peak RSS of an interpreter that only imports the data libraries."""
    return run_launched([PYTHON, "-c", FLOOR_IMPORTS], cwd=work, log=work / "floor.out")


def memory_figure(runs: DemoRuns, project: Path, work: Path) -> Figure:
    say("memory: loading every dataset of the demo to measure its size")
    sizes, steps = dataset_sizes(project)
    peak = peak_pair(sizes, steps)
    floor_mb = library_floor(work).max_rss_bytes / 1e6
    pair_mb = peak.two_largest / 1e6
    demo_rss = runs.rss_mb("demo")
    demo_ratio = Stat.of(v / pair_mb for v in demo_rss)
    (a, a_size), (b, b_size) = peak.pair
    figure = Figure(
        "Memory",
        f"Peak RSS of the shipped demo at {runs.rows:,} rows (from the engine-overhead runs: "
        "each child's own maximum from `os.wait4` in a small launcher, since Linux carries "
        "a parent's high-water mark into its children) vs the deep in-memory size "
        "(`DataFrame.memory_usage(deep=True)`) of the largest two datasets alive at the "
        "same time, found by replaying the runner's release policy over the demo's plan "
        "with every dataset loaded back from its file.",
    )
    figure.rows += [
        Row("shipped demo peak RSS", Stat.of(demo_rss), "MB"),
        Row(
            "largest two datasets alive at once",
            Stat.of([pair_mb]),
            "MB",
            notes=f"during step {peak.step}: {a} {megabytes(a_size)} + {b} {megabytes(b_size)}",
        ),
        Row(
            "shipped demo peak RSS ÷ largest two",
            demo_ratio,
            "×",
            f"≤ {MEMORY_TARGET}×",
            judge(demo_ratio, lambda v: v <= MEMORY_TARGET),
            headline=True,
        ),
        Row(
            "interpreter + numpy/pandas/pyarrow imported",
            Stat.of([floor_mb]),
            "MB",
            notes="the floor every variant pays",
        ),
        Row(
            "(demo peak − floor) ÷ largest two",
            Stat.of((v - floor_mb) / pair_mb for v in demo_rss),
            "×",
        ),
        Row(f"engine on `{PLAIN_CASE}` peak RSS", Stat.of(runs.rss_mb("engine")), "MB"),
        Row(f"plain script on `{PLAIN_CASE}` peak RSS", Stat.of(runs.rss_mb("plain")), "MB"),
        Row(
            "engine ÷ plain script peak RSS",
            ratio(runs.rss_mb("engine"), runs.rss_mb("plain")),
            "×",
            notes="the same plugins and files, with and without the framework",
        ),
    ]
    if runs.baseline is not None:
        figure.rows.append(
            Row(
                f"shipped demo peak RSS: this engine ÷ {runs.baseline.label}",
                ratio(demo_rss, runs.rss_mb("previous")),
                "×",
                notes=f"{runs.baseline.label}: {Stat.of(runs.rss_mb('previous')).median:,.0f} MB",
            )
        )
    alive = ", ".join(f"{n} {megabytes(s)}" for n, s in peak.alive.items())
    by_size = sorted(sizes.items(), key=lambda item: -item[1])
    figure.notes += [
        f"Alive during step {peak.step}: {alive} (together {megabytes(sum(peak.alive.values()))}).",
        "Sizes of every dataset: " + ", ".join(f"{n} {megabytes(s)}" for n, s in by_size) + ".",
    ]
    return figure
