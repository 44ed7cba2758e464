"""Everything one command needs, built once and passed down: project, config, plugins.

``Session`` is also the programmatic entry point::

    session = Session(Project.at(Path("my_project")))
    result = session.run_pipeline("demo")
    result.hub["report"]

A session keeps one plugin registry per set of plugin folders for its whole life (it is
rebuilt only when a plugin file is added, removed or changed), so repeated calls do not
import plugin modules again.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datareplay.config.manager import CaseConfig, ConfigManager
from datareplay.data.atomic import probe_writable, sweep_temporaries
from datareplay.data.catalog import DataCatalog
from datareplay.errors import MissingInputError, UsageError
from datareplay.plan.builder import Plan, Step, build_plan
from datareplay.plugins.registry import PluginRegistry
from datareplay.project.locking import CaseLock, holding_outputs
from datareplay.project.oserrors import os_error
from datareplay.project.paths import Project
from datareplay.run.events import EventBus, Listener
from datareplay.run.listeners import LogListener, QualityResultsWriter
from datareplay.run.runner import PipelineRunner, RunResult

if TYPE_CHECKING:
    from datareplay.project.rawdata import RawRecordings, RawState
    from datareplay.records.objects import ObjectStore
    from datareplay.records.store import SqliteRunStore

log = logging.getLogger("datareplay")


@dataclass(frozen=True)
class CaseOptions:
    """How a command layers configuration over the case: environment, files, overrides."""

    env: str | None = None
    params_files: tuple[Path, ...] = ()
    overrides: tuple[str, ...] = ()


NO_OPTIONS = CaseOptions()


@dataclass(frozen=True)
class RunControl:
    """Which steps a pipeline run executes, and whether earlier executions are reused.

    ``force`` reruns every step; ``force_steps`` reruns those steps and every step that
    depends on them; ``cache=False`` runs every step (``--no-cache``). ``from_step``,
    ``to_step`` and ``only`` select a slice of the pipeline (inputs outside it come from
    the files the latest runs recorded); ``resume`` continues the latest failed or
    interrupted run of the case from the step that did not finish.
    """

    force: bool = False
    force_steps: tuple[str, ...] = ()
    cache: bool = True
    from_step: str | None = None
    to_step: str | None = None
    only: tuple[str, ...] = ()
    resume: bool = False


FULL_RUN = RunControl()

NO_CACHE_VARIABLE = "DATAREPLAY_NO_CACHE"
"""Set to 1 (true, yes, on): every pipeline run runs every step, as with ``--no-cache``."""


@dataclass
class OpenCase:
    """A case ready to run: its validated config, its data catalog and its checked plan.

    ``quality`` holds the results of the checks on raw inputs that ``validate`` ran.
    """

    config: CaseConfig
    hub: DataCatalog
    plan: Plan
    quality: list[Any] = field(default_factory=list)


class Session:
    """Builds the objects of one command for one project."""

    def __init__(
        self,
        project: Project,
        *,
        command_hint: str = "datareplay",
        command: Sequence[str] | None = None,
    ) -> None:
        self.project = project
        self.config = ConfigManager(project)
        self.command_hint = command_hint
        self.command = tuple(command) if command is not None else _command_line()
        self._registries: dict[tuple[Path, ...], PluginRegistry] = {}
        self._store: SqliteRunStore | None = None
        self._objects: ObjectStore | None = None

    # -- run records -------------------------------------------------------------------

    @property
    def records_folder(self) -> Path:
        """``.datareplay/`` in the project: the run store and the object store."""
        from datareplay.records.store import RECORDS_FOLDER

        return self.project.root / RECORDS_FOLDER

    def run_store(self) -> SqliteRunStore:
        """The project's run records (``.datareplay/runs.sqlite``), opened once."""
        if self._store is None:
            from datareplay.records.store import SqliteRunStore

            self._store = SqliteRunStore(self.records_folder / "runs.sqlite")
        return self._store

    def object_store(self) -> ObjectStore:
        """The project's dataset versions by content hash (``.datareplay/objects/``)."""
        if self._objects is None:
            from datareplay.records.objects import ObjectStore

            self._objects = ObjectStore(self.records_folder / "objects")
        return self._objects

    def registry(self, folders: list[str] | None = None) -> PluginRegistry:
        """The plugin registry for ``folders`` (relative to the project root).

        Without ``folders`` it uses ``plugins.paths`` of config/global.yaml.
        """
        if folders is None:
            folders = self.config.load_global().plugins.paths
        paths = tuple((self.project.root / f).resolve() for f in folders)
        registry = self._registries.get(paths)
        if registry is None or registry.stale():
            registry = PluginRegistry(list(paths), project_root=self.project.root)
            self._registries[paths] = registry
        return registry

    def create_case(self, case: str, template: str, options: CaseOptions = NO_OPTIONS) -> bool:
        """Create ``case`` from a template after checking the template as that case.

        Returns False when the case already exists with the same content.
        """
        self.open_case(case, options, case_file=self.project.template_file(template))
        return self.project.create_case(case, template)

    def open_case(
        self, case: str, options: CaseOptions = NO_OPTIONS, *, case_file: Path | None = None
    ) -> OpenCase:
        """Load and check a case without running anything.

        Python's cyclic garbage collector is paused while the configuration and the plan
        are built: they are thousands of small objects that live for the whole command,
        and its repeated walks over them made loading grow faster than the pipeline.
        """
        with _collector_paused():
            config = self.config.load_case(
                case,
                case_file=case_file,
                env=options.env,
                params_files=options.params_files,
                overrides=options.overrides,
            )
            sources = self.config.data_sources(config)
            quality_path = self.config.case_data_folder(config) / "quality_results.parquet"
            hub = DataCatalog(sources, project_root=self.project.root, quality_path=quality_path)
            plan = build_plan(config, sources, self.registry(config.settings.plugins.paths))
            hub.producers.update({source: step.name for source, step in plan.producers.items()})
            hub.raw.update(name for name in sources if name not in plan.producers)
        self._expect_recorded_versions(config.name, hub)
        return OpenCase(config, hub, plan)

    def _expect_recorded_versions(self, case: str, hub: DataCatalog) -> None:
        """Tell the catalog the hash each written file of ``case`` had when a run last
        wrote it, so a damaged or replaced file is reported when it is loaded."""
        if not (self.records_folder / "runs.sqlite").is_file():
            return
        latest = self.run_store().latest_outputs(case)
        if not latest:
            return
        for name, source in hub.sources.items():
            if source.path is None or name in hub.raw:
                continue
            found = latest.get(self.project.relative(source.path))
            if found is None or found[0].content_hash is None:
                continue
            version, run_id, step = found
            assert version.content_hash is not None
            fix = f"rerun that step ('{self.command_hint} plugin {step} --case {case}')"
            if self.object_store().has(version.content_hash):
                fix = (
                    f"restore the recorded version with '{self.command_hint} restore {name} "
                    f"--case {case}', or {fix}"
                )
            hub.expected[name] = (
                version.content_hash,
                f"step '{step}' of run {run_id} wrote {version.content_hash} "
                f"({version.size_bytes:,} bytes) there; {fix}",
            )

    def ensure_raw_data(self, opened: OpenCase) -> list[Path]:
        """Make the case's raw inputs ready (see ``reading_raw_data``); return files written."""
        with self.reading_raw_data(opened) as written:
            return written

    @contextmanager
    def reading_raw_data(
        self, opened: OpenCase, steps: Sequence[Step] | None = None, *, wait: bool = False
    ) -> Iterator[list[Path]]:
        """Hold the raw-data lock shared while ``steps`` read recordings under data.raw_root.

        Before that, under the exclusive lock: a replacement of the recordings that was
        interrupted is finished, and a recording that is wholly absent is generated (at
        the size and seed of the last generate-data; the files written are yielded). A
        recording with only some of its files is refused, touching nothing. Without
        raw inputs nothing is locked.
        """
        from datareplay.project.generation import generator_path, raw_lock
        from datareplay.project.rawdata import RawRecordings

        settings = opened.config.settings.data
        folder = Path(os.path.normpath(self.project.root / settings.raw_root))
        recordings = RawRecordings(folder, project_root=self.project.root)
        inputs = [
            path
            for name in opened.plan.external_reads(steps)
            if (path := opened.hub.sources[name].path) is not None
            and recordings.recording_of(path) is not None
        ]
        can_generate = generator_path(self.project).is_file() and folder.is_relative_to(
            self.project.root
        )
        if not inputs or not (folder.is_dir() or can_generate):
            yield []
            return
        roots = [self.project.root / extra for extra in settings.allowed_roots]
        lock = raw_lock(self.project, folder, roots=roots, wait=wait)
        # a first look without the lock decides how to take it: a run that is going to
        # repair or generate takes it exclusive at once, so two such runs never both hold
        # it shared and wait for each other to leave
        state = recordings.survey(inputs)
        try:
            if not self._must_write(state, can_generate):
                lock.acquire(exclusive=False)
                state = recordings.survey(inputs)  # what the shared lock now guarantees
            if self._must_write(state, can_generate):
                lock.acquire(exclusive=True, activity=self._activity(opened, state))
            written: list[Path] = []
            if lock.exclusive:
                recordings.recover()
                state = recordings.survey(inputs)
                self._refuse_partial(opened, state.partial, can_generate)
                if state.absent and can_generate:
                    written = self._generate_absent(recordings, state.absent)
                lock.acquire(exclusive=False)
            self._refuse_partial(opened, state.partial, can_generate)
            yield written
        finally:
            lock.release()

    @staticmethod
    def _must_write(state: RawState, can_generate: bool) -> bool:
        """True when leftovers must be repaired or an absent recording generated."""
        return bool(state.leftovers or (state.absent and can_generate))

    @staticmethod
    def _activity(opened: OpenCase, state: RawState) -> str:
        if state.absent:
            return f"generated for case '{opened.config.name}', whose recording was absent"
        return "repaired after an interrupted generation"

    def _refuse_partial(
        self, opened: OpenCase, partial: list[tuple[Path, Path]], can_generate: bool
    ) -> None:
        """MissingInputError for an input missing from a recording that otherwise exists."""
        if not partial:
            return
        path, recording = partial[0]
        name = next(n for n, s in opened.hub.sources.items() if s.path == path)
        shown = self.project.relative(path)
        what = f"{shown} is a folder, not a file" if path.is_dir() else f"no file at {shown}"
        fix = (
            f"restore the file, or run '{self.command_hint} generate-data' to regenerate the "
            "whole recording"
            if can_generate
            else "restore the file or fix its path in case.yaml"
        )
        raise MissingInputError(
            f"raw input '{name}' of case '{opened.config.name}' is missing: {what}, while "
            f"the rest of the recording {self.project.relative(recording)} is there; it is "
            f"not regenerated over existing data: {fix}"
        )

    def _generate_absent(self, recordings: RawRecordings, absent: dict[Path, Path]) -> list[Path]:
        """Generate the wholly absent recordings (only those); hold the exclusive lock."""
        from datareplay.project.generation import (
            DEFAULT_ROWS,
            DEFAULT_SEED,
            GENERATOR,
            load_generator,
            write_recordings,
        )

        manifest = recordings.read_manifest()
        if manifest is not None:
            rows, seed = manifest.rows, manifest.seed
            why = "as recorded by the last generate-data in " + recordings.shown(
                recordings.manifest_path
            )
        else:
            rows, seed = DEFAULT_ROWS, DEFAULT_SEED
            why = "the defaults: no generate-data has recorded a size"
        generate = load_generator(self.project)
        first = next(iter(absent.values()))
        log.warning(
            "raw data missing (%s): the recording %s is absent; generating it first with "
            "%s (rows %s, seed %s, %s)",
            self.project.relative(first),
            ", ".join(self.project.relative(r) for r in absent),
            GENERATOR,
            f"{rows:,}",
            seed,
            why,
        )
        # faults=True: every recording the generator can write, so any case's inputs appear
        return write_recordings(
            self.project,
            generate,
            recordings,
            rows=rows,
            seed=seed,
            options={"faults": True},
            only={r.name for r in absent},
        )

    def generate_data(
        self, *, rows: int, seed: int, faults: bool = False, wait: bool = False
    ) -> list[Path]:
        """``generate-data``: replace the raw recordings below the configured data.raw_root."""
        from datareplay.project.generation import generate_data

        settings = self.config.load_global().data
        return generate_data(
            self.project,
            rows=rows,
            seed=seed,
            faults=faults,
            raw_root=settings.raw_root,
            allowed_roots=[self.project.root / extra for extra in settings.allowed_roots],
            wait=wait,
            hint=" or pass --wait",
        )

    def validate(self, case: str, options: CaseOptions = NO_OPTIONS) -> OpenCase:
        """Check config, plugins, params, the data flow and the raw inputs; run nothing.

        The raw inputs that declare ``checks`` are read and checked as a run would on
        their first read: a failed check of severity ``error`` raises QualityError with
        one line per failure, a failed ``warn`` is logged; every result is kept in the
        returned case's ``quality``.
        """
        opened = self.open_case(case, options)
        self._require_raw_inputs(opened)
        opened.quality = self._check_raw_inputs(opened)
        return opened

    def _check_raw_inputs(self, opened: OpenCase) -> list[Any]:
        """Evaluate the checks declared on the plan's raw inputs (reading them)."""
        catalog = opened.hub
        checked = [
            catalog.sources[name]
            for name in opened.plan.external_inputs
            if catalog.sources[name].checks
        ]
        if not checked:
            return []
        from datareplay.errors import QualityError
        from datareplay.quality.evaluate import evaluate

        results: list[Any] = []
        for source in checked:
            value = catalog.load(source.name)
            results.extend(
                evaluate(check, value, source=source.name, lookup=catalog.load)
                for check in source.checks
            )
        quality_log = logging.getLogger("datareplay.quality")
        for result in results:
            level = logging.INFO if result.passed else logging.WARNING
            quality_log.log(level, "quality %s", result.line())
        failed = [result.line() for result in results if result.blocking]
        if failed:
            raise QualityError("\n".join(failed))
        return results

    def _require_raw_inputs(self, opened: OpenCase) -> None:
        """MissingInputError for the first raw input of the plan that has no data."""
        missing = [name for name in opened.plan.external_inputs if not opened.hub.available(name)]
        if missing:
            from datareplay.project.generation import generator_path
            from datareplay.project.rawdata import RawRecordings

            source = opened.hub.sources[missing[0]]
            fix = (
                f"run '{self.command_hint} generate-data'"
                if generator_path(self.project).is_file()
                else "put the file there or fix its path in case.yaml"
            )
            raw_root = self.project.root / opened.config.settings.data.raw_root
            leftovers = RawRecordings(raw_root, project_root=self.project.root).leftovers()
            if leftovers:
                fix = (
                    f"an interrupted generation left {self.project.relative(leftovers[0])}, "
                    f"which the next '{self.command_hint} pipeline' or 'generate-data' finishes"
                )
            raise MissingInputError(
                f"raw input '{missing[0]}' has no data (no file at "
                f"{opened.hub.relative(source.path)}); {fix}"
            )

    def run_pipeline(
        self,
        case: str,
        options: CaseOptions = NO_OPTIONS,
        *,
        wait: bool = False,
        listeners: Sequence[Listener] = (),
        control: RunControl = FULL_RUN,
    ) -> RunResult:
        """Run the pipeline of ``case`` under the case's lock, incrementally: a step whose
        code, params and inputs match an earlier execution is restored, not run
        (``records.cache``; ``control`` forces reruns, turns that off or selects steps).

        ``listeners`` receive the run's events after the built-in ones (log lines,
        quality results, the run's record).
        """
        control = _with_environment(control)
        opened = self.open_case(case, options)
        release = opened.config.settings.run.release_memory
        steps = self.select_steps(opened, control)
        return self._run(
            opened,
            steps,
            wait=wait,
            release_memory=release,
            listeners=listeners,
            kind="pipeline",
            control=control,
        )

    def explain(
        self, case: str, options: CaseOptions = NO_OPTIONS, control: RunControl = FULL_RUN
    ) -> list[tuple[str, str, str]]:
        """What a pipeline run of ``case`` would do, without running or writing anything:
        per selected step ``(name, "cached" | "runs" | "may run", why)``.

        A step whose input comes from a step that runs is ``may run``: it stays cached
        if that step writes the same bytes as before (early cutoff).
        """
        from datareplay.records.cache import describe_change

        control = _with_environment(control)
        opened = self.open_case(case, options)
        steps = self.select_steps(opened, control)
        cache = self._cache(opened, steps, control)
        known: dict[str, str] = {}
        decided: list[tuple[str, str, str]] = []
        for step in steps:
            decision = cache.decide(step, opened.hub, known)
            unsure = {
                port: token[len("?runs:") :]
                for port, token in decision.parts.get("inputs", {}).items()
                if token.startswith("?runs:")
            }
            if decision.cached:
                assert decision.hit is not None
                decided.append((step.name, "cached", f"as run {decision.hit.run_id}"))
                for version in decision.hit.outputs:
                    known[version.source] = version.content_hash or (
                        f"memory:{decision.key}:{version.source}"
                    )
                continue
            verdict, why = "runs", decision.reason
            forced = cache.force or step.name in cache.force_steps or not cache.enabled
            if unsure and decision.key and not forced:
                last = cache.store.last_execution(opened.config.name, step.name)
                rest = ""
                if last is not None:
                    then = last[2]
                    now = {
                        **decision.parts,
                        "inputs": {
                            port: then.get("inputs", {}).get(port, token)
                            if port in unsure
                            else token
                            for port, token in decision.parts["inputs"].items()
                        },
                    }
                    rest = describe_change(step, then, now)
                if last is not None and not rest:
                    producers = sorted(set(unsure.values()))
                    verdict = "may run"
                    why = (
                        f"only if {', '.join(producers)} writes other bytes than before "
                        f"(input {', '.join(step.reads[p] for p in unsure)})"
                    )
                elif rest:
                    why = rest
            decided.append((step.name, verdict, why))
            for name in step.writes.values():
                known[name] = f"?runs:{step.name}"
        return decided

    def select_steps(self, opened: OpenCase, control: RunControl) -> list[Step]:
        """The steps ``control`` selects, in plan order (an unknown step name is an
        UnknownNameError with a suggestion; an empty slice a UsageError)."""
        plan = opened.plan
        ranged = control.from_step is not None or control.to_step is not None
        if control.only and (ranged or control.resume):
            raise UsageError(
                "--only selects steps by name: give it without --from, --to or --resume"
            )
        if control.resume and ranged:
            raise UsageError("--resume chooses where to start: give it without --from or --to")
        order = {step.name: index for index, step in enumerate(plan.steps)}
        first, last = 0, len(plan.steps) - 1
        if control.resume:
            first = order[self._resume_point(opened)]
            # memory data cannot come from the failed run: start at its producers
            moved = True
            while moved:
                moved = False
                for step in plan.steps[first:]:
                    for source in step.reads.values():
                        producer = plan.producers.get(source)
                        if (
                            producer is not None
                            and order[producer.name] < first
                            and not opened.hub.sources[source].persisted
                        ):
                            first, moved = order[producer.name], True
        if control.from_step is not None:
            first = max(first, order[plan.step(control.from_step).name])
        if control.to_step is not None:
            last = order[plan.step(control.to_step).name]
        steps = plan.steps[first : last + 1]
        if control.only:
            chosen = {plan.step(name).name for name in control.only}
            steps = [s for s in steps if s.name in chosen]
        for name in control.force_steps:
            plan.step(name)
        if not steps:
            raise UsageError(
                "no step is selected: --from must not come after --to in the pipeline "
                f"({', '.join(s.name for s in plan.steps)})"
            )
        if len(steps) < len(plan.steps):
            self._check_slice_inputs(opened, steps)
        return steps

    def _check_slice_inputs(self, opened: OpenCase, steps: list[Step]) -> None:
        """Inputs of a slice written by steps outside it must be on disk (a memory one
        cannot be): else one line names the input, its writer and the fix."""
        chosen = {s.name for s in steps}
        written = {name for s in steps for name in s.writes.values()}
        for step in steps:
            for port, source in step.reads.items():
                producer = opened.plan.producers.get(source)
                if producer is None or producer.name in chosen or source in written:
                    continue
                data = opened.hub.sources[source]
                case = opened.config.name
                hint = f"'{self.command_hint} pipeline --case {case} --to {producer.name}'"
                if not data.persisted:
                    raise UsageError(
                        f"input '{port}' of step '{step.name}' is data source '{source}', "
                        f"kept in memory by step '{producer.name}', which is outside the "
                        f"selected steps; include it (--from {producer.name})"
                    )
                if not opened.hub.available(source):
                    raise MissingInputError(
                        f"input '{port}' of step '{step.name}' (data source '{source}') has "
                        f"no data: step '{producer.name}', outside the selected steps, writes "
                        f"it; run {hint} first"
                    )

    def _resume_point(self, opened: OpenCase) -> str:
        """The step the latest failed or interrupted run of the case did not finish."""
        case = opened.config.name
        store = self.run_store() if (self.records_folder / "runs.sqlite").is_file() else None
        runs = store.list_runs(case=case, limit=20) if store is not None else []
        latest = next((r for r in runs if r.kind in ("pipeline", "plugin")), None)
        if latest is None or latest.status == "succeeded" or latest.status == "running":
            state = (
                "no run" if latest is None else f"the latest run ({latest.run_id}) {latest.status}"
            )
            raise UsageError(
                f"nothing to resume for case '{case}': {state}; run "
                f"'{self.command_hint} pipeline --case {case}'"
            )
        record = store.get(latest.run_id) if store is not None else None
        assert record is not None
        unfinished = next(
            (s.name for s in record.steps if s.status not in ("succeeded", "cached")), None
        )
        names = [s.name for s in opened.plan.steps]
        if unfinished is None or unfinished not in names:
            unfinished = latest.failed_step if latest.failed_step in names else names[0]
        log.info("resuming run %s of case '%s' at step '%s'", latest.run_id, case, unfinished)
        return unfinished

    def run_plugin(
        self,
        case: str,
        name: str,
        options: CaseOptions = NO_OPTIONS,
        *,
        wait: bool = False,
        listeners: Sequence[Listener] = (),
    ) -> RunResult:
        """Run one step of ``case`` alone, its inputs loaded from what is on disk."""
        opened = self.open_case(case, options)
        step = opened.plan.step(name)
        if (self.records_folder / "runs.sqlite").is_file():
            from datareplay.records.staleness import stale_step_inputs

            for line in stale_step_inputs(self.run_store(), opened, step, self.command_hint):
                log.warning("%s", line)
        return self._run(
            opened, [step], wait=wait, release_memory=False, listeners=listeners, kind="plugin"
        )

    def _run(
        self,
        opened: OpenCase,
        steps: list[Step],
        *,
        wait: bool,
        release_memory: bool,
        listeners: Sequence[Listener],
        kind: str,
        replay_of: str | None = None,
        run_id: str | None = None,
        control: RunControl | None = None,
    ) -> RunResult:
        """Take the case's lock, make sure inputs exist and outputs can be written, run.

        Every run is recorded (``records.recorder``) in the project's run store.
        """
        case = opened.config.name
        roots = [self.project.root / extra for extra in opened.config.settings.data.allowed_roots]
        with (
            CaseLock(opened.config.folder, case=case, wait=wait, root=self.project.root),
            # before the raw-data lock: every run takes its locks in one order
            holding_outputs(
                self._shared_outputs(opened, steps),
                case=case,
                roots=[self.project.root, *roots],
                wait=wait,
            ),
            self.reading_raw_data(opened, steps, wait=wait),
        ):
            opened.plan.check_inputs(opened.hub, steps=steps, project_hint=self.command_hint)
            self._prepare_outputs(opened, steps)
            _load_format_libraries(opened.hub, steps)
            quality = QualityResultsWriter(
                opened.hub, opened.hub.quality_path, keep_others=kind == "plugin"
            )
            bus = EventBus([LogListener(), quality, self._recorder(opened, steps, kind, replay_of)])
            for listener in listeners:
                bus.subscribe(listener)
            runner = PipelineRunner(
                opened.plan,
                opened.hub,
                run_id=run_id,
                release_memory=release_memory,
                bus=bus,
                overrides=opened.config.overrides,
                cache=self._cache(opened, steps, control) if control is not None else None,
            )
            return runner.run(steps)

    def _cache(self, opened: OpenCase, steps: Sequence[Step], control: RunControl) -> Any:
        """The ``RunCache`` of a pipeline run (the steps ``force_steps`` names and every
        step downstream of them are forced)."""
        from datareplay.records.cache import RunCache

        forced: dict[str, str] = {}  # step -> the named step it depends on
        if control.force_steps:
            named = [opened.plan.step(name).name for name in control.force_steps]
            made: dict[str, str] = {}  # source -> the named step upstream of it
            for step in steps:  # plan order: upstream before downstream
                cause = step.name if step.name in named else None
                if cause is None:
                    cause = next((made[s] for s in step.reads.values() if s in made), None)
                if cause is not None:
                    forced[step.name] = cause
                    made.update({source: cause for source in step.writes.values()})
        return RunCache(
            self.run_store(),
            self.object_store(),
            case=opened.config.name,
            project_root=self.project.root,
            shown=lambda step: opened.config.merged.shown(
                dict(step.params), ("pipeline", step.index, "params")
            ),
            force=control.force,
            force_steps=forced,
            enabled=control.cache,
        )

    def _recorder(
        self, opened: OpenCase, steps: Sequence[Step], kind: str, replay_of: str | None
    ) -> Listener:
        """The listener that records this run (after marking runs whose process died)."""
        from datareplay.records.recorder import RunRecorder, reap

        store = self.run_store()
        for run_id in reap(store):
            log.warning(
                "run %s ended without a record of how (its process is gone); it is now "
                "shown as 'unknown'",
                run_id,
            )
        return RunRecorder(
            store,
            self.object_store(),
            project_root=self.project.root,
            kind=kind,
            command=self.command,
            config=config_record(opened.config),
            steps=steps,
            replay_of=replay_of,
            shown=lambda step: opened.config.merged.shown(
                dict(step.params), ("pipeline", step.index, "params")
            ),
            hidden_locations={
                name: str(hidden)
                for name in opened.hub.sources
                if not isinstance(
                    hidden := opened.config.merged.shown("", ("data_sources", name, "path")), str
                )
            },
        )

    # -- replay ------------------------------------------------------------------------

    def replay(
        self,
        run: str,
        *,
        verify: bool = False,
        from_step: str | None = None,
        listeners: Sequence[Listener] = (),
    ) -> ReplayOutcome:
        """Re-execute the steps recorded for run ``run`` with its recorded configuration
        and the recorded versions of its inputs from the object store (not today's
        files), as a new run whose record points at the original.

        Outputs go to ``.datareplay/replays/<new run id>/``, so the working copies are
        untouched. With ``verify`` every output's hash is compared with the original's
        and ReplayDiverged names the first step whose outputs differ and why (the
        plugin's code changed, or the step is not deterministic). ``from_step`` starts
        at that step, its inputs coming from the versions the original run recorded.
        """
        from dataclasses import replace

        from datareplay.errors import ReplayDiverged, UnknownNameError
        from datareplay.records.selectors import resolve_run
        from datareplay.run.runner import new_run_id

        store = self.run_store()
        run_id = resolve_run(run, store.ids())
        record = store.get(run_id)
        assert record is not None
        config = self.config.load_recorded(
            record.case,
            record.config.get("data", {}),
            origins=record.config.get("origins", {}),
            run_id=run_id,
        )
        sources = self.config.data_sources(config)
        plan = build_plan(config, sources, self.registry(config.settings.plugins.paths))
        recorded = [s for s in record.steps if s.status != "skipped"]
        names = [s.name for s in recorded]
        if not names:
            raise UsageError(f"run {run_id} ran no step; there is nothing to replay")
        start = 0
        if from_step is not None:
            if from_step not in names:
                from datareplay.errors import did_you_mean

                raise UnknownNameError(
                    f"run {run_id} has no step '{from_step}'{did_you_mean(from_step, names)} "
                    f"(its steps: {', '.join(names)})"
                )
            start = names.index(from_step)
        steps = [plan.step(name) for name in names[start:]]
        versions: dict[str, Any] = {}  # source -> the version the original run used
        for step_record in recorded:
            for version in step_record.inputs():
                versions.setdefault(version.source, version)
            if names.index(step_record.name) < start:
                for version in step_record.outputs():
                    versions[version.source] = version
        new_id = new_run_id()
        folder = self.records_folder / "replays" / new_id
        written = {name for step in steps for name in step.writes.values()}
        objects = self.object_store()
        remapped = {}
        for name, source in sources.items():
            if name in written and source.path is not None:
                path = folder / f"{name}{source.format.extension}"
                remapped[name] = replace(source, path=path, store=folder)
                continue
            found = versions.get(name)
            if found is None:
                remapped[name] = source
            elif found.content_hash is None:
                if any(name in step.reads.values() for step in steps):
                    raise UsageError(
                        f"step '{names[start]}' of run {run_id} reads '{name}', which was "
                        "kept in memory only and never stored; replay from an earlier step"
                    )
                remapped[name] = source
            else:
                if not objects.verify(found.content_hash):
                    raise MissingInputError(
                        f"the version of '{name}' that run {run_id} used "
                        f"({found.content_hash}) is missing from or damaged in "
                        f"{self.project.relative(objects.root)}; it cannot be replayed "
                        "exactly (gc removed it, or the file was edited in place)"
                    )
                remapped[name] = replace(
                    source,
                    path=objects.path_of(found.content_hash),
                    read_only=True,
                    trusted=True,
                )
        folder.mkdir(parents=True, exist_ok=True)
        catalog = DataCatalog(
            remapped,
            project_root=self.project.root,
            quality_path=folder / "quality_results.parquet",
        )
        catalog.producers.update({source: s.name for source, s in plan.producers.items()})
        catalog.raw.update(name for name in remapped if name not in plan.producers)
        changed = {
            s.name: (s.fingerprint, plan.step(s.name).ref.fingerprint)  # type: ignore[union-attr]
            for s in recorded[start:]
            if plan.step(s.name).ref is not None
            and plan.step(s.name).ref.fingerprint != s.fingerprint  # type: ignore[union-attr]
        }
        for name, (then, now) in changed.items():
            log.warning(
                "the code of step '%s' changed since run %s (fingerprint %s, now %s); "
                "the replay runs today's code",
                name,
                run_id,
                then,
                now,
            )
        opened = OpenCase(config, catalog, plan)
        quality = QualityResultsWriter(catalog, catalog.quality_path)
        bus = EventBus([LogListener(), quality, self._recorder(opened, steps, "replay", run_id)])
        for listener in listeners:
            bus.subscribe(listener)
        runner = PipelineRunner(plan, catalog, run_id=new_id, release_memory=True, bus=bus)
        result = runner.run(steps)
        outcome = ReplayOutcome(run_id, new_id, result, changed)
        if verify:
            outcome.divergence = _first_divergence(recorded[start:], result, changed)
            if outcome.divergence is not None:
                raise ReplayDiverged(
                    f"replay {new_id} of run {run_id} diverged: {outcome.divergence}"
                )
        return outcome

    # -- the stores' upkeep --------------------------------------------------------------

    def restore(self, source: str, case: str, *, run: str | None = None) -> tuple[str, str, Path]:
        """Put back the version of ``source`` that the latest run of ``case`` (or run
        ``run``) wrote, from the object store, atomically and under the case's lock.

        Returns (run id, content hash, path written).
        """
        import shutil

        from datareplay.data.atomic import atomic_target
        from datareplay.errors import UnknownNameError
        from datareplay.records.selectors import resolve_run

        opened = self.open_case(case)
        if source not in opened.hub.sources:
            from datareplay.errors import did_you_mean

            raise UnknownNameError(
                f"case '{case}' has no data source '{source}'"
                f"{did_you_mean(source, opened.hub.sources)}"
            )
        target = opened.hub.sources[source].path
        if target is None:
            raise UsageError(f"data source '{source}' is memory-only; nothing is stored")
        store = self.run_store()
        ids = [r.run_id for r in store.list_runs(case=case)]
        chosen = [resolve_run(run, ids)] if run is not None else ids
        for run_id in chosen:
            record = store.get(run_id)
            if record is None:
                continue
            for step in reversed(record.steps):
                version = next((v for v in step.outputs() if v.source == source), None)
                if version is None or version.content_hash is None:
                    continue
                objects = self.object_store()
                if not objects.verify(version.content_hash):
                    raise MissingInputError(
                        f"the version of '{source}' written by step '{step.name}' of run "
                        f"{run_id} ({version.content_hash}) is missing from or damaged in "
                        f"{self.project.relative(objects.root)}; rerun the step: "
                        f"'{self.command_hint} plugin {step.name} --case {case}'"
                    )
                with (
                    CaseLock(opened.config.folder, case=case, wait=False, root=self.project.root),
                    atomic_target(target) as tmp,
                ):
                    shutil.copyfile(objects.path_of(version.content_hash), tmp)
                return run_id, version.content_hash, target
        where = f"run {chosen[0]}" if run is not None else f"any recorded run of case '{case}'"
        raise MissingInputError(f"no version of '{source}' was written by {where}")

    def gc(
        self,
        *,
        keep_last: int | None = None,
        older_than_s: float | None = None,
        dry_run: bool = False,
    ) -> GcReport:
        """Drop the records of old runs and free the dataset versions no kept run needs.

        A run is kept when it is among the ``keep_last`` newest, or started less than
        ``older_than_s`` ago, or is still running; without either option every record is
        kept and only versions no record refers to are freed. Versions stored or re-used
        since the oldest running run started are kept too, so a run going on while ``gc``
        works loses nothing.
        """
        import shutil
        import time

        from datareplay.records.recorder import reap

        store = self.run_store()
        reap(store)
        runs = store.list_runs()
        now = time.time()
        keep: set[str] = set()
        every = keep_last is None and older_than_s is None
        for position, record in enumerate(runs):
            recent = keep_last is not None and position < keep_last
            young = older_than_s is not None and now - record.started < older_than_s
            if record.status == "running" or every or recent or young:
                keep.add(record.run_id)
        dropped = [r for r in runs if r.run_id not in keep]
        # replays point at their original: keep an original a kept replay names
        originals = {r.replay_of for r in runs if r.run_id in keep and r.replay_of}
        dropped = [r for r in dropped if r.run_id not in originals]
        keep.update(originals)
        running = [r.started for r in runs if r.status == "running"]
        fresher_than = min(running, default=now) - 1.0
        if not dry_run:
            store.delete_runs([r.run_id for r in dropped])
            for record in dropped:
                folder = self.records_folder / "replays" / record.run_id
                if folder.is_dir():
                    shutil.rmtree(folder, ignore_errors=True)
        needed = store.hashes_of(keep) if dry_run else store.all_hashes()
        removed, freed = self.object_store().collect(
            needed, fresher_than=fresher_than, dry_run=dry_run
        )
        return GcReport([r.run_id for r in dropped], len(keep), removed, freed, dry_run)

    def _shared_outputs(self, opened: OpenCase, steps: list[Step]) -> list[tuple[Path, str]]:
        """Files ``steps`` write outside the case's own folder, which other cases may write."""
        own = Path(os.path.realpath(opened.config.folder))
        targets = [opened.hub.sources[name].path for step in steps for name in step.writes.values()]
        if opened.hub.quality_path is not None:
            targets.append(opened.hub.quality_path)
        return [
            (path, self.project.relative(path))
            for path in targets
            if path is not None and not Path(os.path.realpath(path)).is_relative_to(own)
        ]

    def _prepare_outputs(self, opened: OpenCase, steps: list[Step]) -> None:
        """Sweep temporaries killed writers left, and prove every output folder writable."""
        targets = [
            path
            for step in steps
            for name in step.writes.values()
            if (path := opened.hub.sources[name].path) is not None
        ]
        if opened.hub.quality_path is not None:
            targets.append(opened.hub.quality_path)
        removed = sweep_temporaries(targets)
        if removed:
            log.warning("removed %d temporary file(s) left by an interrupted run", len(removed))
        for folder in sorted({path.parent for path in targets}):
            try:
                probe_writable(folder)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    what = f"cannot write to {self.project.relative(folder)}"
                    raise os_error(exc, what) from exc
                raise UsageError(
                    f"cannot write to {self.project.relative(folder)} "
                    f"({exc.strerror or exc}); make it writable or point the case's outputs "
                    "elsewhere (data.case_folder)"
                ) from exc


