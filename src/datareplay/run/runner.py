"""Running a plan: steps one after another, each against its own DataHub, as events.

Outputs are persisted the moment a plugin writes them, so when step k fails every output
of the steps before it is already on disk, complete; the run stops there with the step,
plugin, case and run id named. Data that no later step reads is released from memory.
Everything the runner does is announced on its ``EventBus`` (see ``events``): the log
lines, the end-of-run tables and the stored quality results are listeners.
"""

from __future__ import annotations

import gc
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datareplay.errors import StepFailed
from datareplay.plan.builder import Plan, Step
from datareplay.plugins.loader import reference
from datareplay.run import events
from datareplay.run.execute import execute
from datareplay.run.step import StepOutcome, StepSpec

if TYPE_CHECKING:
    from datareplay.data.catalog import DataCatalog


def new_run_id() -> str:
    """A sortable, unique run id: ``20261126-142501-3fa9c1``."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


@dataclass
class RunResult:
    """What a run did: its id, the outcome of each step it ran, and the data catalog.

    ``hub`` is the run's ``DataCatalog``: ``result.hub["events"]`` is what the run wrote.
    """

    run_id: str
    case: str
    hub: DataCatalog
    steps: list[StepOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def quality(self) -> list[Any]:
        """Every data-quality ``CheckResult`` of the run, in order."""
        return [result for step in self.steps for result in step.quality]


class PipelineRunner:
    """Runs the steps of a plan in order against one catalog, emitting events."""

    def __init__(
        self,
        plan: Plan,
        catalog: DataCatalog,
        *,
        run_id: str | None = None,
        release_memory: bool = True,
        bus: events.EventBus | None = None,
        overrides: Sequence[tuple[str, Any, str]] = (),
    ) -> None:
        self.plan = plan
        self.catalog = catalog
        self.run_id = run_id or new_run_id()
        self.release_memory = release_memory
        self.bus = bus or events.EventBus()
        self.overrides = tuple(overrides)

    def spec(self, step: Step) -> StepSpec:
        """The plain-data ``StepSpec`` of ``step`` in this run."""
        names = {*step.reads.values(), *step.writes.values()}
        for source in list(names):
            for check in self.catalog.sources[source].checks:
                names.update(getattr(check, "references", ()))
        return StepSpec(
            run_id=self.run_id,
            case=self.plan.case,
            name=step.name,
            index=step.index,
            plugin=step.ref or reference(step.plugin),
            params=dict(step.params),
            inputs=dict(step.reads),
            outputs=dict(step.writes),
            sources={name: self.catalog.sources[name] for name in sorted(names)},
            project_root=str(self.catalog.project_root),
            raw=tuple(s for s in step.reads.values() if s not in self.plan.producers),
        )

    def run(self, steps: Sequence[Step] | None = None) -> RunResult:
        """Run ``steps`` (default: the whole plan); raise StepFailed on the first failure.

        The configuration and plan are frozen out of the garbage collector's reach for
        the run, so that per-step overhead does not grow with the size of the pipeline.
        """
        selected = list(self.plan.steps if steps is None else steps)
        result = RunResult(run_id=self.run_id, case=self.plan.case, hub=self.catalog)
        emit = self.bus.emit
        emit(
            events.RunStarted(
                self.run_id, self.plan.case, tuple(s.name for s in selected), self.overrides
            )
        )
        started = time.perf_counter()
        current = ""
        # leave a host program's own gc.freeze() alone: unfreeze only what we froze
        freeze = gc.get_freeze_count() == 0
        if freeze:
            gc.freeze()
        try:
            last_use = self._last_use(selected)
            total = len(selected)
            for position, step in enumerate(selected, start=1):
                current = step.name
                emit(
                    events.StepStarted(
                        self.run_id, step.name, step.plugin.__name__, step.index, position, total
                    )
                )
                ran = execute(self.spec(step), catalog=self.catalog, plugin=step.plugin)
                outcome = ran.outcome
                result.steps.append(outcome)
                if outcome.error is not None:
                    emit(events.StepFailed(self.run_id, outcome, position, total))
                    for later in selected[position:]:
                        emit(
                            events.StepSkipped(
                                self.run_id,
                                later.name,
                                later.plugin.__name__,
                                later.index,
                                f"step '{step.name}' failed",
                            )
                        )
                    result.seconds = time.perf_counter() - started
                    emit(self._finished("failed", result))
                    raise self._failed(step, outcome) from ran.exception
                current = ""  # an interrupt from here on falls between steps
                emit(events.StepFinished(self.run_id, outcome, position, total))
                if self.release_memory and position < total:
                    for source in [*step.reads.values(), *step.writes.values()]:
                        if last_use.get(source, -1) <= position:
                            self.catalog.release(source)
        except KeyboardInterrupt:
            emit(
                events.RunInterrupted(
                    self.run_id, self.plan.case, current, time.perf_counter() - started
                )
            )
            raise
        except StepFailed:
            raise
        except BaseException:  # anything else ends the run too, and listeners hear of it
            result.seconds = time.perf_counter() - started
            emit(self._finished("failed", result))
            raise
        finally:
            if freeze:
                gc.unfreeze()
        result.seconds = time.perf_counter() - started
        emit(self._finished("succeeded", result))
        return result

    def _finished(self, status: str, result: RunResult) -> events.RunFinished:
        return events.RunFinished(
            self.run_id,
            self.plan.case,
            status,
            result.seconds,
            len(result.steps),
            tuple(self.catalog.summary()),
        )

    def _failed(self, step: Step, outcome: StepOutcome) -> StepFailed:
        assert outcome.error is not None
        reason = outcome.error.message
        return StepFailed(
            step=step.name,
            index=step.index,
            plugin=step.plugin.__name__,
            case=self.plan.case,
            run_id=self.run_id,
            reason=reason,
            error_type=outcome.error.type,
            details=outcome.error.traceback,
        )

    @staticmethod
    def _last_use(steps: Sequence[Step]) -> dict[str, int]:
        """For each source, the 1-based position of the last selected step touching it."""
        last: dict[str, int] = {}
        for position, step in enumerate(steps, start=1):
            for source in [*step.reads.values(), *step.writes.values()]:
                last[source] = position
        return last
