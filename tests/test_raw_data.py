"""The shared raw recordings: replaced as one step, repaired after a kill, never regenerated
over data that exists, read and written under one lock, and errors that name the file.

Kills land at named points of the replacement (``DATAREPLAY_TEST_KILL_AT``), not by chance.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, tree_hash
from datareplay.errors import ExitCode, MissingInputError, UsageError
from datareplay.project.generation import generate_data
from datareplay.project.locking import RawDataLock
from datareplay.project.paths import Project
from datareplay.project.rawdata import (
    JOURNAL,
    KILL_HOOK,
    MANIFEST,
    NO_EXCHANGE_HOOK,
    RawRecordings,
)
from datareplay.session import Session

sys.path.insert(0, str(REPO / "scripts"))
import generation as demo_generator

ROWS = 2_000
RECORDINGS = ("drive", "drive_faulty")


# -- helpers ------------------------------------------------------------------------------


def raw(root: Path) -> Path:
    return root / "data" / "raw"


def recording_bytes(root: Path) -> dict[str, bytes]:
    """Every file of the recordings, by path below data/raw."""
    folder = raw(root)
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for name in RECORDINGS
        for p in sorted((folder / name).glob("*"))
        if p.is_file()
    }


def expected_bytes(tmp_path: Path, rows: int, seed: int) -> dict[str, bytes]:
    """What a clean generation at ``rows`` and ``seed`` writes (the script, standalone)."""
    root = tmp_path / f"expected-{rows}-{seed}"
    demo_generator.generate(root, rows=rows, seed=seed, faults=True)
    return recording_bytes(root)


def run(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=root,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def start(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


@pytest.fixture
def generated(bare_project: Path, cli) -> Path:
    """The demo project after ``generate-data --rows 2000 --seed 5 --faults``."""
    result = cli(bare_project, "generate-data", "--rows", str(ROWS), "--seed", "5", "--faults")
    assert result.code == 0, result.err
    return bare_project


# -- 1. a replacement is one step, and a kill in it is finished by the next command -----


@pytest.mark.parametrize(
    ("point", "exchange"),
    [
        ("journaled", True),  # new copy complete, nothing swapped yet
        ("swapped:drive", True),  # one recording exchanged, the other not yet
        ("renamed-away:drive", False),  # no exchange: old renamed away, new not yet in place
    ],
)
def test_kill_during_the_swap_is_finished_by_the_next_run(
    generated: Path, cli, tmp_path: Path, point: str, exchange: bool
) -> None:
    env = {KILL_HOOK: point, **({} if exchange else {NO_EXCHANGE_HOOK: "1"})}
    killed = run(generated, "generate-data", "--rows", "3000", "--seed", "6", "--faults", env=env)
    assert killed.returncode == -9, killed.stderr
    if exchange:  # an exchange never leaves the recording's path missing
        assert (raw(generated) / "drive" / "wheel_speed.parquet").is_file()
    else:  # two renames do, for a moment; validate says who finishes the job
        assert not (raw(generated) / "drive").exists()
        checked = cli(generated, "validate", "--case", "demo")
        assert checked.code == ExitCode.USAGE_ERROR
        assert "an interrupted generation left data/raw/.generating-" in checked.err
        assert "which the next 'datareplay pipeline' or 'generate-data' finishes" in checked.err

    result = cli(generated, "plugin", "InitialDataReader", "--case", "demo")
    assert result.code == 0, result.err
    assert "was interrupted while replacing data/raw/drive, data/raw/drive_faulty" in result.err
    assert "rows 3,000, seed 6" in result.err
    assert "generating" not in result.err  # finished from the copy, not generated again
    assert recording_bytes(generated) == expected_bytes(tmp_path, 3000, 6)
    assert json.loads((raw(generated) / MANIFEST).read_text())["rows"] == 3000
    assert sorted(p.name for p in raw(generated).iterdir()) == [
        ".generated.json",
        ".lock",
        "drive",
        "drive_faulty",
    ]


def test_kill_while_the_generator_writes_keeps_the_old_recording(generated: Path, cli) -> None:
    before = recording_bytes(generated)
    killed = run(generated, "generate-data", "--rows", "3000", env={KILL_HOOK: "staged"})
    assert killed.returncode == -9
    result = cli(generated, "plugin", "InitialDataReader", "--case", "demo")
    assert result.code == 0, result.err
    assert "removed data/raw/.generating-" in result.err
    assert "interrupted while writing it" in result.err
    assert recording_bytes(generated) == before
    assert json.loads((raw(generated) / MANIFEST).read_text())["rows"] == ROWS


def test_an_old_interrupted_swap_is_put_back_not_regenerated(generated: Path, cli) -> None:
    # the state the two-rename replacement of earlier versions left when killed between
    # its renames: no data/raw/drive, the complete old copy and a new one beside it
    before = recording_bytes(generated)
    pid = dead_pid()
    drive = raw(generated) / "drive"
    drive.rename(raw(generated) / f".drive.old-{pid}")
    (raw(generated) / f".drive.tmp-{pid}").mkdir()
    (raw(generated) / f".drive.tmp-{pid}" / "imu.parquet").write_bytes(b"half")
    result = cli(generated, "plugin", "InitialDataReader", "--case", "demo")
    assert result.code == 0, result.err
    assert f"put back data/raw/drive from .drive.old-{pid}" in result.err
    assert "generating" not in result.err
    assert recording_bytes(generated) == before
    assert not list(raw(generated).glob(".drive.*"))


# -- 2. never regenerated over data that exists ---------------------------------------------


@pytest.mark.parametrize("damage", ["deleted", "folder"])
def test_a_recording_missing_one_file_is_refused_and_nothing_touched(
    generated: Path, cli, damage: str
) -> None:
    wheel = raw(generated) / "drive" / "wheel_speed.parquet"
    wheel.unlink()
    if damage == "folder":
        wheel.mkdir()
    before = tree_hash(generated)
    result = cli(generated, "plugin", "InitialDataReader", "--case", "demo")
    assert result.code == ExitCode.USAGE_ERROR
    lines = error_lines(result.err)
    assert len(lines) == 1 and result.err.count("\n") == 1, result.err
    what = "is a folder, not a file" if damage == "folder" else "no file at"
    assert "raw input 'wheel_speed_raw' of case 'demo' is missing: " in lines[0]
    assert what in lines[0] and "data/raw/drive/wheel_speed.parquet" in lines[0]
    assert "run 'datareplay generate-data' to regenerate the whole recording" in lines[0]
    assert tree_hash(generated) == before


def test_a_wholly_absent_recording_is_generated_at_the_recorded_size(generated: Path, cli) -> None:
    before = recording_bytes(generated)
    faulty = raw(generated) / "drive_faulty" / "imu.parquet"
    faulty_stat = faulty.stat()
    for path in (raw(generated) / "drive").iterdir():
        path.unlink()  # an empty folder counts as absent too
    result = cli(generated, "plugin", "InitialDataReader", "--case", "demo")
    assert result.code == 0, result.err
    assert (
        "raw data missing (data/raw/drive/wheel_speed.parquet): the recording data/raw/drive "
        "is absent; generating it first with scripts/generation.py (rows 2,000, seed 5, as "
        "recorded by the last generate-data in data/raw/.generated.json)"
    ) in result.err
    assert recording_bytes(generated) == before  # the same size and seed: the same bytes
    after = faulty.stat()  # the recording that was there was not touched
    assert (after.st_ino, after.st_mtime_ns) == (faulty_stat.st_ino, faulty_stat.st_mtime_ns)


def test_a_damaged_manifest_is_an_error_not_a_guess(bare_project: Path) -> None:
    session = Session(Project.at(bare_project))
    with pytest.raises(MissingInputError):  # sanity: validate sees the absent recording
        session.validate("demo")
    manifest = raw(bare_project) / MANIFEST
    manifest.parent.mkdir(parents=True)
    manifest.write_text('{"rows": "many"}')
    with pytest.raises(UsageError, match=r"data/raw/\.generated\.json .*cannot be read"):
        session.ensure_raw_data(session.open_case("demo"))
    assert sorted(p.name for p in raw(bare_project).iterdir()) == [".generated.json", ".lock"]


# -- 3. readers and the writer of raw data coordinate through a lock -----------------------

SLOW_READER = '''
"""A reader of the raw recording that stops between its reads."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from datareplay import BasePlugin, Param


