"""The listener that writes a run's record.

``RunRecorder`` subscribes to the runner's events in the parent process. ``RunStarted``
inserts the run (status ``running``, with its configuration and command line); each
``StepFinished``/``StepFailed``/``StepSkipped`` puts the step's files into the object
store at once and queues the step with every input and output version; a flusher thread
writes what is queued in one transaction every ``FLUSH_INTERVAL_S`` (0.2 s), so a long
pipeline of short steps pays one transaction per interval rather than one per step,
and a finished step is in the store at most 0.2 s later whatever runs after it.
``RunFinished`` and ``RunInterrupted`` write the rest and seal the record with its
final status and exit code. A process that dies without a word leaves a run marked
``running`` (with the steps written until then): ``reap`` (called when a run store is
opened for a new run) marks such runs ``unknown``, naming their PID.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datareplay.errors import ExitCode
from datareplay.records.environment import Environment
from datareplay.records.objects import ObjectStore
from datareplay.records.store import (
    FAILED,
    INTERRUPTED,
    SUCCEEDED,
    UNKNOWN,
    DatasetVersion,
    RunRecord,
    SqliteRunStore,
    StepRecord,
)
from datareplay.run import events

if TYPE_CHECKING:
    from datareplay.data.storage import DataRef
    from datareplay.plan.builder import Step
    from datareplay.run.step import StepOutcome

log = logging.getLogger("datareplay.records")

FLUSH_INTERVAL_S = 0.2
"""Most time a finished step's record waits in memory before it is written (seconds)."""


