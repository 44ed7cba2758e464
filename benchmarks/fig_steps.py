"""Figure 3, per-step overhead: chains of N trivial plugins on tiny in-memory data.

A throwaway project holds two trivial plugins (``ChainStart`` writes a tiny tuple,
``ChainStep`` reads one and writes the next), the shipped ``run.py`` and
``config/logging.yaml``, and one case per chain length whose data sources are all
``memory``. Two measurements:

* through the command line (the issue's figure): ``python run.py pipeline --case
  chain_N`` as a fresh process with its normal logging (INFO, two lines per step, to
  stderr, here a file) and its end-of-run table (one row per data source, to stdout,
  here a file), timed by ``launch.py`` around the child;
* in-process: a fresh ``Session`` and ``run_pipeline(case)`` with logging disabled or
  at INFO to a null stream, which splits the cost between planning and the runner loop.

Per-step overhead is marginal: (run of N steps − run of 1 step − (baseline of N −
baseline of 1)) / (N − 1), per round, where the 1-step run of the same form carries the
fixed cost (interpreter, imports, config files, logging set-up, the closing lines) and
the baseline calls the same plugin classes' ``run`` on a dict.
"""

from __future__ import annotations

import cProfile
import io
import logging
import os
import pstats
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import (
    BENCH_DIR,
    NOT_MEASURED,
    PYTHON,
    REPO,
    Figure,
    Row,
    Scale,
    Stat,
    alternate,
    judge,
    number,
    run_launched,
    say,
    verdict,
)

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
    shutil.copy2(REPO / "config" / "logging.yaml", root / "config" / "logging.yaml")
    shutil.copy2(REPO / "run.py", root / "run.py")
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
    """Timings of one chain length and of the 1-step reference, taken in the same rounds.

    ``total``: the whole run (in-process ``run_pipeline``, or the whole CLI process);
    ``runner``: the runner loop alone (``RunResult.seconds``, or the CLI's closing
    "finished: N steps in X s"); ``baseline``: the plugins' own ``run`` calls on a dict.
    """

    n: int
    total: list[float]
    runner: list[float]
    baseline: list[float]
    ref_total: list[float]
    ref_runner: list[float]
    ref_baseline: list[float]

    def _marginal(self, values: list[float], ref: list[float]) -> list[float]:
        return [(v - r) / (self.n - 1) for v, r in zip(values, ref, strict=True)]

    @property
    def overhead(self) -> Stat:
        """Marginal ms per step of the whole run, less the plugins' own work."""
        run = self._marginal(self.total, self.ref_total)
        base = self._marginal(self.baseline, self.ref_baseline)
        return Stat.of((r - b) * 1000 for r, b in zip(run, base, strict=True))

    @property
    def fastest(self) -> float:
        """Marginal ms per step from the fastest run of each series (least disturbed by
        other load on the machine)."""
        run = (min(self.total) - min(self.ref_total)) / (self.n - 1)
        base = (min(self.baseline) - min(self.ref_baseline)) / (self.n - 1)
        return (run - base) * 1000

    @property
    def running(self) -> Stat:
        """Marginal ms per step of the runner loop, less the plugins' own work."""
        run = self._marginal(self.runner, self.ref_runner)
        base = self._marginal(self.baseline, self.ref_baseline)
        return Stat.of((r - b) * 1000 for r, b in zip(run, base, strict=True))

    @property
    def outside(self) -> Stat:
        """Marginal ms per step outside the runner loop: config, plan, closing tables."""
        total = self._marginal(self.total, self.ref_total)
        runner = self._marginal(self.runner, self.ref_runner)
        return Stat.of((t - r) * 1000 for t, r in zip(total, runner, strict=True))


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
    """In-process: the n-step run, the 1-step run and both baselines, alternating."""
    variants: dict[str, Callable[[], Any]] = {
        "engine": lambda: _engine_run(root, n),
        "reference": lambda: _engine_run(root, 1),
        "baseline": lambda: _baseline_run(*plugins, n),
        "ref_baseline": lambda: _baseline_run(*plugins, 1),
    }
    results = alternate(variants, reps)
    engine, ref = results["engine"], results["reference"]
    return Chain(
        n,
        [e[0] for e in engine],
        [e[1] for e in engine],
        results["baseline"],
        [r[0] for r in ref],
        [r[1] for r in ref],
        results["ref_baseline"],
    )


# -- through the command line ----------------------------------------------------------

