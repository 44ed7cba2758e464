"""A stored dataset that was damaged or replaced outside a run is found when it is read.

After a full demo pipeline, the working copy of one data source of each format (feather,
parquet, csv, json) is damaged in one of four ways. Running the step that reads it alone
must refuse with one line that names the source, says it is damaged or changed, names
the run and the step that wrote it and the ``restore`` command; ``restore`` then puts
back the recorded version and the step succeeds again.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CliResult, make_project, run_subprocess
from datareplay.data.storage import hash_file

READER_MODULE = '''"""ReportReader: reads the demo report (so that a damaged report is read by a step)."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd

from datareplay import BasePlugin, DataHub


class ReportReader(BasePlugin):
    """Count the rows of the report."""

    inputs: ClassVar[dict[str, str]] = {"report": "The drive report."}
    outputs: ClassVar[dict[str, str]] = {"report_rows": "How many metrics the report has."}

    def run(self, hub: DataHub) -> None:
        hub["report_rows"] = pd.DataFrame({"rows": [len(hub["report"])]})
'''

# source -> (file in cases/demo/data, the step that reads it, the step that writes it)
SOURCES = {
    "wheel": ("wheel.feather", "SignalAligner", "InitialDataReader"),
    "aligned": ("aligned.parquet", "SignalCleaner", "SignalAligner"),
    "events": ("events.csv", "ReportWriter", "EventDetector"),
    "report": ("report.json", "ReportReader", "ReportWriter"),
}
# another valid file of the same format, for "swapped"
SWAP_WITH = {"wheel": "gps.feather", "aligned": "clean.parquet", "events": "profile.csv"}
DAMAGES = ("truncated", "altered", "emptied", "swapped")


@pytest.fixture(scope="module")
def ran_project(tmp_path_factory: pytest.TempPathFactory, small_raw_data: Path) -> Path:
    """The demo project, with a ReportReader step, after one full pipeline run."""
    root = make_project(tmp_path_factory.mktemp("damage") / "project", small_raw_data)
    (root / "modules" / "report_reader.py").write_text(READER_MODULE, encoding="utf-8")
    case = root / "cases" / "demo" / "case.yaml"
    text = case.read_text(encoding="utf-8")
    text = text.replace(
        "data_sources:\n", "data_sources:\n  report_rows: {format: memory}\n", 1
    ).rstrip("\n")
    case.write_text(text + "\n  - plugin: ReportReader\n", encoding="utf-8")
    result = run_subprocess(root, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    return root


@pytest.fixture
def fresh(ran_project: Path, tmp_path: Path) -> Path:
    """A copy of the project that ran (its records and object store included)."""
    target = tmp_path / "project"
    shutil.copytree(ran_project, target, ignore=shutil.ignore_patterns("__pycache__", ".lock"))
    return target


def _damage(path: Path, how: str, source: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "altered":
        middle = bytearray(data)
        position = len(middle) // 2
        if source in ("events", "report"):  # text: a digit in the middle becomes another
            position = next(i for i in range(position, len(middle)) if chr(middle[i]).isdigit())
            middle[position] = ord("7") if middle[position] != ord("7") else ord("3")
        else:
            middle[position] ^= 0xFF
        path.write_bytes(bytes(middle))
    elif how == "emptied":
        path.write_bytes(b"")
    elif how == "swapped":
        if source == "report":  # an other valid report: one metric changed
            report = json.loads(data)
            report["data"][0]["value"] = 99.5
            path.write_text(json.dumps(report), encoding="utf-8")
        else:
            shutil.copyfile(path.with_name(SWAP_WITH[source]), path)
    assert path.read_bytes() != data


def _recorded(project: Path, source: str) -> tuple[str, str]:
    """(content hash, run id) of the pipeline's recorded output ``source``."""
    with sqlite3.connect(project / ".datareplay" / "runs.sqlite") as db:
        row = db.execute(
            "SELECT d.content_hash, d.run_id FROM datasets d JOIN runs r ON r.id = d.run_id "
            "WHERE d.role = 'output' AND d.source = ? AND r.kind = 'pipeline'",
            (source,),
        ).fetchone()
    db.close()
    assert row is not None
    return row[0], row[1]


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


CASES = [pytest.param(source, how, id=f"{source}-{how}") for source in SOURCES for how in DAMAGES]


@pytest.mark.parametrize(("source", "how"), CASES)
def test_damaged_source_is_reported_and_restored(
    fresh: Path, cli: Callable[..., CliResult], source: str, how: str
) -> None:
    filename, reader, writer = SOURCES[source]
    path = fresh / "cases" / "demo" / "data" / filename
    expected_hash, run_id = _recorded(fresh, source)
    assert hash_file(path)[0] == expected_hash
    _damage(path, how, source)
    assert hash_file(path)[0] != expected_hash

    result = cli(fresh, "plugin", reader, "--case", "demo")
    assert result.code == 1, result.err
    lines = _error_lines(result.err)
    assert len(lines) == 1, result.err
    line = lines[0]
    assert f"data source '{source}'" in line
    assert re.search(r"damaged|changed", line)
    assert run_id in line
    assert f"step '{writer}'" in line
    assert f"restore {source} --case demo" in line

    restored = cli(fresh, "restore", source, "--case", "demo")
    assert restored.code == 0, restored.err
    assert hash_file(path)[0] == expected_hash
    assert run_id in restored.out

    again = cli(fresh, "plugin", reader, "--case", "demo")
    assert again.code == 0, again.err
