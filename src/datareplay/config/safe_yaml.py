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

A syntax error says what the likely mistake is, in plain words and one line, with the
line's number and text: a tab used for indentation (YAML indents with spaces only), a
key out of line with its mapping or list, a missing space after ``:``, an unquoted
``: `` inside a value, a bracket or quote never closed.

Values are typed by the YAML 1.2 core schema, not PyYAML's YAML 1.1 default: only
``true``/``false`` (any case style) are booleans, so ``NO``, ``yes`` and ``off`` stay text;
``17:45`` and ``2024-05-01`` stay text (no sexagesimal numbers, no timestamps); ``1e-5``
is a float; ``0o17`` is octal and ``0x1F`` hexadecimal, while ``017`` is decimal 17;
``1_000`` is text. ``load_yaml`` returns the data, the line every key path was written on
and the text of every number, boolean and null as written (``2.10`` for the float 2.1).
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from datareplay.errors import ConfigError

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
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc]
    """The safe loader with YAML 1.2 core-schema tag resolution (plus ``<<`` merge keys)."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[Any]]] = {}


# YAML 1.2.2, section 10.3.2 (core schema), in order of precedence for a first character
_CORE_RESOLVERS = (
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    (_MERGE, r"<<", "<"),
)
for _tag_name, _pattern, _first in _CORE_RESOLVERS:
    _Loader.add_implicit_resolver(_tag_name, re.compile(f"^(?:{_pattern})$"), list(_first))

_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
_YAML11_DIRECTIVE = re.compile(r"%YAML[ \t]+1\.[01]\b")
_IMPLICIT = [(tag, re.compile(pattern)) for tag, pattern, _ in _CORE_RESOLVERS[:4]]


def plain_scalar(text: str) -> Any:
    """``text`` typed as a plain (unquoted) YAML 1.2 core-schema scalar, whole.

    ``3`` is an int, ``2.10`` a float, ``true`` a boolean, ``null`` or nothing None; any
    other text is returned unchanged -- including what YAML would read as a comment,
    an anchor or a tag (``run #3``, ``@night``, ``!x``) -- and never half-parsed.
    """
    stripped = text.strip()
    for tag, pattern in _IMPLICIT:
        if pattern.fullmatch(stripped):
            return core_scalar(tag, stripped)
    return text


def core_scalar(tag: str, text: str) -> Any:
    """The value of a scalar of ``tag`` written as ``text``, by the YAML 1.2 core schema.

    Raises ValueError when ``text`` is not a valid value of ``tag`` (an explicit
    ``!!int abc``, or ``!!bool yes``, which is text in YAML 1.2).
    """
    if tag == "tag:yaml.org,2002:str":
        return text
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{text!r} is not a boolean (only true or false)")
        return text.lower() == "true"
    if tag == "tag:yaml.org,2002:int":
        if not _INT.fullmatch(text):
            raise ValueError(f"{text!r} is not an integer")
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)
    special = _SPECIAL_FLOATS.get(text.lower())
    if special is not None:
        return special
    if not _FLOAT.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    value = float(text)
    if math.isinf(value):
        sign = "-" if text.startswith("-") else ""
        raise ValueError(f"{text} is too large for a float; write {sign}.inf for infinity")
    return value


class YamlSyntaxError(ConfigError):
    """Text that is not one whole YAML value; ``problem`` says what is wrong, in one line."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass
class YamlDocument:
    """Loaded YAML data with the line of every key path (1-based).

    ``texts`` holds, for every number, boolean and null, the text it was written as
    (``2.10``, ``0x1F``, ``TRUE``, ``~``), so that interpolation and error messages can
    use what the author wrote rather than Python's spelling of the value.
    """

    data: Any
    source: str
    lines: dict[KeyPath, int] = field(default_factory=dict)
    texts: dict[KeyPath, str] = field(default_factory=dict)  # numbers, booleans, nulls

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


def parse_yaml(raw: bytes, *, source: str, whole: bool = False) -> YamlDocument:
    """Parse YAML bytes; see ``load_yaml``.

    With ``whole``, text after the value (a ``# comment``, a second value) is an error
    instead of being ignored: a one-line value must mean all of what was written.
    """
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
    if _YAML11_DIRECTIVE.match(text):
        raise ConfigError(
            f"{source}:1: configuration is read as YAML 1.2; remove the '%YAML 1.1' line "
            "(and quote values that relied on YAML 1.1, such as yes/no or 17:45)"
        )
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, source) from exc
    except yaml.reader.ReaderError as exc:
        raise ConfigError(_reader_error(exc, text, source)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML error: {_one_line(str(exc))}") from exc
    finally:
        loader.dispose()
    doc = YamlDocument(data=None, source=source)
    if node is None:
        return doc
    if whole and node.end_mark.index < len(text.rstrip()):
        rest = _one_line(text[node.end_mark.index :])
        problem = f"text after the value would be ignored: {rest!r}"
        raise YamlSyntaxError(f"{source}: {problem}", problem)
    builder = _Builder(doc, loader)
    doc.data = builder.build(node, ())
    return doc


_LEADING_TAB = re.compile(r"^[ ]*\t")
_NO_SPACE_AFTER_COLON = re.compile(r"^\s*(?:-\s+)?[\w.-]+:[^\s:/]")
_QUOTED_LIMIT = 80


def _line_text(lines: list[str], number: int) -> str:
    """``line 5 reads '\\t- plugin: X'`` (1-based ``number``), shortened when long."""
    text = lines[number - 1] if 0 < number <= len(lines) else ""
    shown = repr(text if len(text) <= _QUOTED_LIMIT else text[: _QUOTED_LIMIT - 3] + "...")
    return f"line {number} reads {shown}"


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, source: str) -> YamlSyntaxError:
    """A YAML syntax error as one line: where, the likely mistake in plain words, the line."""
    mark = exc.problem_mark or exc.context_mark
    raw = _one_line(exc.problem or exc.context or "invalid YAML")
    lines = text.splitlines()
    if mark is None:
        problem = f"YAML syntax error: {raw}"
        return YamlSyntaxError(f"{source}: {problem}", problem)
    number = mark.line + 1
    start = exc.context_mark.line + 1 if exc.context_mark is not None else None
    tabbed = next(
        (
            n
            for n in (number, number - 1)
            if 0 < n <= len(lines) and _LEADING_TAB.match(lines[n - 1])
        ),
        None,
    )
    if tabbed is not None and (
        "tab" in raw or "cannot start any token" in raw or "expected" in raw
    ):
        problem = (
            "a tab character is used for indentation; YAML indents with spaces only "
            "(replace the tab with spaces)"
        )
        return YamlSyntaxError(
            f"{source}:{tabbed}: {problem}; {_line_text(lines, tabbed)}", problem
        )
    cause = _likely_cause(raw, lines, number, mark.column, start)
    problem = f"YAML syntax error: {cause}" if cause else f"YAML syntax error: {raw}"
    if cause:
        problem += f" (YAML: {raw})"
    where = f"{source}:{number}:{mark.column + 1}"
    if number > len(lines) or not lines[number - 1].strip():
        shown = "; the file ends there" if number > len(lines) else ""
    else:
        shown = f"; {_line_text(lines, number)}" if len(lines) > 1 else ""
    return YamlSyntaxError(f"{where}: {problem}{shown}", problem)


