"""Checks declared on a raw source (one no step writes) run when it is first read.

They have the severities and results of checks on written sources: a failed ``error``
check fails the step that read the source, every result reaches that step's outcome, the
quality table and ``quality_results``; ``validate`` reads the raw data and evaluates them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from conftest import CliResult
from datareplay.api import run_pipeline, run_plugin
from datareplay.errors import StepFailed

RAW = "    path: data/raw/drive/wheel_speed.parquet\n"


def declare_checks(project: Path, *checks: str) -> None:
    """Add ``checks`` to the demo's raw wheel-speed source (read-only, written by no one)."""
    case = project / "cases" / "demo" / "case.yaml"
    text = case.read_text(encoding="utf-8")
    block = "    checks:\n" + "".join(f"      - {check}\n" for check in checks)
    assert RAW in text
    case.write_text(text.replace(RAW, RAW + block, 1), encoding="utf-8")


def test_a_passing_raw_check_runs_once_in_the_step_that_first_reads_it(project: Path) -> None:
    declare_checks(project, "{check: row_count, min: 100}")
    result = run_pipeline("demo", project=project)
    raw_results = [r for r in result.quality if r.source == "wheel_speed_raw"]
    declared = [r for r in raw_results if r.check.startswith("row_count")]
    assert len(declared) == 1  # the quality gate reads it again: no second evaluation
    assert declared[0].passed and declared[0].step == "InitialDataReader"
    first = result.steps[0]
    assert first.name == "InitialDataReader" and declared[0] in first.quality
    stored = pd.read_parquet(project / "cases" / "demo" / "data" / "quality_results.parquet")
    assert "row_count" in set(stored.loc[stored["step"] == "InitialDataReader", "check"].str[:9])


def test_a_failed_error_check_fails_the_step_that_read_the_source(
    project: Path, cli: Callable[..., CliResult]
) -> None:
    declare_checks(project, "{check: unique, column: t_s}")  # the logger duplicates some
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 1
    assert "'InitialDataReader'" in result.err
    assert "(wheel_speed_raw: unique(t_s))" in result.err  # named by the error
    assert "  wheel_speed_raw: unique(t_s) FAILED: " in result.out  # in full in the summary
    assert not (project / "cases" / "demo" / "data" / "wheel.feather").exists()
    stored = pd.read_parquet(project / "cases" / "demo" / "data" / "quality_results.parquet")
    assert list(stored["source"]) == ["wheel_speed_raw"] and not stored["passed"].any()


def test_a_failed_warn_check_is_reported_and_the_run_goes_on(
    project: Path, cli: Callable[..., CliResult]
) -> None:
    declare_checks(project, "{check: unique, column: t_s, severity: warn}")
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    assert "quality wheel_speed_raw: unique(t_s) FAILED" in result.err  # the log line
    table = result.out[result.out.index("data quality:") :]
    assert "wheel_speed_raw  unique(t_s)" in table and "warn" in table


def test_a_step_run_alone_checks_the_raw_source_it_reads(project: Path) -> None:
    run_pipeline("demo", project=project)
    declare_checks(project, "{check: unique, column: t_s}")
    with pytest.raises(StepFailed, match=r"wheel_speed_raw: unique\(t_s\) FAILED"):
        run_plugin("demo", "InitialDataReader", project=project)
    ran = run_plugin("demo", "SignalAligner", project=project)  # reads no raw source
    assert all(r.source != "wheel_speed_raw" for r in ran.quality)


def test_checks_on_written_sources_still_run_on_write_only(project: Path) -> None:
    result = run_pipeline("demo", project=project)
    wheel = [r for r in result.quality if r.source == "wheel"]
    assert [r.step for r in wheel] == ["InitialDataReader", "InitialDataReader"]
    ran = run_plugin("demo", "SignalAligner", project=project)  # reads wheel from disk
    assert all(r.source != "wheel" for r in ran.quality)


def test_validate_fails_on_a_failed_error_check_of_raw_data(
    project: Path, cli: Callable[..., CliResult]
) -> None:
    declare_checks(
        project,
        "{check: unique, column: t_s}",
        "{check: range, column: fl, min: 0, max: 1}",
        "{check: row_count, min: 1}",
    )
    result = cli(project, "validate", "--case", "demo")
    assert result.code == 1
    lines = [line for line in result.err.splitlines() if "FAILED" in line]
    assert any("wheel_speed_raw: unique(t_s) FAILED" in line for line in lines)
    assert any("wheel_speed_raw: range(fl) FAILED" in line for line in lines)
    assert "is valid" not in result.out


def test_validate_prints_a_failed_warn_check_and_passes(
    project: Path, cli: Callable[..., CliResult]
) -> None:
    declare_checks(project, "{check: unique, column: t_s, severity: warn}")
    result = cli(project, "validate", "--case", "demo")
    assert result.code == 0, result.err
    assert "wheel_speed_raw: unique(t_s) FAILED" in result.err
    assert "case 'demo' is valid" in result.out
