"""Ctrl-C ends a command with one line and exit code 130, from its first instruction.

Until the command line is running -- while Python imports click and the engine -- and
again after it returned, ``exit_now`` is the SIGINT handler: it prints the line and
leaves at once (nothing has been done yet, or everything is finished and flushed). While
a command runs, ``raising`` lets SIGINT raise KeyboardInterrupt so that a run stops
cleanly (earlier outputs kept, temporaries removed) and ``main`` reports it. Only the
standard library is imported here, so the entry points can install the handler before
anything heavy.

``checkpoint(name)`` is a test hook: with ``DATAREPLAY_TEST_SIGINT_AT=name`` in the
environment the process sends itself SIGINT at that point, so tests reach every phase of
start-up deterministically instead of by timing.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

MESSAGE = "interrupted; everything written before the interruption is kept"
EXIT_CODE = 130  # ExitCode.INTERRUPTED, without importing the engine
HOOK = "DATAREPLAY_TEST_SIGINT_AT"

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def exit_now(signum: int, frame: FrameType | None) -> None:
    """SIGINT handler outside a command: flush, print the one line, exit 130 at once."""
    with suppress(Exception):  # a closed pipe, or the very flush the signal interrupted
        sys.stdout.flush()
    os.write(2, f"error: {MESSAGE}\n".encode())
    os._exit(EXIT_CODE)


def install() -> None:
    """Make Ctrl-C end the process at once with the one-line message."""
    _set(exit_now)


@contextmanager
def raising() -> Iterator[None]:
    """Within the block Ctrl-C raises KeyboardInterrupt; the previous handler comes back after."""
    previous = _set(signal.default_int_handler)
    try:
        yield
    finally:
        if previous is not None:
            _set(previous)


def ignore() -> None:
    """Ignore Ctrl-C (while the interruption itself is being reported)."""
    _set(signal.SIG_IGN)


def checkpoint(name: str) -> None:
    """Test hook: send this process SIGINT here when ``DATAREPLAY_TEST_SIGINT_AT=name``."""
    if os.environ.get(HOOK) == name:
        signal.raise_signal(signal.SIGINT)


def _set(handler: _Handler) -> _Handler:
    """Install ``handler`` for SIGINT; return the previous one (None outside the main thread)."""
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread of the main interpreter: leave signals alone
        return None
