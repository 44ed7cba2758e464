"""Unit tests of datareplay.project.locking: one writer per case, flock-based."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from datareplay.errors import CaseLockedError, ExitCode, UnsafeNameError, UsageError
from datareplay.project.locking import LOCK_FILE, CaseLock, RawDataLock


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "cases" / "demo"
    folder.mkdir(parents=True)
    return folder


def test_acquire_writes_pid_and_time(case_dir: Path) -> None:
    lock = CaseLock(case_dir, case="demo")
    lock.acquire()
    try:
        assert lock.path == case_dir / LOCK_FILE
        text = (case_dir / LOCK_FILE).read_text(encoding="utf-8")
        pid, stamp, rest = text.split("\n")
        assert pid == str(os.getpid())
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", stamp)
        assert rest == ""
    finally:
        lock.release()


def test_acquire_truncates_longer_previous_content(case_dir: Path) -> None:
    (case_dir / LOCK_FILE).write_text("9" * 500 + "\nold stamp\nextra junk\n", encoding="utf-8")
    with CaseLock(case_dir, case="demo"):
        lines = (case_dir / LOCK_FILE).read_text(encoding="utf-8").split("\n")
    assert lines[0] == str(os.getpid())
    assert len(lines) == 3


def test_second_lock_is_refused_naming_the_holder(case_dir: Path) -> None:
    with CaseLock(case_dir, case="demo"):
        second = CaseLock(case_dir, case="demo")
        with pytest.raises(CaseLockedError, match=rf"PID {os.getpid()} since .*--wait") as info:
            second.acquire()
        message = str(info.value)
        assert message.startswith(f"case 'demo' is being run by PID {os.getpid()} since ")
        assert message.endswith("wait for it to finish or pass --wait")
        assert info.value.exit_code is ExitCode.USAGE_ERROR
        assert second._fd is None  # nothing left open


def test_refused_lock_message_when_holder_info_is_empty(case_dir: Path) -> None:
    with CaseLock(case_dir, case="demo"):
        (case_dir / LOCK_FILE).write_bytes(b"")
        with pytest.raises(CaseLockedError, match=r"by PID \? since \?;"):
            CaseLock(case_dir, case="demo").acquire()


def test_lock_is_free_again_after_release(case_dir: Path) -> None:
    first = CaseLock(case_dir, case="demo")
    first.acquire()
    first.release()
    second = CaseLock(case_dir, case="demo")
    second.acquire()
    second.release()
    # releasing twice is harmless
    second.release()


def test_context_manager_releases_on_exception(case_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="inside"), CaseLock(case_dir, case="demo") as lock:
        assert lock._fd is not None
        raise RuntimeError("inside")
    assert lock._fd is None
    with CaseLock(case_dir, case="demo"):
        pass


def test_context_manager_returns_the_lock(case_dir: Path) -> None:
    lock = CaseLock(case_dir, case="demo")
    with lock as entered:
        assert entered is lock
    assert lock._fd is None


def test_wait_blocks_until_the_holder_releases(case_dir: Path) -> None:
    holder = CaseLock(case_dir, case="demo")
    holder.acquire()
    events: list[str] = []
    released = threading.Event()

    def release_later() -> None:
        released.wait(0.2)  # simply a short pause
        events.append("released")
        holder.release()

    thread = threading.Thread(target=release_later)
    thread.start()
    try:
        with CaseLock(case_dir, case="demo", wait=True) as waiter:
            events.append("acquired")
            assert waiter._fd is not None
    finally:
        thread.join(5)
    assert events == ["released", "acquired"]


def test_locks_of_different_cases_are_independent(tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    with CaseLock(a, case="a"), CaseLock(b, case="b"):
        pass


# -- lock files are never followed and never outside the project ---------------------------


def test_a_symlink_at_the_lock_file_is_refused_and_its_target_untouched(
    case_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    (case_dir / LOCK_FILE).symlink_to(target)
    with pytest.raises(UnsafeNameError, match=r"is a symbolic link; .* remove it") as info:
        CaseLock(case_dir, case="demo", root=tmp_path).acquire()
    assert info.value.exit_code is ExitCode.USAGE_ERROR
    assert target.read_text() == "keep"


def test_a_hard_link_or_a_fifo_at_the_lock_file_is_refused(case_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("keep")
    os.link(other, case_dir / LOCK_FILE)
    with pytest.raises(UnsafeNameError, match="has other hard links"):
        CaseLock(case_dir, case="demo").acquire()
    assert other.read_text() == "keep"
    (case_dir / LOCK_FILE).unlink()
    os.mkfifo(case_dir / LOCK_FILE)
    with pytest.raises(UnsafeNameError, match="is not a plain file"):
        CaseLock(case_dir, case="demo").acquire()


def test_a_lock_folder_outside_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / "cases").mkdir(parents=True)
    (project / "cases" / "demo").symlink_to(outside)
    with pytest.raises(UnsafeNameError, match="would be written outside the project"):
        CaseLock(project / "cases" / "demo", case="demo", root=project).acquire()
    assert list(outside.iterdir()) == []


def test_an_unwritable_lock_file_names_the_file(case_dir: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    case_dir.chmod(0o500)
    try:
        with pytest.raises(UsageError, match=r"cannot create the lock file .*Permission denied"):
            CaseLock(case_dir, case="demo", root=tmp_path).acquire()
    finally:
        case_dir.chmod(0o700)


# -- the raw-data lock: many readers or one writer -------------------------------------------


def raw_lock(folder: Path, **kwargs: object) -> RawDataLock:
    return RawDataLock(folder, roots=[folder], shown="data/raw", **kwargs)  # type: ignore[arg-type]


def test_readers_share_the_raw_data_lock_and_keep_the_writer_out(tmp_path: Path) -> None:
    first, second = raw_lock(tmp_path), raw_lock(tmp_path)
    with (
        first.holding(exclusive=False),
        second.holding(exclusive=False),
        pytest.raises(UsageError, match=r"is being read by PID \d+ .* or pass --wait$"),
    ):
        raw_lock(tmp_path).acquire(exclusive=True)
    with raw_lock(tmp_path).holding(exclusive=True, activity="generated by generate-data"):
        with pytest.raises(
            UsageError, match=r"being generated by generate-data \(PID \d+, since .*\); wait"
        ):
            raw_lock(tmp_path, hint="").acquire(exclusive=False)
        assert (tmp_path / LOCK_FILE).read_text().split("\n")[2] == "generated by generate-data"


def test_a_raw_data_lock_converts_between_shared_and_exclusive(tmp_path: Path) -> None:
    lock = raw_lock(tmp_path)
    lock.acquire(exclusive=False)
    lock.acquire(exclusive=True, activity="repaired")
    assert lock.exclusive
    with pytest.raises(UsageError):
        raw_lock(tmp_path).acquire(exclusive=False)
    lock.acquire(exclusive=False)
    with raw_lock(tmp_path).holding(exclusive=False):
        pass
    lock.release()
    assert not lock.held


def test_a_waiting_writer_gets_the_raw_data_lock_when_the_reader_leaves(tmp_path: Path) -> None:
    reader = raw_lock(tmp_path)
    reader.acquire(exclusive=False)
    events: list[str] = []

    def write() -> None:
        with raw_lock(tmp_path, wait=True).holding(exclusive=True):
            events.append("written")

    thread = threading.Thread(target=write)
    thread.start()
    events.append("reading")
    reader.release()
    thread.join(10)
    assert events == ["reading", "written"]


def test_readers_of_a_read_only_raw_folder_need_no_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def read_only(path: object, flags: int, *args: object) -> int:
        if str(path).endswith(LOCK_FILE) and flags & os.O_CREAT:
            raise OSError(30, "Read-only file system", str(path))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    lock = raw_lock(tmp_path)
    lock.acquire(exclusive=False)  # nothing can replace the recordings: read them unlocked
    assert not lock.held and not (tmp_path / LOCK_FILE).exists()
    with pytest.raises(UsageError, match=r"cannot create the lock file .*Read-only file system"):
        lock.acquire(exclusive=True)