@dataclass
class GcReport:
    """What ``gc`` removed (or, with ``dry_run``, would remove)."""

    dropped_runs: list[str]
    kept_runs: int
    removed_versions: int
    freed_bytes: int
    dry_run: bool


@dataclass
class ReplayOutcome:
    """What ``Session.replay`` did: the original run, the new one, and with ``verify``
    the first divergence (None: every output hash equals the original's).

    ``code_changed`` maps steps whose plugin code changed to (then, now) fingerprints.
    """

    original: str
    run_id: str
    result: RunResult
    code_changed: dict[str, tuple[str, str]]
    divergence: str | None = None
    verified: int = 0


def _first_divergence(
    recorded: Sequence[Any], result: RunResult, changed: dict[str, tuple[str, str]]
) -> str | None:
    """How the first step whose outputs differ from the record differs, or None."""
    outcomes = {o.name: o for o in result.steps}
    for step in recorded:
        outcome = outcomes.get(step.name)
        if outcome is None:
            return f"step '{step.name}' did not run"
        for version in step.outputs():
            ref = outcome.outputs.get(version.source)
            now = None if ref is None else ref.content_hash
            if now == version.content_hash:
                continue
            why = (
                f"the code of its plugin changed (fingerprint {changed[step.name][0]}, now "
                f"{changed[step.name][1]})"
                if step.name in changed
                else "with the same code, params and inputs it wrote other bytes: the step "
                "is not deterministic"
            )
            return (
                f"step '{step.name}' wrote '{version.source}' as {now}, the original run as "
                f"{version.content_hash}: {why}"
            )
    return None