class RunRecorder:
    """Records one run in ``store`` and its data versions in ``objects``.

    ``steps`` are the plan's steps the run selected (for plugin origin, fingerprint and
    params); ``config`` is ``{"data": ..., "origins": ...}`` with secrets redacted.
    """

    def __init__(
        self,
        store: SqliteRunStore,
        objects: ObjectStore,
        *,
        project_root: Path,
        kind: str,
        command: Sequence[str],
        config: Mapping[str, Any],
        steps: Sequence[Step],
        replay_of: str | None = None,
        shown: Callable[[Step], Mapping[str, Any]] | None = None,
        hidden_locations: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.objects = objects
        self.root = project_root
        self.kind = kind
        self.command = tuple(command)
        self.config = config
        self.steps = {step.name: step for step in steps}
        self.replay_of = replay_of
        # a step's params as a record may show them: values from ${env:...} redacted
        self.shown = shown or (lambda step: dict(step.params))
        # source -> what to record instead of a location built from an environment value
        self.hidden = dict(hidden_locations or {})
        self.environment = Environment(project_root)
        self.run_id = ""
        self.started = 0.0
        self.failed: tuple[str, int] | None = None
        self.position = 0
        self.selected: tuple[str, ...] = ()
        self.stored: dict[str, str] = {}  # content hash -> how it was stored
        self._origins: dict[str, str] = {}  # step name -> its plugin's origin
        self._folders: dict[str, str] = {}  # plugin folder -> as the record names it
        self._queued: list[StepRecord] = []
        self._lock = threading.Lock()  # guards the queue (held only to swap it)
        self._writing = threading.Lock()  # the store is used by one thread at a time
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._failure: BaseException | None = None  # from the flusher, raised in the run

    def __call__(self, event: events.Event) -> None:
        if self._failure is not None:  # the record cannot be kept: the run stops
            failure, self._failure = self._failure, None
            self._stop_flusher()
            raise failure
        if isinstance(event, events.RunStarted):
            self._begin(event)
        elif isinstance(event, events.StepFinished):
            self._step(event.outcome, event.position, "succeeded")
        elif isinstance(event, events.StepFailed):
            error = event.outcome.error
            self.failed = (event.outcome.name, error.exit_code if error else ExitCode.RUN_FAILED)
            self._step(event.outcome, event.position, "failed")
        elif isinstance(event, events.StepSkipped):
            self._skipped(event)
        elif isinstance(event, events.RunFinished):
            failed_step, code = self.failed if self.failed else (None, ExitCode.RUN_FAILED)
            ok = event.status == "succeeded"
            self._end(
                SUCCEEDED if ok else FAILED,
                ExitCode.OK if ok else code,
                failed_step,
                None if ok else f"step '{failed_step}' failed" if failed_step else "run failed",
            )
        elif isinstance(event, events.RunInterrupted):
            where = f" during step '{event.step}'" if event.step else ""
            self._unfinished(event.step)
            self._end(INTERRUPTED, ExitCode.INTERRUPTED, event.step or None, f"Ctrl-C{where}")

    # -- events ------------------------------------------------------------------------

    def _unfinished(self, current: str) -> None:
        """After Ctrl-C: the step that was running as interrupted, the rest as skipped."""
        for name in self.selected[self.position :]:
            step = self.steps.get(name)
            self.position += 1
            interrupted = name == current
            self._queue(
                StepRecord(
                    position=self.position,
                    index=step.index if step is not None else -1,
                    name=name,
                    plugin=step.plugin.__name__ if step is not None else "",
                    origin=self._origin(name),
                    fingerprint=self._fingerprint(name),
                    params=plain(self._params(name)),
                    status="interrupted" if interrupted else "skipped",
                    seconds=None,
                    error={
                        "type": "KeyboardInterrupt" if interrupted else "",
                        "message": "interrupted (Ctrl-C)"
                        if interrupted
                        else "the run was interrupted",
                        "exit_code": int(ExitCode.INTERRUPTED) if interrupted else 0,
                    },
                )
            )

    def _begin(self, event: events.RunStarted) -> None:
        self.run_id = event.run_id
        self.selected = tuple(event.steps)
        self.started = time.time()
        self.store.begin_run(
            RunRecord(
                run_id=event.run_id,
                case=event.case,
                kind=self.kind,
                command=self.command,
                started=self.started,
                ended=None,
                status="running",
                exit_code=None,
                failed_step=None,
                replay_of=self.replay_of,
                pid=os.getpid(),
                host=socket.gethostname(),
                config=self.config,
                environment=self.environment.static,
                steps_total=len(event.steps),
            )
        )
        self._flusher = threading.Thread(
            target=self._flush_every, name=f"datareplay-record-{self.run_id}", daemon=True
        )
        self._flusher.start()

    def _step(self, outcome: StepOutcome, position: int, status: str) -> None:
        self.position = position
        datasets = [self._version("input", port, ref) for port, ref in outcome.inputs.items()]
        datasets += [
            self._version("output", self._port(outcome.name, name), ref)
            for name, ref in outcome.outputs.items()
        ]
        error = None
        if outcome.error is not None:
            error = {
                "type": outcome.error.type,
                "message": outcome.error.message,
                "exit_code": int(outcome.error.exit_code),
            }
        self._queue(
            StepRecord(
                position=position,
                index=outcome.index,
                name=outcome.name,
                plugin=outcome.plugin,
                origin=self._origin(outcome.name),
                fingerprint=self._fingerprint(outcome.name),
                params=plain(self._params(outcome.name)),
                status="cached" if outcome.cached else status,
                seconds=outcome.seconds,
                quality=tuple(plain(_quality_row(r)) for r in outcome.quality),
                error=error,
                datasets=tuple(datasets),
                cache_key=outcome.cache_key,
                cache=outcome.cache,
                reason=outcome.reason,
                cached_from=outcome.cached_from,
            )
        )

    def _skipped(self, event: events.StepSkipped) -> None:
        self.position += 1  # skipped steps follow the failed one, in order
        self._queue(
            StepRecord(
                position=self.position,
                index=event.index,
                name=event.name,
                plugin=event.plugin,
                origin=self._origin(event.name),
                fingerprint=self._fingerprint(event.name),
                params=plain(self._params(event.name)),
                status="skipped",
                seconds=None,
                error={"type": "", "message": event.reason, "exit_code": 0},
            )
        )

    def _end(self, status: str, exit_code: int, failed_step: str | None, error: str | None) -> None:
        if not self.run_id:
            return
        self._stop_flusher()
        self.flush()
        self.store.end_run(
            self.run_id,
            status=status,
            exit_code=int(exit_code),
            failed_step=failed_step,
            error=error,
            ended=time.time(),
            environment=self.environment.result(),
        )

    # -- writing -----------------------------------------------------------------------

    def _queue(self, step: StepRecord) -> None:
        with self._lock:
            self._queued.append(step)

    def flush(self) -> None:
        """Write every queued step in one transaction (nothing when none is queued)."""
        with self._writing:
            with self._lock:
                batch, self._queued = self._queued, []
            if batch:
                try:
                    self.store.add_steps(self.run_id, batch)
                except BaseException:
                    with self._lock:  # kept for the next try (the run's end)
                        self._queued[:0] = batch
                    raise

    def _flush_every(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S):
            try:
                self.flush()
            except BaseException as exc:  # handed to the run's thread
                self._failure = exc
                return

    def _stop_flusher(self) -> None:
        if self._flusher is not None:
            self._stop.set()
            self._flusher.join()
            self._flusher = None

    # -- parts -------------------------------------------------------------------------

    def _version(self, role: str, port: str, ref: DataRef) -> DatasetVersion:
        location = None
        content_hash = ref.content_hash or None  # "" where hashing is switched off
        if ref.location is not None:
            path = Path(ref.location)
            location = self.hidden.get(ref.source) or _relative(path, self.root)
            if content_hash is not None and content_hash not in self.stored:
                try:
                    how = self.objects.put(
                        path, content_hash, ref.size_bytes, link=ref.format != "pickle"
                    )
                except OSError as exc:
                    log.warning(
                        "could not keep %s in the object store (%s); the run's record "
                        "names it, but it cannot be restored or replayed from there",
                        location,
                        exc.strerror or exc,
                    )
                    how = "failed"
                self.stored[content_hash] = how
        return DatasetVersion(
            role=role,
            port=port,
            source=ref.source,
            format=ref.format,
            location=location,
            content_hash=content_hash,
            size_bytes=ref.size_bytes,
            rows=ref.rows,
            columns=ref.columns,
            kind=ref.kind,
        )

    def _port(self, step: str, source: str) -> str:
        plan_step = self.steps.get(step)
        if plan_step is not None:
            for port, name in plan_step.writes.items():
                if name == source:
                    return port
        return source

    def _origin(self, step: str) -> str:
        known = self._origins.get(step)
        if known is not None:
            return known
        plan_step = self.steps.get(step)
        ref = plan_step.ref if plan_step is not None else None
        if ref is None:
            origin = ""
        elif ref.folder is not None:
            folder = self._folders.get(ref.folder)  # one folder holds many plugins
            if folder is None:
                folder = self._folders[ref.folder] = _relative(Path(ref.folder), self.root)
            origin = f"{ref.module} ({folder})"
        else:
            origin = ref.module
        self._origins[step] = origin
        return origin

    def _fingerprint(self, step: str) -> str:
        plan_step = self.steps.get(step)
        ref = plan_step.ref if plan_step is not None else None
        return ref.fingerprint if ref is not None else ""

    def _params(self, step: str) -> Mapping[str, Any]:
        plan_step = self.steps.get(step)
        return self.shown(plan_step) if plan_step is not None else {}


def reap(store: SqliteRunStore) -> list[str]:
    """Mark runs whose process is gone as ``unknown`` (on this host); return their ids."""
    from datareplay.data.atomic import process_running

    host = socket.gethostname()
    dead = []
    for run_id, pid, run_host in store.running():
        if run_host == host and pid != os.getpid() and not process_running(pid):
            store.mark_dead(
                run_id,
                status=UNKNOWN,
                note=f"the process (PID {pid}) ended without finishing the record "
                "(killed, or the machine stopped)",
            )
            dead.append(run_id)
    return dead


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            return str(path)


def _quality_row(result: Any) -> dict[str, Any]:
    as_row = getattr(result, "as_row", None)
    if as_row is None:
        return {"message": str(result)}
    row: dict[str, Any] = dict(as_row())
    return row


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data (numpy scalars and other objects become text)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return plain(item())
        except (TypeError, ValueError):
            pass
    return str(value)
