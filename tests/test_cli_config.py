"""End-to-end: overriding configuration from the command line and tracing it afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from conftest import tree_hash

HARD_BRAKE = "pipeline.EventDetector.params.hard_brake_mps2"


def events(project: Path) -> pd.DataFrame:
    return pd.read_csv(project / "cases" / "demo" / "data" / "events.csv")


def test_set_changes_the_output_and_is_logged(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    assert (events(project)["kind"] == "stop").sum() > 0
    min_stop = "pipeline.EventDetector.params.min_stop_s"
    result = cli(project, "pipeline", "--case", "demo", "--set", f"{min_stop}=100000")
    assert result.code == 0, result.err
    assert (events(project)["kind"] == "stop").sum() == 0
    assert f"override pipeline[6].params.min_stop_s = 100000 (--set {min_stop})" in result.err
    # the case file itself is untouched
    assert "hard_brake_mps2: 4.0" in (project / "cases" / "demo" / "case.yaml").read_text()


def test_set_by_index_is_the_same_as_by_step_name(project: Path, cli) -> None:
    by_name = cli(project, "config", "--case", "demo", "--json", "--set", f"{HARD_BRAKE}=2.5")
    by_index = cli(
        project,
        "config",
        "--case",
        "demo",
        "--json",
        "--set",
        "pipeline.6.params.hard_brake_mps2=2.5",
    )
    assert json.loads(by_name.out)["config"] == json.loads(by_index.out)["config"]


def test_config_prints_yaml_with_the_origin_of_every_value(project: Path, cli) -> None:
    result = cli(project, "config", "--case", "demo", "--set", f"{HARD_BRAKE}=3.5")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("# merged config of case 'demo' from: config/global.yaml")
    assert any(line.strip() == f"hard_brake_mps2: 3.5  # --set {HARD_BRAKE}" for line in lines), (
        result.out
    )
    assert any(
        line.strip().startswith("raw_root: data/raw  # config/global.yaml:") for line in lines
    )
    assert any(line.strip().startswith("rate_hz: 20.0  # cases/demo/case.yaml:") for line in lines)
    assert "vars: {}  # built-in default" in result.out
    loaded = yaml.safe_load(result.out)
    assert loaded["pipeline"][6]["params"]["hard_brake_mps2"] == 3.5


def test_config_json_is_for_tools(project: Path, cli) -> None:
    result = cli(project, "config", "--case", "demo", "--json", "--set", f"{HARD_BRAKE}=3.5")
    document = json.loads(result.out)
    assert set(document) == {"config", "origins"}
    assert document["config"]["pipeline"][6]["params"]["hard_brake_mps2"] == 3.5
    assert document["origins"]["pipeline[6].params.hard_brake_mps2"] == f"--set {HARD_BRAKE}"
    assert document["origins"]["data.raw_root"].startswith("config/global.yaml:")


def test_env_and_params_layers(project: Path, cli) -> None:
    (project / "config" / "env").mkdir()
    (project / "config" / "env" / "fast.yaml").write_text("data:\n  default_format: feather\n")
    params = project / "tuning.yaml"
    params.write_text(
        "pipeline.SignalAligner.params.rate_hz: 10.0\n"
        "pipeline.EventDetector.params.hard_brake_mps2: 3.0\n"
    )
    result = cli(
        project,
        "config",
        "--case",
        "demo",
        "--json",
        "--env",
        "fast",
        "--params",
        str(params),
        "--set",
        f"{HARD_BRAKE}=2.0",
    )
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["config"]["data"]["default_format"] == "feather"
    assert document["origins"]["data.default_format"] == "config/env/fast.yaml:2"
    assert document["config"]["pipeline"][1]["params"]["rate_hz"] == 10.0
    assert document["origins"]["pipeline[1].params.rate_hz"] == "tuning.yaml:1"
    # --set is the highest layer
    assert document["config"]["pipeline"][6]["params"]["hard_brake_mps2"] == 2.0


def test_validate_checks_everything_and_runs_nothing(project: Path, cli) -> None:
    before = tree_hash(project)
    result = cli(project, "validate", "--case", "demo")
    assert result.code == 0, result.err
    assert "case 'demo' is valid: 8 steps, 12 data sources" in result.out
    assert tree_hash(project) == before
    assert not (project / "cases" / "demo" / "data").exists()


def test_validate_reports_every_param_problem_at_once(project: Path, cli) -> None:
    result = cli(
        project,
        "validate",
        "--case",
        "demo",
        "--set",
        "pipeline.SignalAligner.params.rate_hz=fast",
        "--set",
        "pipeline.EventDetector.params.hard_brake=3",
    )
    assert result.code == 2
    errors = result.err.splitlines()
    assert len(errors) == 2, result.err
    assert "param 'rate_hz' must be float, got str 'fast'" in errors[0]
    assert "--set pipeline.SignalAligner.params.rate_hz" in errors[0]
    assert (
        "unknown param 'hard_brake' for plugin EventDetector; did you mean 'hard_brake_mps2'?"
        in errors[1]
    )


def test_validate_reports_missing_raw_input(bare_project: Path, cli) -> None:
    result = cli(bare_project, "validate", "--case", "demo")
    assert result.code == 2
    assert "raw input 'wheel_speed_raw' has no data" in result.err
    assert "generate-data" in result.err


def test_unknown_key_in_set_suggests_and_plus_adds(project: Path, cli) -> None:
    result = cli(project, "validate", "--case", "demo", "--set", "pipline.x=1")
    assert result.code == 2
    assert "no key 'pipline' in the top level; did you mean 'pipeline'?" in result.err
    added = cli(
        project,
        "config",
        "--case",
        "demo",
        "--json",
        "--set",
        "+vars.label=night-drive",
        "--set",
        "description=${vars.label} of ${case.name}",
    )
    assert added.code == 0, added.err
    assert json.loads(added.out)["config"]["description"] == "night-drive of demo"


def test_set_on_a_plugin_run(project: Path, cli) -> None:
    assert cli(project, "plugin", "InitialDataReader", "--case", "demo").code == 0
    result = cli(
        project,
        "plugin",
        "SignalAligner",
        "--case",
        "demo",
        "--set",
        "pipeline.SignalAligner.params.rate_hz=5",
    )
    assert result.code == 0, result.err
    aligned = pd.read_parquet(project / "cases" / "demo" / "data" / "aligned.parquet")
    assert aligned["t_s"].diff().dropna().round(6).unique().tolist() == [0.2]
