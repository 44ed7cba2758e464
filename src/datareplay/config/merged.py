"""Merged configuration data that remembers where every value came from.

Layers are merged by one rule: mappings merge key by key, recursively; everything else
(lists, strings, numbers, booleans, null) replaces the lower layer's value. Each leaf keeps
its origin -- ``file:line`` for a YAML layer, ``--set`` for a command-line override --
and, for numbers, booleans and nulls, the text it was written as (``2.10``); ``env`` knows
which values came from environment variables, to show them redacted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from datareplay.config.safe_yaml import KeyPath, YamlDocument, format_path
from datareplay.config.secrets import EnvValues, Redacted
from datareplay.errors import ConfigError


@dataclass
class MergedConfig:
    """Plain merged data plus the origin (``file:line``) of every leaf key path."""

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[KeyPath, str] = field(default_factory=dict)
    key_origins: dict[KeyPath, str] = field(default_factory=dict)  # where each key was written
    env: EnvValues = field(default_factory=EnvValues)  # values from ${env:NAME}, by key path
    texts: dict[KeyPath, str] = field(default_factory=dict)  # leaves' text as written

    def apply(self, doc: YamlDocument) -> None:
        """Merge one layer over this config (mappings merge, anything else replaces)."""
        if doc.data is None:
            return
        if not isinstance(doc.data, dict):
            raise ConfigError(
                f"{doc.source}: the top level must be a mapping of keys, got "
                f"{type(doc.data).__name__}"
            )
        self.data = self._merge(self.data, doc.data, (), doc)

    def _merge(self, base: Any, over: Any, path: KeyPath, doc: YamlDocument) -> Any:
        if isinstance(base, dict) and isinstance(over, dict):
            merged = dict(base)
            for key, value in over.items():
                self.key_origins[(*path, key)] = doc.where((*path, key))
                merged[key] = self._merge(base.get(key), value, (*path, key), doc)
            if not merged and path:  # an empty mapping is a leaf: this layer wrote it last
                self._forget(path)
                self.origins[path] = doc.where(path)
            return merged
        if base is not None:  # only a value that existed can leave origins behind
            self._forget(path)
        self._record(over, path, doc.where, doc.texts.get)
        return over

    def set(
        self,
        path: KeyPath,
        value: Any,
        *,
        origin: str,
        texts: Mapping[KeyPath, str] | None = None,
    ) -> None:
        """Set one value (an override); missing mappings on the way are created.

        ``texts`` gives the written text of the leaves of ``value``, keyed by their path
        below ``value`` (``()`` for a scalar value), as ``YamlDocument.texts`` does.
        """
        node: Any = self.data
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"{origin}: cannot set {format_path(path)} inside a value")
        node[path[-1]] = value
        self.key_origins[path] = origin
        self._forget(path)
        written = texts or {}
        depth = len(path)
        self._record(value, path, lambda _: origin, lambda leaf: written.get(leaf[depth:]))

    def _forget(self, path: KeyPath) -> None:
        """Drop what a replaced value left: its leaves and the keys below it."""
        n = len(path)
        for key in [k for k in self.origins if k[:n] == path]:
            del self.origins[key]
        for key in [k for k in self.key_origins if len(k) > n and k[:n] == path]:
            del self.key_origins[key]
        for key in [k for k in self.texts if k[:n] == path]:
            del self.texts[key]

    def _record(
        self,
        value: Any,
        path: KeyPath,
        where: Callable[[KeyPath], str],
        written: Callable[[KeyPath], str | None],
    ) -> None:
        """Remember where every leaf and inner key or list item of ``value`` came from.

        ``written(path)`` is the text a leaf was written as, or None (text values).
        """
        if isinstance(value, dict) and value:
            for key, item in value.items():
                self.key_origins[(*path, key)] = where((*path, key))
                self._record(item, (*path, key), where, written)
        elif isinstance(value, list) and value:
            for index, item in enumerate(value):
                self.key_origins[(*path, index)] = where((*path, index))
                self._record(item, (*path, index), where, written)
        else:
            self.origins[path] = where(path)
            text = written(path)
            if text is not None:
                self.texts[path] = text

    def written(self, path: KeyPath) -> str | None:
        """The text the number, boolean or null at ``path`` was written as, else None."""
        return self.texts.get(tuple(path))

    def quote_hint(self, path: KeyPath) -> str:
        """`` (written 2.10); quote it: ...`` for a value read as a number, boolean or null.

        Empty when ``path`` holds text. The fix names the layer the value came from: a
        ``--set`` override gets the quoted command-line form, a file the quoted YAML.
        """
        text = self.written(path)
        if text is None:
            return ""
        origin = self.origin(path)
        quoted = f'"{text}"'  # numbers, booleans and nulls hold no quotes or backslashes
        if origin.startswith("--set"):
            key = origin.removeprefix("--set").strip() or format_path(path)
            fix = f"--set '{key}={quoted}'"
        else:
            fix = f"{path[-1]}: {quoted}" if path and isinstance(path[-1], str) else quoted
        return f" (written {text or 'as nothing'}); to keep it as text, quote it: {fix}"

    def origin(self, path: Iterable[str | int]) -> str:
        """Where the value at ``path`` (or its closest recorded parent/child) came from."""
        path = tuple(path)
        if path in self.key_origins and path not in self.origins:
            return self.key_origins[path]
        probe = path
        while probe:
            if probe in self.origins:
                return self.origins[probe]
            probe = probe[:-1]
        for key, origin in self.origins.items():
            if key[: len(path)] == path:
                return origin
        return "built-in default"

    def shown(self, value: Any, path: KeyPath = ()) -> Any:
        """``value`` (at ``path``) as it may be shown: values from the environment redacted."""
        return self.env.redacted(value, path)

    def leaves(self) -> list[tuple[KeyPath, Any, str]]:
        """Every leaf of the merged data with its origin, in document order."""
        return [(path, value, self.origin(path)) for path, value in leaf_paths(self.data)]


def leaf_paths(value: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """Every leaf (scalar, empty mapping or empty list) of ``value`` with its key path."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaf_paths(item, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*path, index))
    else:
        yield path, value


def render_yaml(data: Any, origin: Callable[[KeyPath], str]) -> str:
    """``data`` as block YAML with ``# origin`` after every leaf value."""
    lines: list[str] = []
    _emit(data, (), 0, lines, origin, prefix="")
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, Redacted):
        return str(value)
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    return text.removesuffix("\n").removesuffix("\n...")


def _emit(
    value: Any,
    path: KeyPath,
    indent: int,
    lines: list[str],
    origin: Callable[[KeyPath], str],
    *,
    prefix: str,
) -> None:
    pad = " " * indent
    if isinstance(value, dict) and value:
        first = True
        for key, item in value.items():
            lead = prefix if first else " " * len(prefix)
            first = False
            head = f"{pad}{lead}{_scalar(str(key))}:"
            if isinstance(item, (dict, list)) and item:
                lines.append(head)
                _emit(item, (*path, key), indent + len(prefix) + 2, lines, origin, prefix="")
            else:
                lines.append(f"{head} {_scalar(item)}  # {origin((*path, key))}")
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            if isinstance(item, dict) and item:
                _emit(item, (*path, index), indent, lines, origin, prefix="- ")
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-")
                _emit(item, (*path, index), indent + 2, lines, origin, prefix="")
            else:
                lines.append(f"{pad}- {_scalar(item)}  # {origin((*path, index))}")
    else:
        lines.append(f"{pad}{prefix}{_scalar(value)}  # {origin(path)}")
