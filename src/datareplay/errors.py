"""Every error Data Replay raises on purpose, and the exit code each one maps to.

::

    DataReplayError                 base of everything below
    ├── UsageError                  exit 2: the user can fix it before anything runs
    │   ├── ConfigError             bad YAML, bad key, bad value (names file, key, line)
    │   ├── UnknownNameError        unknown case, plugin, template, step (suggests a name)
    │   ├── UnsafeNameError         a name or path that would leave the project folder
    │   ├── PluginDefinitionError   a plugin class that breaks the BasePlugin contract
    │   ├── PipelineError           the data-flow graph is invalid (cycle, two writers, ...)
    │   ├── MissingInputError       an input is neither produced upstream nor on disk
    │   └── CaseLockedError         another process is running the same case
    └── RunError                    exit 1: something failed while running
        ├── StepFailed              a plugin raised; carries step, plugin, case and run id
        ├── DataAccessError         a plugin touched a dataset it did not declare
        ├── PersistenceError        a dataset could not be read or written
        │   └── DamagedDataError    a file's bytes differ from its last recorded write
        ├── QualityError            a data-quality check of severity error failed
        └── ReplayDiverged          replay --verify: an output differs from the original

Messages are one line: what is wrong, where it came from and what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes of the command line."""

    OK = 0
    RUN_FAILED = 1
    USAGE_ERROR = 2
    INTERRUPTED = 130


class DataReplayError(Exception):
    """Base class of all errors raised by Data Replay on purpose.

    Every subclass survives a pickle round trip with its message, its exit code and the
    attributes it carries, so an error raised in a worker process or on a Dask worker
    reaches the parent intact, whatever its constructor looks like.
    """

    exit_code: ExitCode = ExitCode.RUN_FAILED

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(
    cls: type[DataReplayError], args: tuple[Any, ...], state: dict[str, Any]
) -> DataReplayError:
    """Recreate an error from its class, ``args`` and attributes without calling ``__init__``."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class UsageError(DataReplayError):
    """The command, the configuration or a name is wrong; nothing has run."""

    exit_code = ExitCode.USAGE_ERROR


class ConfigError(UsageError):
    """A configuration file is malformed or holds an invalid value."""


class UnknownNameError(UsageError):
    """A case, plugin, template or step name that does not exist."""


class UnsafeNameError(UsageError):
    """A name or path that is not allowed (it could escape the project folder)."""


class PluginDefinitionError(UsageError):
    """A plugin class that does not follow the BasePlugin contract."""


class PipelineError(UsageError):
    """The pipeline of a case cannot run as written."""


class MissingInputError(PipelineError):
    """An input dataset is neither produced by an earlier step nor on disk."""


class CaseLockedError(UsageError):
    """Another process holds the run lock of the case."""


class RunError(DataReplayError):
    """Something failed while a pipeline or plugin was running."""


class DataAccessError(RunError):
    """A plugin read or wrote a dataset it did not declare."""


class PersistenceError(RunError):
    """A dataset could not be written to or read from disk."""


class DamagedDataError(PersistenceError):
    """A dataset's file no longer hashes to what its last recorded write stored.

    ``found`` is the content hash of the bytes on disk.
    """

    def __init__(self, message: str, found: str = "") -> None:
        super().__init__(message)
        self.found = found


class QualityError(RunError):
    """Data failed a check of severity error; the data stays on disk for inspection."""


class ReplayDiverged(RunError):
    """``replay --verify`` found an output whose hash differs from the original run's."""


class StepFailed(RunError):
    """A pipeline step raised; the message names step, plugin, case and run id.

    ``error_type`` is the class name of what the plugin raised and ``details`` the
    formatted traceback from the process that ran the step (shown with ``--debug``).
    """

    def __init__(
        self,
        *,
        step: str,
        index: int,
        plugin: str,
        case: str,
        run_id: str,
        reason: str,
        error_type: str = "",
        details: str = "",
    ) -> None:
        self.step = step
        self.index = index
        self.plugin = plugin
        self.case = case
        self.run_id = run_id
        self.reason = reason
        self.error_type = error_type
        self.details = details
        where = f"step {index + 1} '{step}'"
        if step != plugin:
            where += f" (plugin {plugin})"
        super().__init__(f"{where} of case '{case}' failed in run {run_id}: {reason}")


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return "; did you mean 'x'?" for the closest candidate, or "" when none is close."""
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


_YAML11_BOOLEANS = frozenset({"y", "yes", "n", "no", "on", "off"})


def boolean_hint(value: Any) -> str:
    """A hint for a YAML 1.1 boolean word (``yes``, ``off``) given where a boolean is wanted.

    YAML 1.2, by which configuration is read, has only ``true`` and ``false``.
    """
    if isinstance(value, str) and value.strip().lower() in _YAML11_BOOLEANS:
        return (
            f"; only true and false are booleans in YAML 1.2 ({value} is text): "
            f"write {'true' if value.strip().lower() in ('y', 'yes', 'on') else 'false'}"
        )
    return ""


def quote_value(value: Any, limit: int = 120) -> str:
    """``repr(value)``, shortened past ``limit`` characters so an error stays one short line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}... ({len(text):,} characters)"


def describe_exception(exc: BaseException) -> str:
    """One-line description of a foreign exception: its type and first message line."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
