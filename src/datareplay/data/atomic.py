"""Atomic file replacement: a reader sees the complete old file or the complete new one.

A new version is written to a temporary file in the target's own folder (same file
system, so the rename is atomic), flushed and fsynced, renamed over the target, and the
folder is fsynced so the rename itself survives a crash. Temporary files carry a fixed
marker in their name so that leftovers of a killed process can be swept later.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_MARKER = ".dr-tmp-"


def temp_path_for(target: Path) -> Path:
    """A fresh temporary path beside ``target``, recognisable by ``TMP_MARKER``."""
    return target.with_name(f".{target.name}{TMP_MARKER}{os.getpid()}-{os.urandom(4).hex()}")


def fsync_dir(folder: Path) -> None:
    """fsync a directory so that renames inside it are durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` atomically.

    On any exception (including KeyboardInterrupt) the temporary file is removed and the
    old ``target``, if any, is left untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` atomically."""
    with atomic_target(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def sweep_temporaries(targets: Iterable[Path]) -> list[Path]:
    """Delete temporary files that killed writers left beside ``targets``.

    Only the temporaries of these exact targets are touched, so call this while holding
    the lock that excludes every other writer of them.
    """
    removed: list[Path] = []
    for target in targets:
        if not target.parent.is_dir():
            continue
        for path in target.parent.glob(f".{glob_escape(target.name)}{TMP_MARKER}*"):
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def probe_writable(folder: Path) -> None:
    """Create ``folder`` if needed and prove a file can be written in it (raises OSError)."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".probe{TMP_MARKER}{os.getpid()}-{os.urandom(4).hex()}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.close(fd)
    probe.unlink()
