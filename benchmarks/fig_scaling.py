"""Figure 8, scaling: the built-in quality steps at 1, 5 and 10 million wheel-speed rows.

For each size a throwaway project gets the demo recording at that size
(``scripts/generation.py``) and one run of the shipped demo (``pipeline --case demo``)
persists its datasets. Then, every round and for every size (sizes in rotated order),
each step is measured in a fresh process twice:

- through ``scaling_probe.py``, inputs loaded first: the step's own time as the engine
  reports it (``PipelineRunner``), the resident size before the step and the peak during
  it — the QualityGate ``signal_quality``, the DataProfiler, and the checks declared on
  the sources ``wheel`` and ``aligned`` evaluated alone with
  ``datareplay.quality.evaluate`` (in a real run they run inside the step that writes
  the source);
- through the command line, ``python run.py plugin NAME --case demo`` (the two plugin
  steps): the step time the CLI prints, which includes reading the inputs from disk,
  and the process's peak RSS.

The verdict is on the growth of the time per input row from the smallest to the largest
size, per round: flat means within 1.3×.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import workspace
from benchlib import (
    BENCH_DIR,
    PYTHON,
    BenchError,
    Figure,
    Row,
    Scale,
    Stat,
    alternate,
    judge,
    megabytes,
    number,
    ratio,
    run_launched,
    run_quiet,
    run_timed,
    say,
)

TARGET = 1.3
SIZES = {False: (1_000_000, 5_000_000, 10_000_000), True: (10_000, 100_000)}  # quick: smoke only
ROUNDS = {False: 5, True: 1}
PROBE = BENCH_DIR / "scaling_probe.py"
CHECKS = "source checks"
FINISHED = re.compile(r"step '[^']+' of case '[^']+' finished in ([0-9.]+) s")


@dataclass(frozen=True)
class Step:
    """One measured step: its label, the probe's arguments and its CLI name (if any)."""

    label: str
    probe: tuple[str, ...]
    cli: str | None
    inputs: str


STEPS = (
    Step(
        "QualityGate",
        ("step", "signal_quality"),
        "signal_quality",
        "wheel_speed_raw + imu_raw + aligned",
    ),
    Step("DataProfiler", ("step", "DataProfiler"), "DataProfiler", "clean"),
    Step(CHECKS, ("checks", "wheel", "aligned"), None, "wheel + aligned"),
)


@dataclass(frozen=True)
class Sample:
    """One measurement of one step at one size."""

    seconds: float
    rows: int
    rss_before: int
    step_peak: int | None
    process_peak: int
    parts: dict[str, float]
    cli_seconds: float | None = None
    cli_peak: int | None = None

    @property
    def ns_per_row(self) -> float:
        return self.seconds / self.rows * 1e9


def short(rows: int) -> str:
    """``1M``, ``50k``: a size for labels."""
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows >= 1_000 and rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return f"{rows:,}"


def prepare(rows: int, work: Path) -> tuple[Path, str]:
    """A throwaway project holding the demo's datasets at ``rows``; and how it was made."""
    project = workspace.make_project(work / f"scaling-{rows}")
    say(f"scaling: generating {rows:,} rows and running the demo once")
    generated = workspace.generate_raw(project, rows)
    started = time.perf_counter()
    run_quiet([PYTHON, project / "run.py", "pipeline", "--case", "demo"], cwd=project)
    demo = time.perf_counter() - started
    size = workspace.raw_bytes(project) / 1e6
    return project, f"{short(rows)}: {size:,.0f} MB raw, {generated:.1f} s + demo {demo:.1f} s"


def measure_step(step: Step, project: Path, logs: Path, tag: str) -> Sample:
    """One fresh probe process, then (for plugins) one CLI process."""
    out = logs / f"{tag}.json"
    run_timed([PYTHON, PROBE, out, "--project", project, *step.probe], cwd=project, log=logs / tag)
    got: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    sample = Sample(
        seconds=got["seconds"],
        rows=sum(got["rows"].values()),
        rss_before=got["rss_before"],
        step_peak=got["step_peak"],
        process_peak=got["process_peak"],
        parts=got["parts"],
    )
    if step.cli is None:
        return sample
    cmd = [PYTHON, "run.py", "plugin", step.cli, "--case", "demo"]
    cli = run_launched(cmd, cwd=project, log=logs / f"{tag}-cli")
    found = FINISHED.search(cli.stdout)
    if found is None:
        raise BenchError(f"no step duration in the output of {' '.join(cmd)}:\n{cli.stdout[:500]}")
    return replace(sample, cli_seconds=float(found[1]), cli_peak=cli.max_rss_bytes)


