"""Locks held while a command runs: one writer per case, per shared output file; raw data.

Every lock is ``flock`` on a lock file inside the project: ``cases/<case>/.lock`` for
the case (exclusive, for the whole run), ``.<file>.lock`` beside a file that a case
writes outside its own folder (exclusive, for the whole run, so two cases never write
one file at once) and ``<data.raw_root>/.lock`` for the shared raw recordings (shared by
every run that reads them, exclusive for ``generate-data`` and for whatever replaces or
repairs them). The kernel releases a lock when the holding process exits for any reason
(SIGKILL included), so it can never go stale and needs no manual clean-up.

A lock file is opened without following a symbolic link (``O_NOFOLLOW``), must be a
plain file with a single link and must lie inside the project (or a data root it allows),
so a planted link can never make a run write outside. The PID, time and activity written
into the file by an exclusive holder only serve the message that a second command
prints; holders of a shared lock are named from ``/proc/locks`` where it exists. A
command that queues (``--wait``) behind a held lock says once, as a warning on the
``datareplay`` logger, whom it waits for (``waiting for case 'demo' (PID n, since T)
...``) before it blocks.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

from datareplay.errors import CaseLockedError, UnsafeNameError, UsageError
from datareplay.project.oserrors import os_error

log = logging.getLogger("datareplay")

LOCK_FILE = ".lock"
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
WAIT_HINT = " or pass --wait"


def open_lock_file(path: Path, *, roots: Sequence[Path], shown: str) -> int:
    """Open (creating it if needed) the lock file ``path``; return its descriptor.

    Refused with a one-line error: a symbolic link or anything but a plain file with one
    link at ``path``, a folder that resolves outside ``roots``; a file-system error (full
    disk, permissions) names the file and the cause.
    """
    folder = path.parent.resolve()
    if not any(folder == r or folder.is_relative_to(r) for r in (x.resolve() for x in roots)):
        raise UnsafeNameError(
            f"the lock file {shown} would be written outside the project ({folder}); "
            "replace the link in its path by a real folder"
        )
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeNameError(
                f"the lock file {shown} is a symbolic link; lock files are never followed "
                f"through a link: remove it (rm {shown}) and run again"
            ) from None
        raise os_error(exc, f"cannot create the lock file {shown}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        what = "is not a plain file" if not stat.S_ISREG(info.st_mode) else "has other hard links"
        raise UnsafeNameError(f"the lock file {shown} {what}; remove it (rm {shown}) and run again")
    os.set_blocking(fd, True)
    return fd


def write_holder(fd: int, shown: str, *lines: str) -> None:
    """Record the holder (PID, time, ``lines``) in the lock file; nothing half-written."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    info = "".join(f"{line}\n" for line in (str(os.getpid()), stamp, *lines)).encode()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
    except OSError as exc:
        with suppress(OSError):
            os.ftruncate(fd, 0)
        raise os_error(exc, f"cannot write the lock file {shown}") from exc


def read_holder(fd: int) -> tuple[str, str, str]:
    """PID, time and activity recorded in a lock file ("?" where unknown)."""
    lines = os.pread(fd, 400, 0).decode("utf-8", "replace").split("\n")
    fields = [line.strip() or "?" for line in (*lines[:3], "?", "?", "?")[:3]]
    return fields[0], fields[1], fields[2]


def flock_or_wait(fd: int, mode: int, *, wait: bool, waiting: Callable[[], str]) -> None:
    """``flock(fd, mode)``: at once, or with ``wait`` after saying whom it waits for.

    Without ``wait`` a held lock raises BlockingIOError. With ``wait`` the lock is tried
    at once first; when it is held, ``waiting()`` (``waiting for case 'demo' (PID n,
    since T) ...``) is logged once as a warning and the call blocks until it is free.
    """
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        if not wait:
            raise
    message = waiting()
    if logging.getLogger("datareplay").hasHandlers():
        log.warning("%s", message)
    else:  # logging not configured (the Python API): still tell the user on stderr
        sys.stderr.write(f"{message}\n")
        sys.stderr.flush()
    fcntl.flock(fd, mode)


def lock_holders(fd: int) -> list[tuple[int, bool]] | None:
    """(PID, exclusive) of every process holding a ``flock`` on ``fd``'s file.

    From ``/proc/locks`` (Linux); None where it cannot be read.
    """
    info = os.fstat(fd)
    key = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    holders: list[tuple[int, bool]] = []
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or "->" in fields or fields[1] != "FLOCK" or fields[5] != key:
            continue
        if fields[4].isdigit():
            holders.append((int(fields[4]), fields[3] == "WRITE"))
    return holders


