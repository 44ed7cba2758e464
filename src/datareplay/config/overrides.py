"""``--set key.path=value``: one value of the merged config, changed for one run.

Keys are dotted paths. In a mapping a segment names a key (a key that itself contains
dots is matched as a whole); in a list it is an index or, in ``pipeline``, a step name
(the step's ``name``, else its plugin). A key that does not exist is an error with the
closest keys suggested, unless the path starts with ``+`` (``--set +vars.run_label=test``),
which creates it.

The value is everything after the first ``=``, typed by YAML 1.2 rules but never cut
short: ``0.8`` is a float, ``true`` a boolean, ``null`` (or nothing) None, ``[a, b]`` a
list, ``{k: v}`` a mapping, ``"0.8"`` or ``'0.8'`` text. Anything else is text exactly as
written -- ``run #3 wet road``, ``@night``, ``a: b`` -- since a ``#`` or a leading ``@``
must not silently drop or break part of a value. A value that starts like a quoted string,
a list or a mapping must be one whole (``[1, 2`` or ``[1, 2] # note`` is refused with a
hint to quote it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from datareplay.config.safe_yaml import (
    MAX_NUMBER_CHARS,
    KeyPath,
    YamlSyntaxError,
    format_path,
    parse_yaml,
    plain_scalar,
)
from datareplay.errors import ConfigError, did_you_mean, quote_value


@dataclass(frozen=True)
class Override:
    """One parsed ``--set``: the dotted key, the typed value, and whether it may add keys."""

    key: str
    value: Any
    add: bool
    origin: str
    texts: dict[KeyPath, str] = field(default_factory=dict)  # as in YamlDocument.texts

    @classmethod
    def parse(cls, text: str, *, origin: str = "--set") -> Override:
        add = text.startswith("+")
        key, sep, raw = text.removeprefix("+").partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{origin} expects key.path=value, got {quote_value(text)}")
        _refuse_control_characters(origin, key, key, "key")
        _refuse_control_characters(origin, key, raw, "value")
        if any(not part for part in key.split(".")):
            raise ConfigError(f"{origin} {key}: empty segment in the key path")
        try:
            encoded = raw.encode("utf-8")
        except UnicodeEncodeError as exc:  # bytes of the command line that are not UTF-8
            raise ConfigError(
                f"{origin} {key}: the value is not valid UTF-8 text (invalid byte at "
                f"position {exc.start}); write it as UTF-8"
            ) from None
        stripped = raw.strip()
        if not stripped.startswith(_STRUCTURED):
            if len(stripped) > MAX_NUMBER_CHARS and _looks_numeric(stripped):
                raise ConfigError(
                    f"{origin} {key}: a number of {len(stripped):,} characters is too long "
                    f"(at most {MAX_NUMBER_CHARS:,}); to keep it as text, quote it: "
                    f"{origin} '{key}=\"...\"'"
                )
            try:
                value = plain_scalar(raw)
            except ValueError as exc:
                raise ConfigError(f"{origin} {key}: {exc}") from None
            texts: dict[KeyPath, str] = {} if isinstance(value, str) else {(): stripped}
            return cls(key=key, value=value, add=add, origin=origin, texts=texts)
        try:
            doc = parse_yaml(encoded, source=f"{origin} {key}", whole=True)
        except YamlSyntaxError as exc:
            kind = _STRUCTURED_KINDS[stripped[0]]
            quoted = f"'{key}=\"{raw}\"'" if not set("\"'\\") & set(raw) else f"'{key}=\"...\"'"
            raise ConfigError(
                f"{origin} {key}: {exc.problem}; the value starts like {kind} but is not one "
                f"whole value: finish it, or to pass it as text, quote it: {origin} {quoted}"
            ) from None
        return cls(key=key, value=doc.data, add=add, origin=origin, texts=doc.texts)


def _looks_numeric(text: str) -> bool:
    return text[:1] in "+-.0123456789" and not isinstance(plain_scalar(text[:50]), str)


def _refuse_control_characters(origin: str, key: str, text: str, what: str) -> None:
    """ConfigError for a control character, as a configuration file refuses them."""
    for position, char in enumerate(text):
        code = ord(char)
        allowed = "\t\n" if what == "value" else "\t"  # a value may span lines
        if (code < 0x20 and char not in allowed) or 0x7F <= code < 0xA0:
            shown = key if what == "value" else quote_value(key)
            raise ConfigError(
                f"{origin} {shown}: control character U+{code:04X} at position {position + 1} "
                f"of the {what} is not allowed; remove it"
            )


_STRUCTURED_KINDS = {"[": "a list", "{": "a mapping", '"': "a quoted text", "'": "a quoted text"}
_STRUCTURED = tuple(_STRUCTURED_KINDS)


def resolve_path(
    data: dict[str, Any],
    key: str,
    *,
    add: bool,
    known: Callable[[KeyPath], list[str] | None],
    origin: str,
) -> KeyPath:
    """Turn a dotted key into a key path of ``data``; raise ConfigError if it is unknown.

    ``known(path)`` lists the keys the schema allows at ``path`` besides those present,
    so that a value with a built-in default can be set without ``+``; None means any key
    (plugin params, checked later against the plugin's declaration).
    """
    segments = key.split(".")
    path: list[str | int] = []
    node: Any = data
    i = 0
    while i < len(segments):
        if isinstance(node, dict):
            match = _longest_key(node, segments, i)
            if match is not None:
                name, used = match
                path.append(name)
                node = node[name]
                i += used
                continue
            name = segments[i]
            allowed = known(tuple(path))
            if add or allowed is None or name in allowed:
                path.extend(segments[i:])
                return tuple(path)
            where = format_path(tuple(path)) or "the top level"
            options = sorted({*map(str, node), *allowed})
            hint = did_you_mean(name, options) or (
                f" (keys there: {', '.join(options)})" if options else ""
            )
            free = "" if allowed else f" (to add a new key, write +{key}=...)"
            raise ConfigError(f"{origin} {key}: no key '{name}' in {where}{hint}{free}")
        if isinstance(node, list):
            index = _list_index(node, segments[i], tuple(path), key, origin)
            path.append(index)
            node = node[index]
            i += 1
            continue
        where = format_path(tuple(path))
        raise ConfigError(
            f"{origin} {key}: '{where}' is a {type(node).__name__}, it has no key '{segments[i]}'"
        )
    return tuple(path)


def _longest_key(node: dict[str, Any], segments: list[str], start: int) -> tuple[str, int] | None:
    for end in range(len(segments), start, -1):
        candidate = ".".join(segments[start:end])
        if candidate in node:
            return candidate, end - start
    return None


def _list_index(items: list[Any], segment: str, path: KeyPath, key: str, origin: str) -> int:
    if re.fullmatch(r"-?[0-9]+", segment):
        index = int(segment)
        if not -len(items) <= index < len(items):
            raise ConfigError(
                f"{origin} {key}: index {index} is out of range for "
                f"'{format_path(path)}' ({len(items)} items)"
            )
        return index % len(items)
    names = [_step_name(item) for item in items]
    hits = [i for i, name in enumerate(names) if name == segment]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ConfigError(
            f"{origin} {key}: several items of '{format_path(path)}' are called "
            f"'{segment}'; use an index"
        )
    known = [name for name in names if name]
    raise ConfigError(
        f"{origin} {key}: '{format_path(path)}' has no item '{segment}'"
        f"{did_you_mean(segment, known) or ' (items: ' + ', '.join(known) + ')'} "
        "(address items by step name or index)"
    )


def _step_name(item: Any) -> str:
    if isinstance(item, dict):
        name = item.get("name") or item.get("plugin")
        return name if isinstance(name, str) else ""
    return ""
