"""What happens during a run, as typed events, and the bus that hands them to listeners.

The runner emits, always in the parent process and in this order::

    RunStarted
      StepStarted → StepFinished | StepFailed      (per step that runs or is cached)
      StepSkipped                                  (per step that does not run)
    RunFinished | RunInterrupted

Events are frozen, picklable dataclasses. Log lines, the end-of-run tables and the
stored quality results are listeners (``datareplay.run.listeners``, the CLI's
``render``); run records, progress bars and reports subscribe the same way, without
changes to the runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datareplay.data.catalog import SourceSummary
    from datareplay.run.step import StepOutcome


@dataclass(frozen=True)
class RunStarted:
    """A run begins: its id, case, the steps it will run and the overridden values.

    ``overrides`` holds ``(key, value, origin)`` for every value that came from
    ``--env``, ``--params`` or ``--set``.
    """

    run_id: str
    case: str
    steps: tuple[str, ...]
    overrides: tuple[tuple[str, Any, str], ...] = ()


@dataclass(frozen=True)
class StepStarted:
    """Step ``name`` (``position`` of ``total``, 1-based) is about to run."""

    run_id: str
    name: str
    plugin: str
    index: int
    position: int
    total: int
    reason: str = ""  # why it runs (incremental runs); "" when it is restored from cache
    cached: bool = False


@dataclass(frozen=True)
class StepFinished:
    """A step succeeded, or was restored from an earlier run (``outcome.cached``);
    ``outcome`` holds its duration, outputs and quality results."""

    run_id: str
    outcome: StepOutcome
    position: int
    total: int


@dataclass(frozen=True)
class StepFailed:
    """A step failed; ``outcome.error`` says why, ``outcome.outputs`` what it had written."""

    run_id: str
    outcome: StepOutcome
    position: int
    total: int


@dataclass(frozen=True)
class StepSkipped:
    """A selected step did not run, and why (``an earlier step failed``)."""

    run_id: str
    name: str
    plugin: str
    index: int
    reason: str


@dataclass(frozen=True)
class RunFinished:
    """A run ended: ``status`` is ``succeeded`` or ``failed``.

    ``summary`` is the final state of every data source; ``seconds`` the wall time.
    """

    run_id: str
    case: str
    status: str
    seconds: float
    steps_run: int
    summary: tuple[SourceSummary, ...] = ()


@dataclass(frozen=True)
class RunInterrupted:
    """The run was interrupted (Ctrl-C) while step ``step`` ran (empty: between steps)."""

    run_id: str
    case: str
    step: str
    seconds: float


Event = (
    RunStarted
    | StepStarted
    | StepFinished
    | StepFailed
    | StepSkipped
    | RunFinished
    | RunInterrupted
)
Listener = Callable[[Event], None]


class EventBus:
    """Hands every event to each listener, in the order they subscribed.

    Listeners are part of the run: one that raises stops it and its exception reaches the
    caller (a listener that must never disturb a run catches its own errors).
    """

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self._listeners: list[Listener] = list(listeners)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)
