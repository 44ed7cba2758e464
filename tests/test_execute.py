"""Executing one step from plain data: datareplay.run.execute, StepSpec and StepOutcome.

A step must give the same bytes whether the runner executes it in its own process (inputs
from memory) or a freshly spawned process executes its ``StepSpec`` (inputs from storage,
plugin imported from its ``PluginRef``).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import textwrap
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import ClassVar

import pytest

from datareplay import BasePlugin, DataHub
from datareplay.data.catalog import DataCatalog
from datareplay.data.formats import FORMATS
from datareplay.data.source import DataSource
from datareplay.data.storage import DataRef, hash_file
from datareplay.errors import DataAccessError, ExitCode, PluginDefinitionError
from datareplay.plugins.loader import PluginRef, load_plugin, mount_folder
from datareplay.plugins.registry import PluginRegistry
from datareplay.project.paths import Project
from datareplay.quality.evaluate import CheckResult
from datareplay.run.execute import execute, execute_step
from datareplay.run.runner import PipelineRunner
from datareplay.run.step import StepError, StepOutcome, StepSpec
from datareplay.session import Session

RUN_ID = "20260101-000000-abcdef"


@pytest.fixture
def spawn_pool() -> Iterator[ProcessPoolExecutor]:
    """One worker in a freshly spawned interpreter: nothing inherited from this process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        yield pool


def ref_summary(ref: DataRef) -> tuple[object, ...]:
    return (
        ref.source,
        ref.format,
        ref.location,
        ref.content_hash,
        ref.size_bytes,
        ref.rows,
        ref.columns,
        ref.kind,
    )


def quality_lines(outcome: StepOutcome) -> list[tuple[object, ...]]:
    return [(r.line(), r.severity, r.passed, r.failing, r.total, r.step) for r in outcome.quality]


# -- the demo, in process and in a spawned process ------------------------------------------


def test_spawned_execution_writes_the_same_bytes_as_in_process(
    project: Path, spawn_pool: ProcessPoolExecutor
) -> None:
    session = Session(Project.at(project))
    opened = session.open_case("demo")
    runner = PipelineRunner(opened.plan, opened.hub)
    result = runner.run()
    in_process = {outcome.name: outcome for outcome in result.steps}
    assert list(in_process) == [step.name for step in opened.plan.steps]
    assert len(in_process) == 8
    assert all(outcome.ok for outcome in in_process.values())

    assert spawn_pool.submit(os.getpid).result() != os.getpid()
    written = 0
    for step in opened.plan.steps:
        spec = runner.spec(step)
        assert spec.plugin.module.startswith(("datareplay_plugins_", "datareplay.plugins."))
        outcome = spawn_pool.submit(execute_step, spec).result()
        assert isinstance(outcome, StepOutcome)
        assert outcome.error is None, f"{step.name}: {outcome.error}"
        assert (outcome.name, outcome.index, outcome.plugin) == (
            step.name,
            step.index,
            step.plugin.__name__,
        )
        expected = in_process[step.name]
        assert sorted(outcome.outputs) == sorted(step.writes.values())
        assert sorted(outcome.outputs) == sorted(expected.outputs)
        for name, ref in outcome.outputs.items():
            assert ref_summary(ref) == ref_summary(expected.outputs[name]), f"{step.name}: {name}"
            source = opened.hub.sources[name]
            assert ref.location == str(source.path)
            assert ref.content_hash is not None and ref.content_hash.startswith("xxh3_128:")
            assert hash_file(Path(ref.location)) == (ref.content_hash, ref.size_bytes)
            written += 1
        # checks declared on written sources and the quality gate's checks agree too
        assert quality_lines(outcome) == quality_lines(expected), step.name
    assert written == sum(len(step.writes) for step in opened.plan.steps) >= 9
    assert sum(len(o.quality) for o in in_process.values()) >= 10


# -- pickling ---------------------------------------------------------------------------------


def test_step_specs_of_the_demo_plan_pickle(project: Path) -> None:
    opened = Session(Project.at(project)).open_case("demo")
    runner = PipelineRunner(opened.plan, opened.hub, run_id=RUN_ID)
    specs = [runner.spec(step) for step in opened.plan.steps]
    assert any(source.checks for spec in specs for source in spec.sources.values())
    for spec in specs:
        copy = pickle.loads(pickle.dumps(spec))
        assert isinstance(copy, StepSpec)
        assert copy == spec
        assert copy.label == spec.label
        assert copy.run_id == RUN_ID and copy.case == "demo"


def quality_result(passed: bool) -> CheckResult:
    return CheckResult(
        source="events",
        check="range(speed_mps)",
        severity="error",
        passed=passed,
        failing=0 if passed else 2,
        total=10,
        message="all rows pass" if passed else "2 of 10 rows fail",
        sample=[] if passed else [{"row": 3, "speed_mps": -1.5}],
        params={"check": "range", "min": 0},
        step="detect",
    )


def data_ref(name: str, fmt: str) -> DataRef:
    return DataRef(
        name,
        fmt,
        f"/data/{name}.{fmt}",
        "xxh3_128:" + "0123456789abcdef" * 2,
        1234,
        10,
        3,
        "DataFrame 10×3",
    )


