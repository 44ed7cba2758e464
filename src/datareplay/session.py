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
from dataclasses import dataclass, field
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

log = logging.getLogger("datareplay")


@dataclass(frozen=True)
class CaseOptions:
    """How a command layers configuration over the case: environment, files, overrides."""

    env: str | None = None
    params_files: tuple[Path, ...] = ()
    overrides: tuple[str, ...] = ()


NO_OPTIONS = CaseOptions()


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

    def __init__(self, project: Project, *, command_hint: str = "datareplay") -> None:
        self.project = project
        self.config = ConfigManager(project)
        self.command_hint = command_hint
        self._registries: dict[tuple[Path, ...], PluginRegistry] = {}

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
        return OpenCase(config, hub, plan)

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
    ) -> RunResult:
        """Run the whole pipeline of ``case`` under the case's lock.

        ``listeners`` receive the run's events after the built-in ones (log lines,
        quality results).
        """
        opened = self.open_case(case, options)
        release = opened.config.settings.run.release_memory
        return self._run(
            opened, opened.plan.steps, wait=wait, release_memory=release, listeners=listeners
        )

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
        return self._run(opened, [step], wait=wait, release_memory=False, listeners=listeners)

    def _run(
        self,
        opened: OpenCase,
        steps: list[Step],
        *,
        wait: bool,
        release_memory: bool,
        listeners: Sequence[Listener],
    ) -> RunResult:
        """Take the case's lock, make sure inputs exist and outputs can be written, run."""
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
            bus = EventBus(
                [LogListener(), QualityResultsWriter(opened.hub, opened.hub.quality_path)]
            )
            for listener in listeners:
                bus.subscribe(listener)
            runner = PipelineRunner(
                opened.plan,
                opened.hub,
                release_memory=release_memory,
                bus=bus,
                overrides=opened.config.overrides,
            )
            return runner.run(steps)

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
