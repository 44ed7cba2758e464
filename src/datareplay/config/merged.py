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

from datareplay.config.safe_yaml import KeyPath, YamlDocument, format_path, plain_scalar
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
    set_paths: dict[str, KeyPath] = field(default_factory=dict)  # "--set KEY" -> its path
    references: dict[KeyPath, KeyPath] = field(default_factory=dict)  # whole ${...} values

    def apply(self, doc: YamlDocument) -> None:
        """Merge one layer over this config (mappings merge, anything else replaces)."""
        if doc.data is None:
            return
        if not isinstance(doc.data, dict):
            raise ConfigError(
                f"{doc.source}: the top level must be a mapping of keys, got "
                f"{type(doc.data).__name__}"
            )
        self.data = self._merge(self.data, doc.data, (), doc.where, doc.texts.get)

    def _merge(
        self,
        base: Any,
        over: Any,
        path: KeyPath,
        where: Callable[[KeyPath], str],
        written: Callable[[KeyPath], str | None],
    ) -> Any:
        if isinstance(base, dict) and isinstance(over, dict):
            merged = dict(base)
            for key, value in over.items():
                self.key_origins[(*path, key)] = where((*path, key))
                merged[key] = self._merge(base.get(key), value, (*path, key), where, written)
            if not merged and path:  # an empty mapping is a leaf: this layer wrote it last
                self._forget(path)
                self.origins[path] = where(path)
            return merged
        if base is not None:  # only a value that existed can leave origins behind
            self._forget(path)
        self._record(over, path, where, written)
        return over

    def set(
        self,
        path: KeyPath,
        value: Any,
        *,
        origin: str,
        texts: Mapping[KeyPath, str] | None = None,
    ) -> None:
        """Set one value (an override) by the merge rule; missing mappings are created.

        A mapping set over a mapping merges key by key, as a layer does; anything else
        replaces. ``texts`` gives the written text of the leaves of ``value``, keyed by
        their path below ``value`` (``()`` for a scalar value), as ``YamlDocument.texts``.
        """
        node: Any = self.data
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"{origin}: cannot set {format_path(path)} inside a value")
        written = texts or {}
        depth = len(path)
        last = path[-1]
        exists = last in node if isinstance(node, dict) else True
        node[last] = self._merge(
            node[last] if exists else None,
            value,
            path,
            lambda _: origin,
            lambda leaf: written.get(leaf[depth:]),
        )
        self.key_origins[path] = origin
        self.set_paths[origin] = path

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
        return self.texts.get(self.source_of(tuple(path)))

    def source_of(self, path: KeyPath) -> KeyPath:
        """Where the value at ``path`` was written: through whole-value references
        (``label: ${vars.fw}``) to the key that holds it (``vars.fw``)."""
        seen = {path}
        while path in self.references and self.references[path] not in seen:
            path = self.references[path]
            seen.add(path)
        return path

    def quote_hint(self, path: KeyPath) -> str:
        """`` (written 2.10); ... quote it: ...`` for a value read as a number, boolean or null.

        Empty when ``path`` holds text. The fix is written for the place the value came
        from: the key a ``${...}`` reference leads to, the quoted ``--set`` for a value set
        on the command line, the quoted YAML for a file.
        """
        source = self.source_of(tuple(path))
        text = self.texts.get(source)
        if text is None:
            return ""
        quoted = f'"{text}"'  # numbers, booleans and nulls hold no quotes or backslashes
        origin = self.origin(source)
        at = ""
        if source != tuple(path):
            at = f" in {format_path(source)} at {origin}"
        if origin.startswith("--set") and self.set_paths.get(origin) == source:
            fix = f"--set '{origin.removeprefix('--set').strip()}={quoted}'"
        elif source and isinstance(source[-1], str) and not origin.startswith("--set"):
            fix = f"{source[-1]}: {quoted}"
        else:
            fix = f"{quoted} where it is written"
        shown = text or "as nothing"
        return f" (written {shown}{at}); to keep it as text, quote it: {fix}"

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

    # text YAML 1.2 would read as something else ("0o17", "1e-5") is shown in quotes, so
    # that the output reads back as the same values
    # (and text with line breaks or tabs in escaped double quotes, to keep one line a value)
    style = None
    if isinstance(value, str) and (
        not isinstance(plain_scalar(value), str) or not value.isprintable()
    ):
        style = '"'
    text = yaml.safe_dump(
        value,
        default_flow_style=True,
        default_style=style,
        allow_unicode=True,
        width=float("inf"),  # never fold a long value
    )
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
