"""``replay`` re-executes a recorded run from the recorded input versions; ``gc`` frees
what no kept run needs, and nothing a kept or running run needs."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import run_subprocess, tree_hash
from datareplay.data.storage import hash_file
from datareplay.records.objects import ObjectStore
from test_records_store import RAW, add_case, blocking_case, database, start, wait_for


def _record(cli, project: Path, run: str = "last") -> dict:
    result = cli(project, "show", run, "--json")
    assert result.code == 0, result.err
    data: dict = json.loads(result.out)
    return data


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def _hashes(record: dict) -> set[str]:
    return {
        d["content_hash"]
        for step in record["steps"]
        for d in step["datasets"]
        if d["content_hash"] is not None
    }


# -- replay ----------------------------------------------------------------------------


def test_replay_verify_reproduces_every_output_and_touches_no_working_copy(
    project: Path, cli
) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    original = _record(cli, project)
    data = project / "cases" / "demo" / "data"
    before = tree_hash(data)
    result = cli(project, "replay", "last", "--verify")
    assert result.code == 0, result.err
    outputs = sum(1 for s in original["steps"] for d in s["datasets"] if d["role"] == "output")
    assert f"verified: all {outputs} output(s) identical to run {original['run_id']}" in result.out
    assert tree_hash(data) == before
    replay = _record(cli, project)
    assert replay["replay_of"] == original["run_id"]
    assert replay["kind"] == "replay"
    assert replay["status"] == "succeeded"
    assert replay["run_id"] != original["run_id"]
    assert [s["name"] for s in replay["steps"]] == [s["name"] for s in original["steps"]]
    # its outputs are in its own folder and equal the original's
    folder = project / ".datareplay" / "replays" / replay["run_id"]
    assert hash_file(folder / "report.json")[0] == hash_file(data / "report.json")[0]
    listed = json.loads(cli(project, "runs", "--json", "--limit", "1").out)
    assert listed[0]["replay_of"] == original["run_id"]


def test_replay_uses_the_recorded_raw_data_after_generate_data(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    original = _record(cli, project)
    raw = project / "data" / "raw" / "drive" / "wheel_speed.parquet"
    old_raw = hash_file(raw)[0]
    regenerated = run_subprocess(project, "generate-data", "--seed", "7", "--rows", "20000")
    assert regenerated.code == 0, regenerated.err
    assert hash_file(raw)[0] != old_raw
    before = tree_hash(project / "cases")
    result = cli(project, "replay", original["run_id"], "--verify")
    assert result.code == 0, result.err
    assert "identical" in result.out
    assert tree_hash(project / "cases") == before
    replay = _record(cli, project)
    assert replay["replay_of"] == original["run_id"]
    reader = replay["steps"][0]
    used = {d["source"]: d["content_hash"] for d in reader["datasets"] if d["role"] == "input"}
    assert used["wheel_speed_raw"] == old_raw


def test_replay_verify_fails_for_a_step_that_is_not_deterministic(project: Path, cli) -> None:
    add_case(
        project,
        "noisy",
        f"description: noisy\ndata_sources:\n{RAW}  noise: {{format: csv}}\npipeline:\n"
        "  - plugin: Noisy\n    inputs: {data: wheel_speed_raw}\n",
    )
    assert cli(project, "pipeline", "--case", "noisy").code == 0
    original = _record(cli, project)
    result = cli(project, "replay", "last", "--verify")
    assert result.code == 1
    lines = _error_lines(result.err)
    assert len(lines) == 1, result.err
    assert "step 'Noisy'" in lines[0]
    assert "not deterministic" in lines[0]
    assert original["run_id"] in lines[0]
    # without --verify the replay just runs
    assert cli(project, "replay", original["run_id"]).code == 0


def test_replay_verify_names_a_changed_plugin_code(project: Path, cli) -> None:
    assert run_subprocess(project, "pipeline", "--case", "demo").code == 0
    original = _record(cli, project)
    module = project / "modules" / "event_detector.py"
    source = module.read_text(encoding="utf-8")
    assert '        hub["events"] = events\n' in source
    module.write_text(
        source.replace(
            '        hub["events"] = events\n',
            '        hub["events"] = events.iloc[::-1].reset_index(drop=True)\n',
        ),
        encoding="utf-8",
    )
    result = run_subprocess(project, "replay", original["run_id"], "--verify")
    assert result.code == 1
    lines = _error_lines(result.err)
    assert len(lines) == 1, result.err
    assert "step 'EventDetector'" in lines[0]
    assert "code of its plugin changed" in lines[0]
    assert "WARNING" in result.err and "the code of step 'EventDetector' changed" in result.err


def test_replay_notes_a_code_change_that_changes_no_output(project: Path, cli) -> None:
    assert run_subprocess(project, "pipeline", "--case", "demo").code == 0
    module = project / "modules" / "event_detector.py"
    module.write_text(module.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
    result = run_subprocess(project, "replay", "last", "--verify")
    assert result.code == 0, result.err
    assert "note: the code of step 'EventDetector' changed" in result.out
    assert "identical" in result.out


def test_replay_from_a_step_runs_only_from_there(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    original = _record(cli, project)
    before = tree_hash(project / "cases")
    result = cli(project, "replay", "last", "--from", "SignalCleaner", "--verify")
    assert result.code == 0, result.err
    assert "5 step(s)" in result.out
    replay = _record(cli, project)
    assert replay["replay_of"] == original["run_id"]
    assert [s["name"] for s in replay["steps"]] == [
        "SignalCleaner",
        "DataProfiler",
        "FeatureDeriver",
        "EventDetector",
        "ReportWriter",
    ]
    cleaner = replay["steps"][0]
    aligned = next(d for d in cleaner["datasets"] if d["role"] == "input")
    recorded = next(
        d
        for s in original["steps"]
        if s["name"] == "SignalAligner"
        for d in s["datasets"]
        if d["role"] == "output"
    )
    assert aligned["content_hash"] == recorded["content_hash"]
    assert tree_hash(project / "cases") == before
    unknown = cli(project, "replay", original["run_id"], "--from", "NoSuchStep")
    assert unknown.code == 2
    assert len(_error_lines(unknown.err)) == 1


# -- gc --------------------------------------------------------------------------------


def test_gc_keep_last_drops_older_records_and_only_their_versions(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    brake = "pipeline.EventDetector.params.hard_brake_mps2=3.5"
    assert cli(project, "pipeline", "--case", "demo", "--set", brake).code == 0
    assert cli(project, "pipeline", "--case", "demo").code == 0
    # gc leaves versions stored less than a second ago (a run may be storing them)
    time.sleep(1.1)
    runs = json.loads(cli(project, "runs", "--json").out)
    assert len(runs) == 3
    kept = _record(cli, project, runs[0]["run_id"])
    middle = _record(cli, project, runs[1]["run_id"])
    only_middle = _hashes(middle) - _hashes(kept)
    assert only_middle  # the events and report of hard_brake 3.5
    objects = ObjectStore(project / ".datareplay" / "objects")
    stored = {h for h, _ in objects.hashes()}
    assert only_middle <= stored

    dry = cli(project, "gc", "--keep-last", "1", "--dry-run")
    assert dry.code == 0, dry.err
    assert dry.out.startswith("would drop 2 run record(s), kept 1")
    assert {h for h, _ in objects.hashes()} == stored
    assert len(json.loads(cli(project, "runs", "--json").out)) == 3

    result = cli(project, "gc", "--keep-last", "1")
    assert result.code == 0, result.err
    assert result.out.startswith("dropped 2 run record(s), kept 1")
    assert [r["run_id"] for r in json.loads(cli(project, "runs", "--json").out)] == [kept["run_id"]]
    left = {h for h, _ in objects.hashes()}
    assert _hashes(kept) <= left
    assert not (only_middle & left)
    assert all(objects.verify(h) for h in _hashes(kept))
    verify = cli(project, "replay", kept["run_id"], "--verify")
    assert verify.code == 0, verify.err
    assert "identical" in verify.out


def test_gc_dry_run_removes_nothing(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    assert cli(project, "pipeline", "--case", "demo").code == 0
    before = tree_hash(project / ".datareplay" / "objects")
    with database(project) as db:
        rows = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    result = cli(project, "gc", "--keep-last", "0", "--dry-run")
    assert result.code == 0, result.err
    assert result.out.startswith("would drop 2 run record(s), kept 0")
    assert tree_hash(project / ".datareplay" / "objects") == before
    with database(project) as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == rows == 2


def test_a_run_going_on_survives_gc(project: Path, cli, tmp_path) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    marker, release = tmp_path / "started", tmp_path / "release"
    blocking_case(project, "block", marker, release)
    proc = start(project, "pipeline", "--case", "block")
    try:
        wait_for(marker, proc)
        result = cli(project, "gc", "--keep-last", "0")
        assert result.code == 0, result.err
        assert result.out.startswith("dropped 1 run record(s), kept 1")
        release.write_text("go")
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    runs = json.loads(cli(project, "runs", "--json").out)
    assert [(r["case"], r["status"]) for r in runs] == [("block", "succeeded")]
    record = _record(cli, project)
    assert record["seal_intact"] is True
    assert [(s["name"], s["status"]) for s in record["steps"]] == [
        ("Noisy", "succeeded"),
        ("Blocker", "succeeded"),
    ]
    objects = ObjectStore(project / ".datareplay" / "objects")
    needed = _hashes(record)
    assert len(needed) == 3  # raw input, noise, blocked
    assert all(objects.verify(h) for h in needed)
    # and a later gc keeps them: the run is the newest
    assert cli(project, "gc", "--keep-last", "1").code == 0
    assert all(objects.verify(h) for h in needed)
