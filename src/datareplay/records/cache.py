"""Incremental runs: a step whose code, params and inputs are unchanged is not run again.

Before each step the runner asks ``RunCache.decide``. The step's **cache key** is the
SHA-256 of what decides its result:

* ``code`` — the xxh3_128 of the plugin's module and of every module of the same
  plugin folder or package it imports (``plugins.loader.code_modules``); for a built-in
  plugin its module and the engine's version;
* ``params`` — the resolved params (the key hashes their values; the record keeps them
  with values from environment variables redacted);
* ``inputs`` — per input port, the content hash of the version the step would read:
  written earlier in this run, or the file on disk; a memory input is named by the key
  of the step that makes it (``memory:<key>:<source>``);
* ``outputs`` — per output port, the data source, its format, options and location,
  and the checks declared on it and on the raw inputs;
* ``storage`` — ``STORAGE_FORMAT``, raised whenever the bytes a format writes change.

When an earlier successful execution (any run, any case) had the same key and its
persisted outputs are still at hand (the files in place with those hashes, or their
versions in the object store), the outputs are put back (reflinked or hard-linked from
the store; files up to 16 MiB copied) instead of running the plugin, and that
execution's quality results are carried into the run. A step that runs although its key
was seen before (``--force``, a memory output needed downstream, outputs gone) and
writes other bytes is reported as not deterministic. When a step runs and writes the
same bytes as before, the keys of the steps after it do not change, so they stay cached
(early cutoff).

Every step that runs says why, by comparing its key's parts with the last recorded
execution of the same step of the case (``why``): ``params.rate_hz 50 → 100``, ``input
aligned changed``, ``code of EventDetector changed``, ``no earlier run``, ``forced``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datareplay.data.storage import DataRef, hash_file
from datareplay.records.objects import ObjectStore
from datareplay.records.store import CacheHit, SqliteRunStore

if TYPE_CHECKING:
    from datareplay.data.catalog import DataCatalog
    from datareplay.plan.builder import Step
    from datareplay.run.step import StepOutcome

log = logging.getLogger("datareplay.cache")

STORAGE_FORMAT = 1
"""Version of the bytes the engine's formats write; part of every cache key."""

_SHOWN_CHANGES = 3  # param changes named in a reason before "and N more"


@dataclass(frozen=True)
class Decision:
    """What to do with one step: restore it from ``hit``, or run it for ``reason``.

    ``key`` is empty when the step cannot be cached (its plugin says so, caching is off,
    or an input has no content hash); ``parts`` are what the key was made of, as the
    record keeps them. ``places`` says, per persisted output of the hit, whether the
    file in place already holds it (``kept``) or it comes from the object store.
    """

    key: str
    parts: Mapping[str, Any]
    reason: str
    hit: CacheHit | None = None
    places: Mapping[str, str] = field(default_factory=dict)

    @property
    def cached(self) -> bool:
        return self.hit is not None


