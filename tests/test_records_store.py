"""Every run leaves a sealed record in ``.datareplay/runs.sqlite``: how it ended, what each
step read and wrote (with content hashes), the environment and the configuration with
origins, and never the value of an environment variable."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import CliResult, run_subprocess
from datareplay.data.storage import hash_file

STEPS_MODULE = '''"""Plugins for the run-record tests: failing, interrupted, blocking, non-deterministic."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from typing import ClassVar

import pandas as pd

from datareplay import BasePlugin, DataHub, Param


class Boom(BasePlugin):
    """Fail on purpose."""

    inputs: ClassVar[dict[str, str]] = {"data": "Anything."}
    outputs: ClassVar[dict[str, str]] = {"boomed": "Never written."}

    def run(self, hub: DataHub) -> None:
        raise RuntimeError("boom on purpose")


class CtrlC(BasePlugin):
    """Act as if the user pressed Ctrl-C."""

    inputs: ClassVar[dict[str, str]] = {"data": "Anything."}
    outputs: ClassVar[dict[str, str]] = {"never": "Never written."}

    def run(self, hub: DataHub) -> None:
        raise KeyboardInterrupt


class Blocker(BasePlugin):
    """Create a marker file, then wait until a release file appears (at most 60 s)."""

    inputs: ClassVar[dict[str, str]] = {"data": "Anything."}
    outputs: ClassVar[dict[str, str]] = {"blocked": "Row count of the input."}
    marker = Param("", "File to create when the step has started.")
    release = Param("", "File whose appearance lets the step finish.")

    def run(self, hub: DataHub) -> None:
        data = hub["data"]
        Path(self.marker).write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (self.release and Path(self.release).exists()):
            time.sleep(0.02)
        hub["blocked"] = pd.DataFrame({"rows": [len(data)]})


class Noisy(BasePlugin):
    """Write bytes that differ on every run."""

    inputs: ClassVar[dict[str, str]] = {"data": "Anything."}
    outputs: ClassVar[dict[str, str]] = {"noise": "Random numbers."}

    def run(self, hub: DataHub) -> None:
        rows = len(hub["data"])
        hub["noise"] = pd.DataFrame({"rows": [rows], "nonce": [os.urandom(8).hex()]})


class Tokenised(BasePlugin):
    """Take a token parameter (from an environment variable) and never write it."""

    inputs: ClassVar[dict[str, str]] = {"data": "Anything."}
    outputs: ClassVar[dict[str, str]] = {"token_rows": "Row count and token length."}
    token = Param("", "A secret token.")

    def run(self, hub: DataHub) -> None:
        hub["token_rows"] = pd.DataFrame({"rows": [len(hub["data"])], "length": [len(self.token)]})
