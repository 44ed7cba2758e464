"""What differs between two run records, and where a dataset version came from.

``diff_runs`` compares configuration values (with their origins), and step by step the
plugin's code fingerprint, params, input and output hashes and quality verdicts; it
names the first step whose outputs diverge. ``lineage`` walks from one dataset version
back through the steps that produced it and their inputs to the raw recordings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from datareplay.records.store import DatasetVersion, RunRecord, SqliteRunStore, StepRecord


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, leaf)`` for every leaf of nested mappings and lists."""
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


@dataclass
class StepDiff:
    """How one step differs between two runs (empty lists: no difference)."""

    name: str
    status: tuple[str | None, str | None]
    code: tuple[str, str] | None = None
    params: list[tuple[str, Any, str, Any, str]] = field(default_factory=list)
    inputs: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    outputs: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    quality: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.status[0] != self.status[1]
            or self.code
            or self.params
            or self.inputs
            or self.outputs
            or self.quality
        )


@dataclass
class RunDiff:
    """Differences between run ``a`` and run ``b``."""

    a: str
    b: str
    config: list[tuple[str, Any, str, Any, str]] = field(default_factory=list)
    steps: list[StepDiff] = field(default_factory=list)
    first_divergence: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "config": [
                {"key": k, "a": va, "a_origin": oa, "b": vb, "b_origin": ob}
                for k, va, oa, vb, ob in self.config
            ],
            "steps": [
                {
                    "name": s.name,
                    "status": list(s.status),
                    "code": list(s.code) if s.code else None,
                    "params": [
                        {"key": k, "a": a, "a_origin": oa, "b": b, "b_origin": ob}
                        for k, a, oa, b, ob in s.params
                    ],
                    "inputs": [{"port": p, "a": a, "b": b} for p, a, b in s.inputs],
                    "outputs": [{"source": p, "a": a, "b": b} for p, a, b in s.outputs],
                    "quality": [{"check": c, "a": a, "b": b} for c, a, b in s.quality],
                }
                for s in self.steps
                if s.changed
            ],
            "first_divergence": self.first_divergence,
        }


_SKIPPED_CONFIG = ("pipeline",)  # compared step by step, as params


def diff_runs(a: RunRecord, b: RunRecord) -> RunDiff:
    """Compare two records; see the module docstring."""
    result = RunDiff(a.run_id, b.run_id)
    left = dict(flatten(_without(a.config.get("data", {}))))
    right = dict(flatten(_without(b.config.get("data", {}))))
    origins_a = a.config.get("origins", {})
    origins_b = b.config.get("origins", {})
    for key in sorted(set(left) | set(right)):
        if key.startswith("case.") or key == "project.root":
            continue
        if left.get(key, _MISSING) != right.get(key, _MISSING):
            result.config.append(
                (
                    key,
                    left.get(key, _MISSING),
                    origins_a.get(key, "not set"),
                    right.get(key, _MISSING),
                    origins_b.get(key, "not set"),
                )
            )
    names = [s.name for s in a.steps] + [s.name for s in b.steps if a.step(s.name) is None]
    for name in names:
        diff = _diff_step(name, a.step(name), b.step(name), origins_a, origins_b)
        result.steps.append(diff)
        if result.first_divergence is None and (diff.outputs or diff.status[0] != diff.status[1]):
            result.first_divergence = name
    return result


class _Missing:
    def __repr__(self) -> str:
        return "(not set)"

    def __str__(self) -> str:
        return "(not set)"


_MISSING: Any = _Missing()


