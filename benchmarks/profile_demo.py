"""Profile one run of the demo through the real command line, in this process.

Writes a text profile (and an HTML one with pyinstrument). Uses pyinstrument when it is
installed, else cProfile. Logging goes to stderr as usual.

Usage: ``python benchmarks/profile_demo.py --project DIR --text OUT.txt [--html OUT.html]``
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
from pathlib import Path

ARGS = ["pipeline", "--case", "demo"]


def _with_pyinstrument(text: Path, html: Path | None) -> int:
    from pyinstrument import Profiler

    from datareplay.cli.main import main

    profiler = Profiler(interval=0.001)
    profiler.start()
    code = main(ARGS, prog_name="python run.py")
    profiler.stop()
    header = f"pyinstrument profile of `python run.py {' '.join(ARGS)}`\n\n"
    text.write_text(header + profiler.output_text(unicode=True, color=False))
    if html is not None:
        html.write_text(profiler.output_html())
    return code


def _with_cprofile(text: Path) -> int:
    from datareplay.cli.main import main

    profiler = cProfile.Profile()
    code = profiler.runcall(main, ARGS, prog_name="python run.py")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
    text.write_text(f"cProfile of `python run.py {' '.join(ARGS)}`\n\n{out.getvalue()}")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--text", type=Path, required=True)
    parser.add_argument("--html", type=Path)
    args = parser.parse_args(argv)
    os.environ["DATAREPLAY_PROJECT"] = str(args.project.resolve())
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        print("pyinstrument is not installed; using cProfile", file=sys.stderr)
        return _with_cprofile(args.text)
    return _with_pyinstrument(args.text, args.html)


if __name__ == "__main__":
    sys.exit(main())
