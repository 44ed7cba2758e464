"""Figure 7, content hashing and fidelity guards: the shipped demo with each on and off.

Every persisted write computes the xxh3_128 hash of its temporary file before the
rename (``LocalStorage.write`` → ``hash_file``). Both sides run the shipped demo
(``pipeline --case demo``) as fresh processes through ``engine_cli.py``, the same
launcher, alternating: "on" keeps the engine's ``hash_file`` (wrapped to count bytes and
time), "off" replaces it with ``("", os.stat(path).st_size)``. The wall time is taken
by ``launch.py`` around the child, as for the engine-overhead figure. A third side,
"unguarded", keeps hashing but switches off the fidelity guards (the formats' exactness
check, the catalog's per-reader views and write snapshots), so the same runs also give
what those guards cost.
"""

from __future__ import annotations

import json
import os
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
    judge,
    megabytes,
    ratio_rows,
    run_launched,
    say,
)

TARGET = 1.05
# side -> the launcher's switches
SIDES = {
    "on": ("--hash", "on"),
    "off": ("--hash", "off"),
    "unguarded": ("--hash", "on", "--fidelity", "off"),
}


@dataclass
class HashRuns:
    """Wall times and hashing counts of the alternated runs, by side."""

    results: dict[str, list[tuple[ProcResult, dict[str, Any]]]]
    rows: int
    warmup: bool

    def seconds(self, side: str) -> list[float]:
        return [r.seconds for r, _ in self.results[side]]

    def cpu(self, side: str) -> list[float]:
        return [r.cpu_seconds for r, _ in self.results[side]]

    def stats(self, side: str, key: str) -> list[float]:
        return [float(s[key]) for _, s in self.results[side]]


def run_hashing(scale: Scale, project: Path, work: Path) -> HashRuns:
    """Alternate the demo with hashing on and off (one warm-up round in full mode)."""
    logs = work / "hash-logs"
    logs.mkdir()

    def variant(side: str) -> Callable[[], tuple[ProcResult, dict[str, Any]]]:
        stats = logs / f"{side}-stats.json"
        cmd: list[str | Path] = [
            PYTHON,
            BENCH_DIR / "engine_cli.py",
            "--project",
            project,
            *SIDES[side],
            "--stats",
            stats,
            "--",
            "pipeline",
            "--case",
            "demo",
        ]

        def run() -> tuple[ProcResult, dict[str, Any]]:
            stats.unlink(missing_ok=True)
            result = run_launched(cmd, cwd=project, log=logs / f"hash-{side}.out")
            return result, json.loads(stats.read_text(encoding="utf-8"))

        return run

    variants = {side: variant(side) for side in SIDES}
    if not scale.quick:
        say(f"hashing: demo at {scale.demo_rows:,} rows, warm-up run with hashing on and off")
        alternate(variants, 1, settle=os.sync)
    say(f"hashing: {scale.hash_reps} alternated rounds, hashing on and off, guards off")
    results = alternate(variants, scale.hash_reps, settle=os.sync)
    return HashRuns(results, scale.demo_rows, warmup=not scale.quick)


def figure(runs: HashRuns) -> Figure:
    on, off = runs.seconds("on"), runs.seconds("off")
    hashed, hash_s = runs.stats("on", "bytes"), runs.stats("on", "seconds")
    calls = runs.stats("on", "calls")
    share = Stat.of(100 * h / t for h, t in zip(hash_s, on, strict=True))
    throughput = Stat.of(b / s / 1e6 for b, s in zip(hashed, hash_s, strict=True) if s > 0)
    fig = Figure(
        "Content hashing",
        f"The shipped demo (`run.py pipeline --case demo`) at {runs.rows:,} wheel-speed "
        "rows, each run a fresh process started through `benchmarks/engine_cli.py`, the "
        "same launcher for both sides and timed around the child by `launch.py`: hashing "
        "on (the engine's `hash_file`, xxh3_128 of every temporary file before its rename, "
        "wrapped to count bytes and time) vs hashing off (`hash_file` replaced by "
        "`('', os.stat(path).st_size)`). The two sides alternate in rotated order; ratios "
        "are per round; `os.sync()` runs (untimed) before every run.",
    )
    fig.rows += [
        Row("hashing on: shipped demo", Stat.of(on), "s"),
        Row("hashing off: shipped demo", Stat.of(off), "s"),
        *ratio_rows(
            "hashing on ÷ hashing off",
            on,
            off,
            cpu=(runs.cpu("on"), runs.cpu("off")),
            limit=TARGET,
            target=f"≤ {TARGET}× (adds < 5 %)",
            notes="the issue's figure: whole-run wall time",
        ),
        Row("hashing on − hashing off", difference(on, off), "s"),
        Row(
            "time inside `hash_file` per run",
            Stat.of(hash_s),
            "s",
            notes=f"{calls[0]:.0f} writes hashed, {megabytes(hashed[0])} in all",
        ),
        Row(
            "`hash_file` time ÷ run time (hashing on)",
            share,
            "%",
            "< 5 %",
            judge(share, lambda v: v < 5),
            "measured inside the run: tighter than the wall-time ratio",
            headline=True,
        ),
        Row(
            "hashing throughput: bytes hashed ÷ time in `hash_file`",
            throughput,
            "MB/s",
            notes="16 MiB `readinto` + `xxh3_128.update` of a file just written (in the "
            "page cache)",
            headline=True,
        ),
    ]
    fig.rows += _guard_rows(runs)
    same = {int(b) for b in hashed} == {int(b) for b in runs.stats("off", "bytes")}
    fig.notes += [
        f"{len(on)} rounds"
        + (" after one warm-up round" if runs.warmup else "")
        + f"; bytes written per run: {megabytes(hashed[0])} with hashing on, "
        f"{megabytes(runs.stats('off', 'bytes')[0])} with it off"
        + (" (the same files)." if same else " (WARNING: they differ)."),
        "The hashing-off side is no configuration of the engine: the launcher swaps "
        "`datareplay.data.storage.hash_file` in the child process, so the engine's "
        "source is unchanged.",
        "The unguarded side keeps hashing and replaces `datareplay.data.fidelity.check` "
        "and the catalog's `reader_view`, `snapshot` and `freeze` by pass-throughs in the "
        "child, the same way.",
    ]
    return fig


def _guard_rows(runs: HashRuns) -> list[Row]:
    """What the fidelity guards cost: hashing on, guards on ÷ guards off."""
    on, unguarded = runs.seconds("on"), runs.seconds("unguarded")
    return [
        Row("fidelity guards off: shipped demo", Stat.of(unguarded), "s"),
        *ratio_rows(
            "fidelity guards on ÷ off",
            on,
            unguarded,
            cpu=(runs.cpu("on"), runs.cpu("unguarded")),
            limit=TARGET,
            target=f"≤ {TARGET}× (adds < 5 %)",
            notes="exactness check of every write, per-reader views, write snapshots",
        ),
    ]
