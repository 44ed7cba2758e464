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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

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


class StepCache(Protocol):
    """What the runner asks before each step (``datareplay.records.cache.RunCache``)."""

    def decide(self, step: Step, catalog: DataCatalog, known: Mapping[str, str]) -> Any: ...
    def restore(self, step: Step, decision: Any, catalog: DataCatalog) -> StepOutcome: ...
    def settle(self, decision: Any, outcome: StepOutcome) -> StepOutcome: ...


class PipelineRunner:
    """Runs the steps of a plan in order against one catalog, emitting events.

    With a ``cache`` (incremental runs) each step is first looked up: a step whose
    earlier execution can be reused is restored instead of run (``StepFinished`` with a
    cached outcome). A restored step that writes a memory source is held back until its
    consumers are decided: if one of them runs, the step runs just before it (its
    memory output cannot be restored), saying so; otherwise it is reported cached.
    """

    def __init__(
        self,
        plan: Plan,
        catalog: DataCatalog,
        *,
        run_id: str | None = None,
        release_memory: bool = True,
        bus: events.EventBus | None = None,
        overrides: Sequence[tuple[str, Any, str]] = (),
        cache: StepCache | None = None,
    ) -> None:
        self.plan = plan
        self.catalog = catalog
        self.run_id = run_id or new_run_id()
        self.release_memory = release_memory
        self.bus = bus or events.EventBus()
        self.overrides = tuple(overrides)
        self.cache = cache

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
            known: dict[str, str] = {}  # source -> what identifies its version (cache)
            held: dict[str, _Held] = {}  # restored steps whose memory outputs wait
            for position, step in enumerate(selected, start=1):
                current = step.name
                decision = None
                if self.cache is not None:
                    decision = self.cache.decide(step, self.catalog, known)
                    if decision.cached:
                        outcome = self.cache.restore(step, decision, self.catalog)
                        known.update(_tokens(outcome, step))
                        waiting = self._memory_consumers(step, selected[position:])
                        if waiting:
                            held[step.name] = _Held(step, position, outcome, set(waiting))
                        else:
                            self._report_cached(result, outcome, position, total)
                            self._release(held, step.name, result, total)
                        current = ""
                        continue
                    for producer in self._held_producers(step, held):
                        current = producer.step.name
                        self._execute(
                            producer.step,
                            producer.position,
                            total,
                            f"its memory output is needed by step '{step.name}', which runs",
                            decision_of=producer.outcome,
                            result=result,
                            started=started,
                            known=known,
                            selected=selected,
                        )
                        del held[producer.step.name]
                        self._release(held, producer.step.name, result, total)
                        current = step.name
                self._execute(
                    step,
                    position,
                    total,
                    decision.reason if decision is not None else "",
                    decision=decision,
                    result=result,
                    started=started,
                    known=known,
                    selected=selected,
                )
                if self.cache is not None:
                    self._release(held, step.name, result, total)
                current = ""  # an interrupt from here on falls between steps
                if self.release_memory and position < total:
                    for source in [*step.reads.values(), *step.writes.values()]:
                        if last_use.get(source, -1) <= position:
                            self.catalog.release(source)
            for entry in list(held.values()):  # every consumer was restored too
                self._report_cached(result, entry.outcome, entry.position, total)
            held.clear()
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

    def _execute(
        self,
        step: Step,
        position: int,
        total: int,
        reason: str,
        *,
        result: RunResult,
        started: float,
        known: dict[str, str],
        selected: list[Step],
        decision: Any = None,
        decision_of: StepOutcome | None = None,
    ) -> None:
        """Run one step, announce it, and on failure skip the rest and raise."""
        emit = self.bus.emit
        emit(
            events.StepStarted(
                self.run_id,
                step.name,
                step.plugin.__name__,
                step.index,
                position,
                total,
                reason=reason,
            )
        )
        ran = execute(self.spec(step), catalog=self.catalog, plugin=step.plugin)
        outcome = ran.outcome
        if self.cache is not None:
            if decision is None and decision_of is not None:  # a held step, run after all
                decision = _Rerun(decision_of.cache_key, decision_of.cache, reason)
            if decision is not None:
                outcome = self.cache.settle(decision, outcome)
        known.update(_tokens(outcome, step))
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
        emit(events.StepFinished(self.run_id, outcome, position, total))

    def _report_cached(
        self, result: RunResult, outcome: StepOutcome, position: int, total: int
    ) -> None:
        result.steps.append(outcome)
        self.bus.emit(
            events.StepStarted(
                self.run_id,
                outcome.name,
                outcome.plugin,
                outcome.index,
                position,
                total,
                cached=True,
            )
        )
        self.bus.emit(events.StepFinished(self.run_id, outcome, position, total))

    def _memory_consumers(self, step: Step, later: Sequence[Step]) -> list[str]:
        """The later steps that read a memory source ``step`` writes."""
        sources = self.catalog.sources
        memory = {name for name in step.writes.values() if not sources[name].persisted}
        return [s.name for s in later if memory & set(s.reads.values())]

    def _held_producers(self, step: Step, held: dict[str, _Held]) -> list[_Held]:
        """Held steps whose memory output ``step`` reads, and the held steps those read
        from in turn, in run order: they must run before it."""
        needed: dict[str, _Held] = {}
        todo = [step]
        while todo:
            consumer = todo.pop()
            for source in consumer.reads.values():
                for entry in held.values():
                    if entry.step.name in needed or consumer.name not in entry.waiting:
                        continue
                    if source in entry.step.writes.values():
                        needed[entry.step.name] = entry
                        todo.append(entry.step)
        return sorted(needed.values(), key=lambda entry: entry.position)

    def _release(self, held: dict[str, _Held], name: str, result: RunResult, total: int) -> None:
        """Step ``name`` needs its memory inputs no more (it ran, or is reported cached):
        held steps that now wait for nobody are reported cached, and release in turn."""
        for other in list(held):
            entry = held.get(other)
            if entry is None:
                continue
            entry.waiting.discard(name)
            if not entry.waiting:
                del held[other]
                self._report_cached(result, entry.outcome, entry.position, total)
                self._release(held, other, result, total)

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


@dataclass
class _Held:
    """A restored step whose memory output a later step may still need."""

    step: Step
    position: int
    outcome: StepOutcome
    waiting: set[str]


@dataclass(frozen=True)
class _Rerun:
    """The decision for a held step that runs after all (same key, a stated reason)."""

    key: str
    parts: Mapping[str, Any]
    reason: str
    hit: Any = None

    @property
    def cached(self) -> bool:
        return False


def _tokens(outcome: StepOutcome, step: Step) -> dict[str, str]:
    """What identifies each source ``outcome`` wrote, for the cache keys of later steps."""
    found: dict[str, str] = {}
    for name in step.writes.values():
        ref = outcome.outputs.get(name)
        if ref is not None and ref.content_hash:
            found[name] = ref.content_hash
        elif outcome.cache_key:
            found[name] = f"memory:{outcome.cache_key}:{name}"
        else:  # not cacheable, or no cache: never the same twice
            found[name] = f"?uncached:{id(outcome)}:{name}"
    return found
