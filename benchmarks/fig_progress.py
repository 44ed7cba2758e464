"""What the live progress line costs: the same run on a terminal and through a pipe.

``python run.py pipeline --case C`` runs as a fresh process with stdout and stderr on a
pseudo-terminal (live line drawn by rich) and with both on pipes (plain log lines),
alternating round by round; the figure is the median per-round ratio of wall times
(target: no measurable cost, i.e. within the spread of the runs).

Two cases: the shipped demo at ``--rows`` wheel-speed rows, and a 100-step chain of
trivial plugins (where the view is redrawn for every step).
Usage: ``python benchmarks/fig_progress.py [--rows N] [--rounds K]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fig_records import REPO, chain_project

PYTHON = sys.executable


def on_terminal(root: Path, case: str) -> float:
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(root)
        os.execv(PYTHON, [PYTHON, "run.py", "pipeline", "--case", case])
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            if not os.read(fd, 1 << 16):
                break
        except OSError:
            break
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{case} failed on a terminal")
    return time.perf_counter() - started


def through_pipe(root: Path, case: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [PYTHON, "run.py", "pipeline", "--case", case], cwd=root, check=True, capture_output=True
    )
    return time.perf_counter() - started


def figure(root: Path, case: str, rounds: int) -> dict[str, Any]:
    on_terminal(root, case)
    through_pipe(root, case)
    ratios, tty, pipe = [], [], []
    for index in range(rounds):
        if index % 2 == 0:
            a, b = on_terminal(root, case), through_pipe(root, case)
        else:
            b, a = through_pipe(root, case), on_terminal(root, case)
        tty.append(a)
        pipe.append(b)
        ratios.append(a / b)
    return {
        "samples": {"terminal": tty, "pipe": pipe},
        "terminal, median s": statistics.median(tty),
        "pipe, median s": statistics.median(pipe),
        "terminal / pipe (median of rounds)": statistics.median(ratios),
        "spread": [min(ratios), max(ratios)],
    }


def _project(work: Path, rows: int) -> tuple[Path, Path]:
    """A copy of the demo project with its recording, and a 100-step chain project."""
    shutil.rmtree(work, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", ".work", ".datareplay", "data")
    for part in ("config", "modules", "scripts"):
        shutil.copytree(REPO / part, work / part, ignore=ignore)
    shutil.copy2(REPO / "run.py", work / "run.py")
    (work / "cases" / "demo").mkdir(parents=True)
    shutil.copy2(REPO / "cases" / "demo" / "case.yaml", work / "cases" / "demo" / "case.yaml")
    subprocess.run(
        [PYTHON, work / "scripts" / "generation.py", "--rows", str(rows), "--root", work],
        check=True,
        capture_output=True,
    )
    chain = chain_project(work / "chain_project", n=100)
    shutil.copy2(REPO / "run.py", chain / "run.py")
    return work, chain


def progress_figure(scale: object, work: Path) -> object:
    """The progress figure of the benchmark suite."""
    from benchlib import Figure, Row, judge, ratio

    quick = bool(getattr(scale, "quick", False))
    rows_n = 100_000 if quick else 1_000_000
    rounds = 2 if quick else 6
    demo_root, chain = _project(work / "progress", rows_n)
    rows = []
    for label, root, case in (
        (f"demo at {rows_n:,} rows", demo_root, "demo"),
        ("100-step chain", chain, "chain"),
    ):
        found = figure(root, case, rounds)
        samples = found["samples"]
        cost = ratio(samples["terminal"], samples["pipe"])
        rows.append(
            Row(
                f"{label}: on a terminal ÷ through a pipe",
                cost,
                "×",
                "≤ 1.05×" if case == "demo" else "",
                judge(cost, lambda v: v <= 1.05) if case == "demo" else "",
                "live line drawn by rich vs plain log lines; fresh processes, alternating",
                case == "demo",
            )
        )
    shutil.rmtree(work / "progress", ignore_errors=True)
    return Figure(
        "Live progress",
        "`python run.py pipeline` with stdout and stderr on a pseudo-terminal (the live "
        "line) against the same on pipes (plain log lines), alternating round by round. The "
        "chain shows the per-step cost of the live line (importing rich, about 45 ms, is "
        "most of it).",
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=6)
    ns = parser.parse_args()
    work = REPO / "benchmarks" / ".work" / "progress"
    demo_root, chain = _project(work, ns.rows)
    results = {
        "demo": figure(demo_root, "demo", ns.rounds),
        "chain of 100 steps": figure(chain, "chain", ns.rounds),
    }
    for found in results.values():
        found.pop("samples")
    print(json.dumps(results, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
