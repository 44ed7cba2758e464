"""Data quality end to end: source checks, the QualityGate, the faulty demo, through the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import tree_hash

AFTER_GATE = ["clean.parquet", "profile.csv", "features.parquet", "events.csv", "report.json"]
BEFORE_GATE = ["wheel.feather", "imu.feather", "gps.feather", "aligned.parquet"]


def case_file(project: Path, case: str = "demo") -> Path:
    return project / "cases" / case / "case.yaml"


def data_dir(project: Path, case: str = "demo") -> Path:
    return project / "cases" / case / "data"


def edit_case(project: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = case_file(project)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")


def gate_checks(config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    (gate,) = [step for step in config["pipeline"] if step["plugin"] == "QualityGate"]
    checks: dict[str, list[dict[str, Any]]] = gate["params"]["checks"]
    return checks


def declared_checks(project: Path, case: str = "demo") -> list[tuple[str, str]]:
    """(source, check name) of every check in the case: source checks, then the gate's."""
    config = yaml.safe_load(case_file(project, case).read_text(encoding="utf-8"))
    found = [
        (name, item["check"])
        for name, source in config["data_sources"].items()
        for item in (source or {}).get("checks", [])
    ]
    found += [
        (name, item["check"]) for name, items in gate_checks(config).items() for item in items
    ]
    return found


def error_lines(err: str) -> list[str]:
    return [line.removeprefix("error: ") for line in err.splitlines() if line.startswith("error: ")]


def parse_table(lines: list[str]) -> list[list[str]]:
    """Rows of a plain-text table (header, rule of dashes, rows), cut at the rule's columns."""
    starts = [m.start() for m in re.finditer(r"-+", lines[1])]
    ends = [*starts[1:], None]
    return [[line[a:b].strip() for a, b in zip(starts, ends, strict=True)] for line in lines[2:]]


def quality_results(project: Path, case: str = "demo") -> pd.DataFrame:
    return pd.read_parquet(data_dir(project, case) / "quality_results.parquet")


# -- the demo ----------------------------------------------------------------------------


def test_demo_reports_every_check_and_persists_the_results(project: Path, cli) -> None:
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    declared = declared_checks(project)
    assert len(declared) >= 10
    n = len(declared)

    # the summary: a headline and a table with one row per check
    assert f"\ndata quality: {n} checks: {n} passed\n" in result.out
    table = result.out.split(f"data quality: {n} checks: {n} passed\n", 1)[1].splitlines()
    assert table[0].split() == ["source", "check", "severity", "result", "failing", "rows"]
    assert set(table[1].replace(" ", "")) == {"-"}
    rows = parse_table(table[: 2 + n])
    assert len(rows) == n
    assert all(row[3] == "passed" for row in rows)
    assert sorted(row[0] for row in rows) == sorted(source for source, _ in declared)

    # the quality-results dataset: one row per check, every column filled
    results = quality_results(project)
    assert len(results) == n
    assert sorted(zip(results["source"], results["check"].str.split("(").str[0], strict=True)) == (
        sorted(declared)
    )
    assert results["passed"].all()
    # the printed table shows the same results, in the same order
    assert len(table) == 2 + n
    assert [row[:3] for row in rows] == results[["source", "check", "severity"]].values.tolist()
    assert [row[4:] for row in rows] == [
        [f"{failing:,}", f"{total:,}"]
        for failing, total in zip(results["failing"], results["total"], strict=True)
    ]
    assert set(results["severity"]) <= {"error", "warn"}
    steps = dict(
        zip(zip(results["source"], results["check"], strict=True), results["step"], strict=True)
    )
    assert steps[("wheel", "unique(t_s)")] == "InitialDataReader"
    assert steps[("aligned", "schema(t_s, speed_mps, ax, lat)")] == "SignalAligner"
    assert steps[("imu_raw", "stuck(ax)")] == "signal_quality"
    for params in results["params"]:
        assert json.loads(params)["check"] in {c for _, c in declared}
    for sample in results["sample"]:
        assert isinstance(json.loads(sample), list)
    # "quality_results" is listed in the hub summary with its file
    assert "cases/demo/data/quality_results.parquet" in result.out


