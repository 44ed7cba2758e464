"""The commands that read run records: ``runs``, ``show``, ``diff`` and ``lineage``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_subprocess
from datareplay.data.storage import hash_file

SET_BRAKE = "pipeline.EventDetector.params.hard_brake_mps2=3.5"


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


@pytest.fixture
def three_runs(project: Path, cli) -> list[str]:
    """Three runs of two cases, oldest first: pipeline demo, plugin demo, pipeline other."""
    assert cli(project, "pipeline", "--case", "demo").code == 0
    assert cli(project, "plugin", "SignalCleaner", "--case", "demo").code == 0
    assert cli(project, "pipeline", "--case", "other", "--template", "demo").code == 0
    runs = json.loads(cli(project, "runs", "--json").out)
    return [r["run_id"] for r in reversed(runs)]


def test_runs_lists_newest_first_and_filters(project: Path, cli, three_runs) -> None:
    oldest, middle, newest = three_runs
    runs = json.loads(cli(project, "runs", "--json").out)
    assert [r["run_id"] for r in runs] == [newest, middle, oldest]
    assert [(r["case"], r["kind"]) for r in runs] == [
        ("other", "pipeline"),
        ("demo", "plugin"),
        ("demo", "pipeline"),
    ]
    assert runs[0]["started"] > runs[1]["started"] > runs[2]["started"]
    demo = json.loads(cli(project, "runs", "--json", "--case", "demo").out)
    assert [r["run_id"] for r in demo] == [middle, oldest]
    limited = json.loads(cli(project, "runs", "--json", "--limit", "1").out)
    assert [r["run_id"] for r in limited] == [newest]
    assert json.loads(cli(project, "runs", "--json", "--status", "failed").out) == []
    assert len(json.loads(cli(project, "runs", "--json", "--status", "succeeded").out)) == 3
    table = cli(project, "runs")
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split()[:4] == ["run", "case", "kind", "status"]
    body = [line for line in lines[2:] if line.strip()]
    assert [line.split()[0] for line in body] == [newest, middle, oldest]
    assert "8/8" in body[2] and "1/1" in body[1]
    empty = cli(project, "runs", "--case", "nosuchcase")
    assert empty.code == 0 and "no runs recorded yet for case 'nosuchcase'" in empty.out


def test_show_names_runs_by_last_offset_and_prefix(project: Path, cli, three_runs) -> None:
    oldest, middle, newest = three_runs

    def shown(name: str) -> str:
        result = cli(project, "show", name, "--json")
        assert result.code == 0, result.err
        run_id: str = json.loads(result.out)["run_id"]
        return run_id

    assert shown("last") == newest
    assert shown("last~1") == middle
    assert shown("last~2") == oldest
    assert shown(middle) == middle
    assert shown(oldest[:-1]) == oldest
    text = cli(project, "show", "last~2")
    assert text.code == 0
    assert text.out.startswith(f"run {oldest} of case 'demo' (pipeline): succeeded, exit code 0")
    assert "step 7 EventDetector" in text.out


def test_show_refuses_an_unknown_or_ambiguous_run(project: Path, cli, three_runs) -> None:
    oldest, _middle, newest = three_runs
    unknown = cli(project, "show", "nosuchrun")
    assert unknown.code == 2
    lines = _error_lines(unknown.err)
    assert len(lines) == 1, unknown.err
    assert "unknown run 'nosuchrun'" in lines[0]
    assert newest in lines[0]
    common = oldest[:2]  # every id starts with the year
    ambiguous = cli(project, "show", common)
    assert ambiguous.code == 2
    lines = _error_lines(ambiguous.err)
    assert len(lines) == 1, ambiguous.err
    assert f"'{common}' is the start of 3 run ids" in lines[0]
    assert all(run_id in lines[0] for run_id in three_runs)
    too_far = cli(project, "show", "last~3")
    assert too_far.code == 2
    assert len(_error_lines(too_far.err)) == 1


def test_show_before_any_run_is_a_usage_error(project: Path, cli) -> None:
    result = cli(project, "show", "last")
    assert result.code == 2
    lines = _error_lines(result.err)
    assert len(lines) == 1 and "no run recorded yet" in lines[0]


def test_diff_shows_a_set_change_and_the_first_divergence(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    assert cli(project, "pipeline", "--case", "demo", "--set", SET_BRAKE).code == 0
    result = cli(project, "diff", "last~1", "last")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "step EventDetector:" in lines
    (change,) = [line for line in lines if line.startswith("  params.hard_brake_mps2:")]
    # both values with their origins: the case file's line, then the --set
    assert change.startswith("  params.hard_brake_mps2: 4.0 (cases/demo/case.yaml:")
    assert change.endswith(" → 3.5 (--set pipeline.EventDetector.params.hard_brake_mps2)")
    assert lines[-1] == "first step whose outputs diverge: EventDetector"
    # the steps before it are unchanged, and no code changed
    assert "step SignalAligner:" not in lines
    assert not any(line.strip().startswith("code:") for line in lines)
    data = json.loads(cli(project, "diff", "last~1", "last", "--json").out)
    assert data["first_divergence"] == "EventDetector"
    detector = next(s for s in data["steps"] if s["name"] == "EventDetector")
    (param,) = detector["params"]
    assert (param["key"], param["a"], param["b"]) == ("hard_brake_mps2", 4.0, 3.5)
    assert param["a_origin"].startswith("cases/demo/case.yaml:")
    assert param["b_origin"] == "--set pipeline.EventDetector.params.hard_brake_mps2"
    assert detector["code"] is None
    assert [o["source"] for o in detector["outputs"]] == ["events"]
    # the same run compared with itself: nothing differs
    same = cli(project, "diff", "last", "last")
    assert same.code == 0
    assert "no differences" in same.out


def test_diff_shows_a_code_change(project: Path, cli) -> None:
    assert run_subprocess(project, "pipeline", "--case", "demo").code == 0
    module = project / "modules" / "event_detector.py"
    module.write_text(module.read_text(encoding="utf-8") + "# tuned later\n", encoding="utf-8")
    assert run_subprocess(project, "pipeline", "--case", "demo").code == 0
    result = cli(project, "diff", "last~1", "last")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    at = lines.index("step EventDetector:")
    assert lines[at + 1].startswith("  code: ")
    assert sum(line.startswith("  code: ") for line in lines) == 1
    # a comment changes no output
    assert lines[-1] == "every output is identical"
    data = json.loads(cli(project, "diff", "last~1", "last", "--json").out)
    detector = next(s for s in data["steps"] if s["name"] == "EventDetector")
    assert detector["code"][0] != detector["code"][1]
    assert data["first_divergence"] is None


def test_lineage_walks_back_to_the_raw_recordings(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    run_id = json.loads(cli(project, "show", "last", "--json").out)["run_id"]
    result = cli(project, "lineage", "report", "--case", "demo")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("report ")
    assert f"written by step 'ReportWriter' (ReportWriter) in run {run_id}" in lines[0]
    for raw in ("wheel_speed_raw", "imu_raw", "gps_raw"):
        found = [line for line in lines if line.strip().startswith(raw + " ")]
        assert found, raw
        assert all("raw data" in line for line in found)
    assert any("data/raw/drive/wheel_speed.parquet" in line for line in lines)
    for step in ("FeatureDeriver", "SignalCleaner", "SignalAligner", "InitialDataReader"):
        assert any(f"written by step '{step}'" in line for line in lines), step
    tree = json.loads(cli(project, "lineage", "report", "--case", "demo", "--json").out)
    assert tree["step"] == "ReportWriter" and tree["run_id"] == run_id
    assert tree["content_hash"] == hash_file(project / "cases/demo/data/report.json")[0]

    def leaves(node: dict) -> set[str]:
        if not node["inputs"]:
            return {node["source"]} if node["step"] is None else set()
        return set().union(*(leaves(child) for child in node["inputs"]))

    assert leaves(tree) == {"wheel_speed_raw", "imu_raw", "gps_raw"}
    unknown = cli(project, "lineage", "nosuchsource", "--case", "demo")
    assert unknown.code == 2
    assert len(_error_lines(unknown.err)) == 1
