"""A step as plain data, and its outcome as plain data.

A ``StepSpec`` holds everything needed to execute one step anywhere: the plugin's
reference (import location and code fingerprint), the resolved params, the sources of
its inputs and outputs with their locations and formats, the run id and the step's name.
A ``StepOutcome`` is what comes back: duration, a ``DataRef`` for every output written,
data-quality results and, if it failed, the error as text. Both pickle, so a step can
be sent to a spawned process or a Dask worker and its outcome returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datareplay.errors import ExitCode

if TYPE_CHECKING:
    from datareplay.data.source import DataSource
    from datareplay.data.storage import DataRef
    from datareplay.plugins.loader import PluginRef


@dataclass(frozen=True)
class StepSpec:
    """Everything one step needs to run, in any process.

    ``inputs`` and ``outputs`` map the plugin's ports to source names; ``sources`` holds
    every source the step touches (its ports and the references of its checks);
    ``project_root`` is where relative messages are rooted; ``raw`` names the inputs no
    step of the plan writes (raw recordings): their checks run when the step first reads
    them, unless an earlier step of the run already read them.
    """

    run_id: str
    case: str
    name: str
    index: int
    plugin: PluginRef
    params: Mapping[str, Any]
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]
    sources: Mapping[str, DataSource]
    project_root: str
    raw: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``name`` or ``name (Plugin)`` when the step is named differently."""
        plugin = self.plugin.name.rsplit(".", 1)[-1]
        return self.name if self.name == plugin else f"{self.name} ({plugin})"


@dataclass(frozen=True)
class StepError:
    """Why a step failed: the exception's type, its message, exit code and traceback.

    ``type`` is the class name of what the plugin raised, or empty when the engine found
    the problem itself after ``run`` returned (a declared output never written).
    """

    type: str
    message: str
    exit_code: int = ExitCode.RUN_FAILED
    traceback: str = ""


@dataclass(frozen=True)
class StepOutcome:
    """What executing one step did.

    ``seconds`` is the wall time of the plugin's run including persistence and checks;
    ``outputs`` maps each source written to its ``DataRef``; ``inputs`` maps each input
    port the plugin read to the ``DataRef`` of the version it got (content hash of the
    file read, or of the write earlier in the run that produced it); ``quality`` holds
    the ``CheckResult``s recorded during the step; ``error`` is None on success.
    """

    name: str
    index: int
    plugin: str
    seconds: float
    outputs: Mapping[str, DataRef] = field(default_factory=dict)
    quality: tuple[Any, ...] = ()
    error: StepError | None = None
    inputs: Mapping[str, DataRef] = field(default_factory=dict)
    # incremental runs (``datareplay.records.cache``): the step's cache key and what it
    # was made of, why the step ran ("" when it did not), the run whose outputs were
    # restored instead of running it ("" when it ran), and the outputs a rerun with an
    # unchanged key wrote differently (the step is not deterministic)
    cache_key: str = ""
    cache: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    cached_from: str = ""
    nondeterministic: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def cached(self) -> bool:
        """True when the step did not run: its recorded outputs were restored."""
        return bool(self.cached_from)