def test_profile_has_one_row_per_column_of_clean(project: Path, cli) -> None:
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    clean = pd.read_parquet(data_dir(project) / "clean.parquet")
    profile = pd.read_csv(data_dir(project) / "profile.csv")
    assert profile["column"].tolist() == [str(c) for c in clean.columns]
    assert (profile["rows"] == len(clean)).all()
    assert profile["missing"].tolist() == [int(clean[c].isna().sum()) for c in clean.columns]
    assert profile["dtype"].tolist() == [str(clean[c].dtype) for c in clean.columns]
    by_column = profile.set_index("column")
    assert by_column.loc["speed_mps", "max"] == pytest.approx(clean["speed_mps"].max())
    assert by_column.loc["speed_mps", "min"] == pytest.approx(clean["speed_mps"].min())


# -- a check declared on a data source ---------------------------------------------------

RANGE_CHECK = {"check": "range", "column": "speed_mps", "max": 1}


def add_wheel_check(project: Path, **extra: Any) -> None:
    edit_case(
        project,
        lambda config: (
            config["data_sources"]["wheel"]
            .setdefault("checks", [])
            .append({**RANGE_CHECK, **extra})
        ),
    )


def test_source_check_stops_the_run_in_the_step_that_writes_the_source(project: Path, cli) -> None:
    add_wheel_check(project)
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 1, result.out + result.err
    data = data_dir(project)

    # the failing data is kept for inspection; nothing downstream was written
    assert (data / "wheel.feather").is_file()
    for name in ["aligned.parquet", *AFTER_GATE]:
        assert not (data / name).exists(), name

    wheel = pd.read_feather(data / "wheel.feather")
    bad = np.flatnonzero(wheel["speed_mps"].to_numpy() > 1)
    assert len(bad) > 0
    lines = error_lines(result.err)
    assert lines[0].startswith("step 1 'InitialDataReader' of case 'demo' failed in run ")
    assert lines[0].endswith("1 check of severity error failed (wheel: range(speed_mps))")
    message = result.out  # the run's summary lists the failed check in full
    assert "failed checks (1, each stops the run):" in message
    assert "wheel: range(speed_mps) FAILED" in message
    assert f"{len(bad):,} of {len(wheel):,} rows" in message

    def shown(value: float) -> str:  # floats as written in messages: exactly
        value = float(value)
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)

    for position in bad[:3]:
        assert f"row {position}: t_s={shown(wheel['t_s'][position])}, " in message
        assert f"speed_mps={shown(wheel['speed_mps'][position])}" in message

    results = quality_results(project)
    (row,) = results[results["check"] == "range(speed_mps)"].itertuples()
    assert (row.source, row.severity, row.passed, row.step) == (
        "wheel",
        "error",
        False,
        "InitialDataReader",
    )
    assert row.failing == len(bad)
    assert [r["row"] for r in json.loads(row.sample)] == list(bad[:5])


def test_source_check_with_severity_warn_is_recorded_and_the_run_goes_on(
    project: Path, cli
) -> None:
    add_wheel_check(project, severity="warn")
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    for name in AFTER_GATE:
        assert (data_dir(project) / name).is_file(), name
    n = len(declared_checks(project))
    headline = f"data quality: {n} checks: 1 warning, {n - 1} passed"
    assert headline in result.out
    table = result.out.split(headline + "\n", 1)[1].splitlines()
    (printed,) = [row for row in parse_table(table) if row[1] == "range(speed_mps)"]
    assert printed[:4] == ["wheel", "range(speed_mps)", "warn", "FAILED"]
    assert "wheel: range(speed_mps) FAILED" in result.err  # logged as a warning
    assert "error:" not in result.err

    results = quality_results(project)
    assert len(results) == n
    (row,) = results[results["check"] == "range(speed_mps)"].itertuples()
    assert (row.source, row.severity, row.passed, row.step) == (
        "wheel",
        "warn",
        False,
        "InitialDataReader",
    )
    assert row.failing > 0


# -- the QualityGate step ----------------------------------------------------------------


def test_failing_gate_stops_the_run_after_recording_every_check(project: Path, cli) -> None:
    edit_case(project, lambda config: gate_checks(config)["aligned"].append(RANGE_CHECK))
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 1, result.out + result.err
    data = data_dir(project)
    lines = error_lines(result.err)
    assert lines[0].startswith("step 3 'signal_quality' (plugin QualityGate) of case 'demo' failed")
    assert lines[0].endswith("(aligned: range(speed_mps))")
    assert len(lines) == 1  # only the failed check of severity error is named
    assert "  aligned: range(speed_mps) FAILED: " in result.out  # in full, in the summary

    # what was written before the gate is there and readable; nothing after it
    aligned = pd.read_parquet(data / "aligned.parquet")
    assert len(aligned) > 1000
    for name in BEFORE_GATE:
        assert (data / name).is_file(), name
    for name in AFTER_GATE:
        assert not (data / name).exists(), name

    # every check of the gate ran and was recorded, not only up to the failing one
    results = quality_results(project)
    gate = results[results["step"] == "signal_quality"]
    config = yaml.safe_load(case_file(project).read_text(encoding="utf-8"))
    assert len(gate) == sum(len(items) for items in gate_checks(config).values())
    failed = gate[~gate["passed"]]
    assert failed["check"].tolist() == ["range(speed_mps)"]
    assert failed["failing"].iloc[0] == int((aligned["speed_mps"] > 1).sum())


