"""Where run records live: the ``RunStore`` interface and its embedded SQLite default.

A record is one row of ``runs`` (id, case, kind, command line, times, status, exit code,
the run it replays, the resolved configuration with origins, the environment), one row
of ``steps`` per step that ran or was skipped (plugin, origin, code fingerprint, params,
duration, quality results, error) and one row of ``datasets`` per input read and output
written (source, format, location relative to the project, content hash, bytes, rows,
columns). Every write is one transaction (the recorder writes finished steps in
batches). A record is *sealed* when its run ends: SQLite triggers refuse any later
change to the run, its steps or its datasets (only ``gc`` may delete a whole record),
and the ``seal`` column holds the xxh3_128 hash of the record's stored rows
(``_row_seal``), which ``show`` checks.

The database runs in WAL mode (readers never wait for the writer) with a busy timeout,
so two cases running at once both record, and ``runs``/``show`` answer while a run goes
on. Nothing is started: the database is a file, created on first use. A team that wants
one history for many machines plugs another ``RunStore`` in (e.g. PostgreSQL) with the
same methods.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

SCHEMA_VERSION = 3
RECORDS_FOLDER = ".datareplay"  # in the project root: runs.sqlite, objects/, replays/
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
INTERRUPTED = "interrupted"
UNKNOWN = "unknown"  # a run whose process died without a word (SIGKILL, power loss)
STATUSES = (RUNNING, SUCCEEDED, FAILED, INTERRUPTED, UNKNOWN)


@dataclass(frozen=True)
class DatasetVersion:
    """One input read or output written by a step: which bytes, where, what shape.

    ``location`` is relative to the project root when inside it (``None`` for memory
    data); ``content_hash`` is ``xxh3_128:<hex>`` (``None`` for memory data); ``producer``
    names, for an input, the run and step that wrote this version when the store knows it.
    """

    role: str  # "input" or "output"
    port: str
    source: str
    format: str
    location: str | None
    content_hash: str | None
    size_bytes: int | None
    rows: int | None
    columns: int | None
    kind: str


@dataclass(frozen=True)
class StepRecord:
    """What one step of a run did, as recorded."""

    position: int  # 1-based among the run's steps
    index: int  # 0-based in the case's pipeline
    name: str
    plugin: str
    origin: str  # module, and the folder it was imported from, or the package
    fingerprint: str
    params: Mapping[str, Any]
    status: str  # succeeded, failed, skipped
    seconds: float | None
    quality: tuple[Mapping[str, Any], ...] = ()
    error: Mapping[str, Any] | None = None
    datasets: tuple[DatasetVersion, ...] = ()
    # incremental runs: the step's cache key and what it was made of, why it ran, and
    # for a step restored instead of run (status ``cached``) the run that computed it
    cache_key: str = ""
    cache: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    cached_from: str = ""

    def inputs(self) -> list[DatasetVersion]:
        return [d for d in self.datasets if d.role == "input"]

    def outputs(self) -> list[DatasetVersion]:
        return [d for d in self.datasets if d.role == "output"]


@dataclass(frozen=True)
class RunRecord:
    """One run: who ran what, when, with which config, and how it ended."""

    run_id: str
    case: str
    kind: str  # pipeline, plugin, replay
    command: tuple[str, ...]
    started: float  # seconds since the epoch (UTC)
    ended: float | None
    status: str
    exit_code: int | None
    failed_step: str | None
    replay_of: str | None
    pid: int
    host: str
    config: Mapping[str, Any]  # {"data": resolved values (secrets redacted), "origins": ...}
    environment: Mapping[str, Any]
    steps_total: int
    error: str | None = None
    seal: str | None = None
    steps: tuple[StepRecord, ...] = field(default_factory=tuple)
    steps_run: int = 0

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (what ``show --json`` prints)."""
        data = {name: getattr(self, name) for name in _RUN_FIELDS}
        data["steps"] = [
            {
                **{name: getattr(step, name) for name in _STEP_FIELDS},
                "datasets": [
                    {name: getattr(d, name) for name in _DATASET_FIELDS} for d in step.datasets
                ],
            }
            for step in self.steps
        ]
        data["seconds"] = self.seconds
        return data

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.name == name), None)


