"""What incremental runs save, measured side by side on the shipped demo.

On a throwaway copy of the project (``benchmarks/.work/incremental``) with the demo
recording at ``--rows`` wheel-speed samples, each round runs, as fresh processes through
the command line with normal logging:

* cold: ``pipeline --case demo --no-cache`` (every step runs);
* unchanged: ``pipeline --case demo`` right after it (every step restored);
* one late param: ``pipeline --case demo --set pipeline.EventDetector.params.hard_brake_mps2=X``
  with X alternating, so EventDetector and what depends on it rerun.

It also times the cache's own cost on a 1,000-step chain of trivial steps: a run with
caching on whose every lookup misses (a fresh store each round) against ``--no-cache``.

Run from the repository root: ``python benchmarks/fig_incremental.py [--rows N]
[--rounds K]``. Prints a Markdown table; figures are medians with min–max.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(REPO / "benchmarks"))


def _copy_project(target: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "config", "cases", "modules", "templates", "scripts", "run.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target / name)


def _timed(cwd: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "DATAREPLAY_NO_CACHE"}
    os.sync()
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "run.py", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    return seconds


def _stat(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    shown = [v * scale for v in values]
    return f"{statistics.median(shown):.3g} {unit} ({min(shown):.3g}–{max(shown):.3g})"


def measure(work: Path, rows: int, rounds: int) -> str:
    shutil.rmtree(work, ignore_errors=True)
    demo = work / "demo"
    _copy_project(demo)
    subprocess.run(
        [PYTHON, "run.py", "generate-data", "--rows", str(rows)],
        cwd=demo,
        check=True,
        capture_output=True,
    )
    cold, warm, late = [], [], []
    _timed(demo, "pipeline", "--case", "demo", "--no-cache")  # warm-up, untimed
    for round_ in range(rounds):
        cold.append(_timed(demo, "pipeline", "--case", "demo", "--no-cache"))
        warm.append(_timed(demo, "pipeline", "--case", "demo"))
        brake = "3.5" if round_ % 2 else "3.75"
        late.append(
            _timed(
                demo,
                "pipeline",
                "--case",
                "demo",
                "--set",
                f"pipeline.EventDetector.params.hard_brake_mps2={brake}",
            )
        )
    shares = [w / c for w, c in zip(warm, cold, strict=True)]
    late_shares = [x / c for x, c in zip(late, cold, strict=True)]

    import fig_steps

    chain = work / "chain"
    fig_steps.make_chain_project(chain, (1000,))
    on, off = [], []
    for _ in range(rounds):
        shutil.rmtree(chain / ".datareplay", ignore_errors=True)
        on.append(_timed(chain, "pipeline", "--case", "chain_1000"))
        shutil.rmtree(chain / ".datareplay", ignore_errors=True)
        off.append(_timed(chain, "pipeline", "--case", "chain_1000", "--no-cache"))
    lookup = [a - b for a, b in zip(on, off, strict=True)]
    lines = [
        f"Shipped demo at {rows:,} rows, {rounds} rounds (fresh processes, normal logging):",
        "",
        "| measurement | median (min–max) | target |",
        "| --- | --- | --- |",
        f"| cold run (`--no-cache`) | {_stat(cold)} | |",
        f"| rerun, nothing changed | {_stat(warm)} | |",
        f"| rerun ÷ cold run | {_stat(shares, '%', 100)} | < 3 % |",
        f"| one late param changed (EventDetector) | {_stat(late)} | |",
        f"| one late param ÷ cold run | {_stat(late_shares, '%', 100)} | |",
        f"| 1,000-step chain, caching on (every lookup misses) | {_stat(on)} | |",
        f"| 1,000-step chain, `--no-cache` | {_stat(off)} | |",
        f"| cache lookups and keys, 1,000 steps | {_stat(lookup, 'ms', 1000)} | < 50 ms |",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(measure(REPO / "benchmarks" / ".work" / "incremental", args.rows, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
