"""The DataHub: every dataset of a case, loaded lazily, cached, persisted atomically.

The runner builds one hub per run from the case's ``data_sources``. A plugin never sees
that hub directly: it gets a *view* (``hub.for_step``) that maps the plugin's port names
to data-source names and lets it read only its declared inputs and write only its
declared outputs. Both are ``DataHub`` objects sharing one store, so a plugin is written
against one small interface::

    frame = hub["signals"]         # loaded from disk on first access, then cached
    hub["events"] = events_frame   # cached and, if the source persists, written atomically
    "signals" in hub               # is there data (in memory or on disk)?
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from datareplay.data.atomic import atomic_target
from datareplay.errors import DataAccessError, PersistenceError, describe_exception
from datareplay.data.formats import Format, describe, memory_bytes

log = logging.getLogger("datareplay.quality")
QUALITY_RESULTS = "quality_results"


@dataclass(frozen=True)
class DataSource:
    """A named dataset: its format, its file (if persisted) and how it may be used."""

    name: str
    format: Format
    path: Path | None
    read_only: bool = False
    description: str = ""
    trusted: bool = True
    checks: tuple[Any, ...] = ()  # quality CheckSpecs, evaluated on every write

    @property
    def persisted(self) -> bool:
        return self.path is not None and self.format.persistent


class Status(StrEnum):
    IN_MEMORY = "in memory"
    ON_DISK = "on disk"
    NOT_LOADED = "not loaded"
    RELEASED = "released"
    MISSING = "missing"


@dataclass(frozen=True)
class SourceSummary:
    """One row of ``DataHub.summary()``."""

    name: str
    status: Status
    kind: str
    size_bytes: int | None
    path: Path | None
    format: str


@dataclass
class _Store:
    sources: dict[str, DataSource]
    project_root: Path
    cache: dict[str, Any] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    released: set[str] = field(default_factory=set)
    producers: dict[str, str] = field(default_factory=dict)
    quality: list[Any] = field(default_factory=list)  # CheckResults of this run
    quality_path: Path | None = None


class DataHub:
    """Datasets by name, with lazy loading, an in-memory cache and atomic persistence."""

    def __init__(
        self,
        sources: Mapping[str, DataSource],
        *,
        project_root: Path,
        quality_path: Path | None = None,
    ) -> None:
        self._store = _Store(
            sources=dict(sources), project_root=project_root, quality_path=quality_path
        )
        self._reads: Mapping[str, str] | None = None
        self._writes: Mapping[str, str] | None = None
        self._step = ""

    # -- views -------------------------------------------------------------------------

    def for_step(
        self, step: str, *, reads: Mapping[str, str], writes: Mapping[str, str]
    ) -> DataHub:
        """A view for one plugin: ``reads``/``writes`` map its port names to sources."""
        view = object.__new__(DataHub)
        view._store = self._store
        view._reads = dict(reads)
        view._writes = dict(writes)
        view._step = step
        return view

    def _resolve(self, port: str, *, writing: bool) -> DataSource:
        if self._reads is None or self._writes is None:
            name = port
        elif writing:
            if port not in self._writes:
                raise DataAccessError(
                    f"step '{self._step}' wrote '{port}', which it does not declare as an "
                    f"output (declared outputs: {', '.join(self._writes) or 'none'}); "
                    "add it to the plugin's outputs"
                )
            name = self._writes[port]
        else:
            if port in self._reads:
                name = self._reads[port]
            elif port in self._writes:
                name = self._writes[port]
            else:
                raise DataAccessError(
                    f"step '{self._step}' read '{port}', which it does not declare as an "
                    f"input (declared inputs: {', '.join(self._reads) or 'none'}); "
                    "add it to the plugin's inputs"
                )
        try:
            return self._store.sources[name]
        except KeyError:
            raise DataAccessError(
                f"no data source named '{name}'; declare it under data_sources in case.yaml"
            ) from None

    # -- the plugin-facing interface ---------------------------------------------------

    def __getitem__(self, port: str) -> Any:
        source = self._resolve(port, writing=False)
        store = self._store
        if source.name in store.cache:
            return store.cache[source.name]
        value = self._load(source)
        store.cache[source.name] = value
        store.touched.add(source.name)
        store.released.discard(source.name)
        return value

    def __setitem__(self, port: str, value: Any) -> None:
        source = self._resolve(port, writing=True)
        if source.read_only:
            raise DataAccessError(
                f"data source '{source.name}' is read_only in case.yaml; write to another source"
            )
        if not source.format.accepts(value):
            raise PersistenceError(
                f"data source '{source.name}' has format {source.format.name} but step "
                f"'{self._step}' wrote a {type(value).__name__}; write a pandas DataFrame "
                "or declare the source with format json, pickle or memory"
            )
        store = self._store
        store.cache.pop(source.name, None)
        if source.persisted:
            self._save(source, value)
        store.cache[source.name] = value
        store.touched.add(source.name)
        store.released.discard(source.name)
        if source.checks:
            self._check(source, value)

    def __contains__(self, port: object) -> bool:
        if not isinstance(port, str):
            return False
        try:
            source = self._resolve(port, writing=False)
        except DataAccessError:
            return False
        return self.available(source.name)

    def get(self, port: str, default: Any = None) -> Any:
        """``hub[port]`` if it has data, else ``default``."""
        return self[port] if port in self else default  # noqa: SIM401 (self.get would recurse)

    def __iter__(self) -> Iterator[str]:
        if self._reads is None or self._writes is None:
            return iter(self._store.sources)
        return iter({**self._reads, **self._writes})

    def __len__(self) -> int:
        return sum(1 for _ in self)

    # -- engine-facing operations ------------------------------------------------------

    @property
    def sources(self) -> Mapping[str, DataSource]:
        return self._store.sources

    @property
    def producers(self) -> dict[str, str]:
        """Source name -> step that writes it, used in error messages."""
        return self._store.producers

    def available(self, name: str) -> bool:
        """True when source ``name`` has data in memory or on disk."""
        if name in self._store.cache:
            return True
        source = self._store.sources[name]
        return source.persisted and source.path is not None and source.path.is_file()

    def in_memory(self, name: str) -> bool:
        return name in self._store.cache

    def release(self, name: str) -> None:
        """Drop ``name`` from memory (it stays on disk if it was persisted)."""
        if self._store.cache.pop(name, None) is not None or name in self._store.touched:
            self._store.released.add(name)

    def status(self, name: str) -> Status:
        store = self._store
        source = store.sources[name]
        on_disk = source.persisted and source.path is not None and source.path.is_file()
        if name in store.cache:
            return Status.IN_MEMORY
        if on_disk:
            return Status.ON_DISK if name in store.touched else Status.NOT_LOADED
        if name in store.released:
            return Status.RELEASED
        return Status.MISSING

    def summary(self) -> list[SourceSummary]:
        """One row per data source: status, shape or type, size and path."""
        rows = []
        for name, source in self._store.sources.items():
            status = self.status(name)
            kind, size = "", None
            if status is Status.IN_MEMORY:
                value = self._store.cache[name]
                kind, size = describe(value), memory_bytes(value)
            elif source.path is not None and source.path.is_file():
                kind, size = source.format.name, source.path.stat().st_size
            rows.append(SourceSummary(name, status, kind, size, source.path, source.format.name))
        return rows

    # -- data quality ------------------------------------------------------------------

    @property
    def quality_path(self) -> Path | None:
        """Where the run's quality results are written unless a source is declared."""
        return self._store.quality_path

    @property
    def quality(self) -> list[Any]:
        """The CheckResults recorded in this run, in order."""
        return list(self._store.quality)

    def record_quality(self, results: list[Any]) -> None:
        """Add check results to the run's quality-results dataset (persisted at once)."""
        from datareplay.quality.evaluate import results_frame

        store = self._store
        store.quality.extend(results)
        for result in results:
            level = logging.INFO if result.passed else logging.WARNING
            log.log(level, "quality %s", result.line())
        target = store.sources.get(QUALITY_RESULTS)
        if target is None and store.quality_path is not None:
            from datareplay.data.formats import FORMATS

            target = DataSource(
                QUALITY_RESULTS,
                FORMATS["parquet"],
                store.quality_path,
                description="Every data-quality check result of the latest run.",
            )
            store.sources[QUALITY_RESULTS] = target
        if target is None:
            return
        frame = results_frame(store.quality)
        if target.persisted:
            self._save(target, frame)
        store.cache[QUALITY_RESULTS] = frame
        store.touched.add(QUALITY_RESULTS)

    def _check(self, source: DataSource, value: Any) -> None:
        """Evaluate a source's declared checks on a value just written to it."""
        from datareplay.errors import QualityError
        from datareplay.quality.evaluate import evaluate

        results = [
            evaluate(spec, value, source=source.name, lookup=self._unrestricted, step=self._step)
            for spec in source.checks
        ]
        self.record_quality(results)
        failed = [r.line() for r in results if r.blocking]
        if failed:
            raise QualityError("\n".join(failed))

    def _unrestricted(self, name: str) -> Any:
        store = self._store
        if name not in store.cache:
            store.cache[name] = self._load(store.sources[name])
            store.touched.add(name)
        return store.cache[name]

    # -- persistence -------------------------------------------------------------------

    def relative(self, path: Path | None) -> str:
        """``path`` relative to the project root, for messages."""
        if path is None:
            return "memory"
        try:
            return str(path.relative_to(self._store.project_root))
        except ValueError:
            return str(path)

    def _where(self, source: DataSource) -> str:
        return self.relative(source.path)

    def _load(self, source: DataSource) -> Any:
        read = source.format.read
        producer = self._store.producers.get(source.name)
        hint = f" (written by step '{producer}')" if producer else ""
        if read is None or source.path is None:
            raise PersistenceError(
                f"data source '{source.name}' ({source.format.name}) has no data yet; "
                f"it must be written by an earlier step{hint}"
            )
        if not source.path.is_file():
            raise PersistenceError(
                f"data source '{source.name}' has no file at {self._where(source)}{hint}"
            )
        if not source.trusted:
            raise PersistenceError(
                f"data source '{source.name}': refusing to unpickle {self._where(source)}, "
                "which this project did not write; set trusted: true on the source if you "
                "know where the file comes from"
            )
        try:
            return read(source.path)
        except Exception as exc:
            raise PersistenceError(
                f"cannot read data source '{source.name}' from {self._where(source)}{hint}: "
                f"{describe_exception(exc)}; regenerate it by rerunning that step"
            ) from exc

    def _save(self, source: DataSource, value: Any) -> None:
        write = source.format.write
        assert write is not None and source.path is not None
        try:
            with atomic_target(source.path) as tmp:
                write(value, tmp)
        except OSError as exc:
            raise PersistenceError(
                f"could not write data source '{source.name}' to {self._where(source)}: "
                f"{exc.strerror or describe_exception(exc)}; the previous version is kept"
            ) from exc
        except Exception as exc:
            raise PersistenceError(
                f"could not write data source '{source.name}' as {source.format.name}: "
                f"{describe_exception(exc)}; the previous version is kept"
            ) from exc