LARGE = 10_000  # chains this long get their own, shorter series of rounds
SPLIT_MIN_S = 0.2  # the closing line has 10 ms resolution: split only longer runner loops
FINISHED = re.compile(r"finished: ([\d,]+) steps? in ([\d.,]+) s")


@dataclass
class CliRun:
    seconds: float
    runner: float
    log_lines: int
    table_lines: int
    cpu: float


def _cli_command(root: Path, n: int, *, gc_off: bool) -> list[str | Path]:
    args = ["pipeline", "--case", f"chain_{n}"]
    if gc_off:
        launcher = BENCH_DIR / "engine_cli.py"
        return [PYTHON, launcher, "--project", root, "--gc", "off", "--", *args]
    return [PYTHON, root / "run.py", *args]


def _cli_run(root: Path, n: int, logs: Path, *, gc_off: bool = False) -> CliRun:
    """``python run.py pipeline --case chain_n``: stdout and stderr to files."""
    log = logs / f"chain_{n}{'-gc-off' if gc_off else ''}.out"
    result = run_launched(_cli_command(root, n, gc_off=gc_off), cwd=root, log=log)
    match = FINISHED.search(result.stdout)
    if match is None or int(match.group(1).replace(",", "")) != n:
        raise AssertionError(f"chain_{n}: no 'finished: {n} steps in X s' line on stdout")
    err = log.with_suffix(log.suffix + ".err").read_text(errors="replace")
    return CliRun(
        result.seconds,
        float(match.group(2).replace(",", "")),
        err.count("\n"),
        result.stdout.count("\n"),
        result.cpu_seconds,
    )


def _cli_group(
    root: Path, sizes: tuple[int, ...], reps: int, *, gc_off: bool = False
) -> dict[int, list[CliRun]]:
    """Fresh CLI processes of ``sizes`` (1 first: the reference), alternating per round
    after one untimed warm-up round."""
    logs = root.parent / "chain-logs"
    logs.mkdir(exist_ok=True)

    def variant(n: int) -> Callable[[], CliRun]:
        return lambda: _cli_run(root, n, logs, gc_off=gc_off)

    variants = {n: variant(n) for n in sizes}
    what = ", ".join(f"{n:,}" for n in sizes) + " steps" + (", GC off" if gc_off else "")
    say(f"per-step through the CLI: {what}, {reps} rounds after a warm-up")
    alternate(variants, 1)
    return alternate(variants, reps)


def _chains(
    groups: list[dict[int, list[CliRun]]], base: dict[int, list[float]], *, cpu: bool = False
) -> dict[int, Chain]:
    """Every length of every group with that group's own 1-step runs as reference; the
    whole-run times are wall times, or the children's CPU times with ``cpu``."""

    def total(run: CliRun) -> float:
        return run.cpu if cpu else run.seconds

    chains = {}
    for runs in groups:
        ref = runs[1]
        for n in (n for n in runs if n != 1):
            reps = len(runs[n])
            chains[n] = Chain(
                n,
                [total(r) for r in runs[n]],
                [r.runner for r in runs[n]],
                base[n][:reps],
                [total(r) for r in ref],
                [r.runner for r in ref],
                base[1][:reps],
            )
    return chains


@dataclass
class CliChains:
    chains: list[Chain]
    reference: list[CliRun]
    last: dict[int, CliRun]
    gc_off: list[Chain]
    cpu: dict[int, Chain]