def _recorded_holder(fd: int) -> tuple[str, str, str]:
    """``read_holder``, waiting a moment for a holder that has just locked to record itself."""
    holders = lock_holders(fd) or []
    writer = next((pid for pid, exclusive in holders if exclusive and pid != os.getpid()), None)
    pid, since, activity = read_holder(fd)
    for _ in range(20):
        if writer is None or pid == str(writer):
            break
        time.sleep(0.005)
        pid, since, activity = read_holder(fd)
    return pid, since, activity


class CaseLock:
    """Exclusive lock of one case; use as a context manager."""

    def __init__(
        self, case_dir: Path, *, case: str, wait: bool = False, root: Path | None = None
    ) -> None:
        self.path = case_dir / LOCK_FILE
        self.case = case
        self.wait = wait
        self.root = root if root is not None else case_dir
        self._fd: int | None = None

    @property
    def shown(self) -> str:
        try:
            return str(self.path.relative_to(self.root))
        except ValueError:
            return str(self.path)

    def acquire(self) -> None:
        fd = open_lock_file(self.path, roots=[self.root], shown=self.shown)
        try:
            try:
                flock_or_wait(fd, fcntl.LOCK_EX, wait=self.wait, waiting=lambda: self._waiting(fd))
            except BlockingIOError:
                raise CaseLockedError(self._held_message(fd)) from None
            write_holder(fd, self.shown)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _held_message(self, fd: int) -> str:
        pid, since, _ = read_holder(fd)
        return (
            f"case '{self.case}' is being run by PID {pid} since {since}; wait for it to "
            "finish or pass --wait"
        )

    def _waiting(self, fd: int) -> str:
        pid, since, _ = _recorded_holder(fd)
        return f"waiting for case '{self.case}' (PID {pid}, since {since}) ..."

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


class RawDataLock:
    """The lock of the shared raw recordings in one folder (``data.raw_root``).

    Runs that read raw data hold it shared, so any number of them read at once;
    ``generate-data``, the automatic generation of an absent recording and the repair of
    an interrupted replacement hold it exclusive, so no run ever reads a recording while
    it is replaced. Without ``wait`` a lock held by another process is refused at once
    with a message naming the holders; with ``wait`` it queues.
    """

    def __init__(
        self,
        folder: Path,
        *,
        roots: Sequence[Path],
        shown: str,
        wait: bool = False,
        hint: str = WAIT_HINT,
    ) -> None:
        self.folder = folder
        self.path = folder / LOCK_FILE
        self.roots = list(roots)
        self.shown = shown
        self.wait = wait
        self.hint = hint
        self.exclusive = False
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, exclusive: bool, activity: str = "") -> None:
        """Take the lock shared or exclusive (converting a lock already held).

        ``activity`` ("generated by generate-data") is recorded for the message others get.
        """
        fd = self._fd
        if fd is None:
            try:
                fd = open_lock_file(self.path, roots=self.roots, shown=f"{self.shown}/{LOCK_FILE}")
            except UsageError as exc:
                cause = exc.__cause__
                if exclusive or not isinstance(cause, OSError) or cause.errno not in _READ_ONLY:
                    raise
                # raw data in a folder nobody may write (a read-only share) cannot change
                # while it is read: readers need no lock there
                self.exclusive = False
                return
        try:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            try:
                flock_or_wait(
                    fd, mode, wait=self.wait, waiting=lambda: self._waiting(fd, exclusive)
                )
            except BlockingIOError:
                raise UsageError(self._held_message(fd, exclusive)) from None
            if exclusive:
                write_holder(fd, f"{self.shown}/{LOCK_FILE}", activity or "replaced")
        except BaseException:
            if self._fd is None:
                os.close(fd)
            else:
                self.release()
            raise
        self._fd = fd
        self.exclusive = exclusive

    def _held_message(self, fd: int, wanted_exclusive: bool) -> str:
        holders = lock_holders(fd)
        if holders is None:  # no /proc/locks: tell a writer from readers by trying
            writing = not wanted_exclusive or not self._readers_only()
            holders = [(0, writing)]
        others = [(pid, ex) for pid, ex in holders if pid != os.getpid()] or holders
        writers = [pid for pid, ex in others if ex]
        if writers or not others:
            pid, since, activity = read_holder(fd)
            for _ in range(20):  # a new holder records itself right after locking
                if not writers or not writers[0] or pid == str(writers[0]):
                    break
                time.sleep(0.005)
                pid, since, activity = read_holder(fd)
            else:
                pid, since, activity = str(writers[0]), "?", "replaced"
            return (
                f"the raw data in {self.shown} is being {activity} (PID {pid}, since "
                f"{since}); wait for it to finish{self.hint}"
            )
        readers = [str(pid) for pid in sorted({pid for pid, _ in others if pid})]
        who = f"PID {', '.join(readers)}" if readers else "another process"
        return (
            f"the raw data in {self.shown} is being read by {who} (a pipeline or plugin "
            f"run); wait for it to finish{self.hint}"
        )

    def _waiting(self, fd: int, wanted_exclusive: bool) -> str:
        held = self._held_message(fd, wanted_exclusive).split("; wait for it to finish")[0]
        return f"waiting: {held} ..."

    def _readers_only(self) -> bool:
        """True when a shared lock can be had at once (the holders are only readers)."""
        probe = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(probe)
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
            self.exclusive = False

    @contextmanager
    def holding(self, *, exclusive: bool, activity: str = "") -> Iterator[RawDataLock]:
        """Hold the lock for the ``with`` block; release it afterwards."""
        self.acquire(exclusive=exclusive, activity=activity)
        try:
            yield self
        finally:
            self.release()


