"""The data catalog: every dataset of a case, loaded lazily, cached, persisted atomically.

The catalog is the engine's side of the data: it knows every data source, keeps what
was read or written in memory, persists writes through a ``Storage`` and remembers the
``DataRef`` of each write. Plugins never see it: each step gets a ``DataHub``
(``catalog.hub(...)``) that reads only its declared inputs and writes only its declared
outputs. The Python API hands the catalog itself to notebooks::

    catalog["features"]            # loaded from disk on first access, then cached
    catalog.status("features")     # Status.IN_MEMORY
    catalog.refs["features"]       # DataRef of the last write in this catalog

Every read returns the caller's own view of the cached value and every write caches a
snapshot of what was written (see ``datareplay.data.views``): what one step changes in
place never reaches the cache or another step, and a frame is never copied to get there.
Sources no step writes (``raw``) are the recording itself: a file that cannot be read is
reported as a problem of the file (its encoding, format or options), and the checks
declared on them run when a step first reads them (the ``on_read`` hook of ``hub``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from datareplay.data.formats import describe, memory_bytes
from datareplay.data.hub import DataHub
from datareplay.data.source import DataSource
from datareplay.data.storage import DataRef, LocalStorage, Storage, memory_ref
from datareplay.data.views import freeze, reader_view, snapshot
from datareplay.errors import (
    DamagedDataError,
    DataAccessError,
    PersistenceError,
    describe_exception,
)

WriteHook = Callable[[DataSource, Any, DataRef], None]
ReadHook = Callable[[DataSource, Any], None]


class Status(StrEnum):
    """Where a data source's value is at the end of a run."""

    IN_MEMORY = "in memory"
    ON_DISK = "on disk"
    NOT_LOADED = "not loaded"
    RELEASED = "released"
    MISSING = "missing"


@dataclass(frozen=True)
class SourceSummary:
    """One row of ``DataCatalog.summary()``: plain data, shown at the end of a run."""

    name: str
    status: Status
    kind: str
    size_bytes: int | None
    path: Path | None
    format: str


