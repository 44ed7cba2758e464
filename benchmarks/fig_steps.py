"""Figure 3, per-step overhead: chains of N trivial plugins on tiny in-memory data.

A throwaway project holds two trivial plugins (``ChainStart`` writes a tiny tuple,
``ChainStep`` reads one and writes the next) and one case per chain length whose data
sources are all ``memory``. Each measurement builds a fresh ``Session`` and times
``run_pipeline`` in this process; the baseline calls the same plugin classes' ``run``
directly on a dict, N times. Overhead per step = (run_pipeline − baseline) / N, split
into planning (everything before the runner: config, plan, checks) and running (the
runner loop minus the baseline).
"""

from __future__ import annotations

import cProfile
import io
import logging
import os
import pstats
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import Figure, Row, Scale, Stat, alternate, judge, number, say, verdict

STEP_TARGET_MS = 0.2
FLAT_TARGET = 1.5
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"  # as config/logging.yaml
MODES = {"silent": "logging disabled", "info": "INFO logging to a null stream"}

START_PLUGIN = '''"""The first step of a benchmark chain."""

from __future__ import annotations

from typing import ClassVar

from datareplay import BasePlugin, DataHub


class ChainStart(BasePlugin):
    """Write the tiny start value of a chain."""

    outputs: ClassVar[dict[str, str]] = {"dst": "A tuple (count, label)."}

    def run(self, hub: DataHub) -> None:
        hub["dst"] = (0, "tiny")
'''

STEP_PLUGIN = '''"""One link of a benchmark chain."""

from __future__ import annotations

from typing import ClassVar

from datareplay import BasePlugin, DataHub


class ChainStep(BasePlugin):
    """Read the previous value, write it with its count plus one."""

    inputs: ClassVar[dict[str, str]] = {"src": "A tuple (count, label)."}
    outputs: ClassVar[dict[str, str]] = {"dst": "The same tuple, count + 1."}

    def run(self, hub: DataHub) -> None:
        count, label = hub["src"]
        hub["dst"] = (count + 1, label)
'''


def case_yaml(n: int) -> str:
    """A case with ``n`` chained steps over ``n`` memory data sources."""
    lines = [
        f"description: a chain of {n} trivial steps",
        "data: {default_format: memory}",
        "data_sources:",
        *(f"  d{i}: {{}}" for i in range(n)),
        "pipeline:",
        "  - {plugin: ChainStart, name: n0, outputs: {dst: d0}}",
        *(
            f"  - {{plugin: ChainStep, name: n{i}, inputs: {{src: d{i - 1}}}, "
            f"outputs: {{dst: d{i}}}}}"
            for i in range(1, n)
        ),
    ]
    return "\n".join(lines) + "\n"


def make_chain_project(root: Path, lengths: tuple[int, ...]) -> dict[int, str]:
    """Write the project; return, per chain length, why its case.yaml needs raised YAML
    limits (empty when the engine's defaults accept it)."""
    from datareplay.config.safe_yaml import parse_yaml
    from datareplay.errors import ConfigError

    (root / "config").mkdir(parents=True)
    (root / "modules").mkdir()
    (root / "config" / "global.yaml").write_text("plugins: {paths: [modules]}\n")
    (root / "modules" / "chain_start.py").write_text(START_PLUGIN)
    (root / "modules" / "chain_step.py").write_text(STEP_PLUGIN)
    limits: dict[int, str] = {}
    for n in lengths:
        folder = root / "cases" / f"chain_{n}"
        folder.mkdir(parents=True)
        text = case_yaml(n)
        (folder / "case.yaml").write_text(text)
        try:
            parse_yaml(text.encode(), source=f"cases/chain_{n}/case.yaml")
            limits[n] = ""
        except ConfigError as exc:
            limits[n] = str(exc)
    return limits


