"""Run the demo once in this process and record its memory step by step.

Usage: ``python benchmarks/memory_demo.py --project DIR --out STEPS.json``

A listener of the run's events reads ``/proc/self/status`` when each step starts and
finishes: the resident set (VmRSS) at its start, and the high-water mark (VmHWM) reached
while it ran — the mark is reset at every step start by writing ``5`` to
``/proc/self/clear_refs`` (Linux ≥ 4.0), so each step reports its own peak. The run goes
through the Python API (``run_pipeline("demo", listeners=[...])``), the same runner as
``run.py pipeline``. Linux only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) * 1024
    return found


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")


class StepMemory:
    """Listener: each step's resident set at its start and its own peak."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []

    def __call__(self, event: Any) -> None:
        from datareplay.run import events

        if isinstance(event, events.StepStarted):
            now = status()["VmRSS"]
            reset_peak()
            self.steps.append({"name": event.name, "rss_start": now})
        elif isinstance(event, events.StepFinished | events.StepFailed):
            now = status()
            self.steps[-1].update(peak=now["VmHWM"], rss_end=now["VmRSS"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    import numpy  # noqa: F401  # the libraries first: their share is the floor
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    from datareplay.api import run_pipeline

    listener = StepMemory()
    imported = status()["VmRSS"]
    reset_peak()
    run_pipeline("demo", project=args.project, listeners=[listener])
    record = {"imported": imported, "steps": listener.steps}
    args.out.write_text(json.dumps(record, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