# what reading and writing each format imports on first use
_FORMAT_LIBRARIES = {
    "parquet": ("pandas", "pyarrow.parquet"),
    "feather": ("pandas", "pyarrow.feather"),
    "csv": ("pandas",),
    "json": ("pandas",),
    "excel": ("pandas",),
    "npy": ("numpy",),
}


def _load_format_libraries(catalog: DataCatalog, steps: Sequence[Step]) -> None:
    """Import what the steps' data formats and checks need before the first step starts,
    so that a step's time is its own work and not the engine's imports (pandas and
    pyarrow take most of a second; a 60-row first step used to show 0.8 s)."""
    import importlib

    names: set[str] = set()
    for step in steps:
        for source_name in (*step.reads.values(), *step.writes.values()):
            source = catalog.sources.get(source_name)
            if source is None:
                continue
            names.update(_FORMAT_LIBRARIES.get(source.format.name, ()))
            if source.checks:
                names.add("datareplay.quality.evaluate")
    for name in sorted(names):
        importlib.import_module(name)


def _with_environment(control: RunControl) -> RunControl:
    """``control`` with caching off when ``DATAREPLAY_NO_CACHE`` says so."""
    if os.environ.get(NO_CACHE_VARIABLE, "").lower() in ("1", "true", "yes", "on"):
        return replace(control, cache=False)
    return control