class SlowRawReader(BasePlugin):
    """Read the wheel speeds, wait for a release file, then read IMU and GPS."""

    inputs = {"wheel": "wheel speeds", "imu": "IMU", "gps": "GPS"}
    outputs = {"counts": "rows read from each stream"}
    marker = Param("", "file created once the wheel speeds are read")
    release = Param("", "file waited for before the rest is read")

    def run(self, hub):
        wheel = len(hub["wheel"])
        Path(self.marker).write_text("read")
        while not Path(self.release).exists():
            time.sleep(0.01)
        counts = {"wheel": [wheel], "imu": [len(hub["imu"])], "gps": [len(hub["gps"])]}
        hub["counts"] = pd.DataFrame(counts)
'''

SLOW_CASE = """
data_sources:
  wheel_speed_raw: {{path: data/raw/drive/wheel_speed.parquet, read_only: true}}
  imu_raw: {{path: data/raw/drive/imu.parquet, read_only: true}}
  gps_raw: {{path: data/raw/drive/gps.parquet, read_only: true}}
  counts: {{}}
pipeline:
  - plugin: SlowRawReader
    inputs: {{wheel: wheel_speed_raw, imu: imu_raw, gps: gps_raw}}
    outputs: {{counts: counts}}
    params: {{marker: '{marker}', release: '{release}'}}
"""

WAITING_GENERATOR = """
import sys
from pathlib import Path
from datareplay.project.paths import Project
from datareplay.session import Session
Session(Project.at(Path(sys.argv[1]))).generate_data(rows=3000, seed=2, wait=True)
"""


def blocked_on(lock: Path, pid: int) -> bool:
    """True when ``pid`` waits for the flock on ``lock`` (a '->' line of /proc/locks)."""
    info = lock.stat()
    key = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and key in fields and str(pid) in fields:
            return True
    return False


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs /proc/locks")
def test_generate_data_never_replaces_what_a_running_pipeline_reads(
    generated: Path, cli, tmp_path: Path
) -> None:
    (generated / "modules" / "slow_raw_reader.py").write_text(SLOW_READER)
    marker, release = tmp_path / "read", tmp_path / "release"
    case = generated / "cases" / "slow"
    case.mkdir()
    (case / "case.yaml").write_text(SLOW_CASE.format(marker=marker, release=release))
    old = {
        name: len(pd.read_parquet(raw(generated) / "drive" / f"{name}.parquet"))
        for name in ("wheel_speed", "imu", "gps")
    }

    pipeline = start(generated, "run.py", "pipeline", "--case", "slow")
    waiting = None
    try:
        wait_until(marker.exists, "the pipeline has read the wheel speeds")
        refused = cli(generated, "generate-data", "--rows", "3000")
        assert refused.code == ExitCode.USAGE_ERROR
        assert error_lines(refused.err) == [
            f"error: the raw data in data/raw is being read by PID {pipeline.pid} (a pipeline "
            "or plugin run); wait for it to finish or pass --wait"
        ]
        waiting = start(generated, "-c", WAITING_GENERATOR, str(generated))
        wait_until(lambda: blocked_on(raw(generated) / ".lock", waiting.pid), "it queues")
    finally:
        release.write_text("go")
        err = pipeline.communicate(timeout=60)[1]
        if waiting is not None:
            waiting.communicate(timeout=60)
    assert pipeline.returncode == 0, err
    assert waiting.returncode == 0
    counts = pd.read_parquet(case / "data" / "counts.parquet").iloc[0]
    assert (counts["wheel"], counts["imu"], counts["gps"]) == (
        old["wheel_speed"],
        old["imu"],
        old["gps"],
    )  # every stream from the old recording, none from the new one
    assert len(pd.read_parquet(raw(generated) / "drive" / "wheel_speed.parquet")) == 3000


@pytest.fixture
def writer(generated: Path) -> Iterator[RawDataLock]:
    """This process holding the raw-data lock as generate-data does."""
    lock = RawDataLock(raw(generated), roots=[generated], shown="data/raw")
    with lock.holding(exclusive=True, activity="generated by generate-data"):
        yield lock


def test_runs_and_generations_are_refused_while_the_raw_data_is_replaced(
    generated: Path, writer: RawDataLock, cli
) -> None:
    before = tree_hash(generated)
    message = (
        f"the raw data in data/raw is being generated by generate-data (PID {os.getpid()}, since "
    )
    result = cli(generated, "plugin", "InitialDataReader", "--case", "demo")
    assert result.code == ExitCode.USAGE_ERROR
    assert message in result.err and result.err.rstrip().endswith("or pass --wait")
    result = cli(generated, "generate-data")
    assert result.code == ExitCode.USAGE_ERROR and message in result.err
    assert tree_hash(generated) == before


def test_concurrent_generations_both_end_complete_or_one_is_told(
    generated: Path, tmp_path: Path
) -> None:
    expected = expected_bytes(tmp_path, 2500, 3)
    procs = [
        start(generated, "run.py", "generate-data", "--rows", "2500", "--seed", "3", "--faults")
        for _ in range(2)
    ]
    results = [(p.communicate(timeout=60)[1], p.returncode) for p in procs]
    for err, code in results:
        assert "Directory not empty" not in err and "unexpected" not in err, err
        assert code == 0 or (code == 2 and "is being generated by generate-data" in err), err
    assert any(code == 0 for _, code in results)
    assert recording_bytes(generated) == expected
    assert sorted(p.name for p in raw(generated).iterdir()) == [
        ".generated.json",
        ".lock",
        "drive",
        "drive_faulty",
    ]


def test_two_cases_generating_an_absent_recording_at_once(bare_project: Path) -> None:
    manifest = raw(bare_project) / MANIFEST
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"rows": ROWS, "seed": 4}))
    other = bare_project / "cases" / "other"
    other.mkdir()
    (other / "case.yaml").write_bytes((bare_project / "cases/demo/case.yaml").read_bytes())
    procs = [
        start(bare_project, "run.py", "plugin", "InitialDataReader", "--case", case, "--wait")
        for case in ("demo", "other")
    ]
    results = [(p.communicate(timeout=120)[1], p.returncode) for p in procs]
    assert [code for _, code in results] == [0, 0], results
    generated = [err for err, _ in results if "generating it first" in err]
    assert len(generated) == 1  # the second run found the recording the first one wrote
    assert "Directory not empty" not in "".join(err for err, _ in results)


# -- 4. lock files are never followed through a link ---------------------------------------


@pytest.mark.parametrize("lock", ["cases/demo/.lock", "data/raw/.lock"])
def test_a_symlinked_lock_file_is_refused(generated: Path, cli, tmp_path: Path, lock: str) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    (generated / lock).unlink(missing_ok=True)
    (generated / lock).symlink_to(outside)
    result = cli(generated, "plugin", "InitialDataReader", "--case", "demo")
    assert result.code == ExitCode.USAGE_ERROR
    assert error_lines(result.err) == [
        f"error: the lock file {lock} is a symbolic link; lock files are never followed "
        f"through a link: remove it (rm {lock}) and run again"
    ]
    assert outside.read_text() == "precious"
    assert not (generated / "cases" / "demo" / "data").exists()


# -- 5. temporaries are swept only when their writer is gone --------------------------------


def test_leftovers_of_dead_writers_are_swept_and_live_ones_kept(generated: Path, cli) -> None:
    before = recording_bytes(generated)
    staging = raw(generated) / ".generating-123456789"
    (staging / "root" / "data" / "raw" / "drive").mkdir(parents=True)
    (staging / "root" / "data" / "raw" / "drive" / "imu.parquet").write_bytes(b"x" * 1000)
    dead = raw(generated) / f".drive.tmp-{dead_pid()}"
    dead.mkdir()
    (dead / "wheel_speed.parquet").write_bytes(b"half")
    live_writer = start(generated, "-c", "import sys; sys.stdin.read()")
    live = raw(generated) / f".drive.tmp-{live_writer.pid}"
    live.mkdir()
    try:
        # while a writer holds the lock its staging folder is its own: nothing is swept
        lock = RawDataLock(raw(generated), roots=[generated], shown="data/raw")
        with lock.holding(exclusive=True, activity="generated by generate-data"):
            assert (
                cli(generated, "plugin", "InitialDataReader", "--case", "demo").code
                == ExitCode.USAGE_ERROR
            )
            assert staging.is_dir() and dead.is_dir()
        result = cli(generated, "plugin", "InitialDataReader", "--case", "demo")
        assert result.code == 0, result.err
        assert "removed data/raw/.generating-123456789" in result.err
        assert f"removed data/raw/{dead.name}" in result.err
        assert not staging.exists() and not dead.exists()
        assert live.is_dir()  # its writer (a standalone script) is still running
    finally:
        live_writer.communicate("", timeout=10)
    assert recording_bytes(generated) == before


# -- 6. a full disk gives one line naming what failed ---------------------------------------

FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    from datareplay.cli.main import main
    sys.exit(main(sys.argv[2:]))
    """
)


def full_disk(root: Path, limit: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(limit), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_full_disk_before_the_case_lock_exists(generated: Path) -> None:
    lock = generated / "cases" / "demo" / ".lock"
    assert not lock.exists()
    proc = full_disk(generated, 0, "pipeline", "--case", "demo")
    assert proc.returncode == ExitCode.RUN_FAILED
    assert proc.stderr == (
        "error: cannot write the lock file cases/demo/.lock: File too large; free some space "
        "and run again\n"
    )
    assert lock.read_bytes() == b""  # nothing half-written
    assert not (generated / "cases" / "demo" / "data").exists()


def test_generate_data_on_a_full_disk_keeps_the_recording(generated: Path) -> None:
    before = recording_bytes(generated)
    proc = full_disk(generated, 20_000, "generate-data", "--rows", "9000", "--faults")
    assert proc.returncode == ExitCode.RUN_FAILED
    assert proc.stderr == (
        "error: generate-data could not write data/raw/drive/wheel_speed.parquet: File too "
        "large; nothing was replaced, the previous recordings are kept; free some space and "
        "run again\n"
    )
    assert recording_bytes(generated) == before
    assert sorted(p.name for p in raw(generated).iterdir()) == [
        ".generated.json",
        ".lock",
        "drive",
        "drive_faulty",
    ]


def test_generate_data_on_a_full_disk_before_its_lock_exists(bare_project: Path) -> None:
    proc = full_disk(bare_project, 0, "generate-data", "--rows", "2000")
    assert proc.returncode == ExitCode.RUN_FAILED
    assert proc.stderr == (
        "error: cannot write the lock file data/raw/.lock: File too large; free some space "
        "and run again\n"
    )
    assert sorted(p.name for p in raw(bare_project).iterdir()) == [".lock"]


# -- the replacement itself, in process -----------------------------------------------------


def staged_recording(recordings: RawRecordings, content: bytes) -> tuple[Path, Path]:
    staging = recordings.stage()
    folder = staging / "root" / "drive"
    folder.mkdir(parents=True)
    (folder / "a.bin").write_bytes(content)
    return staging, folder


@pytest.mark.parametrize("exchange", [True, False])
def test_publish_replaces_a_folder_as_a_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    if not exchange:
        monkeypatch.setenv(NO_EXCHANGE_HOOK, "1")
    recordings = RawRecordings(tmp_path / "raw", project_root=tmp_path)
    (tmp_path / "raw" / "drive").mkdir(parents=True)
    (tmp_path / "raw" / "drive" / "stale.bin").write_bytes(b"old")
    staging, folder = staged_recording(recordings, b"new")
    recordings.publish(staging, {"drive": folder}, b'{"rows": 1, "seed": 2}')
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == [MANIFEST, "drive"]
    assert [p.name for p in (tmp_path / "raw" / "drive").iterdir()] == ["a.bin"]
    assert recordings.read_manifest() is not None


def test_recover_puts_the_old_copy_back_when_the_new_one_is_gone(tmp_path: Path) -> None:
    recordings = RawRecordings(tmp_path / "raw", project_root=tmp_path)
    (tmp_path / "raw").mkdir()
    staging, folder = staged_recording(recordings, b"new")
    info = folder.stat()
    journal = {
        "recordings": [
            {"name": "drive", "staged": "root/drive", "dev": info.st_dev, "ino": info.st_ino}
        ]
    }
    (staging / JOURNAL).write_text(json.dumps(journal))
    (staging / "old" / "drive").mkdir(parents=True)
    (staging / "old" / "drive" / "a.bin").write_bytes(b"old")
    shutil.rmtree(folder)  # the new copy lost: only the old one can be put back
    notes = recordings.recover()
    assert (
        len(notes) == 1 and "new copy is lost, so the previous raw/drive was put back" in notes[0]
    )
    assert (tmp_path / "raw" / "drive" / "a.bin").read_bytes() == b"old"
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["drive"]


def test_generate_data_refuses_a_raw_root_outside_the_project(bare_project: Path) -> None:
    with pytest.raises(UsageError, match="is not a folder inside the project"):
        generate_data(Project.at(bare_project), rows=ROWS, raw_root="../elsewhere")


def test_a_generator_that_fails_leaves_nothing_behind(generated: Path, cli) -> None:
    before = recording_bytes(generated)
    script = generated / "scripts" / "generation.py"
    script.write_text(
        script.read_text() + "\n\ndef generate(root, *, rows, seed):\n"
        "    raise ValueError('no sensors today')\n"
    )
    result = cli(generated, "generate-data")
    assert result.code == ExitCode.RUN_FAILED
    assert error_lines(result.err) == [
        "error: scripts/generation.py failed: ValueError: no sensors today; nothing was "
        "replaced, the previous recordings are kept"
    ]
    assert recording_bytes(generated) == before
    assert not list(raw(generated).glob(".generating-*"))
