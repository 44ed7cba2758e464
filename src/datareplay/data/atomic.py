"""Atomic file replacement: a reader sees the complete old file or the complete new one.

A new version is written to a temporary file in the target's own folder (same file
system, so the rename is atomic), flushed and fsynced, renamed over the target, and the
folder is fsynced so the rename itself survives a crash. The rename replaces whatever
entry has the target's name — a symlink there is replaced, never written through.

**Temporaries and their writers.** A temporary is named after its target and its
writer: ``.<target>.dr-tmp-<pid>-<start>-<random>``, where ``start`` is the writer's
process start time (clock ticks since boot, from ``/proc``; 0 where unknown). It is
created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (never through a symlink) and the writer
holds an exclusive ``flock`` on it until the rename. A temporary is swept only when its
writer is gone: no running process has its PID *and* start time (so a reused PID does not
keep a leftover alive, and a zombie counts as gone) *and* nobody holds its lock (which
also protects writers whose PID is not visible here, such as another PID namespace on a
shared folder). Two runs writing the same file therefore never delete each other's
temporaries, whoever sweeps.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_MARKER = ".dr-tmp-"
PROBE = "probe"  # the writability probe is a temporary of the pseudo-target ``probe``

# .<target>.dr-tmp-<pid>[-<start>][-<random>]: two parts (pid-random) and one part (pid)
# are the names written by earlier versions, whose writers' start times are unknown
_TEMP_NAME = re.compile(
    r"\.(?P<target>.+)" + re.escape(TMP_MARKER) + r"(?P<pid>\d{1,10})(?:-(?P<rest>[0-9a-f-]*))?"
)
_MAX_PID = 2**31 - 1


# -- who wrote a temporary ------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) of a process from /proc, or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the name in parentheses may hold spaces
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


_own_start: list[tuple[int, int]] = []  # (pid, start) of this process, once read


def process_start(pid: int | None = None) -> int:
    """Start time of process ``pid`` (default: this one) in clock ticks, or 0 if unknown."""
    own = os.getpid()
    if pid is not None and pid != own:
        stat = _proc_stat(pid)
        return stat[1] if stat is not None else 0
    if not _own_start or _own_start[0][0] != own:  # first call, or a forked child
        stat = _proc_stat(own)
        _own_start[:] = [(own, stat[1] if stat is not None else 0)]
    return _own_start[0][1]


def temp_path_for(target: Path) -> Path:
    """A fresh temporary path beside ``target`` naming this process as its writer."""
    writer = f"{os.getpid()}-{process_start()}-{os.urandom(4).hex()}"
    return target.with_name(f".{target.name}{TMP_MARKER}{writer}")


def parse_temp_name(name: str) -> tuple[str, int, int] | None:
    """(target name, writer PID, writer start or 0) of a temporary's name, else None."""
    match = _TEMP_NAME.fullmatch(name)
    if match is None:
        return None
    rest = (match["rest"] or "").split("-")
    start = int(rest[0]) if len(rest) == 2 and rest[0].isdigit() else 0
    return match["target"], int(match["pid"]), start


def process_running(pid: int, start: int = 0) -> bool:
    """True when process ``pid`` runs (not a zombie) and, if ``start`` is known, is the same.

    When the process exists but cannot be inspected further, it counts as running.
    """
    if not 0 < pid <= _MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # exists, owned by someone else
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    if state in ("Z", "X"):
        return False
    return start == 0 or started == start


def _locked(path: Path) -> bool:
    """True when someone holds a ``flock`` on the file or folder at ``path``."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False  # gone already, or cannot be opened: no lock to respect
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False  # file systems without flock: the PID alone decides
    finally:
        os.close(fd)
    return False


def writer_gone(path: Path) -> bool:
    """True when the temporary at ``path`` has no live writer and may be removed.

    A name that does not carry a writer is never considered gone.
    """
    parsed = parse_temp_name(path.name)
    if parsed is None:
        return False
    _, pid, start = parsed
    return not process_running(pid, start) and not _locked(path)


# -- writing --------------------------------------------------------------------------


def fsync_dir(folder: Path) -> None:
    """fsync a directory so that renames inside it are durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_temporary(target: Path) -> tuple[Path, int]:
    """Create a fresh, empty temporary beside ``target``; return it and a locked fd to it.

    The file is created exclusively and never through a symlink; the returned descriptor
    holds an exclusive ``flock`` that marks the writer alive until it is closed.
    """
    import fcntl

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for attempt in range(3):
        tmp = temp_path_for(target)
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:  # 32 random bits collided, or something was planted there
            if attempt == 2:
                raise
    with contextlib.suppress(OSError):  # no flock here: the PID still marks the writer
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        os.utime(fd, ns=(0, 0))  # any write or truncation moves it: see ``_untouched``
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return tmp, fd


