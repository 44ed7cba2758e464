"""Persisting datasets: every write returns a ``DataRef`` of what it wrote.

A ``DataRef`` is plain data: the source's name, format and location, the content hash of
the bytes stored (xxh3_128, computed from the temporary file before it is renamed over
the target, so the hash is of exactly the bytes that became visible), the size in bytes
and the rows and columns of the value where it has a shape. A read can be checked
against a reference: if the file's bytes no longer hash to it, the read is refused.

``Storage`` is the small interface the catalog uses; ``LocalStorage`` implements it on
the local file system with atomic replacement (see ``datareplay.data.atomic``). Every file
it opens is resolved first and checked against the source's ``roots`` (see
``datareplay.data.source``): a read follows a symlink only to a file inside them and reads
the resolved file; a write goes to the resolved folder and replaces the entry at the
target's name (a symlink there is replaced, never written through). Another
implementation (object stores through fsspec URLs) plugs in here without touching the
plugins or the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from datareplay.data.atomic import atomic_target
from datareplay.data.fidelity import Refused
from datareplay.data.formats import describe
from datareplay.data.source import FIX_ESCAPE, DataSource, describe_escape, outside
from datareplay.errors import DamagedDataError, PersistenceError, describe_exception

HASH_ALGORITHM = "xxh3_128"
_CHUNK = 1 << 24  # 16 MiB


@dataclass(frozen=True)
class DataRef:
    """What one write of a data source produced.

    ``location`` is the absolute path of the file (``None`` for memory-only data);
    ``content_hash`` is ``"xxh3_128:<32 hex digits>"`` of the file's bytes (``None`` when
    nothing was stored); ``size_bytes`` is the file size; ``rows`` and ``columns`` come
    from the value's ``shape`` (``None`` when it has none); ``kind`` describes the value
    as the summaries do (``DataFrame 1,000×5``, ``dict of 3``).
    """

    source: str
    format: str
    location: str | None
    content_hash: str | None
    size_bytes: int | None
    rows: int | None
    columns: int | None
    kind: str

    @property
    def persisted(self) -> bool:
        return self.location is not None


def hash_file(path: Path) -> tuple[str, int]:
    """``("xxh3_128:<hex>", size in bytes)`` of the file at ``path``.

    The file is mapped into memory and hashed in place (no copy into a buffer: about a
    third faster than reading it in chunks); where it cannot be mapped it is read in
    16 MiB chunks.
    """
    import mmap
    import os

    import xxhash

    digest = xxhash.xxh3_128()
    with open(path, "rb", buffering=0) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size:
            try:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                return _hash_chunks(fh, digest)
            with mapped:
                mapped.madvise(mmap.MADV_SEQUENTIAL)
                digest.update(mapped)
                size = len(mapped)
    return f"{HASH_ALGORITHM}:{digest.hexdigest()}", size


def _hash_chunks(fh: Any, digest: Any) -> tuple[str, int]:
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    size = 0
    while True:
        n = fh.readinto(buffer)
        if not n:
            break
        digest.update(view[:n])
        size += n
    return f"{HASH_ALGORITHM}:{digest.hexdigest()}", size


def shape_of(value: Any) -> tuple[int | None, int | None]:
    """(rows, columns) of a value with a ``shape`` (DataFrame, array), else (None, None)."""
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape and all(isinstance(n, int) for n in shape):
        return shape[0], (shape[1] if len(shape) > 1 else None)
    return None, None


def stored_ref(source: DataSource, value: Any, content_hash: str, size: int) -> DataRef:
    """The reference of ``value`` stored as ``source``'s file with these bytes."""
    rows, columns = shape_of(value)
    return DataRef(
        source.name,
        source.format.name,
        str(source.path),
        content_hash,
        size,
        rows,
        columns,
        describe(value),
    )


def memory_ref(source: DataSource, value: Any) -> DataRef:
    """The reference of a value kept in memory only (nothing stored, no hash)."""
    rows, columns = shape_of(value)
    return DataRef(
        source.name, source.format.name, None, None, None, rows, columns, describe(value)
    )


class Storage(Protocol):
    """Where persisted data sources live. Implementations must replace atomically."""

    def write(self, source: DataSource, value: Any) -> DataRef:
        """Store ``value`` as ``source``; return what was stored. Raises PersistenceError."""
        ...

    def read(self, source: DataSource, *, expect: DataRef | None = None, hint: str = "") -> Any:
        """Load ``source``; with ``expect``, refuse bytes that do not match its hash."""
        ...

    def load(
        self, source: DataSource, *, hint: str = "", expect_hash: str | None = None
    ) -> tuple[Any, DataRef]:
        """Load ``source`` and return it with the ``DataRef`` of the bytes read; with
        ``expect_hash``, raise DamagedDataError before parsing bytes that differ."""
        ...

    def exists(self, source: DataSource) -> bool:
        """True when ``source`` has stored data."""
        ...

    def size(self, source: DataSource) -> int | None:
        """Stored size in bytes, or None when nothing is stored."""
        ...


