"""Live progress of a run on a terminal: the current step, steps done of all, elapsed time.

``LiveProgress`` is a listener of the runner's events. It draws one line on stderr with
rich (imported only when a run starts on a terminal): a spinner, the current step, a bar
of the steps done, ``done/total``, the run's elapsed time and the current step's. Log
lines keep appearing above it: while it is shown, the log handlers that write to the
terminal's stderr write above the live line instead, and get their stream back when
the run ends (the runner's "step 3/8 NAME" start lines are left out meanwhile: the live
line says it). On a non-terminal (CI, a pipe) or with ``--quiet`` no live view is made
(``wanted``): the log lines are the progress, and nothing writes control characters.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from datareplay.run import events


def wanted(*, quiet: bool, stream: Any = None) -> bool:
    """True when a live view fits: not quiet, stderr a terminal, and TERM not ``dumb``."""
    stream = sys.stderr if stream is None else stream
    if quiet or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class LiveProgress:
    """The live view of one run (start it by subscribing; it stops when the run ends)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self._progress: Any = None
        self._task: Any = None
        self._step_started = 0.0
        self._swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
        self._room = 60  # characters left for the description on the terminal's width

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.RunStarted):
            self._start(len(event.steps))
        elif self._progress is None:
            return
        elif isinstance(event, events.StepStarted):
            self._step_started = time.monotonic()
            label = event.name if event.name == event.plugin else f"{event.name} ({event.plugin})"
            text = f"step {event.position}/{event.total} {label}"
            if len(text) > self._room:  # the line must never wrap: a wrapped line stays
                text = text[: max(self._room - 1, 1)] + "…"
            self._progress.update(self._task, description=text)
        elif isinstance(event, events.StepFinished | events.StepSkipped):
            self._progress.advance(self._task)
        elif isinstance(event, events.RunFinished | events.RunInterrupted):
            self.stop()

    def _start(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.text import Text

        owner = self

        class StepElapsed(ProgressColumn):
            """How long the current step has been running."""

            def render(self, task: Any) -> Text:
                if not owner._step_started:
                    return Text("")
                elapsed = time.monotonic() - owner._step_started
                return Text(f"this step {elapsed:,.1f} s", style="dim")

        console = Console(file=self.stream, stderr=True)
        width = console.width
        bar = 24 if width >= 100 else 10
        columns: list[Any] = [
            SpinnerColumn(),
            TextColumn("{task.description}", style="bold"),
            BarColumn(bar_width=bar),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
        ]
        fixed = 2 + bar + 1 + 2 * len(str(total)) + 2 + 6 + 8  # everything but the text
        if width >= 100:
            columns.append(StepElapsed())
            fixed += 20
        self._room = max(width - fixed - 2, 8)
        self._progress = Progress(
            *columns,
            console=console,
            transient=True,  # the end-of-run tables follow; the live line goes away
            redirect_stdout=False,
            redirect_stderr=False,
            refresh_per_second=8,
        )
        self._task = self._progress.add_task("starting", total=total)
        self._progress.start()
        self._route_logs(console)

    def _route_logs(self, console: Any) -> None:
        """Log handlers writing to this terminal write above the live line meanwhile.

        A log line is written straight to the terminal after erasing the live line
        (``\r`` and erase-line), holding the live display's lock so that a redraw never
        interleaves; the next refresh (an eighth of a second later at most) draws the live
        line again below it. Rendering each line through rich instead cost about half a
        millisecond a line.
        """
        import threading

        live = getattr(self._progress, "live", None)
        lock = getattr(live, "_lock", None) or threading.RLock()
        stream = self.stream

        class _Above:
            """A stream whose lines appear above the live line."""

            def write(self, text: str) -> int:
                if text:
                    with lock:
                        stream.write("\r\x1b[2K" + text)
                        stream.flush()
                return len(text)

            def flush(self) -> None:
                pass

        above = _Above()
        for logger in [logging.getLogger(), *_loggers()]:
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream in (
                    self.stream,
                    sys.__stderr__,
                ):
                    self._swapped.append((handler, handler.setStream(above)))
                    handler.addFilter(_step_starts)

    def stop(self) -> None:
        """End the live view and give the log handlers their stream back."""
        if self._progress is None:
            return
        self._progress.stop()
        self._progress = None
        for handler, stream in self._swapped:
            handler.setStream(stream)
            handler.removeFilter(_step_starts)
        self._swapped.clear()


def _step_starts(record: logging.LogRecord) -> bool:
    """False for the runner's "step 3/8 NAME" start lines: the live line shows them."""
    return not (
        record.name == "datareplay.runner"
        and record.levelno == logging.INFO
        and record.msg == "step %d/%d %s"
    )


def _loggers() -> list[logging.Logger]:
    manager = logging.Logger.manager
    return [v for v in manager.loggerDict.values() if isinstance(v, logging.Logger)]