def measure_cli(root: Path, scale: Scale, plugins: tuple[type[Any], type[Any]]) -> CliChains:
    """The lengths below 10,000 alternate with the 1-step case over many rounds (each is
    a fraction of a second, and 100 steps are only ~15 ms above the fixed cost); 10,000
    and more alternate with their own 1-step runs over fewer rounds. A third group runs
    the 1-step and the two longest cases with the cyclic GC off (diagnostic).
    The baselines run in this process (microseconds per step)."""
    lengths = scale.cli_chain_lengths
    short = tuple(n for n in lengths if n < LARGE)
    long = tuple(n for n in lengths if n >= LARGE)
    groups = []
    if short:
        groups.append(_cli_group(root, (1, *short), scale.cli_chain_reps))
    if long:
        groups.append(_cli_group(root, (1, *long), scale.cli_chain_reps_large))
    diag_sizes = (1, *lengths[-2:])
    diag = _cli_group(root, diag_sizes, scale.cli_chain_reps_large, gc_off=True)
    reps = max(scale.cli_chain_reps, scale.cli_chain_reps_large)
    base = {n: [_baseline_run(*plugins, n) for _ in range(reps)] for n in (1, *lengths)}
    chains = _chains(groups, base)
    gc_off = _chains([diag], base)
    refs = [r for runs in groups for r in runs[1]]
    last = {n: runs[n][-1] for runs in groups for n in runs}
    cpu = _chains(groups, base, cpu=True)
    return CliChains([chains[n] for n in lengths], refs, last, list(gc_off.values()), cpu)


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
    lengths = tuple(sorted({1, *scale.chain_lengths, *scale.cli_chain_lengths}))
    limits = make_chain_project(root, lengths)
    refused = [n for n in scale.cli_chain_lengths if limits[n]]
    if refused:
        raise AssertionError(
            f"the engine refuses the {refused[0]:,}-step case.yaml ({limits[refused[0]]}); "
            "the CLI cannot be measured at that length"
        )
    plugins = _plugins(root)
    figure = Figure(
        "Per-step overhead",
        "Chains of N trivial plugins (`ChainStart` then N − 1 × `ChainStep`, a tuple "
        "passed through `memory` data sources). The issue's figure is measured through "
        "the command line: `python run.py pipeline --case chain_N` as a fresh process "
        "with the shipped `config/logging.yaml` (INFO to stderr: two lines per step) and "
        "the end-of-run table on stdout (one row per data source), both to files, timed "
        "around the child by `launch.py`. Per step = (N-step run − 1-step run − the "
        "plugins' own `run` calls) / (N − 1), per round, so the fixed start-up "
        "(interpreter, imports, config files, closing lines) is left out and everything "
        "that grows with N is in: YAML, validation, plan, runner, log lines, table rows. "
        "The in-process rows (a fresh `Session`, `run_pipeline`, logging disabled or INFO "
        "to a null stream) split the cost between the runner loop and the rest. The "
        "lengths alternate per round after an untimed warm-up.",
    )
    cli = measure_cli(root, scale, plugins)
    figure.rows += [_cli_row(c, cli.last[c.n], cli.cpu[c.n]) for c in cli.chains]
    figure.rows += _cli_target_rows(cli.chains, [cli.cpu[c.n] for c in cli.chains])
    figure.rows.append(
        Row(
            "through the CLI, 1-step run (the fixed cost left out)",
            Stat.of(r.seconds * 1000 for r in cli.reference),
            "ms",
            notes="interpreter, imports, config files, logging set-up, one step, closing lines",
        )
    )
    figure.rows += [_gc_off_row(chain) for chain in cli.gc_off]
    figure.rows.append(_flatness_row(cli.gc_off, "through the CLI, GC off (diagnostic)"))
    chains: dict[str, list[Chain]] = {}
    with raised_yaml_limits():
        for mode in MODES:
            with logging_mode(mode):
                _engine_run(root, scale.chain_lengths[0])  # warm-up: imports, caches
                for n in scale.chain_lengths:
                    reps = scale.chain_reps if n < 10_000 else scale.chain_reps_large
                    say(f"per-step in-process: {n:,} steps, {MODES[mode]}, {reps} rounds")
                    chains.setdefault(mode, []).append(measure_chain(root, n, reps, plugins))
    for mode, found in chains.items():
        figure.rows += [_chain_row(chain, mode) for chain in found]
        figure.rows.append(_flatness_row(found, f"in-process, {MODES[mode]}"))
    figure.notes += [
        f"Rounds: through the CLI {scale.cli_chain_reps} for the lengths below "
        f"{LARGE:,}, {scale.cli_chain_reps_large} for {LARGE:,} and for the GC-off "
        "diagnostic, each series with its own 1-step runs; in-process "
        f"{scale.chain_reps} (10,000 steps: {scale.chain_reps_large}).",
        "GC off (diagnostic): the same command through `benchmarks/engine_cli.py`, which "
        "calls `gc.disable()` before importing the engine; the difference from the "
        "normal rows is what Python's cyclic garbage collector costs per step.",
        'In the notes of the CLI rows: "fastest runs" applies the formula to the '
        'fastest run of each series, and "CPU time" to the children\'s user + system '
        "time from `os.wait4`; other load on the machine disturbs both less than the "
        "medians of wall time, which are the figures judged.",
        "Through the CLI, stderr and stdout go to files, as when a run is logged; a "
        "terminal that draws every line can be slower than the engine. The runner loop's "
        "share comes from the closing line (`finished: N steps in X.XX s`, 10 ms "
        f"resolution), so it is given only where that loop takes ≥ {SPLIT_MIN_S} s.",
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


def _ok(value: float) -> bool:
    return value <= STEP_TARGET_MS


def _cli_row(chain: Chain, last: CliRun, cpu: Chain) -> Row:
    overhead = chain.overhead
    split = ""
    if _median(chain.runner) >= SPLIT_MIN_S:
        split = (
            f"runner loop {number(chain.running.median)}, outside it (YAML, validation, "
            f"plan, table) {number(chain.outside.median)} ms/step; "
        )
    return Row(
        f"through the CLI, {chain.n:,} steps",
        overhead,
        "ms/step",
        f"≤ {STEP_TARGET_MS} ms",
        judge(overhead, _ok),
        f"{split}fastest runs {number(chain.fastest)}, CPU time "
        f"{number(cpu.overhead.median)} ms/step; whole process "
        f"{number(_median(chain.total) * 1000)} ms; "
        f"{last.log_lines:,} log lines, {last.table_lines:,} lines on stdout",
        headline=True,
    )


def _gc_off_row(chain: Chain) -> Row:
    return Row(
        f"through the CLI, {chain.n:,} steps, GC off (diagnostic)",
        chain.overhead,
        "ms/step",
        notes=f"fastest runs {number(chain.fastest)} ms/step; whole process "
        f"{number(_median(chain.total) * 1000)} ms",
    )


def _growth(chains: list[Chain]) -> tuple[Chain, Chain, float | None]:
    """(reference, longest, growth): per-step overhead at the longest chain over that at
    100 steps (or the shortest); None when the reference is not above zero (noise)."""
    reference = next((c for c in chains if c.n == 100), chains[0])
    longest = chains[-1]
    base = reference.overhead.median
    return reference, longest, (longest.overhead.median / base if base > 0 else None)


def _times(growth: float | None) -> str:
    return "undetermined" if growth is None else f"{number(growth)}×"


def _cli_target_rows(chains: list[Chain], cpu: list[Chain]) -> list[Row]:
    reference, longest, growth = _growth(chains)
    cpu_growth = _growth(cpu)[2]
    worst = max(chains, key=lambda c: c.overhead.median)
    within = _ok(worst.overhead.median)
    lengths = ", ".join(f"{c.n:,}" for c in chains)
    if growth is None:
        flat_text, result = "flatness undetermined", NOT_MEASURED
    else:
        flat = growth <= FLAT_TARGET
        flat_text, result = ("flat" if flat else "NOT flat"), verdict(flat and within)
    return [
        _flatness_row(chains, "through the CLI"),
        Row(
            f"through the CLI at {lengths} steps: flat and ≤ {STEP_TARGET_MS} ms/step",
            Stat.of([worst.overhead.median]),
            "ms/step",
            f"≤ {STEP_TARGET_MS} ms at every length, growth ≤ {FLAT_TARGET}×",
            result if within else verdict(False),
            f"{flat_text}: growth {reference.n:,} → {longest.n:,} steps {_times(growth)} "
            f"(in CPU time {_times(cpu_growth)}); "
            f"{'≤' if within else 'above'} {STEP_TARGET_MS} ms: the highest median is "
            f"{number(worst.overhead.median)} ms/step at {worst.n:,} steps",
            headline=True,
        ),
    ]


def _chain_row(chain: Chain, mode: str) -> Row:
    overhead = chain.overhead
    return Row(
        f"{chain.n:,} steps, {MODES[mode]}",
        overhead,
        "ms/step",
        f"≤ {STEP_TARGET_MS} ms",
        judge(overhead, _ok),
        f"runner loop {number(chain.running.median)}, outside it (YAML, validation, plan) "
        f"{number(chain.outside.median)} ms/step; whole run "
        f"{number(_median(chain.total) * 1000)} ms",
    )


def _flatness_row(chains: list[Chain], label: str) -> Row:
    """Per-step overhead at the longest chain over that at 100 steps (or the shortest)."""
    reference, longest, growth = _growth(chains)
    what = f"growth {reference.n:,} → {longest.n:,} steps, {label}"
    if growth is None:
        return Row(
            what,
            None,
            "×",
            f"≤ {FLAT_TARGET}× (flat)",
            NOT_MEASURED,
            f"the {reference.n:,}-step median is not above zero: start-up noise exceeds the signal",
        )
    return Row(
        what,
        Stat.of([growth]),
        "×",
        f"≤ {FLAT_TARGET}× (flat)",
        verdict(growth <= FLAT_TARGET),
        "ratio of the medians of ms/step",
    )


def _median(values: list[float]) -> float:
    return Stat.of(values).median
