"""Safe YAML loading that also remembers where every value came from.

Only the plain YAML types are accepted (mappings, sequences, strings, numbers, booleans,
null); any other tag -- ``!!python/...``, ``!!binary``, local ``!tags`` -- is refused, so
configuration can never construct objects or run code. Duplicate keys are errors, the
file size and the number of nodes after alias expansion are capped (a few hundred bytes
of nested aliases cannot become gigabytes), and the text must be UTF-8.

``load_yaml`` returns the data and, for every key path, the line it was written on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from datareplay.errors import ConfigError

MAX_BYTES = 8 * 1024 * 1024  # a 10,000-step pipeline is about 1 MiB
MAX_NODES = 100_000  # values an alias may expand to (a plain file is capped by its size)
MAX_DEPTH = 64

KeyPath = tuple[str | int, ...]

_PLAIN = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass
class YamlDocument:
    """Loaded YAML data with the line of every key path (1-based)."""

    data: Any
    source: str
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def where(self, path: KeyPath) -> str:
        """``file:line`` of ``path`` (or of its closest parent that has a line)."""
        probe = path
        while probe:
            if probe in self.lines:
                return f"{self.source}:{self.lines[probe]}"
            probe = probe[:-1]
        return self.source


def format_path(path: KeyPath) -> str:
    """Render a key path as ``pipeline[0].params.rate_hz``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_yaml(path: Path, *, display: str | None = None) -> YamlDocument:
    """Load one YAML file safely; errors name the file and, where known, line and column."""
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{name}: file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror}") from exc
    return parse_yaml(raw, source=name)


def parse_yaml(raw: bytes, *, source: str) -> YamlDocument:
    """Parse YAML bytes; see ``load_yaml``."""
    if len(raw) > MAX_BYTES:
        raise ConfigError(
            f"{source}: file is {len(raw):,} bytes; configuration files are limited to "
            f"{MAX_BYTES:,} bytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{source}: not UTF-8 (invalid byte at offset {exc.start}); save the file as UTF-8"
        ) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML error: {exc}") from exc
    finally:
        loader.dispose()
    doc = YamlDocument(data=None, source=source)
    if node is None:
        return doc
    builder = _Builder(doc, loader)
    doc.data = builder.build(node, ())
    return doc


def _tag(node: yaml.Node) -> str:
    return str(node.tag).replace("tag:yaml.org,2002:", "!!")


class _Builder:
    """Turn a composed node tree into plain Python data, checking every node."""

    def __init__(self, doc: YamlDocument, loader: Any) -> None:
        self.doc = doc
        self.loader = loader
        self.seen: set[int] = set()
        self.expanded = 0  # values built a second time or more, through aliases
        self.active: set[int] = set()  # nodes being built: an alias back to one is a loop

    def _fail(self, node: yaml.Node, message: str) -> ConfigError:
        mark = node.start_mark
        return ConfigError(f"{self.doc.source}:{mark.line + 1}:{mark.column + 1}: {message}")

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        if id(node) in self.seen:
            self.expanded += 1
        else:
            self.seen.add(id(node))
        if self.expanded > MAX_NODES:
            raise self._fail(
                node,
                f"more than {MAX_NODES:,} values after expanding aliases; "
                "remove the nested aliases (&/*)",
            )
        if len(path) > MAX_DEPTH:
            raise self._fail(node, f"values nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in self.active:
                raise self._fail(node, "recursive aliases: an alias refers to its own value")
            self.active.add(id(node))
            try:
                return self._collection(node, path)
            finally:
                self.active.discard(id(node))
        if node.tag == _TIMESTAMP:
            return str(node.value)  # dates stay text: configuration holds no objects
        if node.tag not in _PLAIN:
            raise self._fail(
                node,
                f"tag '{_tag(node)}' is not allowed in configuration "
                "(only plain YAML values; configuration never runs code)",
            )
        return self.loader.construct_object(node, deep=True)

    def _collection(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self._fail(node, f"tag '{_tag(node)}' is not allowed in configuration")
            return self._mapping(node, path)
        if node.tag != _SEQ:
            raise self._fail(node, f"tag '{_tag(node)}' is not allowed in configuration")
        items = []
        for i, item in enumerate(node.value):
            self.doc.lines.setdefault((*path, i), item.start_mark.line + 1)
            items.append(self.build(item, (*path, i)))
        return items

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        explicit_lines: dict[KeyPath, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    value = self.build(source, path)
                    if not isinstance(value, dict):
                        raise self._fail(source, "'<<' merges only mappings")
                    merged = {**value, **merged}
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._fail(key_node, "mapping keys must be plain strings or numbers")
            key = self.build(key_node, path)
            if isinstance(key, (bool, float)) or key is None:
                raise self._fail(key_node, f"key {key!r} must be a string")
            key = str(key)
            if key in result:
                first = self.doc.lines.get((*path, key), "?")
                raise self._fail(
                    key_node,
                    f"duplicate key '{format_path((*path, key))}' (first defined on line "
                    f"{first}); remove one of them",
                )
            line = key_node.start_mark.line + 1
            self.doc.lines[(*path, key)] = explicit_lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        for key, value in merged.items():
            result.setdefault(key, value)
        self.doc.lines.update(explicit_lines)  # a later '<<' must not move explicit keys
        return result