class OutputLock:
    """Exclusive lock of one file a case writes outside its own folder.

    The lock file is ``.<name>.lock`` beside the file (its folder resolved, so every
    spelling of the path shares one lock, and a file in a data root outside the project is
    shared with other projects too). A second case that wants the file is refused at once
    with a message naming it, the file and the case writing it (with its PID), or queues
    with ``wait``.
    """

    def __init__(
        self,
        target: Path,
        *,
        case: str,
        roots: Sequence[Path],
        shown: str,
        wait: bool = False,
        hint: str = WAIT_HINT,
    ) -> None:
        self.target = Path(os.path.realpath(target))
        self.path = self.target.with_name(f".{self.target.name}{LOCK_FILE}")
        self.case = case
        self.roots = list(roots)
        self.shown = shown
        self.wait = wait
        self.hint = hint
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, f"cannot create the folder of {self.shown}") from exc
        fd = open_lock_file(self.path, roots=self.roots, shown=self._lock_shown)
        try:
            try:
                flock_or_wait(fd, fcntl.LOCK_EX, wait=self.wait, waiting=lambda: self._waiting(fd))
            except BlockingIOError:
                raise CaseLockedError(self._held_message(fd)) from None
            write_holder(fd, self._lock_shown, self.case)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    @property
    def _lock_shown(self) -> str:
        folder, _, _ = self.shown.rpartition("/")
        return f"{folder}/{self.path.name}" if folder else self.path.name

    def _held_message(self, fd: int) -> str:
        holders = lock_holders(fd) or []
        writer = next((pid for pid, _ in holders if pid != os.getpid()), None)
        pid, since, case = read_holder(fd)
        for _ in range(20):  # a new holder records itself right after locking
            if writer is None or pid == str(writer):
                break
            time.sleep(0.005)
            pid, since, case = read_holder(fd)
        if writer is not None and pid != str(writer):
            pid, since, case = str(writer), "?", "?"
        who = "another case" if case == "?" else f"case '{case}'"
        return (
            f"case '{self.case}' cannot write {self.shown}: it is being written by {who} "
            f"(PID {pid}, since {since}); wait for it to finish{self.hint}"
        )

    def _waiting(self, fd: int) -> str:
        held = self._held_message(fd).split("; wait for it to finish")[0]
        return f"waiting: {held} ..."

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@contextmanager
def holding_outputs(
    targets: Iterable[tuple[Path, str]],
    *,
    case: str,
    roots: Sequence[Path],
    wait: bool = False,
    hint: str = WAIT_HINT,
) -> Iterator[list[OutputLock]]:
    """Hold an ``OutputLock`` on every ``(file, shown)`` of ``targets`` for the block.

    Locks are taken in the order of the resolved paths, so two runs that queue for the
    same files (``wait``) never wait for each other; a refusal releases those taken.
    """
    locks: dict[Path, OutputLock] = {}
    for target, shown in targets:
        lock = OutputLock(target, case=case, roots=roots, shown=shown, wait=wait, hint=hint)
        locks.setdefault(lock.path, lock)
    held: list[OutputLock] = []
    try:
        for path in sorted(locks):
            locks[path].acquire()
            held.append(locks[path])
        yield held
    finally:
        for lock in reversed(held):
            lock.release()
