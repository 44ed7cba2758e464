"""The Python API (datareplay.api): the CLI's work for notebooks and scripts, as objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datareplay.api import load_config, open_hub, run_pipeline, run_plugin
from datareplay.data.catalog import DataCatalog, Status
from datareplay.errors import (
    ConfigError,
    DataReplayError,
    MissingInputError,
    UnknownNameError,
    UsageError,
)
from datareplay.run.runner import RunResult

DEMO_STEPS = [
    "InitialDataReader",
    "SignalAligner",
    "SignalCleaner",
    "FeatureDeriver",
    "EventDetector",
    "ReportWriter",
]
MIN_STOP = "pipeline.EventDetector.params.min_stop_s"
RATE = "pipeline.SignalAligner.params.rate_hz"


def step_index(project: Path, plugin: str) -> int:
    """Where ``plugin`` is in the demo case's pipeline (the case may grow more steps)."""
    config = load_config("demo", project=project)
    (index,) = [i for i, step in enumerate(config.settings.pipeline) if step.plugin == plugin]
    return index


def event_kinds(result: RunResult) -> set[str]:
    return set(result.hub["events"]["kind"])


def report_value(result: RunResult, metric: str) -> float:
    report = result.hub["report"]
    return float(report.loc[report["metric"] == metric, "value"].iloc[0])


def test_run_pipeline_returns_the_run(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_pipeline("demo", project=project)
    assert isinstance(result, RunResult)
    assert result.case == "demo" and result.run_id
    pipeline = load_config("demo", project=project).settings.pipeline
    assert [step.plugin for step in result.steps] == [step.plugin for step in pipeline]
    assert [step.name for step in result.steps] == [step.name or step.plugin for step in pipeline]
    demo_steps = [step.plugin for step in result.steps if step.plugin in DEMO_STEPS]
    assert demo_steps == DEMO_STEPS  # the six demo steps, in order
    assert result.seconds >= 0
    report = result.hub["report"]
    assert isinstance(report, pd.DataFrame)
    assert list(report.columns) == ["metric", "value", "unit"]
    assert "stop" in event_kinds(result)
    assert (project / "cases" / "demo" / "data" / "report.json").is_file()
    assert capsys.readouterr().out == ""  # the API prints nothing


def test_project_accepts_str_and_path(project: Path) -> None:
    by_str = load_config("demo", project=str(project))
    by_path = load_config("demo", project=project)
    assert by_str.settings == by_path.settings


def test_default_project_is_found_from_the_current_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "cases" / "demo")
    config = load_config("demo")
    assert config.settings.pipeline[0].plugin == "InitialDataReader"


@pytest.mark.parametrize(
    "overrides",
    [{MIN_STOP: 100000}, [f"{MIN_STOP}=100000"], (f"{MIN_STOP}=100000",)],
    ids=["mapping", "list", "tuple"],
)
def test_overrides_change_the_result(project: Path, overrides: object) -> None:
    result = run_pipeline("demo", project=project, overrides=overrides)  # type: ignore[arg-type]
    assert "stop" not in event_kinds(result)
    assert report_value(result, "events_stop") == 0
    assert "stop" not in set(
        pd.read_csv(project / "cases" / "demo" / "data" / "events.csv")["kind"]
    )
    again = run_pipeline("demo", project=project)  # without: stops are back
    assert "stop" in event_kinds(again)


def test_mapping_overrides_keep_the_value_types(project: Path) -> None:
    config = load_config(
        "demo",
        project=project,
        overrides={RATE: 10.0, "+vars.label": "night run", "+vars.flags": [1, "a", True]},
    )
    assert config.settings.vars == {"label": "night run", "flags": [1, "a", True]}
    aligner = step_index(project, "SignalAligner")
    assert config.merged.data["pipeline"][aligner]["params"]["rate_hz"] == 10.0
    # a string that looks like a number stays a string when given in a mapping
    quoted = load_config("demo", project=project, overrides={"+vars.code": "007"})
    assert quoted.settings.vars == {"code": "007"}


def test_load_config_tells_where_every_value_came_from(project: Path) -> None:
    aligner, detector = step_index(project, "SignalAligner"), step_index(project, "EventDetector")
    config = load_config("demo", project=project, overrides=[f"{RATE}=10"])
    assert config.files == ["config/global.yaml", "cases/demo/case.yaml"]
    assert config.merged.origin(("pipeline", aligner, "params", "rate_hz")) == f"--set {RATE}"
    brake = config.merged.origin(("pipeline", detector, "params", "hard_brake_mps2"))
    assert brake.startswith("cases/demo/case.yaml:")
    line = int(brake.rsplit(":", 1)[1])
    case_lines = (project / "cases" / "demo" / "case.yaml").read_text().splitlines()
    assert "hard_brake_mps2: 4.0" in case_lines[line - 1]
    fmt = config.merged.origin(("data", "default_format"))
    assert fmt.startswith("config/global.yaml:")
    assert config.overrides == [(f"pipeline[{aligner}].params.rate_hz", 10, f"--set {RATE}")]


