"""Where run records live: the ``RunStore`` interface and its embedded SQLite default.

A record is one row of ``runs`` (id, case, kind, command line, times, status, exit code,
the run it replays, the resolved configuration with origins, the environment), one row
of ``steps`` per step that ran or was skipped (plugin, origin, code fingerprint, params,
duration, quality results, error) and one row of ``datasets`` per input read and output
written (source, format, location relative to the project, content hash, bytes, rows,
columns). Every state change is one transaction. A record is *sealed* when its run
ends: SQLite triggers refuse any later change to the run, its steps or its datasets
(only ``gc`` may delete a whole record), and the ``seal`` column holds the xxh3_128 hash
of the record's canonical JSON, which ``show`` checks.

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

SCHEMA_VERSION = 1
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


def store_path(project_root: Path) -> Path:
    """Where the project at ``project_root`` keeps its run records."""
    return project_root / RECORDS_FOLDER / "runs.sqlite"


def canonical(record: RunRecord) -> bytes:
    """The bytes the seal hashes: the record as sorted JSON, without the seal itself."""
    data = record.as_dict()
    data.pop("seal", None)
    data.pop("seconds", None)
    return json.dumps(data, sort_keys=True, default=str, separators=(",", ":")).encode()


def seal_of(record: RunRecord) -> str:
    import xxhash

    return "xxh3_128:" + xxhash.xxh3_128_hexdigest(canonical(record))


class RunStore(Protocol):
    """The operations the engine needs from a run store (SQLite here; others may follow)."""

    def begin_run(self, record: RunRecord) -> None: ...
    def add_step(self, run_id: str, step: StepRecord) -> None: ...
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

_RUN_COLUMNS = (
    "id, case_name, kind, command, started, ended, status, exit_code, failed_step, "
    "replay_of, pid, host, config, environment, steps_total, error, seal"
)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, allow_nan=True, separators=(",", ":"))


class SqliteRunStore:
    """Run records in one SQLite file (WAL mode, one transaction per state change).

    ``path`` is created with its folder on first use. A connection is opened per store
    object and used by one thread.
    """

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self.path = path
        self._timeout = timeout_s
        self._db: sqlite3.Connection | None = None

    # -- connection --------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint, WAL-safe
            db.execute("PRAGMA foreign_keys=ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:  # one script, one transaction: a half-made schema never stays
                db.executescript(
                    f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
                )
            elif version > SCHEMA_VERSION:
                from datareplay.errors import UsageError

                db.close()
                raise UsageError(
                    f"{self.path}: the run store was written by a newer Data Replay "
                    f"(schema {version}, this one reads {SCHEMA_VERSION}); upgrade datareplay"
                )
            self._db = db
        return self._db

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
                    _dumps(record.config),
                    _dumps(record.environment),
                    record.steps_total,
                ),
            )

    def add_step(self, run_id: str, step: StepRecord) -> None:
        """Record one step and its datasets, in one transaction."""
        with self._write() as db:
            db.execute(
                "INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ),
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
                    for d in step.datasets
                ],
            )
            if step.status != "skipped":
                db.execute("UPDATE runs SET steps_run = steps_run + 1 WHERE id = ?", (run_id,))

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
                "UPDATE runs SET ended = ?, exit_code = ?, failed_step = ?, error = ? "
                "WHERE id = ? AND status = 'running'",
                (ended, exit_code, failed_step, error, run_id),
            )
            if environment is not None:
                db.execute(
                    "UPDATE runs SET environment = ? WHERE id = ? AND status = 'running'",
                    (_dumps(environment), run_id),
                )
            record = self._read(db, run_id)
            if record is None or record.status != RUNNING:
                return
            final = _with(record, status=status)
            db.execute(
                "UPDATE runs SET status = ?, seal = ? WHERE id = ?",
                (status, seal_of(final), run_id),
            )

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
                db.execute(f"DELETE FROM runs WHERE id IN ({marks})", chunk)

    # -- reading -----------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord | None:
        """The whole record of ``run_id`` (with its steps and datasets), or None."""
        return self._read(self._connect(), run_id)

    def _read(self, db: sqlite3.Connection, run_id: str) -> RunRecord | None:
        row = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
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
            )
            for s in db.execute(
                "SELECT position, idx, name, plugin, origin, fingerprint, params, status, "
                "seconds, quality, error FROM steps WHERE run_id = ? ORDER BY position",
                (run_id,),
            )
        )
        return _record(row, steps)

    def list_runs(
        self, *, case: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Runs newest first (without their steps), optionally of one case or status."""
        where, args = [], []
        if case is not None:
            where.append("case_name = ?")
            args.append(case)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        sql = f"SELECT {_RUN_COLUMNS}, steps_run FROM runs"
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
        row = self._connect().execute("SELECT steps_run FROM runs WHERE id = ?", (run_id,))
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
