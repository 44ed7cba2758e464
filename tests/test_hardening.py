"""Holes found by attacking the second reliability round, each pinned as a kind.

Log handlers that would write over project files or break every log line, a case that
grants itself folders outside the project, a case file that is no regular file or leads
outside, and file-system errors outside the engine's own handling.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tree_hash
from datareplay.config.logging_config import check_logging_config
from datareplay.config.safe_yaml import parse_yaml
from datareplay.errors import ConfigError


def check(text: str, root: Path) -> dict:
    return check_logging_config(parse_yaml(text.encode(), source="logging.yaml"), project_root=root)


def handler(extra: str, cls: str = "logging.FileHandler") -> str:
    return f"version: 1\nhandlers:\n  h:\n    class: {cls}\n{extra}"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    filename: cases/demo/case.yaml\n    mode: w\n", "must end in .log"),
        ("    filename: data/raw/drive/gps.parquet\n", "must end in .log"),
        ("    filename: logs/x.log\n    mode: wb\n", "handlers.h.mode: must be 'a'"),
    ],
)
def test_a_log_file_can_never_write_over_project_files(
    tmp_path: Path, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        check(handler(extra), tmp_path)


@pytest.mark.parametrize(
    ("cls", "extra", "key"),
    [
        ("logging.StreamHandler", "    stream: sys.stderr\n", "stream"),
        ("logging.StreamHandler", "    stream: 5\n", "stream"),
        ("logging.StreamHandler", "    stream: EXT://sys.stderr\n", "stream"),
        (
            "logging.handlers.RotatingFileHandler",
            "    filename: logs/x.log\n    maxBytes: 1\n",
            "maxBytes",
        ),
        (
            "logging.handlers.RotatingFileHandler",
            "    filename: logs/x.log\n    backupCount: 30000000\n",
            "backupCount",
        ),
        (
            "logging.handlers.TimedRotatingFileHandler",
            "    filename: logs/x.log\n    when: S\n    interval: 0\n",
            "interval",
        ),
    ],
)
def test_handler_values_that_break_or_hang_logging_are_refused(
    tmp_path: Path, cls: str, extra: str, key: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^logging\.yaml:\d+: handlers\.h\.{key}: must be"):
        check(handler(extra, cls), tmp_path)


def test_the_standard_streams_and_sane_rotation_are_accepted(tmp_path: Path) -> None:
    check(handler("    stream: ext://sys.stdout\n", "logging.StreamHandler"), tmp_path)
    rotating = "    filename: logs/x.log\n    maxBytes: 1048576\n    backupCount: 5\n"
    check(handler(rotating, "logging.handlers.RotatingFileHandler"), tmp_path)


def test_a_case_cannot_grant_itself_folders_outside_the_project(
    project: Path, cli, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("keep me\n")
    case = project / "cases" / "demo" / "case.yaml"
    text = case.read_text().replace(
        "data_sources:", "data:\n  allowed_roots: [/]\n\ndata_sources:", 1
    )
    case.write_text(text.replace("format: csv", f"format: csv\n    path: {victim}", 1))
    before = tree_hash(project)
    for command in ("validate", "pipeline"):
        result = cli(project, command, "--case", "demo")
        assert result.code == 2, result.err
        assert "data.allowed_roots can only be set in config/global.yaml" in result.err
        assert result.err.count("\n") == 1
    assert victim.read_text() == "keep me\n"
    assert tree_hash(project) == before


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_case_file_that_is_not_a_regular_file_is_named(project: Path, cli, kind: str) -> None:
    folder = project / "cases" / "odd"
    folder.mkdir()
    if kind == "fifo":
        os.mkfifo(folder / "case.yaml")
    else:
        (folder / "case.yaml").mkdir()
    result = cli(project, "validate", "--case", "odd")
    assert result.code == 2
    what = "a named pipe" if kind == "fifo" else "a folder"
    assert result.err == (
        f"error: cases/odd/case.yaml is not a regular file ({what}); make it a YAML file\n"
    )


def test_a_case_file_leading_outside_the_project_is_refused(
    project: Path, cli, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text((project / "cases" / "demo" / "case.yaml").read_text())
    (project / "cases" / "linked").mkdir()
    (project / "cases" / "linked" / "case.yaml").symlink_to(outside)
    result = cli(project, "validate", "--case", "linked")
    assert result.code == 2
    assert "cases/linked/case.yaml leads outside the project" in result.err


def test_generate_data_refuses_a_negative_seed(bare_project: Path, cli) -> None:
    result = cli(bare_project, "generate-data", "--seed", "-1")
    assert result.code == 2
    assert "--seed" in result.err and result.err.count("\n") == 1


def test_a_full_disk_while_writing_plugins_md_is_one_line_naming_it(bare_project: Path) -> None:
    before = (
        (bare_project / "PLUGINS.md").read_bytes()
        if (bare_project / "PLUGINS.md").exists()
        else None
    )

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))

    proc = subprocess.run(
        [sys.executable, "run.py", "generate-docs"],
        cwd=bare_project,
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: could not write "), proc.stderr
    assert "PLUGINS.md" in lines[0] and "the previous version is kept" in lines[0]
    after = (
        (bare_project / "PLUGINS.md").read_bytes()
        if (bare_project / "PLUGINS.md").exists()
        else None
    )
    assert after == before
    assert not [p for p in bare_project.iterdir() if ".dr-tmp-" in p.name]


def test_a_symlink_loop_in_the_data_folder_is_named(project: Path, cli) -> None:
    data = project / "cases" / "demo" / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "events.csv").symlink_to("events.csv")
    result = cli(project, "validate", "--case", "demo")
    assert result.code == 2
    assert "events.csv is a symbolic link loop; remove the link" in result.err
    assert result.err.count("\n") == 1


def test_a_hard_linked_pickle_is_not_unpickled(tmp_path: Path) -> None:
    import pickle

    from datareplay.data.catalog import DataCatalog
    from datareplay.data.formats import FORMATS
    from datareplay.data.source import DataSource
    from datareplay.errors import PersistenceError

    store = tmp_path / "cases" / "c" / "data"
    store.mkdir(parents=True)
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(pickle.dumps({"from": "elsewhere"}))
    os.link(outside, store / "blob.pkl")
    source = DataSource(
        "blob", FORMATS["pickle"], store / "blob.pkl", trusted=False, store=store.resolve()
    )
    catalog = DataCatalog({"blob": source}, project_root=tmp_path)
    with pytest.raises(
        PersistenceError, match=r"refusing to unpickle .*blob\.pkl, which has 2 hard links"
    ):
        catalog["blob"]


def test_a_value_a_format_cannot_hold_names_the_formats_that_can(tmp_path: Path) -> None:
    import numpy as np

    from datareplay.data.catalog import DataCatalog
    from datareplay.data.formats import FORMATS
    from datareplay.data.source import DataSource
    from datareplay.errors import PersistenceError

    source = DataSource("d", FORMATS["csv"], tmp_path / "d.csv")
    catalog = DataCatalog({"d": source}, project_root=tmp_path)
    with pytest.raises(PersistenceError) as info:
        catalog.put("d", np.arange(3), step="S")
    message = str(info.value)
    assert message.startswith("data source 'd' has format csv but step 'S' wrote an ndarray;")
    assert "npy" in message and "json, pickle or memory" not in message


@pytest.mark.parametrize("fmt", ["parquet", "feather"])
def test_nested_and_decimal_arrow_columns_are_refused_not_written_unreadable(
    tmp_path: Path, fmt: str
) -> None:
    from decimal import Decimal

    import pandas as pd
    import pyarrow as pa

    from datareplay.data.catalog import DataCatalog
    from datareplay.data.formats import FORMATS
    from datareplay.data.source import DataSource
    from datareplay.errors import PersistenceError

    source = DataSource("x", FORMATS[fmt], tmp_path / f"x.{fmt}")
    catalog = DataCatalog({"x": source}, project_root=tmp_path)
    columns = {
        "lists": pd.array([[1, 2], None], dtype=pd.ArrowDtype(pa.list_(pa.int64()))),
        "structs": pd.array([{"a": 1}, None], dtype=pd.ArrowDtype(pa.struct([("a", pa.int64())]))),
        "money": pd.array([Decimal("1.25"), None], dtype=pd.ArrowDtype(pa.decimal128(10, 2))),
    }
    for name, values in columns.items():
        with pytest.raises(PersistenceError, match=rf"{fmt} cannot keep the .* dtype of '{name}'"):
            catalog.put("x", pd.DataFrame({name: values}))
    assert not source.path.exists()


def test_csv_refuses_text_with_carriage_returns(tmp_path: Path) -> None:
    import pandas as pd

    from datareplay.data.catalog import DataCatalog
    from datareplay.data.formats import FORMATS
    from datareplay.data.source import DataSource
    from datareplay.errors import PersistenceError

    source = DataSource("x", FORMATS["csv"], tmp_path / "x.csv")
    catalog = DataCatalog({"x": source}, project_root=tmp_path)
    with pytest.raises(PersistenceError, match="csv cannot keep the carriage returns"):
        catalog.put("x", pd.DataFrame({"t": ["a", "\r", "b\r\nc"]}))
    catalog.put("x", pd.DataFrame({"t": ["a", "b\nc"]}))  # a newline alone is quoted and kept
    pd.testing.assert_frame_equal(catalog.storage.read(source), pd.DataFrame({"t": ["a", "b\nc"]}))


def test_a_reader_closing_the_pipe_early_gets_no_error_line(project: Path) -> None:
    # stdout is a pipe whose reader is already gone, as after `... | head -1`
    code = (
        "import os, signal, sys\n"
        "signal.signal(signal.SIGPIPE, signal.SIG_IGN)\n"  # as Python itself sets it
        "read, write = os.pipe()\n"
        "os.close(read)\n"
        "os.dup2(write, 1)\n"
        "from datareplay.cli.main import main\n"
        "sys.exit(main(['plugins'], prog_name='python run.py'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert proc.stderr == ""
    assert proc.returncode == 1