def measure_all(scale: Scale, work: Path) -> tuple[dict[int, list[dict[str, Sample]]], list[str]]:
    """Samples by size, one dict (step label -> sample) per round; notes on the data."""
    sizes = SIZES[scale.quick]
    logs = work / "scaling-logs"
    logs.mkdir()
    projects, made = {}, []
    for rows in sizes:
        projects[rows], note = prepare(rows, work)
        made.append(note)
    rounds = ROUNDS[scale.quick]
    counter = itertools.count()

    def one_size(rows: int) -> Callable[[], dict[str, Sample]]:
        def run() -> dict[str, Sample]:
            say(f"scaling: the quality steps at {rows:,} rows")
            n = next(counter)
            return {
                step.label: measure_step(step, projects[rows], logs, f"{rows}-{n}-{i}")
                for i, step in enumerate(STEPS)
            }

        return run

    return alternate({rows: one_size(rows) for rows in sizes}, rounds), made


def _mb(values: Iterable[float]) -> Stat:
    return Stat.of(values).scaled(1e-6)


def build(samples: dict[int, list[dict[str, Sample]]], made: list[str]) -> Figure:
    sizes = sorted(samples)
    small, big = sizes[0], sizes[-1]
    figure = Figure(
        "Scaling",
        f"The QualityGate `signal_quality`, the DataProfiler and the source checks of the "
        f"shipped demo at {', '.join(f'{n:,}' for n in sizes)} wheel-speed rows (imu_raw "
        "has half as many, aligned and clean a fifth), each measured in a fresh process "
        "with its inputs already in memory: the step's own time as the engine reports it "
        "(the checks: the sum of their `evaluate` calls), ns per input row (every row of "
        "every input), and peak RSS: the process's, and above what the process held just "
        "before the step (the loaded inputs, the engine). The same two plugin steps also "
        "run through `python run.py plugin NAME --case demo`: its printed step time "
        "includes reading the inputs from disk. Target: ns per row at the largest size "
        "÷ at the smallest, per round, ≤ 1.3×.",
    )
    for step in STEPS:
        for rows in sizes:
            got = [r[step.label] for r in samples[rows]]
            at = f"{step.label} at {short(rows)} rows"
            inputs = got[0].rows
            cli = [s.cli_seconds for s in got if s.cli_seconds is not None]
            through_cli = (
                f"; through the CLI {number(Stat.of(cli).median)} s incl. reading the inputs"
                if cli
                else ""
            )
            figure.rows.append(
                Row(
                    f"{at}: time",
                    Stat.of(s.seconds for s in got),
                    "s",
                    notes=f"{inputs:,} input rows ({step.inputs}){through_cli}",
                )
            )
            figure.rows.append(Row(f"{at}: ns per row", Stat.of(s.ns_per_row for s in got), "ns"))
            above = [s.step_peak - s.rss_before for s in got if s.step_peak is not None]
            extra = (
                f"{megabytes(Stat.of(above).median)} above the "
                f"{megabytes(Stat.of(s.rss_before for s in got).median)} held before the step"
                if above
                else "peak above the RSS before the step not available"
            )
            cli_peak = [s.cli_peak for s in got if s.cli_peak is not None]
            if cli_peak:
                extra += f"; the CLI process {megabytes(Stat.of(cli_peak).median)}"
            figure.rows.append(
                Row(f"{at}: peak RSS", _mb([s.process_peak for s in got]), "MB", notes=extra)
            )
        growth = ratio(
            [r[step.label].ns_per_row for r in samples[big]],
            [r[step.label].ns_per_row for r in samples[small]],
        )
        figure.rows.append(
            Row(
                f"{step.label}: ns per row, {short(big)} ÷ {short(small)} rows",
                growth,
                "×",
                f"≤ {TARGET}×",
                judge(growth, lambda v: v <= TARGET),
                f"{big // small}× the rows; per round",
                headline=True,
            )
        )
    figure.notes += [
        "The source checks at the largest size, each alone (median): "
        + ", ".join(
            f"{name} {number(Stat.of(r[CHECKS].parts[name] for r in samples[big]).median * 1e3)} ms"
            for name in samples[big][0][CHECKS].parts
        )
        + ".",
        "Data per size (generation with scripts/generation.py, then one demo run to persist "
        "the datasets, both untimed for the figure): " + "; ".join(made) + ".",
        f"Rounds: {len(samples[big])}; sizes in rotated order each round. First-call costs "
        "(imports of the check modules and pandera) are paid untimed on a 1,000-row slice "
        "before each measurement.",
    ]
    return figure


def measure(scale: Scale, work: Path) -> Figure:
    samples, made = measure_all(scale, work)
    return build(samples, made)
