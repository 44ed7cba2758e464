"""Shared pieces of the benchmarks: scales, samples and their statistics, result rows,
alternating repetitions and timed subprocesses."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PYTHON = sys.executable

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class BenchError(RuntimeError):
    """A benchmark could not run (a command failed, a result was inconsistent)."""


@dataclass(frozen=True)
class Scale:
    """How big and how often: one instance for ``--quick``, one for the full run."""

    quick: bool
    demo_rows: int
    demo_reps: int
    cli_reps: int
    chain_lengths: tuple[int, ...]
    chain_reps: int
    chain_reps_large: int
    cli_chain_lengths: tuple[int, ...]
    cli_chain_reps: int
    cli_chain_reps_large: int
    hash_reps: int
    persist_rows: int
    persist_text_rows: int
    persist_reps: int
    persist_text_reps: int
    quality_rows: int
    quality_reps: int
    quality_compare_reps: int
    quality_ref_rows: int
    quality_drift_rows: int

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"


FULL = Scale(
    quick=False,
    demo_rows=5_000_000,
    demo_reps=4,
    cli_reps=20,
    chain_lengths=(10, 100, 1_000, 10_000),
    chain_reps=6,
    chain_reps_large=6,
    cli_chain_lengths=(100, 1_000, 10_000),
    cli_chain_reps=20,
    cli_chain_reps_large=8,
    hash_reps=6,
    persist_rows=10_000_000,
    persist_text_rows=500_000,
    persist_reps=12,
    persist_text_reps=6,
    quality_rows=10_000_000,
    quality_reps=3,
    quality_compare_reps=6,
    quality_ref_rows=100_000,
    quality_drift_rows=1_000_000,
)
QUICK = Scale(
    quick=True,
    demo_rows=100_000,
    demo_reps=1,
    cli_reps=5,
    chain_lengths=(10, 100, 1_000),
    chain_reps=2,
    chain_reps_large=2,
    cli_chain_lengths=(100, 1_000),
    cli_chain_reps=2,
    cli_chain_reps_large=1,
    hash_reps=1,
    persist_rows=200_000,
    persist_text_rows=20_000,
    persist_reps=3,
    persist_text_reps=3,
    quality_rows=200_000,
    quality_reps=2,
    quality_compare_reps=3,
    quality_ref_rows=10_000,
    quality_drift_rows=20_000,
)


@dataclass(frozen=True)
class Baseline:
    """The engine of an earlier git revision, for side-by-side runs: children started
    with ``env`` import ``datareplay`` from its snapshot."""

    rev: str
    subject: str
    env: dict[str, str]

    @property
    def label(self) -> str:
        return f"previous engine ({self.rev})"


# -- samples ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    """Repeated measurements of one quantity."""

    samples: tuple[float, ...]

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        samples = tuple(float(v) for v in values)
        if not samples:
            raise BenchError("a figure has no samples")
        return cls(samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def lo(self) -> float:
        return min(self.samples)

    @property
    def hi(self) -> float:
        return max(self.samples)

    def scaled(self, factor: float) -> Stat:
        return Stat(tuple(v * factor for v in self.samples))


def pairwise(a: Sequence[float], b: Sequence[float], op: Callable[[float, float], float]) -> Stat:
    """``op(a[i], b[i])`` for measurements taken in the same repetition."""
    if len(a) != len(b):
        raise BenchError("paired samples of different lengths")
    return Stat.of(op(x, y) for x, y in zip(a, b, strict=True))


def ratio(a: Sequence[float], b: Sequence[float]) -> Stat:
    """Per-repetition ratios ``a[i] / b[i]``."""
    return pairwise(a, b, lambda x, y: x / y)


def fastest_ratio(a: Sequence[float], b: Sequence[float]) -> Stat:
    """``min(a) / min(b)``: the ratio of the fastest runs, which other load on the machine
    (it only ever adds time) disturbs least."""
    return Stat.of([min(a) / min(b)])


def difference(a: Sequence[float], b: Sequence[float]) -> Stat:
    """Per-repetition differences ``a[i] - b[i]``."""
    return pairwise(a, b, lambda x, y: x - y)


def alternate(
    variants: Mapping[K, Callable[[], T]],
    reps: int,
    *,
    settle: Callable[[], object] | None = None,
) -> dict[K, list[T]]:
    """Run every variant once per repetition, rotating the order between repetitions.

    Rotation puts each variant first, second, ... equally often when ``reps`` is a
    multiple of the number of variants, so drift and order effects (thermal, page
    cache, write-back, other load) hit all variants alike; sample ``i`` of every variant comes
    from repetition ``i``, so per-repetition ratios compare neighbours in time.
    ``settle`` runs, untimed, before every variant (e.g. ``os.sync``, so that no variant
    pays for the write-back of data another one left dirty).
    """
    names = list(variants)
    results: dict[K, list[T]] = {name: [] for name in names}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            if settle is not None:
                settle()
            results[name].append(variants[name]())
    return results


def timed(fn: Callable[[], object]) -> float:
    """Wall time of ``fn()`` in seconds."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# -- result rows -----------------------------------------------------------------------


