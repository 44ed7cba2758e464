"""Unit tests of datareplay.plan.builder: every pipeline problem is found before anything runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from datareplay.config.manager import ConfigManager
from datareplay.data.catalog import DataCatalog
from datareplay.errors import (
    ConfigError,
    MissingInputError,
    PipelineError,
    UnknownNameError,
)
from datareplay.plan.builder import Plan, Step, build_plan
from datareplay.plugins.registry import PluginRegistry
from datareplay.project.paths import Project

PLUGINS = '''
import pandas as pd

from datareplay import BasePlugin, Param


class Load(BasePlugin):
    """Load the raw table."""

    inputs = {"raw": "Raw samples."}
    outputs = {"table": "Loaded table."}

    def run(self, hub):
        hub["table"] = pd.DataFrame(hub["raw"]).reset_index(drop=True)


class Scale(BasePlugin):
    """Multiply every value."""

    inputs = {"table": "Input table."}
    outputs = {"scaled": "Scaled table."}

    factor = Param(2.0, "Multiplier.")

    def run(self, hub):
        hub["scaled"] = hub["table"] * self.factor


class Join(BasePlugin):
    """Put two tables side by side."""

    inputs = {"left": "Left table.", "right": "Right table."}
    outputs = {"joined": "Both tables."}

    def run(self, hub):
        hub["joined"] = pd.concat(
            [hub["left"].add_prefix("l_"), hub["right"].add_prefix("r_")], axis=1
        )


class Source(BasePlugin):
    """Make a table from nothing."""

    outputs = {"made": "A made table."}
    rows = Param(3, "Rows.")

    def run(self, hub):
        hub["made"] = pd.DataFrame({"v": range(self.rows)})
'''

BASE_SOURCES = """\
data_sources:
  raw: {path: data/raw/raw.parquet, read_only: true}
  table: {}
  scaled: {}
  joined: {}
  made: {}
  extra: {}