def test_failing_gate_with_severity_warn_does_not_stop(project: Path, cli) -> None:
    edit_case(
        project,
        lambda config: gate_checks(config)["aligned"].append({**RANGE_CHECK, "severity": "warn"}),
    )
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    assert "checks: 1 warning, " in result.out
    assert (data_dir(project) / "report.json").is_file()


# -- configuration errors: exit 2, nothing runs ------------------------------------------


def test_gate_on_an_undeclared_source_fails_validation(project: Path, cli) -> None:
    edit_case(
        project,
        lambda config: gate_checks(config).__setitem__(
            "nosuch", [{"check": "not_null", "column": "x"}]
        ),
    )
    before = tree_hash(project)
    for command in ("validate", "pipeline"):
        result = cli(project, command, "--case", "demo")
        assert result.code == 2, result.out + result.err
        (line,) = error_lines(result.err)
        assert line.startswith("cases/demo/case.yaml:")
        assert "QualityGate input 'nosuch' is not declared under data_sources" in line
    assert tree_hash(project) == before
    assert not data_dir(project).exists()


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            lambda config: config["data_sources"]["wheel"]["checks"].append(
                {"check": "not_nul", "column": "t_s"}
            ),
            r"cases/demo/case\.yaml:\d+: data_sources\.wheel\.checks\[2\]: "
            r"unknown check 'not_nul'; did you mean 'not_null'\?",
        ),
        (
            lambda config: gate_checks(config)["aligned"].append(
                {"check": "not_nul", "column": "t_s"}
            ),
            r"cases/demo/case\.yaml:\d+ \(pipeline\[2\]\.params\.checks\): .*"
            r"checks\.aligned\[3\]: unknown check 'not_nul'; did you mean 'not_null'\?",
        ),
        (
            lambda config: config["data_sources"]["aligned"]["checks"].append(
                {"check": "range", "column": "ax", "mx": 3}
            ),
            r"cases/demo/case\.yaml:\d+: data_sources\.aligned\.checks\[1\]: "
            r"check 'range' has no parameter 'mx'; did you mean 'max'\?",
        ),
        (
            lambda config: config["data_sources"]["wheel"]["checks"].append(
                {"check": "referential", "column": "t_s", "reference": "imuu"}
            ),
            r"cases/demo/case\.yaml:\d+: data_sources\.wheel\.checks\[2\]: "
            r"reference 'imuu' is not a data source; did you mean 'imu'\?",
        ),
    ],
    ids=["source-check", "gate-check", "unknown-parameter", "unknown-reference"],
)
def test_bad_check_in_case_yaml_names_file_and_key(
    project: Path, cli, change: Callable[[dict[str, Any]], None], pattern: str
) -> None:
    edit_case(project, change)
    before = tree_hash(project)
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 2, result.out + result.err
    (line,) = error_lines(result.err)
    assert re.search(pattern, line), line
    assert tree_hash(project) == before
    assert not data_dir(project).exists()


# -- the faulty demo ---------------------------------------------------------------------


def longest_run(values: np.ndarray) -> int:
    change = np.flatnonzero(np.diff(values) != 0)
    bounds = np.concatenate([[-1], change, [len(values) - 1]])
    return int(np.diff(bounds).max())


