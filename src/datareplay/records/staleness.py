"""Inputs of a step that were computed from raw data that has changed since.

A step run alone (``plugin NAME --case C``) reads its inputs from disk as earlier runs
left them. When the raw recordings were replaced in between (``generate-data``), those
inputs still hold numbers computed from the old recording, and the step would quietly mix
the two. ``stale_inputs`` finds them from the run records:

1. for each input file of the step, the latest recorded run that wrote that file
   (``SqliteRunStore.latest_outputs``), provided the file on disk still is that version
   (same size; a file changed behind the records' back is reported by the catalog when it
   is loaded, not here);
2. from that version upstream through the records (``compare.lineage``: the producing
   step's inputs, their producers in the same run or in earlier runs) to the raw files it
   was computed from, as the records name them, with their content hashes then;
3. each of those raw files is hashed as it is on disk now (``storage.hash_file``, at most
   once per file however many inputs lead to it) and compared.

An input is also stale when a file between it and the raw data was written anew by a
later run with other content (``plugin InitialDataReader`` run alone on the new recording,
then ``plugin SignalCleaner``: the aligned signals it reads still come from the old
``signals``). Without records, or for an input no recorded run wrote, nothing is said:
the records cannot tell. Raw inputs the step reads itself are never stale.

The result is one line per stale input, ready to be logged as a warning::

    input 'aligned' (cases/demo/data/aligned.parquet) was computed by run R from
    data/raw/drive/wheel_speed.parquet as it was before it changed; rerun the pipeline
    ('datareplay pipeline --case demo') to use the new recording

``stale_step_inputs`` does the same for a step of an opened case (what
``Session.run_plugin`` has at hand).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from datareplay.records.compare import LineageNode, lineage
from datareplay.records.store import DatasetVersion, RunRecord, SqliteRunStore

_SHOWN = 3  # raw files named in one line; the rest are counted


def stale_inputs(
    store: SqliteRunStore,
    case: str,
    step_inputs: Mapping[str, Path | None],
    raw_paths: Mapping[str, Path | None] | Iterable[Path | None],
    *,
    project_root: Path,
    command_hint: str = "datareplay",
    hashes: dict[str, str | None] | None = None,
) -> list[str]:
    """One line per input of a step computed from raw files that have changed since.

    ``step_inputs`` maps each data source the step reads to its file (None: memory
    data, never stale); ``raw_paths`` are the files of the case's raw sources (a mapping
    source -> path, or the paths); ``project_root`` is what the records' locations are
    relative to. ``hashes`` (location -> content hash now, None when the file is gone)
    may be shared between calls so that no raw file is hashed twice.
    """
    raw = {_relative(p, project_root): p for p in _paths(raw_paths) if p is not None}
    inputs = [
        (name, path, _relative(path, project_root))
        for name, path in step_inputs.items()
        if path is not None
    ]
    inputs = [entry for entry in inputs if entry[2] not in raw]
    if not inputs:
        return []
    latest = store.latest_outputs(case)
    if not latest:
        return []
    known = hashes if hashes is not None else {}
    records: dict[str, RunRecord | None] = {}
    lines: list[str] = []
    for name, path, location in inputs:
        found = latest.get(location)
        if found is None or not _still_on_disk(path, found[0]):
            continue
        version, run_id, _ = found
        if run_id not in records:
            records[run_id] = store.get(run_id)
        record = records[run_id]
        if record is None:
            continue
        node = lineage(store, record, version.source)
        if node is None:
            continue
        changed: list[str] = []
        gone: list[str] = []
        rewritten: dict[str, str] = {}  # location -> run that wrote it since
        for up in _upstream(node):
            if up.location is None or up.content_hash is None:
                continue
            if up.location in raw:
                if up.location not in known:
                    known[up.location] = _hash_now(raw[up.location])
                now = known[up.location]
                if now is None:
                    gone.append(up.location)
                elif now != up.content_hash:
                    changed.append(up.location)
            elif up.run_id is not None:
                newer = latest.get(up.location)
                if newer is not None and newer[0].content_hash not in (None, up.content_hash):
                    rewritten[up.location] = newer[1]
        line = _line(name, location, run_id, sorted(changed), sorted(gone), rewritten)
        if line is not None:
            fix = "the new recording" if changed or gone else "the new versions"
            lines.append(
                f"{line}; rerun the pipeline ('{command_hint} pipeline --case {case}') to use {fix}"
            )
    return lines


def stale_step_inputs(
    store: SqliteRunStore, opened: Any, step: Any, command_hint: str = "datareplay"
) -> list[str]:
    """``stale_inputs`` for ``step`` (a plan step) of ``opened`` (a session's open case)."""
    hub = opened.hub
    root = hub.project_root
    if root is None:
        return []
    sources = hub.sources
    reads = {name: sources[name].path for name in dict.fromkeys(step.reads.values())}
    raw = {name: sources[name].path for name in hub.raw if name in sources}
    return stale_inputs(
        store,
        opened.config.name,
        reads,
        raw,
        project_root=Path(root),
        command_hint=command_hint,
    )


def _paths(raw_paths: Mapping[str, Path | None] | Iterable[Path | None]) -> Iterable[Path | None]:
    if isinstance(raw_paths, Mapping):
        return raw_paths.values()
    return raw_paths


def _upstream(node: LineageNode) -> Iterator[LineageNode]:
    """Every node below ``node`` (not ``node`` itself), each version once."""
    seen: set[tuple[str | None, str | None]] = set()
    todo = list(node.inputs)
    while todo:
        current = todo.pop()
        key = (current.location, current.content_hash)
        if key in seen:
            continue
        seen.add(key)
        yield current
        todo.extend(current.inputs)


def _line(
    name: str,
    location: str,
    run_id: str,
    changed: list[str],
    gone: list[str],
    rewritten: Mapping[str, str],
) -> str | None:
    parts: list[str] = []
    if changed:
        they = "it was before it" if len(changed) == 1 else "they were before they"
        parts.append(f"from {_listed(changed)} as {they} changed")
    if gone:
        which = "which is" if len(gone) == 1 else "which are"
        parts.append(f"from {_listed(gone)}, {which} no longer there")
    by_run: dict[str, list[str]] = {}
    for where, run in sorted(rewritten.items()):
        by_run.setdefault(run, []).append(where)
    for run, places in sorted(by_run.items()):
        if len(places) == 1:
            parts.append(f"from {places[0]} as it was before run {run} wrote a new version")
        else:
            parts.append(f"from {_listed(places)} as they were before run {run} wrote new ones")
    if not parts:
        return None
    return f"input '{name}' ({location}) was computed by run {run_id} " + "; and ".join(parts)


def _listed(locations: list[str]) -> str:
    shown = locations[:_SHOWN]
    rest = len(locations) - len(shown)
    if rest:
        return ", ".join(shown) + f" and {rest} more"
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def _still_on_disk(path: Path, version: DatasetVersion) -> bool:
    """True when the file at ``path`` can be the recorded ``version`` (same size)."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return version.size_bytes is None or size == version.size_bytes


def _hash_now(path: Path) -> str | None:
    from datareplay.data.storage import hash_file

    try:
        return hash_file(path)[0]
    except OSError:
        return None


def _relative(path: Path, root: Path) -> str:
    """``path`` as the records name it: relative to the project root when inside it."""
    if path.is_absolute() and path.is_relative_to(root) and ".." not in path.parts:
        return str(path.relative_to(root))
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