class RunCache:
    """Decides, per step, between restoring an earlier execution and running.

    ``force`` reruns every step; ``force_steps`` names steps to rerun (the runner adds
    what depends on them, since their inputs then change or may); ``enabled=False``
    (``--no-cache``) runs everything and records no keys to reuse from. ``shown(step)``
    gives a step's params as a record may show them (secrets redacted).
    """

    def __init__(
        self,
        store: SqliteRunStore,
        objects: ObjectStore,
        *,
        case: str,
        project_root: Path,
        shown: Callable[[Step], Mapping[str, Any]],
        force: bool = False,
        force_steps: Mapping[str, str] | Sequence[str] = (),
        enabled: bool = True,
    ) -> None:
        self.store = store
        self.objects = objects
        self.case = case
        self.root = project_root
        self.shown = shown
        self.force = force
        # step -> the step --force-step named that it depends on (itself when named)
        self.force_steps = (
            dict(force_steps)
            if isinstance(force_steps, Mapping)
            else {name: name for name in force_steps}
        )
        self.enabled = enabled
        self._code: dict[type[Any], dict[str, str]] = {}
        self._hashes: dict[tuple[str, int, int, int], str] = {}  # (path, size, mtime, ino)

    # -- deciding ----------------------------------------------------------------------

    def decide(self, step: Step, catalog: DataCatalog, known: Mapping[str, str]) -> Decision:
        """Restore or run ``step``; ``known`` maps each source written earlier in this run
        to its content hash (or ``memory:<key>:<source>``)."""
        plugin = step.plugin
        if not getattr(plugin, "cacheable", True):
            return Decision("", {}, f"not cacheable ({plugin.__name__}.cacheable = False)")
        parts, secret = self.parts(step, catalog, known)
        key = _key(parts, secret)
        if not self.enabled:
            return Decision(key, parts, "caching is off (--no-cache)")
        if self.force:
            return Decision(key, parts, "forced (--force)")
        if step.name in self.force_steps:
            cause = self.force_steps[step.name]
            if cause == step.name:
                return Decision(key, parts, f"forced (--force-step {step.name})")
            return Decision(key, parts, f"forced: depends on {cause} (--force-step {cause})")
        unknown = [port for port, token in parts["inputs"].items() if token.startswith("?")]
        if unknown:
            return Decision(key, parts, self.why(step, parts) or f"input {unknown[0]} is missing")
        hit = self.store.cache_hit(key)
        if hit is not None:
            places = self._places(hit, catalog)
            if places is not None:
                return Decision(key, parts, "", hit, places)
            reason = f"its outputs from run {hit.run_id} are no longer stored (gc?)"
            return Decision(key, parts, reason)
        return Decision(key, parts, self.why(step, parts) or "no earlier run with this key")

    def parts(
        self, step: Step, catalog: DataCatalog, known: Mapping[str, str]
    ) -> tuple[dict[str, Any], str]:
        """The parts of ``step``'s cache key as recorded, and the digest of its actual
        params (which the key uses in place of the shown ones)."""
        from datareplay.records.recorder import plain

        sources = catalog.sources
        inputs = {port: self._token(name, catalog, known) for port, name in step.reads.items()}
        outputs = {}
        checks: dict[str, Any] = {}
        for port, name in step.writes.items():
            source = sources[name]
            location = None
            if source.path is not None:
                location = _relative(source.path, self.root)
            outputs[port] = {
                "source": name,
                "format": source.format.name,
                "options": plain(dict(source.options)),
                "location": location,
            }
            if source.checks:
                checks[name] = [_check_text(check) for check in source.checks]
        for name in step.reads.values():
            if name in catalog.raw and sources[name].checks:
                checks[name] = [_check_text(check) for check in sources[name].checks]
        actual = plain(dict(step.params))
        shown = plain(self.shown(step))
        parts = {
            "code": self._code_of(step.plugin),
            "params": shown,
            "inputs": inputs,
            "outputs": outputs,
            "checks": checks,
            "storage": STORAGE_FORMAT,
        }
        secret = "" if actual == shown else _digest(actual)
        return parts, secret

    def _code_of(self, plugin: type[Any]) -> dict[str, str]:
        code = self._code.get(plugin)
        if code is None:
            from datareplay.plugins.loader import code_modules

            code = self._code[plugin] = code_modules(plugin)
        return code

    def _token(self, source: str, catalog: DataCatalog, known: Mapping[str, str]) -> str:
        """What identifies the version of ``source`` a step would read now."""
        if source in known:
            return known[source]
        path = catalog.sources[source].path
        if path is None:
            return "?memory"  # no step of this run made it
        digest = self.file_hash(path)
        return digest if digest is not None else "?missing"

    def file_hash(self, path: Path) -> str | None:
        """The content hash of the file at ``path`` (None: no such file), hashed once per
        (size, modification time, inode) in this process."""
        try:
            info = os.stat(path)
        except OSError:
            return None
        stamp = (str(path), info.st_size, info.st_mtime_ns, info.st_ino)
        digest = self._hashes.get(stamp)
        if digest is None:
            try:
                digest = self._hashes[stamp] = hash_file(path)[0]
            except OSError:
                return None
        return digest

    def _places(self, hit: CacheHit, catalog: DataCatalog) -> dict[str, str] | None:
        """Per persisted output of ``hit``: ``kept`` (the file in place holds it) or
        ``stored`` (the object store does); None when one of them is in neither."""
        places: dict[str, str] = {}
        for version in hit.outputs:
            source = catalog.sources.get(version.source)
            if source is None:
                return None
            if version.content_hash is None or source.path is None:
                continue  # memory: nothing to restore
            if self.file_hash(source.path) == version.content_hash:
                places[version.source] = "kept"
            elif self.objects.has(version.content_hash):
                places[version.source] = "stored"
            else:
                return None
        return places

    # -- why a step runs ---------------------------------------------------------------

    def why(self, step: Step, parts: Mapping[str, Any]) -> str:
        """Why ``step`` cannot reuse its last recorded execution (its key's parts then
        and now), or "" when nothing that is recorded differs."""
        last = self.store.last_execution(self.case, step.name)
        if last is None:
            return "no earlier run"
        run_id, status, then = last
        return describe_change(step, then, parts) or (
            f"it {status} in run {run_id}" if status in ("failed", "interrupted") else ""
        )

    # -- restoring and settling --------------------------------------------------------

    def restore(self, step: Step, decision: Decision, catalog: DataCatalog) -> StepOutcome:
        """Put ``decision.hit``'s outputs in place and return the step's outcome."""
        from datareplay.run.step import StepOutcome

        hit = decision.hit
        assert hit is not None
        outputs: dict[str, DataRef] = {}
        for version in hit.outputs:
            source = catalog.sources[version.source]
            location = None
            if source.path is not None and version.content_hash is not None:
                if decision.places.get(version.source) == "stored":
                    how = self.objects.place(
                        version.content_hash, source.path, link=source.format.name != "pickle"
                    )
                    log.debug("restored %s from the object store (%s)", version.source, how)
                location = str(source.path)
            ref = DataRef(
                source=version.source,
                format=version.format,
                location=location,
                content_hash=version.content_hash,
                size_bytes=version.size_bytes,
                rows=version.rows,
                columns=version.columns,
                kind=version.kind,
            )
            if location is not None:
                catalog.restored(version.source, ref)
            outputs[version.source] = ref
        inputs = {}
        for port, name in step.reads.items():  # the versions the key was made of
            held = catalog.versions.get(name)
            if held is not None:
                inputs[port] = held
                continue
            source = catalog.sources[name]
            token = decision.parts["inputs"].get(port, "")
            inputs[port] = DataRef(
                source=name,
                format=source.format.name,
                location=str(source.path) if source.path is not None else None,
                content_hash=token if token.startswith("xxh3_128:") else None,
                size_bytes=_size(source.path),
                rows=None,
                columns=None,
                kind=source.format.name,
            )
        return StepOutcome(
            name=step.name,
            index=step.index,
            plugin=step.plugin.__name__,
            seconds=0.0,
            outputs=outputs,
            quality=tuple(_results(hit.quality)),
            inputs=inputs,
            cache_key=decision.key,
            cache=decision.parts,
            cached_from=hit.run_id,
        )

    def settle(self, decision: Decision, outcome: StepOutcome) -> StepOutcome:
        """``outcome`` of a step that ran, with its key, and the outputs it wrote other
        bytes for than an earlier execution with the same key (not deterministic)."""
        differing: tuple[str, ...] = ()
        if decision.key and outcome.ok:
            earlier = decision.hit or self.store.cache_hit(decision.key)
            if earlier is not None:
                before = {v.source: v.content_hash for v in earlier.outputs}
                differing = tuple(
                    name
                    for name, ref in outcome.outputs.items()
                    if ref.content_hash and before.get(name) not in (None, ref.content_hash)
                )
                for name in differing:
                    log.warning(
                        "step '%s' is not deterministic: it wrote other bytes to '%s' than "
                        "run %s did with the same code, params and inputs (%s, then %s); "
                        "if that is expected, set cacheable = False on %s",
                        outcome.name,
                        name,
                        earlier.run_id,
                        outcome.outputs[name].content_hash,
                        before[name],
                        outcome.plugin,
                    )
        return replace(
            outcome,
            cache_key=decision.key,
            cache=decision.parts,
            reason=decision.reason,
            nondeterministic=differing,
        )


