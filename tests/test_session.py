"""Unit tests of datareplay.session: opening, validating, running and creating cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from datareplay.errors import (
    ConfigError,
    MissingInputError,
    StepFailed,
    UnknownNameError,
)
from datareplay.project.locking import CaseLock
from datareplay.project.paths import Project
from datareplay.run.runner import RunResult
from datareplay.session import NO_OPTIONS, CaseOptions, OpenCase, Session

DEMO_STEPS = [
    "InitialDataReader",
    "SignalAligner",
    "signal_quality",
    "SignalCleaner",
    "DataProfiler",
    "FeatureDeriver",
    "EventDetector",
    "ReportWriter",
]


@pytest.fixture
def session(project: Path) -> Session:
    return Session(Project.at(project))


# -- opening and validating -----------------------------------------------------------------


def test_open_case_returns_config_hub_and_plan(session: Session, project: Path) -> None:
    opened = session.open_case("demo")
    assert isinstance(opened, OpenCase)
    assert opened.config.name == "demo"
    assert opened.config.folder == project.resolve() / "cases" / "demo"
    assert len(opened.plan.steps) == 8
    assert [s.name for s in opened.plan.steps] == DEMO_STEPS
    assert opened.plan.case == "demo"
    assert opened.hub.producers["report"] == "ReportWriter"
    assert opened.hub.producers["clean"] == "SignalCleaner"
    assert opened.hub.producers == {s: step.name for s, step in opened.plan.producers.items()}
    assert "gps_raw" not in opened.hub.producers  # raw inputs have no producer
    assert opened.hub.quality_path == (
        project.resolve() / "cases" / "demo" / "data" / "quality_results.parquet"
    )
    assert set(opened.plan.external_inputs) == {"wheel_speed_raw", "imu_raw", "gps_raw"}


def test_open_case_runs_nothing(session: Session, project: Path) -> None:
    session.open_case("demo")
    assert not (project / "cases" / "demo" / "data").exists()


def test_open_unknown_case(session: Session) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown case 'dmeo'.*did you mean 'demo'"):
        session.open_case("dmeo")


def test_validate_passes_with_raw_data(session: Session) -> None:
    opened = session.validate("demo")
    assert [s.name for s in opened.plan.steps] == DEMO_STEPS


def test_validate_names_missing_raw_input_and_generate_data(
    session: Session, project: Path
) -> None:
    (project / "data" / "raw" / "drive" / "gps.parquet").unlink()
    with pytest.raises(
        MissingInputError,
        match=r"^raw input 'gps_raw' has no data \(no file at data/raw/drive/gps\.parquet\); "
        r"run 'datareplay generate-data'$",
    ):
        session.validate("demo")


def test_validate_uses_the_command_hint_and_knows_when_there_is_no_generator(
    project: Path,
) -> None:
    (project / "data" / "raw" / "drive" / "gps.parquet").unlink()
    session = Session(Project.at(project), command_hint="python run.py")
    with pytest.raises(MissingInputError, match=r"run 'python run\.py generate-data'"):
        session.validate("demo")
    (project / "scripts" / "generation.py").unlink()
    with pytest.raises(MissingInputError, match=r"put the file there or fix its path"):
        session.validate("demo")


# -- running --------------------------------------------------------------------------------


def test_run_pipeline_returns_a_run_result_with_the_report(session: Session, project: Path) -> None:
    result = session.run_pipeline("demo")
    assert isinstance(result, RunResult)
    assert result.case == "demo"
    assert [s.name for s in result.steps] == DEMO_STEPS
    report = result.hub["report"]
    assert len(report) > 0
    assert (project / "cases" / "demo" / "data" / "report.json").is_file()
    # the lock was taken and given back
    with CaseLock(project / "cases" / "demo", case="demo"):
        pass


def test_run_plugin_runs_one_step(session: Session, project: Path) -> None:
    session.run_pipeline("demo")
    report = project / "cases" / "demo" / "data" / "report.json"
    report.unlink()
    result = session.run_plugin("demo", "ReportWriter")
    assert [(s.name, s.plugin) for s in result.steps] == [("ReportWriter", "ReportWriter")]
    assert report.is_file()
    assert list(result.steps[0].outputs) == ["report"]


def test_run_plugin_without_its_inputs_names_the_producer(session: Session) -> None:
    with pytest.raises(
        MissingInputError, match=r"step 'ReportWriter' needs input .*written by step"
    ):
        session.run_plugin("demo", "ReportWriter")


def test_run_plugin_unknown_step(session: Session) -> None:
    with pytest.raises(UnknownNameError, match="case 'demo' has no step or plugin 'Nope'"):
        session.run_plugin("demo", "Nope")


def test_run_refuses_while_the_case_is_locked(session: Session, project: Path) -> None:
    from datareplay.errors import CaseLockedError

    with (
        CaseLock(project / "cases" / "demo", case="demo"),
        pytest.raises(CaseLockedError, match="--wait"),
    ):
        session.run_plugin("demo", "InitialDataReader")


# -- options --------------------------------------------------------------------------------


def test_overrides_reach_the_plan(session: Session) -> None:
    default = session.open_case("demo").plan.step("SignalAligner").params["rate_hz"]
    assert default == 20.0
    options = CaseOptions(overrides=("pipeline.SignalAligner.params.rate_hz=10",))
    opened = session.open_case("demo", options)
    assert opened.plan.step("SignalAligner").params["rate_hz"] == 10.0
    assert opened.config.overrides == [
        (
            "pipeline[1].params.rate_hz",
            10,
            "--set pipeline.SignalAligner.params.rate_hz",
        )
    ]


def test_params_file_and_env_options_reach_the_plan(
    session: Session, project: Path, tmp_path: Path
) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("pipeline.EventDetector.params.hard_brake_mps2: 5.5\n", encoding="utf-8")
    (project / "config" / "env").mkdir()
    (project / "config" / "env" / "keep.yaml").write_text(
        "run:\n  release_memory: false\n", encoding="utf-8"
    )
    opened = session.open_case("demo", CaseOptions(env="keep", params_files=(params,)))
    assert opened.plan.step("EventDetector").params["hard_brake_mps2"] == 5.5
    assert opened.config.settings.run.release_memory is False


def test_bad_override_is_a_config_error(session: Session) -> None:
    with pytest.raises(ConfigError):
        session.open_case(
            "demo", CaseOptions(overrides=("pipeline.SignalAligner.params.rate_hz=fast",))
        )


def test_no_options_is_the_default() -> None:
    assert CaseOptions() == NO_OPTIONS
    assert (NO_OPTIONS.env, NO_OPTIONS.params_files, NO_OPTIONS.overrides) == (None, (), ())


# -- creating cases -------------------------------------------------------------------------


def test_create_case_from_a_template(session: Session, project: Path) -> None:
    assert session.create_case("night", "demo") is True
    target = project / "cases" / "night" / "case.yaml"
    assert target.read_bytes() == (project / "templates" / "demo_case.yaml").read_bytes()
    assert session.create_case("night", "demo") is False
    assert session.open_case("night").config.name == "night"


def test_create_case_validates_the_template_first(session: Session, project: Path) -> None:
    broken = project / "templates" / "broken_case.yaml"
    broken.write_text(
        "data_sources:\n  out: {format: json}\npipeline:\n  - plugin: NoSuchPlugin\n",
        encoding="utf-8",
    )
    with pytest.raises(UnknownNameError, match="NoSuchPlugin"):
        session.create_case("night", "broken")
    assert not (project / "cases" / "night").exists()
    assert session.project.case_names() == ["demo"]


def test_create_case_unknown_template(session: Session, project: Path) -> None:
    with pytest.raises(UnknownNameError, match="unknown template 'dmeo'"):
        session.create_case("night", "dmeo")
    assert not (project / "cases" / "night").exists()


# -- raw data -------------------------------------------------------------------------------


def test_ensure_raw_data_generates_missing_files(bare_project: Path) -> None:
    session = Session(Project.at(bare_project))
    opened = session.open_case("demo")
    raw = bare_project / "data" / "raw" / "drive"
    assert not raw.exists()
    written = session.ensure_raw_data(opened)
    assert {p.name for p in written} >= {"wheel_speed.parquet", "imu.parquet", "gps.parquet"}
    assert all(p.is_file() for p in written)
    for name in ("wheel_speed", "imu", "gps"):
        assert (raw / f"{name}.parquet").is_file()
        assert raw / f"{name}.parquet" in [p.resolve() for p in written]
    # now nothing is missing: nothing more is written
    assert session.ensure_raw_data(session.open_case("demo")) == []
    session.validate("demo")


def test_ensure_raw_data_without_a_generator_does_nothing(bare_project: Path) -> None:
    (bare_project / "scripts" / "generation.py").unlink()
    session = Session(Project.at(bare_project))
    assert session.ensure_raw_data(session.open_case("demo")) == []
    assert not (bare_project / "data" / "raw").exists()


def test_ensure_raw_data_with_everything_present(session: Session) -> None:
    assert session.ensure_raw_data(session.open_case("demo")) == []


# -- plugin registry ------------------------------------------------------------------------


def test_registry_reads_plugin_paths_from_global_config(session: Session, project: Path) -> None:
    registry = session.registry(None)
    assert registry.folders == [(project / "modules").resolve()]
    assert "SignalAligner" in registry.names()
    assert session.registry(["modules"]) is registry  # cached per folder list


def test_registry_follows_a_changed_global_config(session: Session, project: Path) -> None:
    (project / "plugins2").mkdir()
    global_file = project / "config" / "global.yaml"
    global_file.write_text(
        global_file.read_text(encoding="utf-8").replace("paths: [modules]", "paths: [plugins2]"),
        encoding="utf-8",
    )
    registry = session.registry(None)
    assert registry.folders == [(project / "plugins2").resolve()]


def test_run_wraps_plugin_failures(session: Session, project: Path) -> None:
    options = CaseOptions(overrides=("data_sources.gps_raw.path=data/raw/drive/imu.parquet",))
    with pytest.raises(StepFailed, match=r"step 1 'InitialDataReader' of case 'demo'"):
        session.run_pipeline("demo", options)
