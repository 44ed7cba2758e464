"""Safe YAML loading that also remembers where every value came from.

Only the plain YAML types are accepted (mappings, sequences, strings, numbers, booleans,
null); any other tag -- ``!!python/...``, ``!!binary``, local ``!tags`` -- is refused, so
configuration can never construct objects or run code. Duplicate keys are errors, the
file size and the number of nodes after alias expansion are capped (a few hundred bytes
of nested aliases cannot become gigabytes), and the text must be UTF-8.

Sizes are checked before reading: a file is opened without blocking, must be a regular
file (never a FIFO or a device, which could block or never end) and is refused from its
size alone when it is larger than the limit; at most the limit plus one byte is ever read.
Integers are capped in length (a 5000-digit number, or a sexagesimal one that takes
minutes to compute, is a configuration error), and control characters are refused with
the line and column where they are.

``load_yaml`` returns the data and, for every key path, the line it was written on.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from datareplay.errors import ConfigError, describe_exception

MAX_BYTES = 8 * 1024 * 1024  # a 10,000-step pipeline is about 1 MiB
MAX_NODES = 100_000  # values an alias may expand to (a plain file is capped by its size)
MAX_DEPTH = 64
MAX_NUMBER_CHARS = 1000  # far below Python's 4,300-digit int limit in every base

KeyPath = tuple[str | int, ...]

_PLAIN = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_NUMBERS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
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
    return parse_yaml(read_config_bytes(path, display=name), source=name)


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_config_bytes(path: Path, *, display: str, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a configuration file, checked before they are read.

    The file is opened without blocking and must be a regular file; its size is checked
    from ``fstat`` before reading, and at most ``limit + 1`` bytes are read, so a huge
    (or sparse) file, a FIFO or ``/dev/zero`` is refused at once.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError as exc:
        raise ConfigError(f"{display}: file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise ConfigError(
                f"{display}: cannot read: it is {kind}, not a regular file (configuration "
                "is read from regular files only)"
            )
        if info.st_size > limit:
            raise _too_large(display, info.st_size, limit)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if size > limit:  # the file grew after it was measured
        raise _too_large(display, size, limit)
    return b"".join(chunks)


def _too_large(source: str, size: int, limit: int) -> ConfigError:
    shown = f"more than {limit:,}" if size == limit + 1 else f"{size:,}"  # read no further
    return ConfigError(
        f"{source}: file is {shown} bytes; configuration files are limited to {limit:,} bytes"
    )


def parse_yaml(raw: bytes, *, source: str) -> YamlDocument:
    """Parse YAML bytes; see ``load_yaml``."""
    if len(raw) > MAX_BYTES:
        raise _too_large(source, len(raw), MAX_BYTES)
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
        problem = _one_line(exc.problem or exc.context or "invalid YAML")
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from exc
    except yaml.reader.ReaderError as exc:
        raise ConfigError(_reader_error(exc, text, source)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML error: {_one_line(str(exc))}") from exc
    finally:
        loader.dispose()
    doc = YamlDocument(data=None, source=source)
    if node is None:
        return doc
    builder = _Builder(doc, loader)
    doc.data = builder.build(node, ())
    return doc


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _reader_error(exc: yaml.reader.ReaderError, text: str, source: str) -> str:
    """A character YAML does not allow, with its line and column (one line)."""
    position = exc.position
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    kind = "control character" if code < 0x20 or 0x7F <= code < 0xA0 else "character"
    escape = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return (
        f"{source}:{line}:{column}: {kind} U+{code:04X} is not allowed in YAML; remove it "
        f'(in a double-quoted string write it as "{escape}")'
    )


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
        key = format_path(path) or "the document"
        if node.tag in _NUMBERS and len(node.value) > MAX_NUMBER_CHARS:
            raise self._fail(
                node,
                f"{key}: a number of {len(node.value):,} characters is too long (at most "
                f"{MAX_NUMBER_CHARS:,}); write it in quotes to keep it as text",
            )
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError, TypeError) as exc:
            raise self._fail(
                node, f"{key}: cannot read the value: {describe_exception(exc)}"
            ) from exc

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
