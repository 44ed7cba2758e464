"""The logging configuration (``config/logging.yaml``), checked before it is applied.

``logging.config.dictConfig`` can build any object: a ``()`` key names a factory it calls,
``class`` imports any class, ``ext://`` imports any object and ``cfg://`` reaches into the
configuration itself. Configuration never runs code, so the file is checked against what
a logging setup needs before ``dictConfig`` sees it:

- no ``()`` factories and no ``.`` attribute settings, anywhere;
- ``class`` only one of the standard library's handlers (``HANDLERS``),
  ``logging.Formatter`` or ``logging.Filter``;
- ``ext://`` only as ``ext://sys.stdout`` or ``ext://sys.stderr``; no ``cfg://``;
- only the keys ``dictConfig`` and the chosen class know, with plain values;
- log files only inside the project (a relative ``filename`` is taken from the project
  root, whatever the current folder) or in a folder listed in the environment variable
  ``DATAREPLAY_LOG_DIRS`` (a project cannot grant itself more).

A refusal is one ConfigError naming the file, line and key, and what to write instead.
"""

from __future__ import annotations

import copy
import logging
import logging.config
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from datareplay.config.safe_yaml import KeyPath, YamlDocument, format_path
from datareplay.errors import ConfigError, describe_exception, did_you_mean

LOG_DIRS_VARIABLE = "DATAREPLAY_LOG_DIRS"

_FILE_OPTIONS = ("filename", "mode", "encoding", "delay", "errors")
_FLAGS = ("incremental", "disable_existing_loggers", "propagate", "delay", "utc")
HANDLERS: dict[str, tuple[str, ...]] = {  # class -> the keyword arguments it takes
    "logging.StreamHandler": ("stream",),
    "logging.FileHandler": _FILE_OPTIONS,
    "logging.NullHandler": (),
    "logging.handlers.WatchedFileHandler": _FILE_OPTIONS,
    "logging.handlers.RotatingFileHandler": (*_FILE_OPTIONS, "maxBytes", "backupCount"),
    "logging.handlers.TimedRotatingFileHandler": (
        *_FILE_OPTIONS,
        "when",
        "interval",
        "backupCount",
        "utc",
    ),
}
FORMATTERS = ("logging.Formatter",)
FILTERS = ("logging.Filter",)  # what dictConfig builds for a filter anyway
_CLASSES = {"formatters": FORMATTERS, "filters": FILTERS}
STREAMS = ("ext://sys.stdout", "ext://sys.stderr")

_TOP = ("version", "formatters", "filters", "handlers", "loggers", "root", "incremental",
        "disable_existing_loggers")  # fmt: skip
_SECTION_KEYS = {
    "formatters": ("format", "datefmt", "style", "validate", "defaults", "class"),
    "filters": ("name", "class"),
    "loggers": ("level", "propagate", "filters", "handlers"),
}
_ROOT_KEYS = ("level", "filters", "handlers")
_HANDLER_KEYS = ("class", "level", "formatter", "filters")
_FIX = "configuration never runs code"


def check_logging_config(doc: YamlDocument, *, project_root: Path) -> dict[str, Any]:
    """Return the checked ``dictConfig`` mapping of ``doc``, log file paths made absolute.

    Raises ConfigError for anything that could run code or write outside the project.
    """
    data = doc.data
    if not isinstance(data, dict):
        raise ConfigError(
            f"{doc.source}: must be a logging dictConfig mapping (version: 1, handlers, root)"
        )
    checker = _Checker(doc, project_root)
    for path, key, value in _walk(data, ()):
        checker.anywhere(path, key, value)
    config = copy.deepcopy(data)
    checker.structure(config)
    return config