class LocalStorage:
    """Data sources as files on the local file system, written atomically.

    ``display(path)`` turns a path into the text used in messages (relative to the
    project root).
    """

    def __init__(self, display: Any = str) -> None:
        self._display = display

    def exists(self, source: DataSource) -> bool:
        return source.persisted and source.path is not None and source.path.is_file()

    def size(self, source: DataSource) -> int | None:
        if source.path is None or not source.path.is_file():
            return None
        return source.path.stat().st_size

    def write(self, source: DataSource, value: Any) -> DataRef:
        write = source.format.write
        assert write is not None and source.path is not None
        where = self._display(source.path)
        try:
            source.format.check(value)
        except Refused as exc:
            raise PersistenceError(
                f"could not write data source '{source.name}' as {source.format.name}: {exc}; "
                "nothing was written, the previous version is kept"
            ) from None
        target = self._write_target(source, where)
        try:
            with atomic_target(target) as tmp:
                write(value, tmp, *source.options_args)
                content_hash, size = hash_file(tmp)
        except OSError as exc:
            raise PersistenceError(
                f"could not write data source '{source.name}' to {where}: "
                f"{exc.strerror or describe_exception(exc)}; the previous version is kept"
            ) from exc
        except Exception as exc:
            raise PersistenceError(
                f"could not write data source '{source.name}' as {source.format.name}: "
                f"{describe_exception(exc)}; the previous version is kept"
            ) from exc
        return stored_ref(source, value, content_hash, size)

    def _write_target(self, source: DataSource, where: str) -> Path:
        """The path to replace: the target's name in its resolved, checked folder."""
        assert source.path is not None
        if not source.roots:
            return source.path
        folder = source.path.parent
        escaped = outside(folder, source.roots)
        if escaped is not None:
            raise PersistenceError(
                f"data source '{source.name}': refusing to write {where}: "
                f"{describe_escape(folder, escaped, self._display(folder))}; {FIX_ESCAPE}"
            )
        return folder.resolve() / source.path.name

    def _read_target(self, source: DataSource, where: str, hint: str) -> Path:
        """The resolved file behind ``source.path``, refused when it leaves the roots."""
        assert source.path is not None
        if not source.roots:
            return source.path.resolve()
        escaped = outside(source.path, source.roots)
        if escaped is not None:
            raise PersistenceError(
                f"data source '{source.name}': refusing to read "
                f"{describe_escape(source.path, escaped, where)}{hint}; {FIX_ESCAPE}"
            )
        return source.path.resolve()

    def read(self, source: DataSource, *, expect: DataRef | None = None, hint: str = "") -> Any:
        path = self._readable(source, hint)
        if expect is not None and expect.content_hash is not None:
            found, _ = hash_file(path)
            if found != expect.content_hash:
                raise PersistenceError(
                    f"data source '{source.name}' at {self._display(source.path)} is not the "
                    f"version expected (content hash {found}, expected {expect.content_hash}); "
                    f"it was changed after it was written{hint}: rerun that step"
                )
        return self._parse(source, path, hint)

    def load(
        self, source: DataSource, *, hint: str = "", expect_hash: str | None = None
    ) -> tuple[Any, DataRef]:
        """Read ``source`` and the ``DataRef`` of the bytes read (hashed before parsing).

        With ``expect_hash``, bytes that hash otherwise are never parsed: DamagedDataError
        (whose ``found`` is their hash) is raised instead.
        """
        path = self._readable(source, hint)
        content_hash, size = hash_file(path)
        if expect_hash is not None and content_hash != expect_hash:
            raise DamagedDataError(
                f"data source '{source.name}' at {self._display(source.path)} holds other "
                f"bytes ({content_hash}) than expected ({expect_hash})",
                found=content_hash,
            )
        value = self._parse(source, path, hint)
        return value, stored_ref(source, value, content_hash, size)

    def _readable(self, source: DataSource, hint: str) -> Path:
        """The checked file to read for ``source`` (PersistenceError when there is none)."""
        read = source.format.read
        if read is None or source.path is None:
            raise PersistenceError(
                f"data source '{source.name}' ({source.format.name}) has no data yet; "
                f"it must be written by an earlier step{hint}"
            )
        where = self._display(source.path)
        if not source.path.is_file():
            raise PersistenceError(f"data source '{source.name}' has no file at {where}{hint}")
        path = self._read_target(source, where, hint)
        if source.format.name == "pickle" and not source.may_unpickle(path):
            shown = where if path == source.path.absolute() else f"{where} (a link to {path})"
            raise PersistenceError(
                f"data source '{source.name}': refusing to unpickle {shown}, "
                "which is not in the case's own data folder; set trusted: true on the source "
                "if you know where the file comes from"
            )
        if source.format.name == "pickle" and not source.trusted and path.stat().st_nlink > 1:
            raise PersistenceError(
                f"data source '{source.name}': refusing to unpickle {where}, which has "
                f"{path.stat().st_nlink} hard links (it may be a file from elsewhere); copy "
                "it into the case's data folder or set trusted: true on the source"
            )
        return path

    def _parse(self, source: DataSource, path: Path, hint: str) -> Any:
        read = source.format.read
        assert read is not None
        try:
            return read(path, *source.options_args)
        except Exception as exc:
            raise PersistenceError(
                f"cannot read data source '{source.name}' from {self._display(source.path)}"
                f"{hint}: {describe_exception(exc)}; regenerate it by rerunning that step"
            ) from exc
