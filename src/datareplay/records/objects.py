"""A content-addressed store of dataset versions: ``.datareplay/objects/xxh3_128/ab/<hash>``.

Every file a run reads or writes is put here under its content hash once, so a past
run's exact inputs and outputs survive later runs overwriting the working copies and
``generate-data`` replacing the recordings. Identical content is stored once.

How a version gets in (``put``), cheapest first:

- a file of at most ``COPY_BELOW`` bytes (16 MiB) is copied: a copy is cheap at that size
  and independent of the working copy, so a working copy edited in place can always be
  restored;
- a larger file is cloned (``FICLONE``, a reflink sharing blocks copy-on-write) where the
  file system can (btrfs, XFS), else hard-linked: no second copy of a large file. A
  hard-linked version shares its inode with the working copy, so its write permissions
  are removed: the engine replaces files by renaming, never in place, and a program
  that tries to edit the working copy in place is refused (except as root). A version
  that was damaged through its link anyway is detected by its hash (``verify``) and
  reported, never handed out as intact.

Objects appear atomically (a temporary name in the store, then a rename). ``put`` holds
a shared ``flock`` on ``objects/.lock`` and ``gc``'s deletion pass an exclusive one, so
a version a running run has just stored or re-used is never deleted under it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from datareplay.data.atomic import fsync_dir
from datareplay.data.storage import hash_file

COPY_BELOW = 16 << 20
_FICLONE = 0x40049409  # ioctl number of FICLONE on Linux


class ObjectStore:
    """Dataset versions by content hash below ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, content_hash: str) -> Path:
        """Where the version with ``content_hash`` (``xxh3_128:<hex>``) lives."""
        algorithm, _, digest = content_hash.partition(":")
        if not digest or not digest.isalnum() or not algorithm.replace("_", "").isalnum():
            raise ValueError(f"not a content hash: {content_hash!r}")
        return self.root / algorithm / digest[:2] / digest

    def has(self, content_hash: str) -> bool:
        return self.path_of(content_hash).is_file()

    @contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def put(
        self, path: Path, content_hash: str, size: int | None = None, *, link: bool = True
    ) -> str:
        """Store the file at ``path`` whose bytes hash to ``content_hash``.

        ``link=False`` never shares the inode (pickles: a hard-linked pickle is refused
        by the reader, which cannot tell it from a file planted from elsewhere).

        Returns how: ``"kept"`` (already there and intact; its time is refreshed so a
        concurrent ``gc`` keeps it; a stored copy that was damaged is replaced),
        ``"copied"``, ``"cloned"`` or ``"linked"``. A file whose size is not ``size``
        (replaced since it was hashed) is not stored: ``"changed"``.
        """
        target = self.path_of(content_hash)
        with self._lock(exclusive=False):
            if target.is_file():
                if self._intact(target, content_hash, size):
                    with contextlib.suppress(OSError):
                        os.utime(target)
                    return "kept"
                target.unlink()  # damaged: stored again from the good bytes below
            info = os.stat(path)
            if size is not None and info.st_size != size:
                return "changed"
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            how = self._install(path, tmp, target, info.st_size if link else 0, content_hash)
            if how != "changed":
                fsync_dir(target.parent)
            return how

    @staticmethod
    def _intact(target: Path, content_hash: str, size: int | None) -> bool:
        """A stored version still whole: its size, and for a copy (small) its hash."""
        try:
            stored = os.stat(target).st_size
        except OSError:
            return False
        if size is not None and stored != size:
            return False
        return stored > COPY_BELOW or hash_file(target)[0] == content_hash

    @staticmethod
    def _materialise(path: Path, tmp: Path, size: int) -> str:
        if size > COPY_BELOW:
            if _clone(path, tmp):
                return "cloned"
            try:
                os.link(path, tmp)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
            else:
                mode = stat.S_IMODE(os.stat(tmp).st_mode)
                os.chmod(tmp, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
                return "linked"
        with open(path, "rb") as src, open(tmp, "xb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        return "copied"

    def place(self, content_hash: str, target: Path, *, link: bool = True) -> str:
        """Put the stored version ``content_hash`` at ``target``, atomically (a temporary
        beside it, then a rename); return how: ``"cloned"`` (copy-on-write),
        ``"linked"`` (a hard link: the file shares the stored, read-only inode) or
        ``"copied"`` (files up to 16 MiB, other file systems, and ``link=False``).

        Raises OSError when the version is not stored.
        """
        from datareplay.data.atomic import temp_path_for

        stored = self.path_of(content_hash)
        size = os.stat(stored).st_size
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path_for(target)
        with self._lock(exclusive=False):  # gc cannot delete it meanwhile
            how = self._install(stored, tmp, target, size if link else 0)
        fsync_dir(target.parent)
        return how

    @classmethod
    def _install(
        cls, path: Path, tmp: Path, target: Path, size: int, content_hash: str | None = None
    ) -> str:
        """Materialise ``path`` at ``tmp`` (``_materialise``), then rename it to
        ``target``; with ``content_hash`` a copy whose bytes differ is dropped
        (``"changed"``). The temporary never stays behind."""
        try:
            how = cls._materialise(path, tmp, size)
            if content_hash is not None and how == "copied" and hash_file(tmp)[0] != content_hash:
                tmp.unlink()
                return "changed"
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return how

    def verify(self, content_hash: str) -> bool:
        """True when the stored version exists and its bytes still hash to its name."""
        path = self.path_of(content_hash)
        try:
            return hash_file(path)[0] == content_hash
        except OSError:
            return False

    def hashes(self) -> Iterator[tuple[str, Path]]:
        """Every stored version: ``(content hash, path)``."""
        if not self.root.is_dir():
            return
        for algorithm in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for bucket in sorted(p for p in algorithm.iterdir() if p.is_dir()):
                for item in bucket.iterdir():
                    if not item.name.startswith("."):
                        yield f"{algorithm.name}:{item.name}", item

    def collect(
        self, keep: Iterable[str], *, fresher_than: float, dry_run: bool = False
    ) -> tuple[int, int]:
        """Delete every version not in ``keep`` whose inode changed before ``fresher_than``
        (seconds since the epoch); returns (versions removed, bytes freed).

        Runs under the exclusive lock: no ``put`` adds or re-uses a version meanwhile.
        A version whose file is also a working copy (a hard link) frees no space.
        """
        kept = set(keep)
        removed = freed = 0
        with self._lock(exclusive=True):
            for content_hash, path in list(self.hashes()):
                if content_hash in kept:
                    continue
                try:
                    info = os.stat(path)
                except FileNotFoundError:
                    continue
                if max(info.st_ctime, info.st_mtime) >= fresher_than:
                    continue
                removed += 1
                freed += info.st_size if info.st_nlink == 1 else 0
                if not dry_run:
                    path.unlink()
        return removed, freed


def _clone(source: Path, target: Path) -> bool:
    """Make ``target`` a copy-on-write clone of ``source``; False where unsupported."""
    try:
        with open(source, "rb") as src, open(target, "xb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
    except OSError:
        with contextlib.suppress(OSError):
            target.unlink()
        return False
    return True
