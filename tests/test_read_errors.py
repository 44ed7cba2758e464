"""Errors that can be followed: unreadable raw files and inputs that live in memory only.

A raw file that cannot be read names the file and the likely cause (encoding, format,
options) and never suggests rerunning a step, since no step writes it; a missing
memory-only input suggests the whole pipeline or a persistent format, never its
producer alone, whose output would die with it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CliResult

RAW = "data/raw/drive/wheel_speed.parquet"


def point_raw_at(project: Path, name: str, content: bytes | None) -> None:
    """Point the demo's raw wheel-speed source at ``name`` holding ``content``.

    ``None`` copies the bytes of the recording's parquet file.
    """
    drive = project / "data" / "raw" / "drive"
    (drive / name).write_bytes(content or (drive / "wheel_speed.parquet").read_bytes())
    case = project / "cases" / "demo" / "case.yaml"
    text = case.read_text(encoding="utf-8")
    case.write_text(text.replace(RAW, f"data/raw/drive/{name}"), encoding="utf-8")


UNREADABLE = {
    "garbage in a parquet file": (
        "wheel_speed.parquet",
        b"not a parquet file at all\n",
        "it is not a valid parquet file",
    ),
    "a csv in latin-1": (
        "wheel.csv",
        "t_s,fl,Straße\n0.0,1.0,ä\n".encode("latin-1"),
        "its text is not UTF-8",
    ),
    "a parquet file declared as csv": (
        "wheel.csv",
        None,  # the recording's own parquet bytes
        "it is not a csv text file but binary data",
    ),
    "a ragged csv": ("wheel.csv", b"t_s,fl\n0,1\n1,2,3,4\n", "its rows do not parse as csv"),
    "truncated json": ("wheel.json", b'{"t_s": [0.0, 0.01', "it is not a valid json file"),
}


@pytest.mark.parametrize(
    ("name", "content", "cause"), list(UNREADABLE.values()), ids=list(UNREADABLE)
)
def test_an_unreadable_raw_file_names_the_file_and_the_likely_cause(
    project: Path, cli: Callable[..., CliResult], name: str, content: bytes | None, cause: str
) -> None:
    point_raw_at(project, name, content)
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 1
    error = result.err[result.err.index("error:") :]
    assert f"cannot read raw data source 'wheel_speed_raw' from data/raw/drive/{name}" in error
    assert f"likely cause: {cause}" in error
    assert "rerun" not in error and "regenerate" not in error
    assert "no step writes this file" in error


def test_an_unreadable_written_file_still_points_at_its_step(
    project: Path, cli: Callable[..., CliResult]
) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    (project / "cases" / "demo" / "data" / "aligned.parquet").write_bytes(b"broken")
    # the run's record knows what was written: the file is reported as damaged
    result = cli(project, "plugin", "SignalCleaner", "--case", "demo")
    assert result.code == 1
    assert "is damaged or was changed outside a run" in result.err
    assert "step 'SignalAligner' of run " in result.err
    assert "'datareplay restore aligned --case demo'" in result.err
    # without the records, the read error still names the step that writes it
    shutil.rmtree(project / ".datareplay")
    result = cli(project, "plugin", "SignalCleaner", "--case", "demo")
    assert result.code == 1
    assert "(written by step 'SignalAligner')" in result.err
    assert "rerunning that step" in result.err


def test_a_missing_memory_input_suggests_the_pipeline_not_its_producer(
    project: Path, cli: Callable[..., CliResult]
) -> None:
    case = project / "cases" / "demo" / "case.yaml"
    text = case.read_text(encoding="utf-8")
    old = "  features:\n"
    assert old in text
    case.write_text(text.replace(old, old + "    format: memory\n", 1), encoding="utf-8")
    result = cli(project, "plugin", "EventDetector", "--case", "demo")
    assert result.code == 2
    assert "written by step 'FeatureDeriver' and kept in memory only" in result.err
    assert "run 'datareplay pipeline --case demo'" in result.err
    assert "give data source 'features' a persistent format" in result.err
    assert "plugin FeatureDeriver" not in result.err