MET = "met"
NOT_MET = "**not met**"
NOT_MEASURED = "not measured"


def verdict(ok: bool) -> str:
    return MET if ok else NOT_MET


def judge(stat: Stat, ok: Callable[[float], bool]) -> str:
    """The verdict on the median, flagged when the min–max spread crosses the target."""
    text = verdict(ok(stat.median))
    if ok(stat.lo) != ok(stat.hi):
        text += " (spread crosses the target)"
    return text


def ratio_rows(
    label: str,
    a: Sequence[float],
    b: Sequence[float],
    *,
    cpu: tuple[Sequence[float], Sequence[float]],
    limit: float,
    target: str,
    notes: str,
    headline: bool = True,
) -> list[Row]:
    """A judged ratio ``a ÷ b`` per round (in the summary when ``headline``), then the
    same for the fastest runs and for CPU time (``cpu``: the children's user + system
    time of each side), which other load on the machine disturbs less than wall time."""
    cost = ratio(a, b)
    return [
        Row(label, cost, "×", target, judge(cost, lambda v: v <= limit), notes, headline),
        Row(
            f"{label}, fastest runs",
            fastest_ratio(a, b),
            "×",
            notes="fastest run of each side: what other load on the machine disturbs least",
        ),
        Row(
            f"{label}, CPU time",
            ratio(*cpu),
            "×",
            notes="user + system time of each child (all its threads)",
        ),
    ]


@dataclass
class Row:
    """One line of a figure's table."""

    measurement: str
    stat: Stat | None
    unit: str
    target: str = ""
    verdict: str = ""
    notes: str = ""
    headline: bool = False


@dataclass
class Figure:
    """One figure of the issue: how it was measured, its rows and remarks."""

    title: str
    how: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def number(value: float) -> str:
    """A value with as many digits as its size deserves."""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def with_unit(text: str, unit: str) -> str:
    if unit in ("×", "%"):
        return f"{text}{unit}"
    return f"{text} {unit}" if unit else text


def megabytes(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 10e6 else f"{n / 1e6:.1f} MB"


# -- subprocesses ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProcResult:
    seconds: float
    max_rss_bytes: int
    stdout: str
    cpu_seconds: float = 0.0  # the child's user + system time


ENV_DROPPED = ("DATAREPLAY_PROJECT", "PYTHONDONTWRITEBYTECODE")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for child processes: no inherited project override, and bytecode
    cached as a default Python does (an environment that sets PYTHONDONTWRITEBYTECODE
    would make every child compile the engine's source again)."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROPPED}
    env.update(extra or {})
    return env


def run_timed(
    cmd: Sequence[str | Path],
    *,
    cwd: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
) -> ProcResult:
    """Run ``cmd``; return its wall time, its own peak RSS and its stdout.

    ``os.wait4`` reports the resource usage of exactly this child, unlike
    ``RUSAGE_CHILDREN``, which is the maximum over every child ever waited for.
    stdout and stderr go to files (``log`` and ``log.err``) so a failure can be shown.
    """
    out_path, err_path = log, log.with_suffix(log.suffix + ".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(c) for c in cmd], cwd=cwd, stdout=out, stderr=err, env=dict(env or clean_env())
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = err_path.read_text(errors="replace")[-2000:]
        raise BenchError(f"{' '.join(map(str, cmd))} exited with {proc.returncode}:\n{tail}")
    return ProcResult(
        seconds,
        usage.ru_maxrss * 1024,
        out_path.read_text(errors="replace"),
        usage.ru_utime + usage.ru_stime,
    )


def run_launched(
    cmd: Sequence[str | Path], *, cwd: Path, log: Path, env: Mapping[str, str] | None = None
) -> ProcResult:
    """Like ``run_timed``, but through ``launch.py``, a small parent that keeps the child's
    peak RSS free of this (large) process's own high-water mark; the wall time is taken
    by the launcher around the child alone."""
    result = log.with_suffix(log.suffix + ".json")
    launcher = [PYTHON, BENCH_DIR / "launch.py", result, "--", *cmd]
    outer = run_timed(launcher, cwd=cwd, log=log, env=env)
    measured = json.loads(result.read_text(encoding="utf-8"))
    return ProcResult(
        measured["seconds"], measured["max_rss_bytes"], outer.stdout, measured["cpu_seconds"]
    )


def run_quiet(cmd: Sequence[str | Path], *, cwd: Path, timeout: float = 600) -> str:
    """Run ``cmd`` to completion and return its stdout; raise BenchError on failure."""
    done = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(),
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"{' '.join(map(str, cmd))} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def say(message: str) -> None:
    """Progress on stderr (stdout stays clean)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