_RUN_FIELDS = [f for f in RunRecord.__dataclass_fields__ if f != "steps"]
_STEP_FIELDS = [f for f in StepRecord.__dataclass_fields__ if f != "datasets"]
_DATASET_FIELDS = list(DatasetVersion.__dataclass_fields__)
_CACHE_FIELDS = ("cache_key", "cache", "reason", "cached_from")


@dataclass(frozen=True)
class CacheHit:
    """An earlier execution a step can be restored from: the run that computed it, the
    step's name there, the outputs it wrote and its quality results (as rows)."""

    run_id: str
    step: str
    outputs: tuple[DatasetVersion, ...]
    quality: tuple[Mapping[str, Any], ...]


def store_path(project_root: Path) -> Path:
    """Where the project at ``project_root`` keeps its run records."""
    return project_root / RECORDS_FOLDER / "runs.sqlite"


def canonical(record: RunRecord) -> bytes:
    """The bytes the seal hashes: the record as sorted JSON, without the seal itself."""
    data = record.as_dict()
    data.pop("seal", None)
    data.pop("seconds", None)
    for step in data["steps"]:  # fields schema 3 added, absent from these records
        for name in _CACHE_FIELDS:
            step.pop(name, None)
    return json.dumps(data, sort_keys=True, default=str, separators=(",", ":")).encode()


ROW_SEAL = "rows-xxh3_128:"
"""Prefix of a seal over the stored rows (``_row_seal``); ``xxh3_128:`` seals, over the
record as sorted JSON (``seal_of``), are from the first version of the store."""

# a run's configuration: in run_configs from schema 2 on, in runs.config before
_CONFIG = "COALESCE((SELECT c.config FROM run_configs c WHERE c.run_id = runs.id), runs.config)"
_SEALED_RUN_COLUMNS = (
    "id, case_name, kind, command, started, ended, exit_code, failed_step, replay_of, "
    f"pid, host, {_CONFIG}, environment, steps_total, steps_run, error"
)
_STEP_COLUMNS = (
    "position, idx, name, plugin, origin, fingerprint, params, status, seconds, quality, "
    "error, cache_key, cache, reason, cached_from"
)
_SEALED_STEP_COLUMNS = _STEP_COLUMNS
_SEALED_DATASET_COLUMNS = (
    "position, role, port, source, format, location, content_hash, size_bytes, rows, columns, kind"
)