def _untouched(fd: int) -> bool:
    """True when nobody wrote or truncated the file since ``create_temporary``."""
    stat = os.fstat(fd)
    return stat.st_size == 0 and stat.st_mtime_ns == 0


@contextmanager
def atomic_target(target: Path, *, sweep: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` atomically.

    The temporary exists (empty, created by this function) when the caller gets it; the
    caller writes it by path, and a caller that neither writes nor truncates it fails (a
    writer that wrote somewhere else must not replace the target with nothing). On any
    exception (including KeyboardInterrupt) the temporary file is removed and the old
    ``target``, if any, is left untouched. With ``sweep``, temporaries of ``target``
    whose writers are gone are removed first.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if sweep:
        with contextlib.suppress(OSError):
            sweep_temporaries([target])
    tmp, fd = create_temporary(target)
    try:
        try:
            yield tmp
            if not _same_file(tmp, fd):
                raise OSError(
                    errno.EEXIST, "the temporary file was replaced by someone else", str(tmp)
                )
            if _untouched(fd):
                raise OSError(errno.ENODATA, "the writer wrote nothing", str(tmp))
            os.fsync(fd)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                if _same_file(tmp, fd):
                    tmp.unlink()
            raise
    finally:
        os.close(fd)
    fsync_dir(target.parent)


def _same_file(path: Path, fd: int) -> bool:
    there, mine = os.lstat(path), os.fstat(fd)
    return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` atomically, sweeping its writers' leftovers first.

    Raises PersistenceError naming the file when the file system refuses (a full disk, a
    read-only folder); the previous version is kept.
    """
    from datareplay.errors import PersistenceError

    try:
        with atomic_target(target, sweep=True) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise PersistenceError(
            f"could not write {target}: {exc.strerror or exc}; the previous version is kept"
        ) from exc


# -- sweeping leftovers ---------------------------------------------------------------


def sweep_temporaries(targets: Iterable[Path], *, folders: bool = False) -> list[Path]:
    """Delete temporaries beside ``targets`` whose writers are gone; return them.

    Only temporaries of these exact target names are considered, each folder is listed
    once, and a temporary is removed only when ``writer_gone`` says so, so this is safe
    while other processes write the same targets. Symlinks are never touched; folders
    only with ``folders`` (staging folders written as a whole).
    """
    by_folder: dict[Path, set[str]] = {}
    for target in targets:
        by_folder.setdefault(target.parent, set()).add(target.name)
    removed: list[Path] = []
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            parsed = parse_temp_name(entry.name) if TMP_MARKER in entry.name else None
            if parsed is None or parsed[0] not in names or entry.is_symlink():
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if (is_dir and not folders) or not (is_dir or entry.is_file(follow_symlinks=False)):
                continue
            path = Path(entry.path)
            if not writer_gone(path):
                continue
            try:
                if is_dir:
                    import shutil

                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue  # another sweeper was faster
            removed.append(path)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def probe_writable(folder: Path) -> None:
    """Create ``folder`` if needed and prove a file can be written in it (raises OSError).

    Where the kernel offers ``O_TMPFILE`` the probe is an unnamed file that vanishes with
    its descriptor, so a kill leaves nothing; elsewhere it is a named temporary of the
    pseudo-target ``probe``, removed at once. Leftover probes of writers that are gone
    are swept either way.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        sweep_temporaries([folder / PROBE])
    tmpfile = getattr(os, "O_TMPFILE", 0)
    if tmpfile:
        try:
            fd = os.open(folder, tmpfile | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise
        else:
            os.close(fd)
            return
    probe, fd = create_temporary(folder / PROBE)
    os.close(fd)
    probe.unlink()