def _likely_cause(raw: str, lines: list[str], number: int, column: int, start: int | None) -> str:
    """The likely mistake behind PyYAML's ``raw`` problem at ``number``:``column``, or ""."""
    line = lines[number - 1] if 0 < number <= len(lines) else ""
    before = lines[number - 2] if 1 < number <= len(lines) + 1 else ""
    opened = f" on line {start}" if start is not None else ""
    if raw.startswith("mapping values are not allowed"):
        if ": " in line[:column] or line[:column].rstrip().endswith(":"):
            pair = re.match(r"^\s*(?:-\s+)?([^:#'\"]+):\s+(.*?)\s*$", line)
            example = 'key: "text: more"'
            if pair and '"' not in pair.group(2):
                example = f'{pair.group(1).strip()}: "{pair.group(2)}"'
            return (
                f"an unquoted ': ' inside a value; put the value in quotes ({example}), "
                "or start a nested mapping on a new line"
            )
        if before and _NO_SPACE_AFTER_COLON.match(before):
            return (
                f"line {number - 1} has no space after ':' ({before.strip()!r}), so it is "
                "read as text that runs on into this line; write a space after the ':'"
            )
        if before and _indent(line) > _indent(before):
            return (
                f"bad indentation: line {number} is indented deeper than line {number - 1}; "
                "indent the keys of one mapping by the same number of spaces"
            )
        return (
            "a ':' where no key can start — a missing space after ':' on the line before, "
            "an unquoted ': ' in a value, or bad indentation"
        )
    if raw == "did not find expected key":
        return (
            f"bad indentation: line {number} does not line up with the keys of the mapping "
            f"that starts{opened} (indent the keys of one mapping by the same number of "
            "spaces; a '- ' item belongs under its key, indented)"
        )
    if raw == "did not find expected '-' indicator":
        return (
            f"bad indentation: line {number} does not line up with the '- ' items of the "
            f"list that starts{opened} (a key of an item goes under the item's first key; "
            "a new item starts with '- ')"
        )
    if raw.startswith("did not find expected ','"):
        return (
            f"a '[' or '{{' opened{opened} is not closed, or an item lacks its ',' (close "
            "the bracket, or quote a value holding brackets or commas)"
        )
    if raw == "did not find expected node content":
        return (
            "a value is missing, or a '[' or '{' is not closed (close the bracket, or "
            "quote a value holding brackets or commas)"
        )
    if raw == "found unexpected end of stream":
        return f"a quote opened{opened} is never closed; close it"
    if "cannot start any token" in raw:
        char = line[column : column + 1]
        return f"a plain value cannot start with {char!r}; put the value in quotes" if char else ""
    return ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


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
            self.doc.texts.pop(path, None)
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
            value = core_scalar(str(node.tag), node.value)
        except ValueError as exc:
            raise self._fail(node, f"{key}: cannot read the value: {exc}") from exc
        if isinstance(value, str):
            self.doc.texts.pop(path, None)
        else:
            self.doc.texts[path] = node.value
        return value

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
        merged_texts: dict[KeyPath, str] = {}
        merged_lines: dict[KeyPath, int] = {}
        merge_seen = False
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                if merge_seen:
                    raise self._fail(
                        key_node, "duplicate key '<<'; list every mapping to merge in one '<<'"
                    )
                merge_seen = True
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:  # built aside: only keys not written here are kept
                    texts, lines = self.doc.texts, self.doc.lines
                    self.doc.texts, self.doc.lines = {}, {}
                    try:
                        value = self.build(source, path)
                    finally:
                        (texts, self.doc.texts), (lines, self.doc.lines) = (
                            (self.doc.texts, texts),
                            (self.doc.lines, lines),
                        )
                    if not isinstance(value, dict):
                        raise self._fail(source, "'<<' merges only mappings")
                    merged = {**value, **merged}  # the first source named wins
                    merged_texts = {**texts, **merged_texts}
                    merged_lines = {**lines, **merged_lines}
                continue
            key = self._key(key_node, path)
            if key in result:
                first = self.doc.lines.get((*path, key), "?")
                raise self._fail(
                    key_node,
                    f"duplicate key '{format_path((*path, key))}' (first defined on line "
                    f"{first}); remove one of them",
                )
            self.doc.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*path, key))
        inherited = {key for key in merged if key not in result}
        for key in merged:
            if key in inherited:
                result[key] = merged[key]
        if inherited:
            depth = len(path)

            def kept(where: KeyPath) -> bool:
                return len(where) > depth and where[depth] in inherited

            self.doc.texts.update((k, v) for k, v in merged_texts.items() if kept(k))
            self.doc.lines.update((k, v) for k, v in merged_lines.items() if kept(k))
        return result

    def _key(self, node: yaml.Node, path: KeyPath) -> str:
        """A mapping key as text: a number key keeps its spelling (``0x10``, ``017``)."""
        if not isinstance(node, yaml.ScalarNode):
            raise self._fail(node, "mapping keys must be plain strings or numbers")
        if node.tag not in _PLAIN:
            raise self._fail(node, f"tag '{_tag(node)}' is not allowed in configuration")
        try:
            value = core_scalar(str(node.tag), node.value)
        except ValueError as exc:
            raise self._fail(node, f"key {node.value!r}: {exc}") from exc
        if isinstance(value, (bool, float)) or value is None:
            shown = node.value or "(empty)"
            raise self._fail(
                node,
                f"key {shown} is read as {'null' if value is None else type(value).__name__}; "
                f'a key must be a string: write it in quotes ("{node.value}":)',
            )
        return str(node.value) if isinstance(value, int) else str(value)