class DataCatalog:
    """Datasets by name, with lazy loading, an in-memory cache and atomic persistence."""

    def __init__(
        self,
        sources: Mapping[str, DataSource],
        *,
        project_root: Path,
        quality_path: Path | None = None,
        storage: Storage | None = None,
    ) -> None:
        self._sources = dict(sources)
        self.project_root = project_root
        self.quality_path = quality_path
        self.storage: Storage = storage or LocalStorage(self.relative)
        self.producers: dict[str, str] = {}  # source -> step that writes it, for messages
        self.raw: set[str] = set()  # sources no step of the plan writes (raw recordings)
        self.refs: dict[str, DataRef] = {}  # source -> what its last write produced
        # source -> the version the catalog holds (written, or read: hashed when read)
        self.versions: dict[str, DataRef] = {}
        # source -> (content hash its file must have, what to say when it has not):
        # the last recorded write of a run, so damage is found when the file is loaded
        self.expected: dict[str, tuple[str, str]] = {}
        self._cache: dict[str, Any] = {}
        self._touched: set[str] = set()
        self._released: set[str] = set()
        self._read_hooked: set[str] = set()  # sources whose first read ran an on_read hook

    # -- sources -----------------------------------------------------------------------

    @property
    def sources(self) -> Mapping[str, DataSource]:
        return self._sources

    def add_source(self, source: DataSource) -> None:
        """Declare a source the case did not (the run's quality results).

        A source without ``roots`` gets those of the case's sources (else the project
        root), so its file is checked like theirs whenever it is opened.
        """
        if not source.roots:
            roots = next((s.roots for s in self._sources.values() if s.roots), None)
            source = replace(source, roots=roots or (self.project_root.resolve(),))
        self._sources[source.name] = source

    def _source(self, name: str) -> DataSource:
        try:
            return self._sources[name]
        except KeyError:
            raise DataAccessError(
                f"no data source named '{name}'{self._hint_known(name)}; "
                "declare it under data_sources in case.yaml"
            ) from None

    def _hint_known(self, name: str) -> str:
        from datareplay.errors import did_you_mean

        return did_you_mean(name, self._sources)

    # -- reading and writing -----------------------------------------------------------

    def load(self, name: str) -> Any:
        """The value of source ``name``: from memory, else read from storage and cached.

        The caller gets its own view (``views.reader_view``): changing it in place never
        changes the cached value or what any other reader gets.
        """
        return reader_view(self._value(name))

    def _value(self, name: str) -> Any:
        """The cached value of ``name`` itself (never handed to a plugin)."""
        if name in self._cache:
            return self._cache[name]
        source = self._source(name)
        producer = self.producers.get(name)
        hint = f" (written by step '{producer}')" if producer else ""
        expected = self.expected.get(name)
        try:
            value, ref = self.storage.load(
                source, hint=hint, expect_hash=expected[0] if expected else None
            )
        except DamagedDataError as exc:
            assert expected is not None
            raise DamagedDataError(
                f"data source '{name}' at {self.relative(source.path)} is damaged or was "
                f"changed outside a run: its content hash is {exc.found}, but {expected[1]}",
                found=exc.found,
            ) from None
        except PersistenceError as exc:
            if name in self.raw and exc.__cause__ is not None:
                raise PersistenceError(self._unreadable(source, exc.__cause__)) from exc
            raise
        self.versions[name] = ref
        self._cache[name] = freeze(value)
        self._touched.add(name)
        self._released.discard(name)
        return value

    def _unreadable(self, source: DataSource, cause: BaseException) -> str:
        """Why the raw file of ``source`` cannot be read: the likely cause and the fix."""
        where = self.relative(source.path)
        fmt = source.format.name
        text = f"{type(cause).__name__} {cause}".lower()
        if isinstance(cause, OSError):
            likely = "the file cannot be opened; check its permissions and that it is a file"
        elif fmt in ("csv", "json") and _looks_binary(source.path):
            likely = (
                f"it is not a {fmt} text file but binary data (another format such as "
                "parquet or Excel?); declare the format it has with format: in case.yaml"
            )
        elif isinstance(cause, UnicodeError) or "codec" in text or "encoding" in text:
            likely = (
                "its text is not UTF-8; re-save it as UTF-8 or declare its encoding in the "
                "source's options (e.g. options: {encoding: latin-1})"
            )
        elif fmt == "csv":
            likely = (
                "its rows do not parse as csv with the source's options; check the "
                "separator, decimal, header and quoting (options: in case.yaml) or its format"
            )
        else:
            likely = (
                f"it is not a valid {fmt} file (another format, truncated or corrupted); "
                "check the file, or declare the format it has with format: in case.yaml"
            )
        return (
            f"cannot read raw data source '{source.name}' from {where} as {fmt} "
            f"({describe_exception(cause).rstrip('.')}); likely cause: {likely}; no step "
            "writes this file, so only fixing the file or its declaration helps"
        )

    def put(self, name: str, value: Any, *, step: str = "") -> DataRef:
        """Write ``value`` to source ``name`` (persisted at once if the source persists)."""
        source = self._source(name)
        if source.read_only:
            raise DataAccessError(
                f"data source '{name}' is read_only in case.yaml; write to another source"
            )
        if not source.format.accepts(value):
            by = f"step '{step}'" if step else "the caller"
            from datareplay.data.fidelity import formats_for

            can = ", ".join(formats_for(value)) or "pickle"
            raise PersistenceError(
                f"data source '{name}' has format {source.format.name} but {by} "
                f"wrote {_a(type(value).__name__)}; declare the source with a format that "
                f"holds it ({can}, or memory), or write another value"
            )
        self._cache.pop(name, None)
        ref = self.storage.write(source, value) if source.persisted else memory_ref(source, value)
        self._cache[name] = snapshot(value)
        self._touched.add(name)
        self._released.discard(name)
        self.refs[name] = ref
        self.versions[name] = ref
        self.expected.pop(name, None)  # this catalog wrote it: the file is what it wrote
        return ref

    def restored(self, name: str, ref: DataRef) -> None:
        """Source ``name``'s file was put back as the version ``ref`` (an incremental
        run restored a step instead of running it): the next read loads that file."""
        self._cache.pop(name, None)
        self._touched.add(name)
        self._released.discard(name)
        self.refs[name] = ref
        self.versions[name] = ref
        self.expected.pop(name, None)

    __getitem__ = load

    def __setitem__(self, name: str, value: Any) -> None:
        self.put(name, value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._sources and self.available(name)

    def get(self, name: str, default: Any = None) -> Any:
        """``catalog[name]`` if it has data, else ``default``."""
        return self.load(name) if name in self else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    # -- what a step sees --------------------------------------------------------------

    def hub(
        self,
        step: str,
        *,
        reads: Mapping[str, str],
        writes: Mapping[str, str],
        on_write: WriteHook | None = None,
        on_read: ReadHook | None = None,
        report: Callable[[list[Any]], None] | None = None,
        on_load: Callable[[str], None] | None = None,
    ) -> DataHub:
        """The ``DataHub`` of one step: ``reads``/``writes`` map its ports to sources.

        ``on_write(source, value, ref)`` runs after each write (outputs, quality checks)
        with the value as cached; ``on_read(source, value)`` runs when a source is read
        for the first time through any hub of this catalog (checks of raw sources): if it
        raises, the read fails and the next read runs it again. ``report(results)``
        receives what the plugin reports through ``hub.report_quality``; ``on_load(name)``
        runs after every successful read of source ``name`` through this hub.
        """

        def load(name: str) -> Any:
            value = self._value(name)
            if on_load is not None:
                on_load(name)
            if on_read is not None and name not in self._read_hooked:
                on_read(self._sources[name], value)
                self._read_hooked.add(name)
            return reader_view(value)

        def store(name: str, value: Any) -> None:
            ref = self.put(name, value, step=step)
            if on_write is not None:
                on_write(self._sources[name], self._cache[name], ref)

        return DataHub(
            step,
            reads=reads,
            writes=writes,
            load=load,
            store=store,
            has=self.available,
            report=report,
        )

    def version_of(self, name: str) -> DataRef:
        """The ``DataRef`` of the version of ``name`` this catalog holds (read or written);
        a memory value never written here gets a reference without a hash."""
        ref = self.versions.get(name)
        if ref is None:
            ref = memory_ref(self._source(name), self._cache.get(name))
        return ref

    # -- state -------------------------------------------------------------------------

    def available(self, name: str) -> bool:
        """True when source ``name`` has data in memory or in storage (False if unknown)."""
        if name in self._cache:
            return True
        source = self._sources.get(name)
        return source is not None and self.storage.exists(source)

    def in_memory(self, name: str) -> bool:
        return name in self._cache

    def release(self, name: str) -> None:
        """Drop ``name`` from memory (it stays in storage if it was persisted)."""
        if self._cache.pop(name, None) is not None or name in self._touched:
            self._released.add(name)

    def status(self, name: str) -> Status:
        source = self._sources[name]
        if name in self._cache:
            return Status.IN_MEMORY
        if self.storage.exists(source):
            return Status.ON_DISK if name in self._touched else Status.NOT_LOADED
        if name in self._released:
            return Status.RELEASED
        return Status.MISSING

    def summary(self) -> list[SourceSummary]:
        """One row per data source: status, shape or type, size and path."""
        rows = []
        for name, source in self._sources.items():
            status = self.status(name)
            kind, size = "", None
            if status is Status.IN_MEMORY:
                value = self._cache[name]
                kind, size = describe(value), memory_bytes(value)
            else:
                size = self.storage.size(source)
                if size is not None:
                    kind = source.format.name
            rows.append(SourceSummary(name, status, kind, size, source.path, source.format.name))
        return rows

    def relative(self, path: Path | None) -> str:
        """``path`` relative to the project root, for messages (``memory`` for None)."""
        if path is None:
            return "memory"
        try:
            return str(path.relative_to(self.project_root))
        except ValueError:
            return str(path)


def _a(noun: str) -> str:
    """``a DataFrame``, ``an ndarray`` (said "en-dee-array"), ``an int``."""
    return f"{'an' if noun.lower().startswith(('a', 'e', 'i', 'o', 'u', 'nd')) else 'a'} {noun}"


def _looks_binary(path: Path | None) -> bool:
    """True when the first 4 KiB of the file at ``path`` hold a NUL byte (not text)."""
    if path is None:
        return False
    try:
        with open(path, "rb") as fh:
            return b"\x00" in fh.read(4096)
    except OSError:
        return False