def test_successful_outcome_pickles() -> None:
    outcome = StepOutcome(
        name="detect",
        index=4,
        plugin="EventDetector",
        seconds=0.25,
        outputs={
            "events": data_ref("events", "csv"),
            "scratch": DataRef("scratch", "memory", None, None, None, None, None, "dict of 2"),
        },
        quality=(quality_result(True), quality_result(False)),
    )
    copy = pickle.loads(pickle.dumps(outcome))
    assert copy == outcome
    assert copy.ok
    assert copy.outputs["events"].persisted and not copy.outputs["scratch"].persisted
    assert [r.line() for r in copy.quality] == [r.line() for r in outcome.quality]


def test_failed_outcome_pickles() -> None:
    outcome = StepOutcome(
        name="detect",
        index=4,
        plugin="EventDetector",
        seconds=0.5,
        outputs={"events": data_ref("events", "parquet")},
        quality=(quality_result(False),),
        error=StepError(
            "QualityError",
            "events: range(speed_mps) FAILED: 2 of 10 rows fail",
            ExitCode.RUN_FAILED,
            'Traceback (most recent call last):\n  File "x.py", line 1\nQualityError: ...\n',
        ),
    )
    copy = pickle.loads(pickle.dumps(outcome))
    assert copy == outcome
    assert not copy.ok
    assert copy.error == outcome.error
    assert copy.error is not None and copy.error.exit_code == 1


# -- failures ---------------------------------------------------------------------------------


def catalog_over(root: Path, *names: str) -> DataCatalog:
    (root / "data").mkdir(parents=True, exist_ok=True)
    sources = {n: DataSource(n, FORMATS["json"], root / "data" / f"{n}.json") for n in names}
    return DataCatalog(sources, project_root=root)


