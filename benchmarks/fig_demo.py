"""Figures 2 and 5, engine overhead and memory, from the same runs of the demo.

Five programs run alternately as fresh processes on the same raw data:

* ``demo``: ``python run.py pipeline --case demo``, the demo case as shipped, with its
  source checks, quality gate and profiler;
* ``hand``: ``plain_demo.py``, the same demo written by hand: the same plugins and
  files, the same checks and profile written directly with numpy/pandas;
* ``engine``: ``python run.py pipeline --case bench_plain``, a case the benchmark derives
  from the demo: the steps that run the project's own plugins (``modules/``), every data
  source's format and path spelled out, no data-quality checks;
* ``plain``: ``plain_demo.py --case-file`` running that derived case with no framework;
* ``plain+fsync``: the same with the engine's fsyncs;
* ``previous``: the shipped demo again with an earlier engine (``--baseline``), when one
  is given.

demo ÷ hand is what a user pays for the framework on the work as shipped (the headline);
engine ÷ plain is the framework alone; (demo − engine) ÷ demo is the share of the run
its data-quality features take. Each child's own peak RSS comes from ``os.wait4`` in a
small launcher. Where the demo's memory goes comes from one more run of the demo
(``memory_demo.py``: each step's resident set at its start and its own peak) and from
the sizes of its datasets, measured by loading every persisted dataset of the demo.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from benchlib import (
    BENCH_DIR,
    PYTHON,
    Baseline,
    BenchError,
    Figure,
    ProcResult,
    Row,
    Scale,
    Stat,
    alternate,
    difference,
    judge,
    megabytes,
    pairwise,
    ratio,
    ratio_rows,
    run_launched,
    run_timed,
    say,
)

OVERHEAD_TARGET = 1.05
SHARE_TARGET = 8.0  # per cent of the shipped demo's run
NO_SLOWER = 1.05
MEMORY_TARGET = 1.0  # shipped demo's peak RSS ÷ the hand-written script's
FLOOR_IMPORTS = "import numpy, pandas, pyarrow, pyarrow.parquet, pyarrow.feather"
PLAIN_CASE = "bench_plain"
PREVIOUS_CASE = "bench_previous"  # the demo again, for the previous engine's outputs
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
    same_demo: str  # the hand-written script's outputs against the shipped demo's
    same_outputs: str  # the plain script's against the engine's on the derived case
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
    script = [PYTHON, BENCH_DIR / "plain_demo.py", "--project", project]
    plain = [*script, "--case-file", case.file]
    pipeline = [PYTHON, project / "run.py", "pipeline", "--case"]
    return {
        "demo": [*pipeline, "demo"],
        "hand": [*script, "--out", work / "hand-out"],
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
        folder = project / "cases" / PREVIOUS_CASE
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / "cases" / "demo" / "case.yaml", folder / "case.yaml")
        commands["previous"] = [*commands["demo"][:-1], PREVIOUS_CASE]
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
    same_demo = _compare_outputs(
        project / "cases" / "demo" / "data", work / "hand-out", "hand-written script"
    )
    same = _compare_outputs(project / "cases" / PLAIN_CASE / "data", work / "plain-out")
    return DemoRuns(results, scale.demo_rows, case, same_demo, same, baseline, not scale.quick)


QUALITY_RESULTS = "quality_results.parquet"
# the columns of quality_results both sides fill alike; the engine's message adds sample
# rows and its wording, and only the engine records each check's params and samples
QUALITY_KEYS = ["source", "check", "severity", "passed", "failing", "total", "step"]


def _compare_outputs(engine: Path, plain: Path, who: str = "plain script") -> str:
    """Proof that the baseline does the same work: its outputs equal the engine's, byte
    for byte or, where the engine's file carries more (its fidelity metadata, its JSON
    codec), as the values each side's own reader loads back; the check results as the
    columns both sides fill."""
    names = sorted(p.name for p in plain.iterdir() if p.is_file())
    missing = [n for n in names if not (engine / n).is_file()]
    if missing or not names:
        return f"WARNING: the engine wrote none of the {who}'s {missing or 'outputs'}"
    same_bytes = [n for n in names if (engine / n).read_bytes() == (plain / n).read_bytes()]
    other = [n for n in names if n not in same_bytes and n != QUALITY_RESULTS]
    differ = [n for n in other if not _same_value(engine / n, plain / n)]
    checks = QUALITY_RESULTS in names
    if checks and not _same_checks(engine / QUALITY_RESULTS, plain / QUALITY_RESULTS):
        differ.append(QUALITY_RESULTS)
    if differ:
        return f"WARNING: the {who}'s outputs differ from the engine's: {differ}"
    text = f"the {who}'s {len(names)} output files equal the engine's"
    if checks:
        text += (
            f" ({QUALITY_RESULTS}: every check's {', '.join(QUALITY_KEYS)}; by design the "
            "messages differ, the engine's naming sample rows, and only the engine stores "
            "the samples and each check's params)"
        )
    if not other:
        return text + ("" if checks else ", byte for byte")
    return (
        f"{text}: {len(same_bytes)} byte for byte, {len(other)} ({', '.join(other)}) as the "
        "values read back (the engine's files also carry its fidelity metadata)"
    )


def _same_checks(engine_file: Path, plain_file: Path) -> bool:
    import pandas as pd

    ours, theirs = (pd.read_parquet(f)[QUALITY_KEYS] for f in (engine_file, plain_file))
    try:
        pd.testing.assert_frame_equal(ours, theirs)
    except AssertionError:
        return False
    return True


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


HEADLINE = "shipped demo ÷ hand-written script (same steps, same checks)"
SHARE = "quality features' share of the demo run"


def _share(whole: list[float], without: list[float]) -> Stat:
    """Per round, the share of ``whole`` that ``whole − without`` is, in per cent."""
    return pairwise(whole, without, lambda a, b: 100.0 * (a - b) / a)


def overhead_figure(runs: DemoRuns) -> Figure:
    demo, hand, engine, plain, durable = (
        runs.seconds(n) for n in ("demo", "hand", "engine", "plain", "plain+fsync")
    )
    share = _share(demo, engine)
    figure = Figure(
        "Engine overhead",
        f"The demo at {runs.rows:,} wheel-speed rows, each run a fresh process timed from "
        "a small launcher (interpreter start and imports included), the variants "
        "alternating round by round. The headline compares what a user runs, the shipped "
        "demo through the command line (`run.py pipeline --case demo`: its checks on "
        "`wheel` and `aligned`, its QualityGate and DataProfiler steps, normal logging and "
        "end-of-run tables), with `benchmarks/plain_demo.py`, the same demo written by "
        "hand: the same plugin classes on dicts, pandas' own readers and the same writes, "
        "and the same checks and profile written directly with numpy/pandas "
        "(`benchmarks/plain_quality.py`), failing where the engine fails. The framework "
        f"alone: the engine on `{PLAIN_CASE}`, derived from the demo (its steps with the "
        "project's own plugins, every format and path spelled out, no data-quality "
        "checks), against `plain_demo.py --case-file` running that derived case (no "
        "checks, no config validation, plan, atomic rename or fsync) and the same with "
        "the engine's fsync of every file and folder. The quality features' share is "
        "(shipped demo − engine on the derived case) ÷ shipped demo. Ratios and shares "
        "are per round; `os.sync()` runs (untimed) before every run, so no run pays for "
        "write-back another one left.",
    )
    figure.rows += [
        Row("shipped demo: `run.py pipeline --case demo`", Stat.of(demo), "s"),
        Row("hand-written script: `plain_demo.py`", Stat.of(hand), "s"),
        *ratio_rows(
            HEADLINE,
            demo,
            hand,
            cpu=(runs.cpu("demo"), runs.cpu("hand")),
            limit=OVERHEAD_TARGET,
            target=f"≤ {OVERHEAD_TARGET}×",
            notes="what a user pays for the framework on the demo as shipped",
        ),
        Row(
            SHARE,
            share,
            "%",
            f"< {SHARE_TARGET:g} %",
            judge(share, lambda v: v < SHARE_TARGET),
            "(shipped demo − engine on the derived case) ÷ shipped demo",
            headline=True,
        ),
        Row(
            f"{SHARE}, CPU time",
            _share(runs.cpu("demo"), runs.cpu("engine")),
            "%",
            notes="the same from each child's user + system time",
        ),
        Row(
            "the checks' share of the hand-written script",
            _share(hand, plain),
            "%",
            notes="(hand-written script − plain script on the derived case) ÷ hand-written",
        ),
        *_baseline_rows(runs, demo),
        Row(f"engine: `run.py pipeline --case {PLAIN_CASE}`", Stat.of(engine), "s"),
        Row(f"plain script: `plain_demo.py --case-file` ({PLAIN_CASE})", Stat.of(plain), "s"),
        Row("plain script + fsync", Stat.of(durable), "s"),
        *ratio_rows(
            "engine ÷ plain script (framework alone)",
            engine,
            plain,
            cpu=(runs.cpu("engine"), runs.cpu("plain")),
            limit=OVERHEAD_TARGET,
            target=f"≤ {OVERHEAD_TARGET}×",
            notes=f"same plugins, same files, no checks ({PLAIN_CASE})",
            headline=False,
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
    ]
    case = runs.case
    if runs.baseline is not None:
        figure.notes.append(
            f"The {runs.baseline.label} is src/datareplay of {runs.baseline.rev} "
            f"({runs.baseline.subject[:80]}), run on the same project copy and data "
            f"(the demo's case.yaml as `{PREVIOUS_CASE}`, so each engine keeps its outputs)."
        )
    figure.notes += [
        f"{len(engine)} rounds" + (" after one warm-up round" if runs.warmup else "") + ".",
        f"Shipped demo: {runs.same_demo}.",
        f"`{PLAIN_CASE}`: {runs.same_outputs}.",
        f"`{PLAIN_CASE}` keeps {', '.join(case.kept)}; it leaves out "
        f"{', '.join(case.dropped) or 'nothing'} (built-in plugins, which need the engine's "
        f"hub) and {case.checks_removed} check(s) declared on data sources.",
        "The hand-written script differs from the engine by design in what it does not "
        "do: no configuration or plan, no atomic rename, fsync or content hash, no "
        "fidelity metadata, its check messages without sample rows, and its check "
        "results written once at the end (the engine rewrites them after every step that "
        "reports some, so a failed run keeps them).",
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
            notes=f"per round; the same project, data and command (case `{PREVIOUS_CASE}`)",
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


@dataclass(frozen=True)
class StepPeak:
    """Where the demo's memory goes at its peak: the step that reaches it, split into
    what was resident when it started and what it added (bytes)."""

    step: str
    imported: int  # interpreter, libraries and the engine imported
    start: int  # resident when the step started
    peak: int  # the step's own high-water mark
    kept: dict[str, int]  # datasets alive from earlier steps, by size
    new: dict[str, int]  # datasets the step reads for the first time or writes

    @property
    def held(self) -> int:
        """Resident at the start beyond the imports and the kept datasets."""
        return self.start - self.imported - sum(self.kept.values())

    @property
    def temporaries(self) -> int:
        """The step's rise beyond the datasets it reads and writes."""
        return self.peak - self.start - sum(self.new.values())