def test_faulty_demo_is_stopped_by_the_gate_and_every_fault_is_explained(
    project: Path, cli
) -> None:
    faulty = project / "data" / "raw" / "drive_faulty"
    assert not faulty.exists()
    result = cli(project, "pipeline", "--case", "my_faulty", "--template", "demo_faulty")
    assert result.code == 1, result.out + result.err
    assert "raw data missing (data/raw/drive_faulty/" in result.err
    assert "generating it first" in result.err
    assert (
        case_file(project, "my_faulty").read_bytes()
        == (project / "templates" / "demo_faulty_case.yaml").read_bytes()
    )

    errors = error_lines(result.err)
    assert len(errors) == 1
    assert errors[0].startswith(
        "step 3 'signal_quality' (plugin QualityGate) of case 'my_faulty' failed in run "
    )
    lines = result.out.splitlines()  # the run's summary lists every failed check once

    def line_of(prefix: str) -> str:
        found = [line for line in lines if f"{prefix} FAILED" in line]
        assert len(found) == 1, (prefix, lines)
        return found[0]

    wheel = pd.read_parquet(faulty / "wheel_speed.parquet")
    imu = pd.read_parquet(faulty / "imu.parquet")
    n_wheel, n_imu = len(wheel), len(imu)

    # duplicated logger timestamps: the copies fail, the keys and rows involved are named
    copies = int(wheel["t_s"].duplicated(keep="first").sum())
    involved = int(wheel["t_s"].duplicated(keep=False).sum())
    assert copies >= n_wheel // 100
    assert (
        f"unique(t_s) FAILED: {involved - copies:,} repeated keys in {involved:,} rows; "
        f"{copies:,} of {n_wheel:,} rows"
    ) in line_of("wheel_speed_raw: unique(t_s)")

    # the two long dropouts, in both streams
    for name, table in (("wheel_speed_raw", wheel), ("imu_raw", imu)):
        steps = np.diff(table["t_s"].to_numpy())
        assert int((steps > 5).sum()) == 2
        text = line_of(f"{name}: monotonic(t_s)")
        assert f"2 gaps over 5s (largest {steps.max():.4g}s after t_s=" in text

    # out-of-range wheel-speed spikes
    fl = wheel["fl"].to_numpy()
    spikes = int(((fl < -5) | (fl > 250)).sum())
    assert spikes >= 60
    text = line_of("wheel_speed_raw: range(fl)")
    assert f"{spikes:,} of {n_wheel:,} rows" in text
    assert "fl=400" in text

    # the stuck IMU channel
    stuck = longest_run(imu["ax"].to_numpy())
    assert stuck >= 1500
    text = line_of("imu_raw: stuck(ax)")
    assert f"longest {stuck:,} samples of " in text
    assert f"of {n_imu:,} rows" in text

    # everything before the gate is kept, nothing after it was written
    data = data_dir(project, "my_faulty")
    for name in BEFORE_GATE:
        assert (data / name).is_file(), name
    for name in AFTER_GATE:
        assert not (data / name).exists(), name
    results = quality_results(project, "my_faulty")
    assert len(results) == len(declared_checks(project, "my_faulty"))
    failed = set(zip(results["source"], results["check"], strict=True)) - set(
        zip(results[results["passed"]]["source"], results[results["passed"]]["check"], strict=True)
    )
    assert {
        ("wheel_speed_raw", "unique(t_s)"),
        ("wheel_speed_raw", "monotonic(t_s)"),
        ("wheel_speed_raw", "range(fl)"),
        ("imu_raw", "monotonic(t_s)"),
        ("imu_raw", "stuck(ax)"),
    } <= failed
    # the checks on the de-duplicated sources still pass: the reader repairs those faults
    assert ("wheel", "unique(t_s)") not in failed
    assert ("wheel", "monotonic(t_s)") not in failed


def test_generate_data_with_faults_writes_the_faulty_recording(bare_project: Path, cli) -> None:
    raw = bare_project / "data" / "raw"
    plain = cli(bare_project, "generate-data", "--rows", "2000")
    assert plain.code == 0, plain.err
    assert (raw / "drive" / "wheel_speed.parquet").is_file()
    assert not (raw / "drive_faulty").exists()

    result = cli(bare_project, "generate-data", "--rows", "2000", "--faults")
    assert result.code == 0, result.err
    names = ["wheel_speed.parquet", "imu.parquet", "gps.parquet"]
    assert sorted(p.name for p in (raw / "drive_faulty").iterdir()) == sorted(names)
    for name in names:
        assert f"wrote data/raw/drive_faulty/{name}" in result.out
    normal = pd.read_parquet(raw / "drive" / "wheel_speed.parquet")
    faulty = pd.read_parquet(raw / "drive_faulty" / "wheel_speed.parquet")
    assert list(faulty.columns) == list(normal.columns)
    assert faulty["t_s"].duplicated().sum() > normal["t_s"].duplicated().sum()
    assert (faulty["fl"] == 400).any()
