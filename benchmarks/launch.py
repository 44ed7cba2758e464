"""Run one command; write its wall time, CPU time and own peak RSS to a JSON file.

Usage: ``python benchmarks/launch.py RESULT.json -- COMMAND [ARG ...]``

Why a separate, small parent: Linux carries a process's memory high-water mark across
``exec``, and a child started with fork or vfork begins with its parent's. A child of
the benchmark process (which holds the loaded datasets) would therefore report at least
the benchmark's own peak RSS. This launcher stays a few MB, so the ``ru_maxrss`` that
``os.wait4`` returns for its child is the child's. stdout and stderr are inherited.
The CPU time (user + system) is the child's own too; unlike the wall time it does not
count the moments other processes on the machine had the CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    result, cmd = argv[0], argv[2:]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    with open(result, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "max_rss_bytes": usage.ru_maxrss * 1024,
                "code": code,
            },
            fh,
        )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