@contextmanager
def raised_yaml_limits() -> Iterator[None]:
    """Lift the engine's YAML caps (1 MiB, 100,000 values) for the longest chains."""
    import datareplay.config.safe_yaml as safe_yaml

    saved = safe_yaml.MAX_BYTES, safe_yaml.MAX_NODES
    safe_yaml.MAX_BYTES, safe_yaml.MAX_NODES = 1 << 30, 10**8
    try:
        yield
    finally:
        safe_yaml.MAX_BYTES, safe_yaml.MAX_NODES = saved


@contextmanager
def logging_mode(mode: str) -> Iterator[None]:
    """``silent``: logging.disable; ``info``: the default format at INFO, to /dev/null."""
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    with open(os.devnull, "w") as null:
        if mode == "silent":
            logging.disable(logging.CRITICAL)
        else:
            handler = logging.StreamHandler(null)
            handler.setFormatter(logging.Formatter(LOG_FORMAT, "%H:%M:%S"))
            root.handlers = [handler]
            root.setLevel(logging.INFO)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)
            root.setLevel(saved[0])
            root.handlers = saved[1]


@dataclass
class Chain:
    """The engine's and the baseline's timings of one chain length."""

    n: int
    total: list[float]
    runner: list[float]
    baseline: list[float]

    def per_step_ms(self, values: list[float]) -> Stat:
        return Stat.of(v / self.n * 1000 for v in values)

    @property
    def overhead(self) -> Stat:
        return self.per_step_ms([t - b for t, b in zip(self.total, self.baseline, strict=True)])

    @property
    def planning(self) -> Stat:
        return self.per_step_ms([t - r for t, r in zip(self.total, self.runner, strict=True)])

    @property
    def running(self) -> Stat:
        return self.per_step_ms([r - b for r, b in zip(self.runner, self.baseline, strict=True)])


def _engine_run(root: Path, n: int) -> tuple[float, float]:
    from datareplay.project.paths import Project
    from datareplay.session import Session

    session = Session(Project.at(root))
    started = time.perf_counter()
    result = session.run_pipeline(f"chain_{n}")
    total = time.perf_counter() - started
    if result.hub[f"d{n - 1}"] != (n - 1, "tiny"):
        raise AssertionError(f"chain_{n} computed {result.hub[f'd{n - 1}']!r}")
    return total, result.seconds


def _plugins(root: Path) -> tuple[type[Any], type[Any]]:
    from datareplay.project.paths import Project
    from datareplay.session import Session

    registry = Session(Project.at(root)).registry(["modules"])
    return registry.get("ChainStart"), registry.get("ChainStep")


def _baseline_run(start: type[Any], step: type[Any], n: int) -> float:
    started = time.perf_counter()
    data: dict[str, Any] = {}
    start().run(data)
    for _ in range(n - 1):
        data["src"] = data.pop("dst")
        step().run(data)
    return time.perf_counter() - started


def measure_chain(root: Path, n: int, reps: int, plugins: tuple[type[Any], type[Any]]) -> Chain:
    variants: dict[str, Callable[[], Any]] = {
        "engine": lambda: _engine_run(root, n),
        "baseline": lambda: _baseline_run(*plugins, n),
    }
    results = alternate(variants, reps)
    engine = results["engine"]
    return Chain(n, [e[0] for e in engine], [e[1] for e in engine], results["baseline"])


def profile_chain(root: Path, n: int, target: Path) -> str:
    """cProfile of one silent run of the n-step chain, written to ``target``; returns the
    hottest function by own time as a sentence."""
    profiler = cProfile.Profile()
    with logging_mode("silent"), raised_yaml_limits():
        profiler.runcall(_engine_run, root, n)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)
    target.write_text(
        f"cProfile of Session.run_pipeline on the {n}-step chain (logging disabled)\n\n"
        + text.getvalue()
    )
    total = max(row[3] for row in stats.stats.values())  # type: ignore[attr-defined]
    (file, line, func), row = max(
        stats.stats.items(),
        key=lambda item: item[1][2],  # type: ignore[attr-defined]
    )
    share = 100 * row[2] / total if total else 0.0
    return (
        f"{Path(file).name}:{line} `{func}` takes {share:.0f} % of the {n}-step run's "
        f"{total * 1000:.0f} ms in its own code ({row[1]:,} calls)"
    )


