"""The program: ``python -m datareplay``, the ``datareplay`` console script and ``run.py``.

Ctrl-C is handled from the first instruction (``datareplay.cli.interrupts``): the handler
is installed before the command line -- click, the engine -- is imported.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from datareplay.cli import interrupts


def run(argv: list[str] | None = None, *, prog_name: str | None = None) -> NoReturn:
    """Run the command line and exit with its exit code."""
    interrupts.install()
    interrupts.checkpoint("start")
    from datareplay.cli.main import main

    interrupts.checkpoint("imported")
    code = main(argv, prog_name=prog_name)
    interrupts.checkpoint("exit")
    sys.exit(code)


if __name__ == "__main__":
    run()
