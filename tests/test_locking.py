"""Unit tests of datareplay.project.locking: one writer per case, flock-based."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from datareplay.errors import CaseLockedError, ExitCode
from datareplay.project.locking import LOCK_FILE, CaseLock


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