def apply_logging_config(config: Mapping[str, Any], *, source: str) -> None:
    """Hand a checked configuration to ``dictConfig``; its errors become one-line ConfigErrors."""
    try:
        logging.config.dictConfig(dict(config))
    except (ValueError, TypeError, AttributeError, ImportError, OSError) as exc:
        cause = exc.__cause__ or exc.__context__
        detail = f" ({describe_exception(cause)})" if cause is not None else ""
        message = " ".join(f"{exc}{detail}".split())
        raise ConfigError(f"{source}: invalid logging configuration: {message}") from exc


def _walk(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str | int | None, Any]]:
    """Every (path, key, value) below ``value``, keys of mappings included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), key, item
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index), index, item
            yield from _walk(item, (*path, index))


class _Checker:
    def __init__(self, doc: YamlDocument, project_root: Path) -> None:
        self.doc = doc
        self.root = project_root.resolve()

    def fail(self, path: KeyPath, message: str) -> ConfigError:
        return ConfigError(f"{self.doc.where(path)}: {format_path(path)}: {message}")

    def anywhere(self, path: KeyPath, key: str | int | None, value: Any) -> None:
        """The rules that hold at every depth: no factories, classes, imports or references."""
        if key == "()":
            raise self.fail(
                path,
                f"factories ('()') are not allowed in the logging configuration ({_FIX}); "
                f"use 'class' with a standard handler such as logging.StreamHandler",
            )
        if key == ".":
            raise self.fail(
                path,
                f"setting attributes ('.') is not allowed in the logging configuration "
                f"({_FIX}); remove it",
            )
        if key == "class" and value not in (*HANDLERS, *FORMATTERS, *FILTERS):
            allowed = ", ".join((*HANDLERS, *FORMATTERS, *FILTERS))
            shown = value if isinstance(value, str) else repr(value)
            raise self.fail(
                path,
                f"class '{shown}' is not allowed ({_FIX}); use one of the standard "
                f"classes: {allowed}",
            )
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("cfg://"):
                raise self.fail(
                    path,
                    f"'cfg://' references are not allowed in the logging configuration "
                    f"({_FIX}); write the value itself",
                )
            if text.startswith("ext://") and text not in STREAMS:
                raise self.fail(
                    path,
                    f"'{text}' is not allowed ({_FIX}); only {' and '.join(STREAMS)} "
                    "may be named with ext://",
                )

    def structure(self, config: dict[str, Any]) -> None:
        """The shape dictConfig expects, with only the keys each part knows."""
        self.keys((), config, _TOP)
        version = config.get("version")
        if version != 1 or isinstance(version, bool):
            raise self.fail(("version",), f"must be 1 (got {version!r}); write 'version: 1'")
        for section in ("formatters", "filters", "handlers", "loggers"):
            entries = config.get(section, {})
            if not isinstance(entries, dict):
                raise self.fail((section,), "must be a mapping of names to settings")
            for name, settings in entries.items():
                path = (section, name)
                if not isinstance(settings, dict):
                    raise self.fail(path, "must be a mapping of settings")
                if section == "handlers":
                    self.handler(path, settings)
                    continue
                allowed = _CLASSES.get(section, ())
                cls = settings.get("class", allowed[0] if allowed else None)
                if allowed and cls not in allowed:
                    kind = section.removesuffix("s")
                    raise self.fail(
                        (*path, "class"),
                        f"'{cls}' is not a {kind} class; use {', '.join(allowed)} "
                        "or leave 'class' out",
                    )
                self.keys(path, settings, _SECTION_KEYS[section])
                self.plain(path, settings)
        if "root" in config:
            root = config["root"]
            if not isinstance(root, dict):
                raise self.fail(("root",), "must be a mapping of settings (level, handlers)")
            self.keys(("root",), root, _ROOT_KEYS)
            self.plain(("root",), root)

    def handler(self, path: KeyPath, settings: dict[str, Any]) -> None:
        cls = settings.get("class")
        if cls is None:
            raise self.fail(path, "a handler needs a 'class', e.g. logging.StreamHandler")
        if cls not in HANDLERS:
            raise self.fail(
                (*path, "class"),
                f"'{cls}' is not a handler class; use one of {', '.join(HANDLERS)}",
            )
        self.keys(path, settings, (*_HANDLER_KEYS, *HANDLERS[cls]))
        self.plain(path, settings)
        if "filename" in settings:
            settings["filename"] = self.log_file((*path, "filename"), settings["filename"])
        self.handler_values(path, settings)

    def handler_values(self, path: KeyPath, settings: Mapping[str, Any]) -> None:
        """Values a handler accepts but that would break or hang every logged line."""
        stream = settings.get("stream")
        if "stream" in settings and stream not in _STREAMS:
            raise self.fail(
                (*path, "stream"), f"must be one of {', '.join(_STREAMS)}, got {stream!r}"
            )
        mode = settings.get("mode", "a")
        if mode not in ("a", "w"):
            raise self.fail((*path, "mode"), f"must be 'a' (append) or 'w', got {mode!r}")
        for key, low, high in _BOUNDS:
            if key in settings:
                value = settings[key]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int)
                    or not low <= value <= high
                ):
                    raise self.fail(
                        (*path, key),
                        f"must be a whole number from {low:,} to {high:,}, got {value!r}",
                    )
        if settings.get("maxBytes", 0) and settings.get("maxBytes", 0) < 1024:
            raise self.fail((*path, "maxBytes"), "must be 0 (no rotation) or at least 1024")

    def keys(self, path: KeyPath, settings: Mapping[str, Any], known: tuple[str, ...]) -> None:
        for key in settings:
            if key in _FLAGS and not isinstance(settings[key], bool):
                raise self.fail(
                    (*path, key),
                    f"must be true or false, got {settings[key]!r} (only true and false are "
                    "booleans in YAML 1.2; yes/no/on/off are text)",
                )
            if key not in known:
                where = format_path(path) or "the top level"
                raise self.fail(
                    (*path, key),
                    f"unknown key in {where}{did_you_mean(str(key), known)} "
                    f"(allowed: {', '.join(known) or 'none'})",
                )

    def plain(self, path: KeyPath, settings: Mapping[str, Any]) -> None:
        """Values are plain scalars, except lists of names and a formatter's defaults."""
        for key, value in settings.items():
            if key in ("filters", "handlers"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise self.fail((*path, key), "must be a list of names")
            elif key == "defaults" and isinstance(value, dict):
                self.plain((*path, key), value)
            elif isinstance(value, (dict, list)):
                raise self.fail((*path, key), "must be a single value, not a mapping or list")

    def log_file(self, path: KeyPath, value: Any) -> str:
        """An absolute ``*.log`` path inside the project or an allowed log folder.

        The suffix rule keeps a log handler from truncating or appending to the project's
        own configuration, plugins or data (``filename: cases/demo/case.yaml``).
        """
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise self.fail(path, "must be the path of a log file, e.g. logs/replay.log")
        if not value.endswith(".log"):
            raise self.fail(
                path,
                f"log file '{value}' must end in .log (e.g. logs/replay.log), so that a log "
                "handler never writes over configuration, code or data",
            )
        target = (self.root / value).resolve()  # an absolute value stays as it is
        roots = [self.root, *_allowed_log_dirs()]
        if not any(target.is_relative_to(root) for root in roots):
            raise self.fail(
                path,
                f"log file '{value}' is outside the project; write logs inside it (e.g. "
                f"logs/replay.log) or list the folder in the environment variable "
                f"{LOG_DIRS_VARIABLE}",
            )
        return str(target)


_STREAMS = ("ext://sys.stderr", "ext://sys.stdout")
# (key, lowest, highest): rotation that cannot run away with the disk or the clock
_BOUNDS = (("backupCount", 0, 1000), ("interval", 1, 10**7), ("maxBytes", 0, 2**40))


def _allowed_log_dirs() -> list[Path]:
    text = os.environ.get(LOG_DIRS_VARIABLE, "")
    return [Path(part).resolve() for part in text.split(os.pathsep) if part.strip()]