def config_record(config: CaseConfig) -> dict[str, Any]:
    """The resolved configuration as a run records it: every value (those read from
    environment variables redacted, with the variables named), each with its origin."""
    from datareplay.config.safe_yaml import format_path
    from datareplay.records.recorder import plain

    merged = config.merged
    data = merged.shown(merged.data)
    known = merged.origins
    origins: dict[str, str] = {}

    def walk(value: Any, path: tuple[str | int, ...], text: str) -> None:
        # one pass, each leaf's dotted path grown from its parent's (not re-rendered)
        if isinstance(value, dict) and value:
            for key, item in value.items():
                if isinstance(key, int):  # as format_path renders it
                    walk(item, (*path, key), f"{text}[{key}]")
                else:
                    walk(item, (*path, key), f"{text}.{key}" if text else str(key))
        elif isinstance(value, list) and value:
            for index, item in enumerate(value):
                walk(item, (*path, index), f"{text}[{index}]")
        else:
            origin = known.get(path)
            origins[text] = origin if origin is not None else merged.origin(path)

    walk(merged.data, (), "")
    env = {format_path(path): list(names) for path, names in merged.env.paths.items()}
    return {"data": plain(data), "origins": origins, "env": env, "files": config.files}


def _command_line() -> tuple[str, ...]:
    """The command line of this process, the program as its file name."""
    import sys

    argv = list(sys.argv) or ["python"]
    argv[0] = os.path.basename(argv[0]) or argv[0]
    return tuple(argv)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (if it runs), then resume it."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