def step_peak(project: Path, work: Path, sizes: dict[str, int], steps: list[Any]) -> StepPeak:
    """Run the demo once more with ``memory_demo.py``; attribute its largest step peak."""
    out = work / "memory-steps.json"
    cmd = [PYTHON, BENCH_DIR / "memory_demo.py", "--project", project, "--out", out]
    run_timed(cmd, cwd=project, log=work / "memory-steps.out")
    record = json.loads(out.read_text(encoding="utf-8"))
    measured = record["steps"]
    position = max(range(len(measured)), key=lambda i: measured[i]["peak"])
    top = measured[position]
    if steps[position].name != top["name"]:
        raise BenchError(f"memory run: step {top['name']} is not the plan's {position + 1}th")
    touched = [{*step.reads.values(), *step.writes.values()} for step in steps]
    earlier = set().union(*touched[:position])
    later = set().union(*touched[position:])
    own = touched[position]

    def by_size(names: set[str]) -> dict[str, int]:
        return dict(sorted(((n, sizes.get(n, 0)) for n in names), key=lambda item: -item[1]))

    return StepPeak(
        top["name"],
        record["imported"],
        top["rss_start"],
        top["peak"],
        by_size(earlier & later),
        by_size(own - earlier),
    )


def _listing(sizes: dict[str, int]) -> str:
    return ", ".join(f"{n} {megabytes(s)}" for n, s in sizes.items()) or "none"