"""


class Case:
    """A temporary project with one case, its sources and a registry."""

    def __init__(self, root: Path, pipeline: str, sources: str = BASE_SOURCES) -> None:
        (root / "config").mkdir(parents=True)
        (root / "cases" / "demo").mkdir(parents=True)
        (root / "modules").mkdir()
        (root / "modules" / "steps.py").write_text(PLUGINS, encoding="utf-8")
        (root / "cases" / "demo" / "case.yaml").write_text(
            textwrap.dedent(sources) + textwrap.dedent(pipeline), encoding="utf-8"
        )
        self.project = Project.at(root)
        self.manager = ConfigManager(self.project)
        self.config = self.manager.load_case("demo")
        self.sources = self.manager.data_sources(self.config)
        self.registry = PluginRegistry(
            [self.project.root / "modules"], project_root=root, entry_points=()
        )

    def plan(self) -> Plan:
        return build_plan(self.config, self.sources, self.registry)

    def hub(self) -> DataCatalog:
        return DataCatalog(self.sources, project_root=self.project.root)


def plan_of(tmp_path: Path, pipeline: str, sources: str = BASE_SOURCES) -> Plan:
    return Case(tmp_path, pipeline, sources).plan()


def pipeline_error(tmp_path: Path, pipeline: str, sources: str = BASE_SOURCES) -> str:
    with pytest.raises(PipelineError) as info:
        plan_of(tmp_path, pipeline, sources)
    return str(info.value)


def write_raw(root: Path) -> pd.DataFrame:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    path = root / "data" / "raw" / "raw.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)
    return frame


# -- valid plans -----------------------------------------------------------------------------


def test_plan_of_a_simple_pipeline(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """\
        pipeline:
          - plugin: Load
          - plugin: Scale
            params: {factor: 3}
        """,
    )
    assert plan.case == "demo"
    assert [s.name for s in plan.steps] == ["Load", "Scale"]
    load, scale = plan.steps
    assert isinstance(load, Step)
    assert load.plugin.__name__ == "Load"
    assert load.reads == {"raw": "raw"}
    assert load.writes == {"table": "table"}
    assert scale.params == {"factor": 3.0}
    assert type(scale.params["factor"]) is float
    assert plan.producers == {"table": load, "scaled": scale}
    assert scale.where.endswith("(pipeline[1])")
    assert scale.where.startswith("cases/demo/case.yaml:")


def test_ports_are_mapped_to_sources(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """\
        pipeline:
          - plugin: Scale
            name: scale_raw
            inputs: {table: raw}
            outputs: {scaled: extra}
        """,
    )
    [step] = plan.steps
    assert step.name == "scale_raw"
    assert step.reads == {"table": "raw"}
    assert step.writes == {"scaled": "extra"}
    assert plan.external_inputs == ["raw"]


def test_plan_runs_through_views_in_order(tmp_path: Path) -> None:
    case = Case(
        tmp_path,
        """\
        pipeline:
          - plugin: Scale
            params: {factor: 10}
          - plugin: Load
        """,
    )
    raw = write_raw(tmp_path)
    plan = case.plan()
    hub = case.hub()
    plan.check_inputs(hub, steps=plan.steps, project_hint="python run.py")
    for step in plan.steps:
        plugin = step.plugin(params=step.params, step=step.name)
        plugin.run(hub.hub(step.name, reads=step.reads, writes=step.writes))
    pd.testing.assert_frame_equal(hub["scaled"], raw * 10.0)
    assert (tmp_path / "cases" / "demo" / "data" / "scaled.parquet").is_file()


def test_ordering_follows_data_flow_when_list_order_is_wrong(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """\
        pipeline:
          - plugin: Join
            inputs: {left: scaled, right: table}
          - plugin: Scale
          - plugin: Source
          - plugin: Load
        """,
    )
    names = [s.name for s in plan.steps]
    assert names.index("Load") < names.index("Scale") < names.index("Join")
    # steps that are free keep their list position relative to each other
    assert names == ["Source", "Load", "Scale", "Join"]
    assert [s.index for s in plan.steps] == [2, 3, 1, 0]


def test_list_order_kept_when_data_flow_allows(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """\
        pipeline:
          - plugin: Source
          - plugin: Load
          - plugin: Scale
            name: s1
            inputs: {table: made}
            outputs: {scaled: extra}
          - plugin: Scale
            name: s2
        """,
    )
    assert [s.name for s in plan.steps] == ["Source", "Load", "s1", "s2"]


def test_external_inputs(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """\
        pipeline:
          - plugin: Load
          - plugin: Join
            inputs: {left: table, right: extra}
          - plugin: Scale
            name: again
            inputs: {table: raw}
            outputs: {scaled: scaled}
        """,
    )
    assert plan.external_inputs == ["raw", "extra"]


def test_plan_without_steps_has_no_external_inputs() -> None:
    plan = Plan(case="demo", steps=[])
    assert plan.external_inputs == []
    with pytest.raises(UnknownNameError, match="case 'demo' has no step or plugin 'x'"):
        plan.step("x")


# -- invalid pipelines -------------------------------------------------------------------------


def test_unknown_plugin_with_suggestion(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError) as info:
        plan_of(tmp_path, "pipeline:\n  - plugin: Load\n  - plugin: Scal\n")
    message = str(info.value)
    assert "(pipeline[1])" in message
    assert "unknown plugin 'Scal'" in message
    assert "did you mean 'Scale'?" in message
    assert message.startswith("cases/demo/case.yaml:")


def test_duplicate_step_names(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        """\
        pipeline:
          - plugin: Load
          - plugin: Scale
            name: Load
            outputs: {scaled: extra}
        """,
    )
    assert "(pipeline[1])" in message
    assert "step name 'Load' is used twice (also pipeline[0])" in message


def test_same_plugin_twice_without_names(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        """\
        pipeline:
          - plugin: Scale
          - plugin: Scale
            outputs: {scaled: extra}
        """,
    )
    assert "step name 'Scale' is used twice" in message


def test_unknown_port_mapping(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        """\
        pipeline:
          - plugin: Scale
            inputs: {tabel: raw}
        """,
    )
    assert "plugin Scale has no input 'tabel'" in message
    assert "did you mean 'table'?" in message
    assert "(its inputs: table)" in message


def test_unknown_output_port_mapping(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        "pipeline:\n  - plugin: Source\n    outputs: {zzz: extra}\n",
    )
    assert "plugin Source has no output 'zzz'" in message
    assert "(its outputs: made)" in message


def test_plugin_without_inputs_says_none(tmp_path: Path) -> None:
    message = pipeline_error(tmp_path, "pipeline:\n  - plugin: Source\n    inputs: {x: raw}\n")
    assert "(its inputs: none)" in message


def test_undeclared_source(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        "pipeline:\n  - plugin: Load\n",
        sources="data_sources:\n  raw: {path: data/raw/raw.parquet}\n",
    )
    assert "Load output 'table' is not declared under data_sources" in message


def test_undeclared_mapped_source_with_suggestion(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        """\
        pipeline:
          - plugin: Scale
            inputs: {table: scaledd}
        """,
    )
    assert "Scale input 'scaledd' (mapped from input 'table') is not declared" in message
    assert "did you mean 'scaled'?" in message


def test_two_writers(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        """\
        pipeline:
          - plugin: Load
          - plugin: Source
            outputs: {made: table}
        """,
    )
    assert "data source 'table' is written by two steps, 'Load' and 'Source'" in message
    assert "(pipeline[1])" in message


def test_read_only_source_written(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        "pipeline:\n  - plugin: Source\n    outputs: {made: raw}\n",
    )
    assert "step 'Source' writes data source 'raw', which is read_only" in message


def test_reading_and_writing_one_source(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        "pipeline:\n  - plugin: Scale\n    outputs: {scaled: table}\n",
    )
    assert "step 'Scale' reads and writes data source 'table'" in message


def test_cycle_is_detected_and_names_the_steps(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        """\
        pipeline:
          - plugin: Scale
            name: forward
            inputs: {table: table}
            outputs: {scaled: extra}
          - plugin: Scale
            name: backward
            inputs: {table: extra}
            outputs: {scaled: table}
        """,
    )
    assert "cycle" in message
    assert "forward" in message and "backward" in message
    assert "forward -> backward" in message or "backward -> forward" in message


def test_longer_cycle_names_every_step(tmp_path: Path) -> None:
    message = pipeline_error(
        tmp_path,
        """\
        pipeline:
          - plugin: Scale
            name: one
            inputs: {table: table}
            outputs: {scaled: scaled}
          - plugin: Scale
            name: two
            inputs: {table: scaled}
            outputs: {scaled: extra}
          - plugin: Scale
            name: three
            inputs: {table: extra}
            outputs: {scaled: table}
        """,
    )
    for name in ("one", "two", "three"):
        assert name in message


def test_bad_params_are_found_before_running(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        plan_of(tmp_path, "pipeline:\n  - plugin: Scale\n    params: {factr: 2}\n")
    assert "unknown param 'factr'" in str(info.value)
    assert "did you mean 'factor'?" in str(info.value)
    with pytest.raises(ConfigError, match="param 'factor' must be float"):
        plan_of(tmp_path / "b", "pipeline:\n  - plugin: Scale\n    params: {factor: x}\n")


# -- check_inputs ------------------------------------------------------------------------------


def test_check_inputs_names_producer_step_and_command(tmp_path: Path) -> None:
    case = Case(tmp_path, "pipeline:\n  - plugin: Load\n  - plugin: Scale\n")
    plan = case.plan()
    with pytest.raises(MissingInputError) as info:
        plan.check_inputs(case.hub(), steps=[plan.step("Scale")], project_hint="python run.py")
    message = str(info.value)
    assert "step 'Scale' needs input 'table' (data source 'table')" in message
    assert "no file at cases/demo/data/table.parquet" in message
    assert "it is written by step 'Load'" in message
    assert "'python run.py plugin Load --case demo'" in message
    assert "'python run.py pipeline --case demo'" in message


def test_check_inputs_for_input_that_no_step_writes(tmp_path: Path) -> None:
    case = Case(tmp_path, "pipeline:\n  - plugin: Load\n  - plugin: Scale\n")
    plan = case.plan()
    with pytest.raises(MissingInputError) as info:
        plan.check_inputs(case.hub(), steps=plan.steps, project_hint="datareplay")
    message = str(info.value)
    assert "step 'Load' needs input 'raw' (data source 'raw')" in message
    assert "no file at data/raw/raw.parquet" in message
    assert "no step writes it" in message


def test_check_inputs_memory_source(tmp_path: Path) -> None:
    case = Case(
        tmp_path,
        "pipeline:\n  - plugin: Scale\n    inputs: {table: mem}\n",
        sources=BASE_SOURCES + "  mem: {format: memory}\n",
    )
    plan = case.plan()
    with pytest.raises(MissingInputError, match="format memory is never persisted"):
        plan.check_inputs(case.hub(), steps=plan.steps, project_hint="datareplay")


def test_check_inputs_passes_when_data_exists_or_is_produced(tmp_path: Path) -> None:
    case = Case(tmp_path, "pipeline:\n  - plugin: Load\n  - plugin: Scale\n")
    plan = case.plan()
    write_raw(tmp_path)
    hub = case.hub()
    plan.check_inputs(hub, steps=plan.steps, project_hint="datareplay")
    hub["table"] = pd.DataFrame({"a": [1.0]})
    plan.check_inputs(hub, steps=[plan.step("Scale")], project_hint="datareplay")


# -- Plan.step ---------------------------------------------------------------------------------


def test_plan_step_lookup(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """\
        pipeline:
          - plugin: Load
          - plugin: Scale
            name: first
            outputs: {scaled: extra}
          - plugin: Scale
            name: second
            inputs: {table: extra}
        """,
    )
    assert plan.step("Load").name == "Load"
    assert plan.step("first").writes == {"scaled": "extra"}
    assert plan.step("second").reads == {"table": "extra"}
    with pytest.raises(PipelineError) as info:
        plan.step("Scale")
    assert "plugin 'Scale' runs in several steps of case 'demo' (first, second)" in str(info.value)
    with pytest.raises(UnknownNameError, match="did you mean 'first'"):
        plan.step("frist")
    with pytest.raises(UnknownNameError, match=r"\(steps: Load, first, second\)"):
        plan.step("zzz")


def test_plan_step_by_unique_plugin_name(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "pipeline:\n  - plugin: Scale\n    name: only\n")
    assert plan.step("Scale").name == "only"
    assert plan.step("only") is plan.step("Scale")