def write_plugin(folder: Path, stem: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def folder_spec(
    root: Path, folder: Path, plugin: str, *, outputs: dict[str, str], name: str = ""
) -> StepSpec:
    """The spec of a step running folder plugin ``plugin`` against json sources in ``root``."""
    ref = PluginRegistry([folder], project_root=root, entry_points=()).reference(plugin)
    catalog = catalog_over(root, *outputs.values())
    return StepSpec(
        run_id=RUN_ID,
        case="unit",
        name=name or plugin,
        index=0,
        plugin=ref,
        params={},
        inputs={},
        outputs=outputs,
        sources=dict(catalog.sources),
        project_root=str(root),
    )


FAILING = '''\
"""A plugin that writes one output, then fails."""

from datareplay import BasePlugin


class HalfDone(BasePlugin):
    """Write `first`, then raise."""

    outputs = {"first": "Written before the failure.", "second": "Never written."}

    def run(self, hub):
        hub["first"] = {"done": 1}
        raise ValueError("sensor table is empty\\nsecond line")
'''


def test_failing_folder_plugin_is_an_outcome_not_an_exception(tmp_path: Path) -> None:
    folder = tmp_path / "modules"
    path = write_plugin(folder, "half_done", FAILING)
    spec = folder_spec(tmp_path, folder, "HalfDone", outputs={"first": "first", "second": "second"})

    outcome = execute_step(spec)

    assert not outcome.ok and outcome.error is not None
    assert outcome.error.type == "ValueError"
    assert outcome.error.message == (
        "ValueError: sensor table is empty "
        "(modules/half_done.py:13 in run; --debug shows the traceback)"
    )
    assert outcome.error.exit_code == ExitCode.RUN_FAILED
    assert outcome.error.traceback.startswith("Traceback (most recent call last):")
    assert str(path) in outcome.error.traceback
    assert 'raise ValueError("sensor table is empty' in outcome.error.traceback
    assert outcome.error.traceback.rstrip().endswith("second line")
    # what it wrote before failing is on disk, and its reference comes back
    assert list(outcome.outputs) == ["first"]
    ref = outcome.outputs["first"]
    assert hash_file(Path(str(ref.location))) == (ref.content_hash, ref.size_bytes)
    assert not (tmp_path / "data" / "second.json").exists()
    assert pickle.loads(pickle.dumps(outcome)) == outcome


def test_a_data_replay_error_keeps_its_type_and_exit_code(tmp_path: Path) -> None:
    class Sneaky(BasePlugin):
        """Read an input it does not declare."""

        def run(self, hub: DataHub) -> None:
            hub["secret"]

    spec = StepSpec(
        run_id=RUN_ID,
        case="unit",
        name="sneak",
        index=2,
        plugin=PluginRef("Sneaky", "tests.nowhere", None, "xxh3_128:0"),
        params={},
        inputs={},
        outputs={},
        sources={},
        project_root=str(tmp_path),
    )
    ran = execute(spec, catalog=catalog_over(tmp_path), plugin=Sneaky)
    error = ran.outcome.error
    assert error is not None
    assert error.type == "DataAccessError"
    assert error.message.startswith("step 'sneak' read 'secret', which it does not declare")
    assert error.exit_code == DataAccessError.exit_code
    assert isinstance(ran.exception, DataAccessError)
    assert (ran.outcome.name, ran.outcome.index, ran.outcome.plugin) == ("sneak", 2, "Sneaky")


def test_a_missing_declared_output_is_a_failure(tmp_path: Path) -> None:
    class Lazy(BasePlugin):
        """Declare an output and never write it."""

        outputs: ClassVar[dict[str, str]] = {"result": "Never written."}

        def run(self, hub: DataHub) -> None:
            pass

    spec = StepSpec(
        run_id=RUN_ID,
        case="unit",
        name="Lazy",
        index=0,
        plugin=PluginRef("Lazy", "tests.nowhere", None, "xxh3_128:0"),
        params={},
        inputs={},
        outputs={"result": "result"},
        sources={},
        project_root=str(tmp_path),
    )
    outcome = execute(spec, catalog=catalog_over(tmp_path, "result"), plugin=Lazy).outcome
    assert outcome.error is not None
    assert outcome.error.message == "it did not write its declared output 'result'"
    assert outcome.outputs == {}


INTERRUPTED = '''\
"""A plugin interrupted by Ctrl-C."""

from datareplay import BasePlugin


class Interrupted(BasePlugin):
    """Raise KeyboardInterrupt."""

    def run(self, hub):
        raise KeyboardInterrupt
'''


def test_keyboard_interrupt_propagates(tmp_path: Path) -> None:
    folder = tmp_path / "modules"
    write_plugin(folder, "interrupted", INTERRUPTED)
    spec = folder_spec(tmp_path, folder, "Interrupted", outputs={})
    with pytest.raises(KeyboardInterrupt):
        execute_step(spec)
    with pytest.raises(KeyboardInterrupt):
        execute(spec, catalog=catalog_over(tmp_path))


# -- plugin code that changed after the spec was made ----------------------------------------

CHANGING = '''\
"""A plugin whose code changes after its step was planned."""

from datareplay import BasePlugin


class Changing(BasePlugin):
    """Write its version."""

    outputs = {"version": "The version of the code that ran."}

    def run(self, hub):
        hub["version"] = {"version": VERSION}


VERSION = 1
'''


def test_changed_plugin_code_is_refused_by_load_plugin(tmp_path: Path) -> None:
    folder = tmp_path / "modules"
    path = write_plugin(folder, "changing", CHANGING)
    ref = PluginRegistry([folder], project_root=tmp_path, entry_points=()).reference("Changing")
    assert load_plugin(ref).__name__ == "Changing"  # unchanged: accepted

    path.write_text(CHANGING.replace("VERSION = 1", "VERSION = 2"), encoding="utf-8")
    mount_folder(
        folder, ref.package or "", fresh=True
    )  # as a fresh process would: nothing imported yet
    with pytest.raises(PluginDefinitionError) as info:
        load_plugin(ref)
    message = str(info.value)
    assert message == (
        f"the code of plugin Changing ({path.resolve()}) changed after the run was planned; "
        "run the pipeline again to use the new code"
    )
    assert info.value.exit_code == ExitCode.USAGE_ERROR


def test_plugin_that_disappeared_or_cannot_be_imported(tmp_path: Path) -> None:
    folder = tmp_path / "modules"
    path = write_plugin(folder, "changing", CHANGING)
    ref = PluginRegistry([folder], project_root=tmp_path, entry_points=()).reference("Changing")

    path.write_text(CHANGING.replace("class Changing", "class Renamed"), encoding="utf-8")
    mount_folder(folder, ref.package or "", fresh=True)
    with pytest.raises(PluginDefinitionError, match=r"no longer defines plugin Changing"):
        load_plugin(ref)

    path.unlink()
    mount_folder(folder, ref.package or "", fresh=True)
    with pytest.raises(
        PluginDefinitionError, match=r"plugin Changing cannot be imported from .*changing"
    ):
        load_plugin(ref)


def test_changed_plugin_code_is_refused_in_a_spawned_process(
    tmp_path: Path, spawn_pool: ProcessPoolExecutor
) -> None:
    folder = tmp_path / "modules"
    path = write_plugin(folder, "changing", CHANGING)
    spec = folder_spec(tmp_path, folder, "Changing", outputs={"version": "version"})

    assert execute_step(spec).error is None  # as planned: runs (here, in this process)
    assert '"version": 1' in (tmp_path / "data" / "version.json").read_text(encoding="utf-8")

    path.write_text(CHANGING.replace("VERSION = 1", "VERSION = 2"), encoding="utf-8")
    outcome = spawn_pool.submit(execute_step, spec).result()
    assert outcome.error is not None
    assert outcome.error.type == "PluginDefinitionError"
    assert outcome.error.exit_code == ExitCode.USAGE_ERROR
    assert outcome.error.message == (
        f"the code of plugin Changing ({path.resolve()}) changed after the run was planned; "
        "run the pipeline again to use the new code"
    )
    assert outcome.outputs == {}
    # the new code did not run: the output is still the one of the planned code
    assert '"version": 1' in (tmp_path / "data" / "version.json").read_text(encoding="utf-8")