def measure(scale: Scale, work: Path, profile_target: Path | None) -> Figure:
    root = work / "chains"
    limits = make_chain_project(root, scale.chain_lengths)
    plugins = _plugins(root)
    figure = Figure(
        "Per-step overhead",
        "Chains of N trivial plugins (`ChainStart` then N − 1 × `ChainStep`, a tuple passed "
        "through `memory` data sources), timed in-process: a fresh `Session` and "
        "`run_pipeline(case)` vs the same plugin classes' `run` called N times on a dict. "
        "Per step = (engine − baseline) / N; the notes split it into planning (before the "
        "runner: YAML, validation, plugin discovery, plan, checks) and running (runner "
        "loop − baseline). Alternated per round; one untimed warm-up run first.",
    )
    chains: dict[str, list[Chain]] = {}
    with raised_yaml_limits():
        for mode in MODES:
            with logging_mode(mode):
                _engine_run(root, scale.chain_lengths[0])  # warm-up: imports, caches
                for n in scale.chain_lengths:
                    reps = scale.chain_reps if n < 10_000 else scale.chain_reps_large
                    say(f"per-step: {n:,} steps, {MODES[mode]}, {reps} rounds")
                    chains.setdefault(mode, []).append(measure_chain(root, n, reps, plugins))
    for mode, found in chains.items():
        figure.rows += [_chain_row(chain, mode, chain is found[-1]) for chain in found]
        figure.rows.append(_flatness_row(found, mode))
    figure.notes += [
        f"Rounds: {scale.chain_reps} (10,000 steps: {scale.chain_reps_large}).",
        "Kedro 1.7 for comparison (quoted in the issue, not measured here): 1.3 ms per "
        "node at 10 nodes, growing to 9.4 ms at 3,000.",
    ]
    too_big = {n: why for n, why in limits.items() if why}
    for n, why in too_big.items():
        figure.notes.append(
            f"The {n:,}-step case.yaml is refused by the engine's YAML limits "
            f"(`{why}`); the benchmark raises the limits in-process to measure it."
        )
    if profile_target is not None:
        n = max(x for x in scale.chain_lengths if x <= 1_000)
        say(f"per-step: profiling the {n:,}-step chain")
        hottest = profile_chain(root, n, profile_target)
        figure.notes.append(f"Profile ([{profile_target.name}]({profile_target.name})): {hottest}.")
    return figure


def _chain_row(chain: Chain, mode: str, headline: bool) -> Row:
    overhead = chain.overhead
    plan, run = chain.planning, chain.running
    return Row(
        f"{chain.n:,} steps, {MODES[mode]}",
        overhead,
        "ms/step",
        f"< {STEP_TARGET_MS} ms",
        judge(overhead, lambda v: v < STEP_TARGET_MS),
        f"planning {number(plan.median)}, running {number(run.median)} ms/step; "
        f"whole run {number(_median(chain.total) * 1000)} ms",
        headline=headline,
    )


def _flatness_row(chains: list[Chain], mode: str) -> Row:
    """Per-step overhead at the longest chain over that at 100 steps (or the shortest)."""
    reference = next((c for c in chains if c.n == 100), chains[0])
    longest = chains[-1]
    growth = longest.overhead.median / reference.overhead.median
    return Row(
        f"growth {reference.n:,} → {longest.n:,} steps, {MODES[mode]}",
        Stat.of([growth]),
        "×",
        f"≤ {FLAT_TARGET}× (flat)",
        verdict(growth <= FLAT_TARGET),
        "ratio of the medians of ms/step",
    )


def _median(values: list[float]) -> float:
    return Stat.of(values).median