def test_params_files_are_a_layer(project: Path, tmp_path: Path) -> None:
    params = tmp_path / "night.yaml"
    params.write_text(f"{MIN_STOP}: 100000\n", encoding="utf-8")
    detector = step_index(project, "EventDetector")
    config = load_config("demo", project=project, params_files=[params])
    assert config.merged.data["pipeline"][detector]["params"]["min_stop_s"] == 100000
    assert "night.yaml" in config.merged.origin(("pipeline", detector, "params", "min_stop_s"))
    result = run_pipeline("demo", project=project, params_files=[str(params)])
    assert "stop" not in event_kinds(result)


def test_env_is_a_layer(project: Path) -> None:
    (project / "config" / "env").mkdir()
    (project / "config" / "env" / "keep.yaml").write_text("run:\n  release_memory: false\n")
    config = load_config("demo", project=project, env="keep")
    assert config.settings.run.release_memory is False
    assert config.files == ["config/global.yaml", "config/env/keep.yaml", "cases/demo/case.yaml"]
    assert config.merged.origin(("run", "release_memory")) == "config/env/keep.yaml:2"
    result = run_pipeline("demo", project=project, env="keep")
    assert all(result.hub.in_memory(name) for name in ("aligned", "features", "report"))
    with pytest.raises(UnknownNameError, match=r"unknown environment 'nope'.*keep"):
        load_config("demo", project=project, env="nope")


def test_open_hub_reads_persisted_data_lazily(project: Path) -> None:
    ran = run_pipeline("demo", project=project)
    expected = ran.hub["features"] if ran.hub.in_memory("features") else None

    hub = open_hub("demo", project=project)
    assert isinstance(hub, DataCatalog)
    persisted = [name for name, source in hub.sources.items() if source.persisted]
    assert "features" in persisted
    assert all(hub.status(name) is Status.NOT_LOADED for name in persisted)
    assert not hub.in_memory("features")
    features = hub["features"]
    assert isinstance(features, pd.DataFrame)
    assert hub.status("features") is Status.IN_MEMORY
    assert hub.status("events") is Status.NOT_LOADED  # only what was asked for is loaded
    again = hub["features"]  # cached: the same buffers, no second read
    assert np.shares_memory(again["t_s"].to_numpy(), features["t_s"].to_numpy())
    on_disk = pd.read_parquet(project / "cases" / "demo" / "data" / "features.parquet")
    pd.testing.assert_frame_equal(features, on_disk)
    if expected is not None:
        pd.testing.assert_frame_equal(features, expected)


def test_open_hub_before_any_run_shows_missing_outputs(project: Path) -> None:
    hub = open_hub("demo", project=project)
    assert hub.status("features") is Status.MISSING
    assert hub.status("wheel_speed_raw") is Status.NOT_LOADED
    assert "features" not in hub


def test_run_plugin_runs_one_step_from_persisted_inputs(project: Path) -> None:
    run_pipeline("demo", project=project)
    report = project / "cases" / "demo" / "data" / "report.json"
    report.unlink()
    result = run_plugin("demo", "ReportWriter", project=project)
    assert [step.name for step in result.steps] == ["ReportWriter"]
    assert report.is_file()
    assert isinstance(result.hub["report"], pd.DataFrame)
    assert result.hub.status("features") is not Status.MISSING


def test_run_plugin_with_overrides(project: Path) -> None:
    run_pipeline("demo", project=project)
    result = run_plugin("demo", "EventDetector", project=project, overrides={MIN_STOP: 100000})
    assert [step.plugin for step in result.steps] == ["EventDetector"]
    assert "stop" not in event_kinds(result)


def test_run_plugin_without_its_input_names_the_producer(project: Path) -> None:
    with pytest.raises(MissingInputError, match=r"written by step 'SignalAligner'"):
        run_plugin("demo", "SignalCleaner", project=project)


def test_unknown_case_is_an_unknown_name_error(project: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown case 'dem'.*did you mean 'demo'\?"):
        run_pipeline("dem", project=project)
    with pytest.raises(UnknownNameError, match=r"unknown case 'nope'"):
        load_config("nope", project=project)
    with pytest.raises(UnknownNameError, match=r"unknown case 'nope'"):
        open_hub("nope", project=project)
    assert not (project / "cases" / "dem").exists()


def test_unknown_step_is_an_unknown_name_error(project: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"SignalAlignr"):
        run_plugin("demo", "SignalAlignr", project=project)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"pipeline.EventDetector.params.no_such": 1}, r"unknown param 'no_such'"),
        (["data.no_such=1"], r"no key 'no_such' in data"),
        (["nonsense"], r"expects key\.path=value"),
        ({"pipeline.EventDetector.params.hard_brake_mps2": "fast"}, r"must be float"),
    ],
    ids=["unknown-param", "unknown-key", "no-equals", "wrong-type"],
)
def test_bad_overrides_are_config_errors(project: Path, overrides: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        run_pipeline("demo", project=project, overrides=overrides)  # type: ignore[arg-type]
    assert not (project / "cases" / "demo" / "data").exists()  # nothing ran


def test_not_a_project_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"is not a Data Replay project"):
        run_pipeline("demo", project=tmp_path)


def test_errors_are_data_replay_errors_with_exit_codes(project: Path) -> None:
    with pytest.raises(DataReplayError) as info:
        load_config("demo", project=project, overrides=["data.no_such=1"])
    assert info.value.exit_code == 2
