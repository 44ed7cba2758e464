"""Kill writers at random moments and check that no dataset is ever half-written.

Each trial starts a process that saves a dataset through the data catalog over and over,
alternating between two versions, and SIGKILLs it after a random delay. Afterwards the
target must be absent, or load completely as one of the two versions. The test suite runs
a few trials per format; run this script for a long soak::

    python scripts/soak_atomic.py --trials 300            # every format
    python scripts/soak_atomic.py --trials 500 --format csv
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FORMATS = ("parquet", "feather", "csv", "json", "pickle")
ROWS = {"parquet": 300_000, "feather": 300_000, "csv": 60_000, "json": 40_000, "pickle": 300_000}


def frame(version: int, rows: int) -> Any:
    """A frame whose every row carries ``version``, with a sentinel last row."""
    import numpy as np
    import pandas as pd

    return pd.DataFrame(
        {
            "version": np.full(rows, version, dtype="int64"),
            "i": np.arange(rows, dtype="int64"),
            "x": np.linspace(0.0, 1.0, rows),
            "tag": np.where(np.arange(rows) % 2 == 0, "even", "odd"),
        }
    )


def writer(target: str, fmt: str, rows: int, ready: Any) -> None:
    """Child process: write two versions of one dataset alternately, forever."""
    from datareplay.data.catalog import DataCatalog
    from datareplay.data.formats import FORMATS as KNOWN
    from datareplay.data.source import DataSource

    path = Path(target)
    hub = DataCatalog(
        {"d": DataSource("d", KNOWN[fmt], path, trusted=True)}, project_root=path.parent
    )
    versions = [frame(1, rows), frame(2, rows)]
    ready.set()
    i = 0
    while True:
        hub["d"] = versions[i % 2]
        i += 1


def check(target: Path, fmt: str, rows: int) -> str:
    """'absent', 'v1' or 'v2' (+' mid-write' when the kill left a temporary file).

    Raises AssertionError for anything else.
    """
    from datareplay.data.atomic import sweep_temporaries
    from datareplay.data.formats import FORMATS as KNOWN

    mid_write = " mid-write" if sweep_temporaries([target]) else ""
    leftovers = [p.name for p in target.parent.iterdir() if p != target]
    assert not leftovers, f"temporary files left after sweep: {leftovers}"
    if not target.exists():
        return "absent" + mid_write
    read = KNOWN[fmt].read
    assert read is not None
    loaded = read(target)
    assert len(loaded) == rows, f"{fmt}: {len(loaded)} rows, expected {rows}"
    versions = set(loaded["version"].tolist())
    assert len(versions) == 1 and versions <= {1, 2}, f"{fmt}: mixed versions {versions}"
    assert loaded["i"].iloc[-1] == rows - 1
    return f"v{versions.pop()}{mid_write}"


def context() -> Any:
    """A forkserver context with the data libraries preloaded, so trials start fast."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["pandas", "pyarrow.parquet", "pyarrow.feather", "soak_atomic"])
    return ctx


def trial(ctx: Any, folder: Path, fmt: str, *, rows: int, max_delay: float, rng: Any) -> str:
    """One kill trial; returns the outcome seen by ``check``."""
    target = folder / f"data.{fmt}"
    ready = ctx.Event()
    proc = ctx.Process(target=writer, args=(str(target), fmt, rows, ready), daemon=True)
    proc.start()
    if not ready.wait(30):
        proc.kill()
        raise RuntimeError("writer did not start")
    time.sleep(rng.uniform(0.0, max_delay))
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    return check(target, fmt, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300, help="trials per format")
    parser.add_argument("--format", choices=FORMATS, action="append", dest="formats")
    parser.add_argument("--max-delay", type=float, default=0.4, help="seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    ctx = context()
    rng = random.Random(args.seed)
    failures = 0
    for fmt in args.formats or FORMATS:
        outcomes: dict[str, int] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.trials):
                try:
                    seen = trial(
                        ctx, Path(tmp), fmt, rows=ROWS[fmt], max_delay=args.max_delay, rng=rng
                    )
                except AssertionError as exc:
                    failures += 1
                    seen = "CORRUPT"
                    print(f"{fmt}: {exc}", file=sys.stderr)
                outcomes[seen] = outcomes.get(seen, 0) + 1
        print(f"{fmt:8} {args.trials} kills: {outcomes}")
    print("no dataset was ever half-written" if not failures else f"{failures} FAILURES")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
