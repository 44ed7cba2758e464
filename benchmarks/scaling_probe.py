"""Time one step of the demo on inputs already in memory, and the memory it adds.

Usage::

    python benchmarks/scaling_probe.py RESULT.json --project DIR step NAME
    python benchmarks/scaling_probe.py RESULT.json --project DIR checks SOURCE [SOURCE ...]

``step NAME`` opens the case ``demo``, loads every input of step ``NAME`` from what the
last run persisted, then runs the step through the engine's ``PipelineRunner`` (as in a
pipeline run, where earlier steps left the inputs in memory); the time is the runner's
own duration of the step. ``checks`` loads the named sources and evaluates the checks
the case declares on them with ``datareplay.quality.evaluate`` (in a real run they are
evaluated inside the step that writes the source), timing each call.

Before the timed part, first-call costs are paid untimed on a 1,000-row slice of each
input (imports of pandera and the check modules), the garbage collector runs, and the
memory high-water mark is reset (``/proc/self/clear_refs``), so ``step_peak - before``
is what the step itself adds above the inputs it was given. The JSON holds the seconds,
the input row counts, the resident size before the step, the peak during the step and
the process's peak over its whole life, all in bytes.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WARMUP_ROWS = 1000


def _memory() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def _reset_peak() -> bool:
    """Set the high-water mark to the current resident size (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _open(project: Path) -> Any:
    from datareplay.api import session

    return session(project).open_case("demo")


def _warm_checks(checks: dict[str, tuple[Any, ...]], frames: dict[str, Any], lookup: Any) -> None:
    from datareplay.quality.evaluate import evaluate

    for source, items in checks.items():
        head = frames[source].head(WARMUP_ROWS)
        for check in items:
            evaluate(check, head, source=source, lookup=lookup)


def prepare_step(opened: Any, name: str) -> tuple[dict[str, int], Callable[[], dict[str, float]]]:
    """Load the inputs of step ``name``; return their row counts and the timed run."""
    from datareplay.quality.specs import checks_by_source
    from datareplay.run.events import EventBus
    from datareplay.run.runner import PipelineRunner

    step = opened.plan.step(name)
    frames = {source: opened.hub.load(source) for source in step.reads.values()}
    gate = step.params.get("checks")
    if isinstance(gate, dict):  # a QualityGate: its checks' first calls, untimed
        specs = checks_by_source(gate, where="checks", known_sources=())
        _warm_checks(dict(specs), frames, opened.hub.load)
    runner = PipelineRunner(opened.plan, opened.hub, release_memory=False, bus=EventBus())

    def run() -> dict[str, float]:
        outcome = runner.run([step]).steps[0]
        return {name: outcome.seconds}

    return {source: len(frame) for source, frame in frames.items()}, run


def prepare_checks(
    opened: Any, sources: list[str]
) -> tuple[dict[str, int], Callable[[], dict[str, float]]]:
    """Load ``sources``; return their row counts and the timed evaluation of their checks."""
    from datareplay.quality.evaluate import evaluate

    frames = {source: opened.hub.load(source) for source in sources}
    checks = {source: opened.hub.sources[source].checks for source in sources}
    _warm_checks(checks, frames, opened.hub.load)

    def run() -> dict[str, float]:
        parts = {}
        for source, items in checks.items():
            for check in items:
                started = time.perf_counter()
                result = evaluate(check, frames[source], source=source, lookup=opened.hub.load)
                parts[f"{source}: {check.describe()}"] = time.perf_counter() - started
                if result.blocking:
                    raise RuntimeError(result.line())
        return parts

    return {source: len(frame) for source, frame in frames.items()}, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=Path)
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("what", choices=("step", "checks"))
    parser.add_argument("names", nargs="+")
    args = parser.parse_args(argv)

    opened = _open(args.project.resolve())
    if args.what == "step":
        rows, run = prepare_step(opened, args.names[0])
    else:
        rows, run = prepare_checks(opened, args.names)
    gc.collect()
    before = _memory()
    reset = _reset_peak()
    parts = run()
    after = _memory()
    result = {
        "seconds": sum(parts.values()),
        "parts": parts,
        "rows": rows,
        "rss_before": before["VmRSS"],
        "step_peak": after["VmHWM"] if reset else None,
        "process_peak": max(before["VmHWM"], after["VmHWM"]),
    }
    args.result.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
