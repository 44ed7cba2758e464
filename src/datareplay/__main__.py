"""The program: ``python -m datareplay``, the ``datareplay`` console script and ``run.py``.

Ctrl-C is handled from the first instruction (``datareplay.cli.interrupts``): the handler
is installed before the command line -- click, the engine -- is imported.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # built in, loaded at start-up: no import cost
import os
import sys


def _interrupted_early(signum: int, frame: object) -> None:
    os.write(2, b"error: interrupted; everything written before the interruption is kept\n")
    os._exit(130)


_signal.signal(_signal.SIGINT, _interrupted_early)  # replaced by interrupts.install() below

from datareplay.cli import interrupts  # noqa: E402

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


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