'''

RAW = "  wheel_speed_raw: {path: data/raw/drive/wheel_speed.parquet, read_only: true}\n"


def add_case(project: Path, name: str, body: str) -> None:
    """Write the test plugins to modules/steps.py and a case ``name`` with ``body``."""
    (project / "modules" / "steps.py").write_text(STEPS_MODULE, encoding="utf-8")
    folder = project / "cases" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.yaml").write_text(body, encoding="utf-8")


def blocking_case(project: Path, name: str, marker: Path, release: Path) -> None:
    add_case(
        project,
        name,
        f"description: blocks\ndata_sources:\n{RAW}  noise: {{format: csv}}\n"
        "  blocked: {format: csv}\npipeline:\n"
        "  - plugin: Noisy\n    inputs: {data: wheel_speed_raw}\n"
        "  - plugin: Blocker\n    inputs: {data: noise}\n"
        f"    params: {{marker: '{marker}', release: '{release}'}}\n",
    )


@contextlib.contextmanager
def database(project: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(project / ".datareplay" / "runs.sqlite")
    try:
        yield db
    finally:
        db.close()


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "run.py", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the blocking step never started")
        time.sleep(0.02)


def show_json(cli: Callable[..., CliResult], project: Path, run: str = "last") -> dict:
    result = cli(project, "show", run, "--json")
    assert result.code == 0, result.err
    data: dict = json.loads(result.out)
    return data


# -- how a run ended -------------------------------------------------------------------


def test_pipeline_run_is_recorded_as_succeeded(project: Path, cli) -> None:
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    assert (project / ".datareplay" / "runs.sqlite").is_file()
    record = show_json(cli, project)
    assert record["status"] == "succeeded"
    assert record["exit_code"] == 0
    assert record["kind"] == "pipeline"
    assert record["case"] == "demo"
    assert record["failed_step"] is None
    assert record["seal_intact"] is True
    names = [s["name"] for s in record["steps"]]
    assert names == [
        "InitialDataReader",
        "SignalAligner",
        "signal_quality",
        "SignalCleaner",
        "DataProfiler",
        "FeatureDeriver",
        "EventDetector",
        "ReportWriter",
    ]
    assert all(s["status"] == "succeeded" for s in record["steps"])
    assert record["run_id"] in result.err  # the run's log names the id the record has


def test_plugin_run_and_api_run_are_recorded(project: Path, cli) -> None:
    from datareplay.api import run_pipeline

    result = run_pipeline("demo", project=project)
    assert cli(project, "plugin", "SignalCleaner", "--case", "demo").code == 0
    runs = json.loads(cli(project, "runs", "--json").out)
    assert [(r["kind"], r["status"], r["exit_code"]) for r in runs] == [
        ("plugin", "succeeded", 0),
        ("pipeline", "succeeded", 0),
    ]
    assert runs[1]["steps_run"] == runs[1]["steps_total"] == len(result.steps) == 8
    assert runs[0]["steps_run"] == runs[0]["steps_total"] == 1
    plugin = show_json(cli, project, runs[0]["run_id"])
    assert [s["name"] for s in plugin["steps"]] == ["SignalCleaner"]


def test_failed_step_is_named_and_later_steps_are_skipped(project: Path, cli) -> None:
    add_case(
        project,
        "boom",
        f"description: fails at step 2\ndata_sources:\n{RAW}  noise: {{format: csv}}\n"
        "  boomed: {format: csv}\n  token_rows: {format: csv}\npipeline:\n"
        "  - plugin: Noisy\n    inputs: {data: wheel_speed_raw}\n"
        "  - plugin: Boom\n    inputs: {data: noise}\n"
        "  - plugin: Tokenised\n    inputs: {data: boomed}\n",
    )
    result = run_subprocess(project, "pipeline", "--case", "boom")
    assert result.code == 1
    assert "boom on purpose" in result.err
    record = show_json(cli, project)
    assert record["status"] == "failed"
    assert record["exit_code"] == 1
    assert record["failed_step"] == "Boom"
    assert [(s["name"], s["status"]) for s in record["steps"]] == [
        ("Noisy", "succeeded"),
        ("Boom", "failed"),
        ("Tokenised", "skipped"),
    ]
    assert "boom on purpose" in record["steps"][1]["error"]["message"]
    assert record["seal_intact"] is True
    listed = cli(project, "runs", "--status", "failed")
    assert "failed at Boom" in listed.out


def test_ctrl_c_is_recorded_as_interrupted(project: Path, cli) -> None:
    add_case(
        project,
        "ctrlc",
        f"description: interrupted\ndata_sources:\n{RAW}  noise: {{format: csv}}\n"
        "  never: {format: csv}\npipeline:\n"
        "  - plugin: Noisy\n    inputs: {data: wheel_speed_raw}\n"
        "  - plugin: CtrlC\n    inputs: {data: noise}\n",
    )
    result = run_subprocess(project, "pipeline", "--case", "ctrlc")
    assert result.code == 130, result.err
    record = show_json(cli, project)
    assert record["status"] == "interrupted"
    assert record["exit_code"] == 130
    assert record["ended"] is not None
    assert "CtrlC" in (record["error"] or "")
    assert record["steps"][0]["name"] == "Noisy"
    assert record["steps"][0]["status"] == "succeeded"
    # the step that was running is recorded as interrupted, not left out
    assert [(s["name"], s["status"]) for s in record["steps"]] == [
        ("Noisy", "succeeded"),
        ("CtrlC", "interrupted"),
    ]
    assert record["environment"]["python"]  # written when the run began


def test_a_damaged_stored_copy_is_replaced_by_the_next_write_of_the_same_bytes(
    tmp_path: Path,
) -> None:
    from datareplay.data.storage import hash_file
    from datareplay.records.objects import ObjectStore

    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 10_000)
    content_hash, size = hash_file(data)
    store = ObjectStore(tmp_path / "objects")
    assert store.put(data, content_hash, size) == "copied"
    stored = store.path_of(content_hash)
    with open(stored, "r+b") as fh:  # damaged in place, same size
        fh.seek(5000)
        fh.write(b"y")
    assert not store.verify(content_hash)
    assert store.put(data, content_hash, size) == "copied"  # not "kept"
    assert store.verify(content_hash)
    assert store.put(data, content_hash, size) == "kept"


def test_an_empty_run_name_is_a_usage_error() -> None:
    from datareplay.errors import UnknownNameError
    from datareplay.records.selectors import resolve_run

    with pytest.raises(UnknownNameError, match="empty run name"):
        resolve_run("  ", ["20261207-000000-aaaaaa"])


def test_a_killed_run_is_shown_as_unknown_naming_its_pid(project: Path, cli, tmp_path) -> None:
    marker, release = tmp_path / "started", tmp_path / "release"
    blocking_case(project, "block", marker, release)
    add_case(
        project,
        "quick",
        f"description: quick\ndata_sources:\n{RAW}  noise: {{format: csv}}\npipeline:\n"
        "  - plugin: Noisy\n    inputs: {data: wheel_speed_raw}\n",
    )
    proc = start(project, "pipeline", "--case", "block")
    try:
        wait_for(marker, proc)
        # the step that finished is in the store while the next one runs (written in
        # batches, at most FLUSH_INTERVAL_S after it finished), and `runs` shows it
        deadline = time.monotonic() + 10
        while True:
            listed = json.loads(cli(project, "runs", "--json", "--case", "block").out)
            if (listed and listed[0]["steps_run"] == 1) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [(r["status"], r["steps_run"], r["steps_total"]) for r in listed] == [
            ("running", 1, 2)
        ]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with database(project) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        status = db.execute("SELECT status, pid FROM runs WHERE case_name = 'block'").fetchall()
    assert status == [("running", proc.pid)]
    # the next run marks it
    result = run_subprocess(project, "pipeline", "--case", "quick")
    assert result.code == 0, result.err
    runs = json.loads(cli(project, "runs", "--json", "--case", "block").out)
    assert [r["status"] for r in runs] == ["unknown"]
    record = show_json(cli, project, runs[0]["run_id"])
    assert f"PID {proc.pid}" in record["error"]
    assert record["seal_intact"] is True
    # the killed run's record keeps the step that finished, with its output's hash
    [noisy] = record["steps"]
    assert (noisy["name"], noisy["status"]) == ("Noisy", "succeeded")
    [written] = [d for d in noisy["datasets"] if d["role"] == "output"]
    assert written["content_hash"] == hash_file(project / written["location"])[0]
    # and the killed case runs again (its lock and temporaries are no obstacle)
    release.write_text("go")
    assert run_subprocess(project, "pipeline", "--case", "block").code == 0


def test_gc_marks_a_killed_run_unknown(project: Path, cli, tmp_path) -> None:
    marker, release = tmp_path / "started", tmp_path / "release"
    blocking_case(project, "block", marker, release)
    proc = start(project, "pipeline", "--case", "block")
    try:
        wait_for(marker, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    assert cli(project, "gc").code == 0
    record = show_json(cli, project)
    assert record["status"] == "unknown"
    assert f"PID {proc.pid}" in record["error"]


# -- what a record holds ---------------------------------------------------------------


def test_record_holds_plugins_params_and_hashes_of_the_files(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    record = show_json(cli, project)
    steps = {s["name"]: s for s in record["steps"]}
    reader = steps["InitialDataReader"]
    assert reader["plugin"] == "InitialDataReader"
    assert reader["params"]["wheel_radius_m"] == 0.31
    assert reader["fingerprint"].startswith("xxh3_128:")
    assert "initial_data_reader" in reader["origin"]
    assert steps["signal_quality"]["plugin"] == "QualityGate"
    assert steps["EventDetector"]["params"]["hard_brake_mps2"] == 4.0
    ins = {d["source"]: d for d in reader["datasets"] if d["role"] == "input"}
    outs = {d["source"]: d for d in reader["datasets"] if d["role"] == "output"}
    assert set(ins) == {"wheel_speed_raw", "imu_raw", "gps_raw"}
    assert set(outs) == {"wheel", "imu", "gps"}
    assert ins["wheel_speed_raw"]["location"] == "data/raw/drive/wheel_speed.parquet"
    assert outs["wheel"]["location"] == "cases/demo/data/wheel.feather"
    checked = 0
    for step in record["steps"]:
        for version in step["datasets"]:
            if version["location"] is None:
                continue
            path = project / version["location"]
            content_hash, size = hash_file(path)
            assert version["content_hash"] == content_hash, (step["name"], version["source"])
            assert version["size_bytes"] == size
            checked += 1
    assert checked >= 20
    aligned = next(d for d in steps["SignalAligner"]["datasets"] if d["role"] == "output")
    assert aligned["rows"] == len(pd.read_parquet(project / "cases/demo/data/aligned.parquet"))
    # every stored version is in the object store, byte for byte
    objects = project / ".datareplay" / "objects"
    from datareplay.records.objects import ObjectStore

    store = ObjectStore(objects)
    assert store.verify(outs["wheel"]["content_hash"])
    assert store.verify(ins["wheel_speed_raw"]["content_hash"])


def test_record_holds_environment_and_config_origins(project: Path, cli) -> None:
    result = cli(
        project, "pipeline", "--case", "demo", "--set", "pipeline.SignalAligner.params.rate_hz=20.0"
    )
    assert result.code == 0, result.err
    record = show_json(cli, project)
    env = record["environment"]
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["versions"]["pandas"] == pd.__version__
    assert "datareplay" in env["versions"]
    assert set(env["git"]) == {"commit", "dirty"}
    origins = record["config"]["origins"]
    assert "--set" in origins["pipeline[1].params.rate_hz"]
    assert "case.yaml" in origins["pipeline[6].params.hard_brake_mps2"]
    assert record["config"]["data"]["project"]["name"] == "datareplay-demo"
    text = cli(project, "show", "last")
    assert text.code == 0
    assert "environment: Python " + env["python"] in text.out
    assert "--set" in text.out


def _secret_case(project: Path) -> None:
    add_case(
        project,
        "secret",
        f"description: secret\ndata_sources:\n{RAW}  token_rows: {{format: csv}}\npipeline:\n"
        "  - plugin: Tokenised\n    inputs: {data: wheel_speed_raw}\n"
        "    params: {token: '${env:SECRET_X}'}\n",
    )


def _run_with_secret(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "run.py", "pipeline", "--case", "secret"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SECRET_X": "topsecretvalue"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "topsecretvalue" not in proc.stdout + proc.stderr


def _record_bytes(project: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (project / ".datareplay").glob("runs.sqlite*"))


def test_config_of_the_record_names_the_variable_not_its_value(project: Path, cli) -> None:
    _secret_case(project)
    _run_with_secret(project)
    record = show_json(cli, project)
    assert record["status"] == "succeeded"
    config = json.dumps(record["config"])
    assert "topsecretvalue" not in config
    assert record["config"]["env"] == {"pipeline[0].params.token": ["SECRET_X"]}
    # the plugin did receive the value
    rows = pd.read_csv(project / "cases" / "secret" / "data" / "token_rows.csv")
    assert rows["length"].tolist() == [len("topsecretvalue")]


def test_no_environment_variable_value_appears_in_the_record(project: Path, cli) -> None:
    _secret_case(project)
    _run_with_secret(project)
    shown = cli(project, "show", "last", "--json")
    text = cli(project, "show", "last")
    assert shown.code == 0 and text.code == 0
    assert b"topsecretvalue" not in _record_bytes(project)
    assert "topsecretvalue" not in shown.out
    assert "topsecretvalue" not in text.out


# -- the seal --------------------------------------------------------------------------


def test_a_sealed_record_refuses_changes(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    run_id = show_json(cli, project)["run_id"]
    with database(project) as db:
        with pytest.raises(sqlite3.DatabaseError, match="sealed"):
            db.execute("UPDATE runs SET exit_code = 5 WHERE id = ?", (run_id,))
        with pytest.raises(sqlite3.DatabaseError, match="sealed"):
            db.execute("UPDATE steps SET params = '{}' WHERE run_id = ?", (run_id,))
        with pytest.raises(sqlite3.DatabaseError, match="sealed"):
            db.execute("UPDATE datasets SET content_hash = 'x' WHERE run_id = ?", (run_id,))
        with pytest.raises(sqlite3.DatabaseError, match="sealed"):
            db.execute(
                "INSERT INTO steps (run_id, position, idx, name, plugin, origin, fingerprint, "
                "params, status, seconds, quality, error) VALUES (?, 99, 99, 'x', 'x', 'x', "
                "'x', '{}', 'succeeded', 0, '[]', NULL)",
                (run_id,),
            )
        assert db.execute("SELECT exit_code FROM runs WHERE id = ?", (run_id,)).fetchone() == (0,)
    assert show_json(cli, project)["seal_intact"] is True
    text = cli(project, "show", "last")
    assert "WARNING" not in text.out


@pytest.mark.parametrize("table", ["runs", "steps"])
def test_a_tampered_record_is_reported_by_show(project: Path, cli, table: str) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    run_id = show_json(cli, project)["run_id"]
    with database(project) as db:
        if table == "runs":
            db.execute("DROP TRIGGER sealed_run")
            db.execute("UPDATE runs SET exit_code = 7 WHERE id = ?", (run_id,))
        else:
            db.execute("DROP TRIGGER sealed_step_rows")
            db.execute(
                "UPDATE steps SET params = '{\"hard_brake_mps2\": 9.0}' "
                "WHERE run_id = ? AND name = 'EventDetector'",
                (run_id,),
            )
        db.commit()
    record = show_json(cli, project)
    assert record["seal_intact"] is False
    text = cli(project, "show", "last")
    assert text.code == 0
    warnings = [line for line in text.out.splitlines() if line.startswith("WARNING")]
    assert warnings == ["WARNING: the record does not match its seal: it was changed after the run"]


# -- runs at the same time -------------------------------------------------------------


def test_two_cases_running_at_once_both_record(project: Path, cli, tmp_path) -> None:
    release = tmp_path / "release"
    markers = {name: tmp_path / f"{name}.started" for name in ("first", "second")}
    for name, marker in markers.items():
        blocking_case(project, name, marker, release)
    procs = {name: start(project, "pipeline", "--case", name) for name in markers}
    try:
        for name, marker in markers.items():
            wait_for(marker, procs[name])
        # both are running now, and both are listed so
        running = json.loads(cli(project, "runs", "--json", "--status", "running").out)
        assert sorted(r["case"] for r in running) == ["first", "second"]
        release.write_text("go")
        for proc in procs.values():
            _out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    runs = json.loads(cli(project, "runs", "--json").out)
    assert sorted((r["case"], r["status"], r["steps_run"]) for r in runs) == [
        ("first", "succeeded", 2),
        ("second", "succeeded", 2),
    ]
    for r in runs:
        assert show_json(cli, project, r["run_id"])["seal_intact"] is True


# -- quality results of each run -------------------------------------------------------


def test_a_step_alone_keeps_the_other_steps_quality_results(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    pipeline = show_json(cli, project)
    path = project / "cases" / "demo" / "data" / "quality_results.parquet"
    before = pd.read_parquet(path)
    steps_before = before["step"].value_counts().to_dict()
    assert {"InitialDataReader", "SignalAligner", "signal_quality"} <= set(steps_before)
    assert cli(project, "plugin", "SignalAligner", "--case", "demo").code == 0
    assert cli(project, "plugin", "EventDetector", "--case", "demo").code == 0
    after = pd.read_parquet(path)
    assert after["step"].value_counts().to_dict() == steps_before
    # the pipeline's record still holds all of its quality results
    recorded = {
        s["name"]: len(s["quality"]) for s in show_json(cli, project, pipeline["run_id"])["steps"]
    }
    assert recorded["InitialDataReader"] == steps_before["InitialDataReader"]
    assert recorded["SignalAligner"] == steps_before["SignalAligner"]
    assert recorded["signal_quality"] == steps_before["signal_quality"]
    assert sum(recorded.values()) == len(before)
    aligner = show_json(cli, project, "last~1")
    assert [s["name"] for s in aligner["steps"]] == ["SignalAligner"]
    assert len(aligner["steps"][0]["quality"]) == steps_before["SignalAligner"]


# -- the store's schema and its writes -------------------------------------------------


def _record(run_id: str, config: dict, status: str = "running") -> Any:
    from datareplay.records.store import RunRecord

    return RunRecord(
        run_id=run_id,
        case="c",
        kind="pipeline",
        command=("run.py", "pipeline"),
        started=1.0,
        ended=None,
        status=status,
        exit_code=None,
        failed_step=None,
        replay_of=None,
        pid=os.getpid(),
        host="here",
        config=config,
        environment={"python": "3"},
        steps_total=1,
    )


def test_a_store_of_schema_1_is_migrated_and_its_sealed_records_still_verify(
    tmp_path: Path,
) -> None:
    from dataclasses import replace

    from datareplay.records import store as records

    path = tmp_path / "runs.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    old.executescript(f"BEGIN;{records._SCHEMA}PRAGMA user_version=1;COMMIT;")
    config = {"data": {"pipeline": [{"plugin": "P"}]}, "origins": {"pipeline[0].plugin": "x:3"}}
    sealed = replace(_record("old-run", config), status="succeeded")
    old.execute(
        "INSERT INTO runs (id, case_name, kind, command, started, ended, status, exit_code, "
        "failed_step, replay_of, pid, host, config, environment, steps_total, steps_run, "
        "error, seal) VALUES ('old-run', 'c', 'pipeline', ?, 1.0, NULL, 'succeeded', NULL, "
        "NULL, NULL, ?, 'here', ?, ?, 1, 0, NULL, ?)",
        (
            json.dumps(["run.py", "pipeline"]),
            os.getpid(),
            json.dumps(config),
            json.dumps({"python": "3"}),
            records.seal_of(sealed),
        ),
    )
    old.close()

    store = records.SqliteRunStore(path)
    got = store.get("old-run")
    assert got is not None and got.config == config
    assert store.seal_intact(got) is True
    store.begin_run(_record("new-run", {"data": {"a": 1}}))
    store.end_run(
        "new-run", status="succeeded", exit_code=0, failed_step=None, error=None, ended=2.0
    )
    new = store.get("new-run")
    assert new is not None and new.config == {"data": {"a": 1}}
    assert new.seal is not None and new.seal.startswith(records.ROW_SEAL)
    assert store.seal_intact(new) is True
    assert [r.config for r in store.list_runs()] == [{}, {}]  # a listing leaves it out
    store.close()
    with database_at(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == records.SCHEMA_VERSION
        # the new run's configuration is sealed with the rest of its record
        with pytest.raises(sqlite3.DatabaseError, match="sealed"):
            db.execute("UPDATE run_configs SET config = '{}' WHERE run_id = 'new-run'")
        db.execute("DROP TRIGGER sealed_config_rows")
        db.execute('UPDATE run_configs SET config = \'{"data": {"a": 2}}\'')
        db.commit()
    reopened = records.SqliteRunStore(path)
    changed = reopened.get("new-run")
    assert changed is not None and reopened.seal_intact(changed) is False
    reopened.close()


@contextlib.contextmanager
def database_at(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(path)
    try:
        yield db
    finally:
        db.close()


def test_a_long_pipeline_is_recorded_whole_and_in_order(project: Path, cli) -> None:
    steps = 400  # more than one batch of the recorder's flusher at any speed
    add_case(
        project,
        "long",
        "description: a long chain\ndata_sources:\n"
        + "".join(f"  d{i}: {{format: memory}}\n" for i in range(steps))
        + f"{RAW}pipeline:\n  - {{plugin: Noisy, name: s0, inputs: {{data: wheel_speed_raw}}, "
        "outputs: {noise: d0}}\n"
        + "".join(
            f"  - {{plugin: Noisy, name: s{i}, inputs: {{data: d{i - 1}}}, outputs: {{noise: d{i}}}}}\n"
            for i in range(1, steps)
        ),
    )
    assert cli(project, "pipeline", "--case", "long").code == 0
    record = show_json(cli, project)
    assert [s["name"] for s in record["steps"]] == [f"s{i}" for i in range(steps)]
    assert [s["position"] for s in record["steps"]] == list(range(1, steps + 1))
    assert record["seal_intact"] is True
    listed = json.loads(cli(project, "runs", "--json", "--limit", "1").out)
    assert (listed[0]["steps_run"], listed[0]["steps_total"]) == (steps, steps)


def test_a_record_that_cannot_be_written_stops_the_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datareplay.errors import DataReplayError
    from datareplay.project.paths import Project
    from datareplay.records.store import SqliteRunStore
    from datareplay.session import Session

    def full(self: SqliteRunStore, run_id: str, steps: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SqliteRunStore, "add_steps", full)
    with pytest.raises((sqlite3.OperationalError, DataReplayError), match="disk is full"):
        Session(Project.at(project)).run_pipeline("demo")