def describe_change(step: Step, then: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """What differs between two sets of key parts, in words ("" when nothing does)."""
    changes: list[str] = []
    if then.get("storage") != now.get("storage"):
        changes.append("the engine's storage format changed")
    code_then, code_now = then.get("code", {}), now.get("code", {})
    if code_then != code_now:
        own = step.plugin.__module__
        if code_then.get(own) != code_now.get(own):
            changes.append(f"code of {step.plugin.__name__} changed")
        else:
            helpers = sorted(
                name
                for name in {*code_then, *code_now}
                if code_then.get(name) != code_now.get(name)
            )
            changes.append(f"code of {', '.join(helpers)} (imported by the plugin) changed")
    changes.extend(_param_changes(then.get("params", {}), now.get("params", {})))
    inputs_then, inputs_now = then.get("inputs", {}), now.get("inputs", {})
    for port, token in inputs_now.items():
        if inputs_then.get(port) != token:
            source = step.reads.get(port, port)
            changes.append(
                f"input {source} changed" if port in inputs_then else f"new input {port}"
            )
    if then.get("outputs") != now.get("outputs"):
        for port, spec in now.get("outputs", {}).items():
            before = then.get("outputs", {}).get(port)
            if before != spec:
                what = [
                    f"{k} {before.get(k)!r} → {spec.get(k)!r}"
                    for k in ("source", "format", "location", "options")
                    if before and before.get(k) != spec.get(k)
                ]
                changes.append(f"output {port}: " + (", ".join(what) if what else "new"))
    if then.get("checks") != now.get("checks"):
        changed = sorted(
            name
            for name in {*then.get("checks", {}), *now.get("checks", {})}
            if then.get("checks", {}).get(name) != now.get("checks", {}).get(name)
        )
        changes.append(f"checks of {', '.join(changed)} changed")
    return "; ".join(changes)


def _param_changes(then: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    from datareplay.config.merged import leaf_paths
    from datareplay.config.safe_yaml import format_path

    before = {format_path(path): value for path, value in leaf_paths(dict(then))}
    after = {format_path(path): value for path, value in leaf_paths(dict(now))}
    changes = []
    for name in [*after, *(k for k in before if k not in after)]:
        if name in after and name in before and before[name] == after[name]:
            continue
        old = _shown(before[name]) if name in before else "(not set)"
        new = _shown(after[name]) if name in after else "(not set)"
        changes.append(f"params.{name} {old} → {new}")
    if len(changes) > _SHOWN_CHANGES:
        more = len(changes) - _SHOWN_CHANGES
        changes = [*changes[:_SHOWN_CHANGES], f"{more} more param(s) changed"]
    return changes


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _key(parts: Mapping[str, Any], secret: str) -> str:
    return "sha256:" + _digest({**parts, "secret": secret})


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _check_text(check: Any) -> Any:
    params = check.params
    dump = getattr(params, "model_dump", None)
    return {"check": check.name, "params": dump(mode="json") if dump else repr(params)}


def _size(path: Path | None) -> int | None:
    try:
        return None if path is None else os.stat(path).st_size
    except OSError:
        return None


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _results(rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Recorded quality rows back as ``CheckResult``s (what the run's results hold)."""
    if not rows:
        return []
    from datareplay.quality.evaluate import CheckResult

    results = []
    fields = CheckResult.__dataclass_fields__
    for row in rows:
        values = {name: row[name] for name in fields if name in row}
        for name in ("sample", "params"):
            if isinstance(values.get(name), str):
                values[name] = json.loads(values[name])
        results.append(CheckResult(**values))
    return results