def _row_seal(db: sqlite3.Connection, run_id: str, status: str) -> str:
    """The xxh3_128 of run ``run_id``'s rows as stored (its final ``status`` included).

    The rows are hashed as SQLite returns them (the JSON columns as their stored text), so
    sealing a run costs one pass over its rows without decoding them: linear in the
    number of steps and datasets. Any later change to a value, or a row added, removed or
    reordered, gives another hash.
    """
    import xxhash

    digest = xxhash.xxh3_128()
    run = db.execute(f"SELECT {_SEALED_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
    digest.update(repr((status, run.fetchone())).encode())
    for table, columns, order in (
        ("steps", _SEALED_STEP_COLUMNS, "position"),
        ("datasets", _SEALED_DATASET_COLUMNS, "rowid"),
    ):
        digest.update(f"\n{table}".encode())
        rows = db.execute(
            f"SELECT {columns} FROM {table} WHERE run_id = ? ORDER BY {order}", (run_id,)
        )
        digest.update(repr(rows.fetchall()).encode())
    return ROW_SEAL + digest.hexdigest()


def seal_of(record: RunRecord) -> str:
    import xxhash

    return "xxh3_128:" + xxhash.xxh3_128_hexdigest(canonical(record))


class RunStore(Protocol):
    """The operations the engine needs from a run store (SQLite here; others may follow)."""

    def begin_run(self, record: RunRecord) -> None: ...
    def add_step(self, run_id: str, step: StepRecord) -> None: ...
    def add_steps(self, run_id: str, steps: Sequence[StepRecord]) -> None: ...
    def end_run(
        self,
        run_id: str,
        *,
        status: str,
        exit_code: int | None,
        failed_step: str | None,
        error: str | None,
        ended: float,
        environment: Mapping[str, Any] | None = None,
    ) -> None: ...
    def get(self, run_id: str) -> RunRecord | None: ...
    def list_runs(
        self, *, case: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[RunRecord]: ...
    def ids(self) -> list[str]: ...
    def latest_outputs(self, case: str) -> dict[str, tuple[DatasetVersion, str, str]]: ...
    def delete_runs(self, run_ids: Sequence[str]) -> None: ...
    def hashes_of(self, run_ids: Iterable[str]) -> set[str]: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    case_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    command TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    failed_step TEXT,
    replay_of TEXT,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    config TEXT NOT NULL,
    environment TEXT NOT NULL,
    steps_total INTEGER NOT NULL,
    steps_run INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    seal TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started);
CREATE INDEX IF NOT EXISTS runs_by_case ON runs (case_name, started);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs (id),
    position INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    plugin TEXT NOT NULL,
    origin TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    seconds REAL,
    quality TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (run_id, position)
);
CREATE TABLE IF NOT EXISTS datasets (
    run_id TEXT NOT NULL REFERENCES runs (id),
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    port TEXT NOT NULL,
    source TEXT NOT NULL,
    format TEXT NOT NULL,
    location TEXT,
    content_hash TEXT,
    size_bytes INTEGER,
    rows INTEGER,
    columns INTEGER,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS datasets_by_run ON datasets (run_id, position);
CREATE INDEX IF NOT EXISTS datasets_by_hash ON datasets (content_hash);
CREATE TRIGGER IF NOT EXISTS sealed_run BEFORE UPDATE ON runs
    WHEN OLD.status != 'running'
    BEGIN SELECT RAISE(ABORT, 'the record of this run is sealed'); END;
CREATE TRIGGER IF NOT EXISTS sealed_steps BEFORE INSERT ON steps
    WHEN (SELECT status FROM runs WHERE id = NEW.run_id) != 'running'
    BEGIN SELECT RAISE(ABORT, 'the record of this run is sealed'); END;
CREATE TRIGGER IF NOT EXISTS sealed_step_rows BEFORE UPDATE ON steps
    BEGIN SELECT RAISE(ABORT, 'the record of this run is sealed'); END;
CREATE TRIGGER IF NOT EXISTS sealed_datasets BEFORE INSERT ON datasets
    WHEN (SELECT status FROM runs WHERE id = NEW.run_id) != 'running'
    BEGIN SELECT RAISE(ABORT, 'the record of this run is sealed'); END;
CREATE TRIGGER IF NOT EXISTS sealed_dataset_rows BEFORE UPDATE ON datasets
    BEGIN SELECT RAISE(ABORT, 'the record of this run is sealed'); END;
"""

# Schema 2: a run's configuration (about 400 bytes a step) in a table of its own, written
# once, so that ending a run rewrites a small row (runs of schema 1 keep theirs in
# ``runs.config``) and listing runs never reads it.
_CONFIG_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS run_configs ("
    " run_id TEXT PRIMARY KEY REFERENCES runs (id), config TEXT NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS sealed_config BEFORE INSERT ON run_configs"
    " WHEN (SELECT status FROM runs WHERE id = NEW.run_id) != 'running'"
    " BEGIN SELECT RAISE(ABORT, 'the record of this run is sealed'); END",
    "CREATE TRIGGER IF NOT EXISTS sealed_config_rows BEFORE UPDATE ON run_configs"
    " BEGIN SELECT RAISE(ABORT, 'the record of this run is sealed'); END",
)
# Schema 3: what incremental runs need of each step (``records.cache``): its cache key
# (indexed: the lookup before each step), the key's parts (why a step runs again: the
# last execution of the same step, found by name), the reason it ran, and for a step
# restored from an earlier run the run that computed it.
_CACHE_SCHEMA = (
    "ALTER TABLE steps ADD COLUMN cache_key TEXT",
    "ALTER TABLE steps ADD COLUMN cache TEXT",
    "ALTER TABLE steps ADD COLUMN reason TEXT",
    "ALTER TABLE steps ADD COLUMN cached_from TEXT",
    "CREATE INDEX IF NOT EXISTS steps_by_key ON steps (cache_key)",
    "CREATE INDEX IF NOT EXISTS steps_by_name ON steps (name)",
)
# from schema N to N + 1, statement by statement (ALTER TABLE has no IF NOT EXISTS:
# each migration runs in a transaction that first checks the version again)
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    0: tuple(part.rstrip(";") + ";" for part in _SCHEMA.strip().split(";\n")),
    1: _CONFIG_SCHEMA,
    2: _CACHE_SCHEMA,
}

_RUN_COLUMNS = (
    "id, case_name, kind, command, started, ended, status, exit_code, failed_step, "
    "replay_of, pid, host, config, environment, steps_total, error, seal"
)
_RUN_SELECT = _RUN_COLUMNS.replace(" config,", f" {_CONFIG},")
_LISTED = _RUN_COLUMNS.replace(" config,", " '{}',")  # a listing leaves the config out

# A run's row holds its whole configuration, so it is not rewritten per step (an UPDATE
# copies the row, which made a long pipeline's recording quadratic): while the run goes
# on, its count of steps run is counted from ``steps`` (the primary key's range), and
# ``end_run`` stores it.
_STEPS_RUN = "(SELECT COUNT(*) FROM steps s WHERE s.run_id = runs.id AND s.status != 'skipped')"
_STEPS_SO_FAR = f"CASE WHEN status = 'running' THEN {_STEPS_RUN} ELSE steps_run END"


_ENCODER = json.JSONEncoder(default=str, allow_nan=True, separators=(",", ":"))


def _migrate(db: sqlite3.Connection) -> int:
    """Take the store one schema version up (unless another process just did); return
    the version it has now."""
    with _transaction(db):
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version < SCHEMA_VERSION:
            for statement in _MIGRATIONS[version]:
                db.execute(statement)
            version += 1
            db.execute(f"PRAGMA user_version={version}")
    return version


def _dumps(value: Any) -> str:
    """``value`` as compact JSON (objects JSON cannot hold as their text)."""
    if not value and isinstance(value, dict | list | tuple):
        return "{}" if isinstance(value, dict) else "[]"  # most steps' params and quality
    return _ENCODER.encode(value)


class SqliteRunStore:
    """Run records in one SQLite file (WAL mode, one transaction per state change).

    ``path`` is created with its folder on first use. A connection is opened per store
    object; it may be used from several threads, one at a time (the caller's lock).
    """

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self.path = path
        self._timeout = timeout_s
        self._db: sqlite3.Connection | None = None

    # -- connection --------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # a run's recorder writes from a flusher thread, one thread at a time (its lock)
            db = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            version = self._prepare(db)
            if version > SCHEMA_VERSION:
                from datareplay.errors import UsageError

                db.close()
                raise UsageError(
                    f"{self.path}: the run store was written by a newer Data Replay "
                    f"(schema {version}, this one reads {SCHEMA_VERSION}); upgrade datareplay"
                )
            self._db = db
        return self._db

    def _prepare(self, db: sqlite3.Connection) -> int:
        """WAL mode, then the schema brought up to date; return its version.

        Each step up is one transaction that checks the version again, so a half-made
        schema never stays and two processes opening a new store at once agree. Setting
        the journal mode while another process creates the store can be refused at once
        ("database is locked", without the busy timeout): that is retried until the
        store's timeout.
        """
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint
                db.execute("PRAGMA foreign_keys=ON")
                version = int(db.execute("PRAGMA user_version").fetchone()[0])
                while version < SCHEMA_VERSION:
                    version = _migrate(db)
                return version
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        with _transaction(db):
            yield db

    # -- writing -----------------------------------------------------------------------

    def begin_run(self, record: RunRecord) -> None:
        """Insert a run in state ``running`` (its steps come with ``add_step``)."""
        with self._write() as db:
            db.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, NULL, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (
                    record.run_id,
                    record.case,
                    record.kind,
                    _dumps(list(record.command)),
                    record.started,
                    RUNNING,
                    record.replay_of,
                    record.pid,
                    record.host,
                    "",  # in run_configs
                    _dumps(record.environment),
                    record.steps_total,
                ),
            )
            db.execute(
                "INSERT INTO run_configs VALUES (?, ?)", (record.run_id, _dumps(record.config))
            )

    def add_step(self, run_id: str, step: StepRecord) -> None:
        """Record one step and its datasets, in one transaction."""
        self.add_steps(run_id, (step,))

    def add_steps(self, run_id: str, steps: Sequence[StepRecord]) -> None:
        """Record ``steps`` (in order) and their datasets, in one transaction."""
        if not steps:
            return
        with self._write() as db:
            db.executemany(
                f"INSERT INTO steps (run_id, {_STEP_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        step.position,
                        step.index,
                        step.name,
                        step.plugin,
                        step.origin,
                        step.fingerprint,
                        _dumps(step.params),
                        step.status,
                        step.seconds,
                        _dumps(list(step.quality)),
                        None if step.error is None else _dumps(step.error),
                        step.cache_key or None,
                        _dumps(step.cache) if step.cache else None,
                        step.reason or None,
                        step.cached_from or None,
                    )
                    for step in steps
                ],
            )
            db.executemany(
                "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        step.position,
                        d.role,
                        d.port,
                        d.source,
                        d.format,
                        d.location,
                        d.content_hash,
                        d.size_bytes,
                        d.rows,
                        d.columns,
                        d.kind,
                    )
                    for step in steps
                    for d in step.datasets
                ],
            )

    def end_run(
        self,
        run_id: str,
        *,
        status: str,
        exit_code: int | None,
        failed_step: str | None,
        error: str | None,
        ended: float,
        environment: Mapping[str, Any] | None = None,
    ) -> None:
        """Seal the run: its final status, then the hash of the whole record."""
        db = self._connect()
        with _transaction(db):
            db.execute(
                "UPDATE runs SET ended = ?, exit_code = ?, failed_step = ?, error = ?, "
                f"environment = COALESCE(?, environment), steps_run = {_STEPS_RUN} "
                "WHERE id = ? AND status = 'running'",
                (
                    ended,
                    exit_code,
                    failed_step,
                    error,
                    None if environment is None else _dumps(environment),
                    run_id,
                ),
            )
            found = db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if found is None or found[0] != RUNNING:
                return
            db.execute(
                "UPDATE runs SET status = ?, seal = ? WHERE id = ?",
                (status, _row_seal(db, run_id, status), run_id),
            )

    def seal_intact(self, record: RunRecord) -> bool | None:
        """Whether ``record`` (as read by ``get``) still matches its seal; None when the run
        has none yet (still running, or ended by a version that did not seal)."""
        if record.seal is None:
            return None
        if record.seal.startswith(ROW_SEAL):
            return _row_seal(self._connect(), record.run_id, record.status) == record.seal
        return seal_of(record) == record.seal

    def mark_dead(self, run_id: str, *, status: str, note: str) -> None:
        """Seal a run whose process is gone (``unknown``/``interrupted``), with ``note``."""
        self.end_run(
            run_id, status=status, exit_code=None, failed_step=None, error=note, ended=time.time()
        )

    def delete_runs(self, run_ids: Sequence[str]) -> None:
        """Remove whole records (``gc``); one transaction."""
        if not run_ids:
            return
        with self._write() as db:
            for chunk in _chunks(list(run_ids), 500):
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM datasets WHERE run_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM steps WHERE run_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM run_configs WHERE run_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM runs WHERE id IN ({marks})", chunk)

    # -- reading -----------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord | None:
        """The whole record of ``run_id`` (with its steps and datasets), or None."""
        return self._read(self._connect(), run_id)

    def _read(self, db: sqlite3.Connection, run_id: str) -> RunRecord | None:
        row = db.execute(f"SELECT {_RUN_SELECT} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        datasets: dict[int, list[DatasetVersion]] = {}
        for d in db.execute(
            "SELECT position, role, port, source, format, location, content_hash, size_bytes, "
            "rows, columns, kind FROM datasets WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        ):
            datasets.setdefault(d[0], []).append(DatasetVersion(*d[1:]))
        steps = tuple(
            StepRecord(
                position=s[0],
                index=s[1],
                name=s[2],
                plugin=s[3],
                origin=s[4],
                fingerprint=s[5],
                params=json.loads(s[6]),
                status=s[7],
                seconds=s[8],
                quality=tuple(json.loads(s[9])),
                error=None if s[10] is None else json.loads(s[10]),
                datasets=tuple(datasets.get(s[0], ())),
                cache_key=s[11] or "",
                cache=json.loads(s[12]) if s[12] else {},
                reason=s[13] or "",
                cached_from=s[14] or "",
            )
            for s in db.execute(
                f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? ORDER BY position",
                (run_id,),
            )
        )
        return _record(row, steps)

    def list_runs(
        self, *, case: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Runs newest first, optionally of one case or status (without their steps or
        configuration: ``get`` reads a whole record)."""
        where, args = [], []
        if case is not None:
            where.append("case_name = ?")
            args.append(case)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        sql = f"SELECT {_LISTED}, {_STEPS_SO_FAR} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [
            _with(_record(row[:-1], ()), steps_run=row[-1])
            for row in self._connect().execute(sql, args)
        ]

    def ids(self) -> list[str]:
        """Every run id, newest first."""
        rows = self._connect().execute("SELECT id FROM runs ORDER BY started DESC, id DESC")
        return [r[0] for r in rows]

    def steps_run(self, run_id: str) -> int:
        row = self._connect().execute(f"SELECT {_STEPS_SO_FAR} FROM runs WHERE id = ?", (run_id,))
        found = row.fetchone()
        return int(found[0]) if found else 0

    def running(self) -> list[tuple[str, int, str]]:
        """``(run id, pid, host)`` of every run still marked running."""
        rows = self._connect().execute("SELECT id, pid, host FROM runs WHERE status = 'running'")
        return [(r[0], int(r[1]), r[2]) for r in rows]

    def latest_outputs(self, case: str) -> dict[str, tuple[DatasetVersion, str, str]]:
        """For each location a run of ``case`` wrote: the last version written there,
        with the run id and the step that wrote it (successful steps only)."""
        rows = self._connect().execute(
            "SELECT d.role, d.port, d.source, d.format, d.location, d.content_hash, "
            "d.size_bytes, d.rows, d.columns, d.kind, d.run_id, s.name "
            "FROM datasets d JOIN runs r ON r.id = d.run_id "
            "JOIN steps s ON s.run_id = d.run_id AND s.position = d.position "
            "WHERE r.case_name = ? AND d.role = 'output' AND d.location IS NOT NULL "
            "ORDER BY r.started, d.rowid",
            (case,),
        )
        latest: dict[str, tuple[DatasetVersion, str, str]] = {}
        for row in rows:
            version = DatasetVersion(*row[:10])
            assert version.location is not None
            latest[version.location] = (version, row[10], row[11])
        return latest

    def cache_hit(self, key: str) -> CacheHit | None:
        """The latest successful execution of a step with cache key ``key`` (of any run
        and case), with the outputs it wrote and its quality results, or None."""
        db = self._connect()
        row = db.execute(
            "SELECT run_id, position, name, quality, cached_from FROM steps "
            "WHERE cache_key = ? AND status IN ('succeeded', 'cached') "
            "ORDER BY rowid DESC LIMIT 1",
            (key,),
        ).fetchone()
        if row is None:
            return None
        outputs = tuple(
            DatasetVersion(*d)
            for d in db.execute(
                "SELECT role, port, source, format, location, content_hash, size_bytes, rows, "
                "columns, kind FROM datasets WHERE run_id = ? AND position = ? "
                "AND role = 'output' ORDER BY rowid",
                (row[0], row[1]),
            )
        )
        return CacheHit(
            run_id=row[4] or row[0],
            step=row[2],
            outputs=outputs,
            quality=tuple(json.loads(row[3])),
        )

    def last_execution(self, case: str, step: str) -> tuple[str, str, dict[str, Any]] | None:
        """(run id, status, cache key parts) of the latest recorded execution of step
        ``step`` of ``case`` that has a cache key (None: there is none)."""
        row = (
            self._connect()
            .execute(
                "SELECT s.run_id, s.status, s.cache FROM steps s JOIN runs r ON r.id = s.run_id "
                "WHERE s.name = ? AND r.case_name = ? AND s.cache IS NOT NULL "
                "ORDER BY r.started DESC, s.rowid DESC LIMIT 1",
                (step, case),
            )
            .fetchone()
        )
        return None if row is None else (row[0], row[1], json.loads(row[2]))

    def producer_of(self, content_hash: str, case: str | None = None) -> tuple[str, str] | None:
        """The earliest (run id, step) that wrote ``content_hash``, or None."""
        sql = (
            "SELECT d.run_id, s.name FROM datasets d JOIN runs r ON r.id = d.run_id "
            "JOIN steps s ON s.run_id = d.run_id AND s.position = d.position "
            "WHERE d.content_hash = ? AND d.role = 'output'"
        )
        args: list[Any] = [content_hash]
        if case is not None:
            sql += " AND r.case_name = ?"
            args.append(case)
        row = self._connect().execute(sql + " ORDER BY r.started LIMIT 1", args).fetchone()
        return None if row is None else (row[0], row[1])

    def hashes_of(self, run_ids: Iterable[str]) -> set[str]:
        """Every content hash the records of ``run_ids`` refer to."""
        found: set[str] = set()
        db = self._connect()
        for chunk in _chunks(list(run_ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT DISTINCT content_hash FROM datasets WHERE run_id IN ({marks}) "
                "AND content_hash IS NOT NULL",
                chunk,
            )
            found.update(r[0] for r in rows)
        return found

    def all_hashes(self) -> set[str]:
        rows = self._connect().execute(
            "SELECT DISTINCT content_hash FROM datasets WHERE content_hash IS NOT NULL"
        )
        return {r[0] for r in rows}


def _record(row: Sequence[Any], steps: tuple[StepRecord, ...]) -> RunRecord:
    return RunRecord(
        run_id=row[0],
        case=row[1],
        kind=row[2],
        command=tuple(json.loads(row[3])),
        started=row[4],
        ended=row[5],
        status=row[6],
        exit_code=row[7],
        failed_step=row[8],
        replay_of=row[9],
        pid=row[10],
        host=row[11],
        config=json.loads(row[12]),
        environment=json.loads(row[13]),
        steps_total=row[14],
        error=row[15],
        seal=row[16],
        steps=steps,
        steps_run=sum(1 for s in steps if s.status != "skipped"),
    )


def _with(record: RunRecord, **changes: Any) -> RunRecord:
    from dataclasses import replace

    return replace(record, **changes)


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