def _without(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {k: v for k, v in data.items() if k not in _SKIPPED_CONFIG}
    return data


def _diff_step(
    name: str,
    a: StepRecord | None,
    b: StepRecord | None,
    origins_a: Mapping[str, str],
    origins_b: Mapping[str, str],
) -> StepDiff:
    # a step restored from an earlier run ended as one that ran: the same outputs
    ended = [
        "succeeded" if s is not None and s.status == "cached" else (s.status if s else None)
        for s in (a, b)
    ]
    diff = StepDiff(name, (ended[0], ended[1]))
    if a is None or b is None:
        return diff
    if a.fingerprint != b.fingerprint:
        diff.code = (a.fingerprint, b.fingerprint)
    pa, pb = dict(flatten(a.params)), dict(flatten(b.params))
    diff.params = [
        (
            k,
            pa.get(k, _MISSING),
            _param_origin(origins_a, a.index, k),
            pb.get(k, _MISSING),
            _param_origin(origins_b, b.index, k),
        )
        for k in sorted(set(pa) | set(pb))
        if pa.get(k, _MISSING) != pb.get(k, _MISSING)
    ]
    diff.inputs = _versions(a.inputs(), b.inputs(), key="port")
    diff.outputs = _versions(a.outputs(), b.outputs(), key="source")
    qa = {q.get("source", "") + ": " + q.get("check", ""): _verdict(q) for q in a.quality}
    qb = {q.get("source", "") + ": " + q.get("check", ""): _verdict(q) for q in b.quality}
    diff.quality = [
        (k, qa.get(k), qb.get(k)) for k in sorted(set(qa) | set(qb)) if qa.get(k) != qb.get(k)
    ]
    return diff


def _param_origin(origins: Mapping[str, str], index: int, key: str) -> str:
    """Where a step's param value came from (its declared default when no layer set it)."""
    return origins.get(f"pipeline[{index}].params.{key}", "the plugin's default")


def _verdict(row: Mapping[str, Any]) -> str:
    state = "passed" if row.get("passed") else "FAILED"
    return f"{state} ({row.get('failing', 0)} of {row.get('total', 0)})"


def _versions(
    a: list[DatasetVersion], b: list[DatasetVersion], *, key: str
) -> list[tuple[str, str | None, str | None]]:
    ha = {getattr(d, key): d.content_hash for d in a}
    hb = {getattr(d, key): d.content_hash for d in b}
    return [(k, ha.get(k), hb.get(k)) for k in sorted(set(ha) | set(hb)) if ha.get(k) != hb.get(k)]


@dataclass
class LineageNode:
    """One dataset version and the step that produced it (None: raw data or unknown)."""

    source: str
    content_hash: str | None
    location: str | None
    run_id: str | None
    step: str | None
    plugin: str | None = None
    inputs: list[LineageNode] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "content_hash": self.content_hash,
            "location": self.location,
            "run_id": self.run_id,
            "step": self.step,
            "plugin": self.plugin,
            "inputs": [i.as_dict() for i in self.inputs],
        }


def lineage(
    store: SqliteRunStore, record: RunRecord, source: str, *, depth: int = 64
) -> LineageNode | None:
    """Where the version of ``source`` that run ``record`` wrote (or read) came from."""
    for step in reversed(record.steps):
        for version in step.outputs():
            if version.source == source:
                return _node(store, record, step, version, depth, cache={})
    for step in record.steps:
        for version in step.inputs():
            if version.source == source:
                return _trace(store, record, version, depth, cache={})
    return None


def _node(
    store: SqliteRunStore,
    record: RunRecord,
    step: StepRecord,
    version: DatasetVersion,
    depth: int,
    cache: dict[str, RunRecord | None],
) -> LineageNode:
    node = LineageNode(
        version.source,
        version.content_hash,
        version.location,
        record.run_id,
        step.name,
        step.plugin,
    )
    if depth > 0:
        node.inputs = [_trace(store, record, i, depth - 1, cache) for i in step.inputs()]
    return node


def _trace(
    store: SqliteRunStore,
    record: RunRecord,
    version: DatasetVersion,
    depth: int,
    cache: dict[str, RunRecord | None],
) -> LineageNode:
    """The producer of an input version: in the same run, else the run that wrote it."""
    for step in record.steps:
        for out in step.outputs():
            if out.source == version.source and (
                out.content_hash == version.content_hash or version.content_hash is None
            ):
                return _node(store, record, step, out, depth, cache)
    if version.content_hash is not None:
        found = store.producer_of(version.content_hash, record.case)
        if found is not None:
            run_id, step_name = found
            if run_id not in cache:
                cache[run_id] = store.get(run_id)
            other = cache[run_id]
            if other is not None:
                producer = other.step(step_name)
                if producer is not None:
                    out = next(
                        o for o in producer.outputs() if o.content_hash == version.content_hash
                    )
                    return _node(store, other, producer, out, depth, cache)
    return LineageNode(version.source, version.content_hash, version.location, None, None)
