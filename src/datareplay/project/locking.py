"""One writer per case: an OS-level lock held for the whole run.

The lock is ``flock`` on ``cases/<case>/.lock``. The kernel releases it when the holding
process exits for any reason (SIGKILL included), so it can never go stale and needs no
manual clean-up; the PID and start time written into the file only serve the message
that a second run prints.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from datareplay.errors import CaseLockedError

LOCK_FILE = ".lock"


class CaseLock:
    """Exclusive lock of one case; use as a context manager."""

    def __init__(self, case_dir: Path, *, case: str, wait: bool = False) -> None:
        self.path = case_dir / LOCK_FILE
        self.case = case
        self.wait = wait
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            flags = fcntl.LOCK_EX if self.wait else fcntl.LOCK_EX | fcntl.LOCK_NB
            try:
                fcntl.flock(fd, flags)
            except BlockingIOError:
                raise CaseLockedError(self._held_message(fd)) from None
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            info = f"{os.getpid()}\n{stamp}\n".encode()
            os.pwrite(fd, info, 0)
            os.ftruncate(fd, len(info))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _held_message(self, fd: int) -> str:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split("\n")
        pid = holder[0].strip() or "?"
        since = holder[1].strip() if len(holder) > 1 and holder[1].strip() else "?"
        return (
            f"case '{self.case}' is being run by PID {pid} since {since}; wait for it to "
            "finish or pass --wait"
        )

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CaseLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
