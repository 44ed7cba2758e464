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

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from datareplay.config.manager import CaseConfig, ConfigManager
from datareplay.data.atomic import probe_writable, sweep_temporaries
from datareplay.data.catalog import DataCatalog
from datareplay.errors import MissingInputError, UsageError
from datareplay.plan.builder import Plan, Step, build_plan
from datareplay.plugins.registry import PluginRegistry
from datareplay.project.locking import CaseLock
from datareplay.project.paths import Project
from datareplay.run.events import EventBus, Listener
from datareplay.run.listeners import LogListener, QualityResultsWriter
from datareplay.run.runner import PipelineRunner, RunResult

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
    """A case ready to run: its validated config, its data catalog and its checked plan."""

    config: CaseConfig
    hub: DataCatalog
    plan: Plan


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
        """Load and check a case without running anything."""
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
        return OpenCase(config, hub, plan)

    def ensure_raw_data(self, opened: OpenCase) -> list[Path]:
        """Generate the project's raw data if inputs under data.raw_root are missing."""
        from datareplay.project.generation import generate_data, generator_path

        raw_root = (self.project.root / opened.config.settings.data.raw_root).resolve()
        missing = [
            source.path
            for name in opened.plan.external_inputs
            if not opened.hub.available(name)
            and (source := opened.hub.sources[name]).path is not None
            and source.path.is_relative_to(raw_root)
        ]
        if not missing or not generator_path(self.project).is_file():
            return []
        log.warning(
            "raw data missing (%s); generating it first with scripts/generation.py",
            self.project.relative(missing[0]),
        )
        # every recording the generator can write, so any case's raw inputs appear
        return generate_data(self.project, faults=True)

    def validate(self, case: str, options: CaseOptions = NO_OPTIONS) -> OpenCase:
        """Check config, plugins, params, the data flow and the raw inputs; run nothing."""
        opened = self.open_case(case, options)
        missing = [name for name in opened.plan.external_inputs if not opened.hub.available(name)]
        if missing:
            from datareplay.project.generation import generator_path

            source = opened.hub.sources[missing[0]]
            fix = (
                f"run '{self.command_hint} generate-data'"
                if generator_path(self.project).is_file()
                else "put the file there or fix its path in case.yaml"
            )
            raise MissingInputError(
                f"raw input '{missing[0]}' has no data (no file at "
                f"{opened.hub.relative(source.path)}); {fix}"
            )
        return opened

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
        with CaseLock(opened.config.folder, case=case, wait=wait):
            self.ensure_raw_data(opened)
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
                raise UsageError(
                    f"cannot write to {self.project.relative(folder)} "
                    f"({exc.strerror or exc}); make it writable or point the case's outputs "
                    "elsewhere (data.case_folder)"
                ) from exc