def memory_figure(runs: DemoRuns, project: Path, work: Path) -> Figure:
    say("memory: loading every dataset of the demo to measure its size")
    sizes, steps = dataset_sizes(project)
    peak = peak_pair(sizes, steps)
    floor_mb = library_floor(work).max_rss_bytes / 1e6
    say("memory: one more run of the demo, recording each step's peak")
    where = step_peak(project, work, sizes, steps)
    pair_mb = peak.two_largest / 1e6
    demo_rss, hand_rss = runs.rss_mb("demo"), runs.rss_mb("hand")
    against_hand = ratio(demo_rss, hand_rss)
    (a, a_size), (b, b_size) = peak.pair
    figure = Figure(
        "Memory",
        f"Peak RSS of the shipped demo at {runs.rows:,} rows and of the hand-written script "
        "doing the same work (from the engine-overhead runs: each child's own maximum from "
        "`os.wait4` in a small launcher, since Linux carries a parent's high-water mark "
        "into its children), per round; for information, against the deep in-memory size "
        "(`DataFrame.memory_usage(deep=True)`) of the largest two datasets alive at the "
        "same time, found by replaying the runner's release policy over the demo's plan "
        "with every dataset loaded back from its file. Where the memory goes: one more "
        "run of the demo (`benchmarks/memory_demo.py`, the same runner through the Python "
        "API) records each step's resident set at its start and its own peak (VmHWM, reset "
        "at every step start); the step with the highest peak is split into the imports, "
        "the datasets kept from earlier steps, other memory still held, the datasets the "
        "step reads or writes, and the rest: the step's temporaries.",
    )
    figure.rows += [
        Row("shipped demo peak RSS", Stat.of(demo_rss), "MB"),
        Row("hand-written script peak RSS", Stat.of(hand_rss), "MB"),
        Row(
            "shipped demo peak RSS ÷ hand-written script peak RSS",
            against_hand,
            "×",
            f"≤ {MEMORY_TARGET}×",
            judge(against_hand, lambda v: v <= MEMORY_TARGET),
            "same steps, same checks; per round",
            headline=True,
        ),
        Row(
            "largest two datasets alive at once",
            Stat.of([pair_mb]),
            "MB",
            notes=f"during step {peak.step}: {a} {megabytes(a_size)} + {b} {megabytes(b_size)}",
        ),
        Row(
            "shipped demo peak RSS ÷ largest two",
            Stat.of(v / pair_mb for v in demo_rss),
            "×",
            notes="information: what the data itself needs at least",
        ),
        Row(
            "hand-written script peak RSS ÷ largest two",
            Stat.of(v / pair_mb for v in hand_rss),
            "×",
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
        *_where_rows(where),
        Row(f"engine on `{PLAIN_CASE}` peak RSS", Stat.of(runs.rss_mb("engine")), "MB"),
        Row(f"plain script on `{PLAIN_CASE}` peak RSS", Stat.of(runs.rss_mb("plain")), "MB"),
        Row(
            "engine ÷ plain script peak RSS",
            ratio(runs.rss_mb("engine"), runs.rss_mb("plain")),
            "×",
            notes="the framework alone: same plugins and files, no checks",
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
    by_size = dict(sorted(sizes.items(), key=lambda item: -item[1]))
    figure.notes += [
        f"Alive during step {peak.step}: {_listing(peak.alive)} "
        f"(together {megabytes(sum(peak.alive.values()))}).",
        f"Sizes of every dataset: {_listing(by_size)}.",
        f"Where the rest goes: the memory run peaks at {megabytes(where.peak)} in step "
        f"{where.step} (the launched runs: median {Stat.of(demo_rss).median:,.0f} MB). "
        f"{megabytes(where.imported)} is the interpreter with the libraries and the engine "
        f"imported; the step starts at {megabytes(where.start)}, of which the datasets "
        f"kept from earlier steps are {megabytes(sum(where.kept.values()))} and "
        f"{megabytes(where.held)} is other memory still held (modules imported later, "
        "memory freed but not returned to the system); the step then adds "
        f"{megabytes(where.peak - where.start)}: the datasets it reads or writes "
        f"({_listing(where.new)}) and {megabytes(where.temporaries)} of temporaries "
        "(the plugin's intermediate arrays, the tables built for the writes, the checks). "
        "Dataset sizes are those of the values loaded back from their files.",
    ]
    return figure


def _where_rows(where: StepPeak) -> list[Row]:
    def mb(n: int) -> Stat:
        return Stat.of([n / 1e6])

    step = f"step {where.step}"
    return [
        Row(f"memory run: peak, in {step}", mb(where.peak), "MB", notes="one run, in process"),
        Row("· interpreter, libraries, engine imported", mb(where.imported), "MB"),
        Row(
            f"· datasets kept from earlier steps at the start of {step}",
            mb(sum(where.kept.values())),
            "MB",
            notes=_listing(where.kept),
        ),
        Row(
            f"· other memory held at the start of {step}",
            mb(where.held),
            "MB",
            notes="modules imported later, memory freed but not returned to the system",
        ),
        Row(
            f"· datasets {step} reads or writes",
            mb(sum(where.new.values())),
            "MB",
            notes=_listing(where.new),
        ),
        Row(
            f"· temporaries of {step}",
            mb(where.temporaries),
            "MB",
            notes="its peak − its start − the datasets it reads or writes",
        ),
    ]
