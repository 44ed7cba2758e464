"""Running a plan: steps one after another, each against its own view of the hub.

Outputs are persisted the moment a plugin writes them, so when step k fails every output
of the steps before it is already on disk, complete; the run stops there with the step,
plugin, case and run id named. Data that no later step reads is released from memory.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from datareplay.data.catalog import DataHub
from datareplay.data.formats import describe
from datareplay.errors import DataReplayError, StepFailed, describe_exception
from datareplay.plan.builder import Plan, Step

log = logging.getLogger("datareplay.run.runner")


def new_run_id() -> str:
    """A sortable, unique run id: ``20261126-142501-3fa9c1``."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class StepResult:
    name: str
    plugin: str
    seconds: float
    outputs: dict[str, str]


@dataclass
class RunResult:
    """What a run did: its id, the steps it ran with their timings, and the hub."""

    run_id: str
    case: str
    hub: DataHub
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0


class PipelineRunner:
    """Runs the steps of a plan in order against one DataHub."""

    def __init__(
        self, plan: Plan, hub: DataHub, *, run_id: str | None = None, release_memory: bool = True
    ) -> None:
        self.plan = plan
        self.hub = hub
        self.run_id = run_id or new_run_id()
        self.release_memory = release_memory

    def run(self, steps: Sequence[Step] | None = None) -> RunResult:
        """Run ``steps`` (default: the whole plan); raise StepFailed on the first failure."""
        selected = list(self.plan.steps if steps is None else steps)
        last_use = self._last_use(selected)
        result = RunResult(run_id=self.run_id, case=self.plan.case, hub=self.hub)
        started = time.perf_counter()
        total = len(selected)
        for position, step in enumerate(selected):
            result.steps.append(self._run_step(step, position, total))
            if self.release_memory and position < total - 1:
                for source in [*step.reads.values(), *step.writes.values()]:
                    if last_use.get(source, -1) <= position:
                        self.hub.release(source)
        result.seconds = time.perf_counter() - started
        return result

    def _run_step(self, step: Step, position: int, total: int) -> StepResult:
        view = self.hub.for_step(step.name, reads=step.reads, writes=step.writes)
        label = (
            step.name
            if step.name == step.plugin.__name__
            else (f"{step.name} ({step.plugin.__name__})")
        )
        log.info("step %d/%d %s", position + 1, total, label)
        started = time.perf_counter()
        try:
            plugin = step.plugin(params=step.params, step=step.name)
            plugin.run(view)
        except DataReplayError as exc:
            raise self._failed(step, str(exc)) from exc
        except Exception as exc:
            raise self._failed(step, describe_exception(exc)) from exc
        missing = [port for port, source in step.writes.items() if not self.hub.in_memory(source)]
        if missing:
            raise self._failed(step, f"it did not write its declared output '{missing[0]}'")
        seconds = time.perf_counter() - started
        outputs = {source: describe(self.hub[source]) for source in step.writes.values()}
        log.info(
            "step %d/%d %s done in %.2f s -> %s",
            position + 1,
            total,
            label,
            seconds,
            ", ".join(f"{k} ({v})" for k, v in outputs.items()) or "no outputs",
        )
        return StepResult(step.name, step.plugin.__name__, seconds, outputs)

    def _failed(self, step: Step, reason: str) -> StepFailed:
        return StepFailed(
            step=step.name,
            index=step.index,
            plugin=step.plugin.__name__,
            case=self.plan.case,
            run_id=self.run_id,
            reason=reason,
        )

    @staticmethod
    def _last_use(steps: Sequence[Step]) -> dict[str, int]:
        """For each source, the position of the last selected step that touches it."""
        last: dict[str, int] = {}
        for position, step in enumerate(steps):
            for source in [*step.reads.values(), *step.writes.values()]:
                last[source] = position
        return last
