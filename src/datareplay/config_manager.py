"""Layered configuration: ``config/global.yaml``, then ``cases/<case>/case.yaml`` over it.

The merge rule is the same for every layer: mappings merge key by key, everything else
(lists, strings, numbers, booleans, null) replaces what the lower layer had. Every leaf
value remembers the file and line it came from, so a value can always be traced.
"""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datareplay.errors import ConfigError, did_you_mean
from datareplay.names import contained_path
from datareplay.project import Project
from datareplay.safe_yaml import KeyPath, YamlDocument, format_path, load_yaml

if TYPE_CHECKING:
    from datareplay.config_schema import Settings
    from datareplay.data_hub import DataSource

GLOBAL_FILE = "global.yaml"
LOGGING_FILE = "logging.yaml"
DEFAULT_LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
}


@dataclass
class MergedConfig:
    """Plain merged data plus the origin (``file:line``) of every leaf key path."""

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[KeyPath, str] = field(default_factory=dict)
    key_origins: dict[KeyPath, str] = field(default_factory=dict)  # where each key was written

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
            return merged
        self._forget(path)
        self._record(over, path, doc)
        return over

    def _forget(self, path: KeyPath) -> None:
        for key in [k for k in self.origins if k[: len(path)] == path]:
            del self.origins[key]

    def _record(self, value: Any, path: KeyPath, doc: YamlDocument) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                self._record(item, (*path, key), doc)
        elif isinstance(value, list) and value:
            for index, item in enumerate(value):
                self._record(item, (*path, index), doc)
        else:
            self.origins[path] = doc.where(path)

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


@dataclass
class CaseConfig:
    """The validated configuration of one case."""

    name: str
    folder: Path
    settings: Settings
    merged: MergedConfig
    files: list[str]


class ConfigManager:
    """Loads, merges and validates the configuration of a project's cases."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def _load(self, path: Path) -> YamlDocument:
        return load_yaml(path, display=self.project.relative(path))

    def load_case(self, case: str, *, case_file: Path | None = None) -> CaseConfig:
        """Merge global.yaml and the case's case.yaml, then validate the result.

        ``case_file`` loads another file as the case (a template, before it is copied).
        """
        folder = self.project.case_dir(case)
        case_file = case_file or self.project.case_file(case)
        layers = []
        global_file = self.project.config_dir / GLOBAL_FILE
        if global_file.is_file():
            layers.append(self._load(global_file))
        case_doc = self._load(case_file)
        if case_doc.data is None:
            raise ConfigError(
                f"{case_doc.source}: the file is empty; a case needs data_sources and a pipeline"
            )
        layers.append(case_doc)
        merged = MergedConfig()
        for layer in layers:
            merged.apply(layer)
        settings = self.validate(merged)
        if not settings.pipeline:
            raise ConfigError(f"{case_doc.source}: the pipeline is empty; add at least one step")
        return CaseConfig(
            name=case,
            folder=folder,
            settings=settings,
            merged=merged,
            files=[layer.source for layer in layers],
        )

    def validate(self, merged: MergedConfig) -> Settings:
        """Validate merged data; the first problem becomes a ConfigError naming file and key."""
        from pydantic import ValidationError

        from datareplay.config_schema import Settings

        try:
            return Settings.model_validate(merged.data)
        except ValidationError as exc:
            raise ConfigError(_explain(exc, merged)) from None

    def configure_logging(self, *, debug: bool = False) -> None:
        """Apply ``config/logging.yaml`` (or a plain stderr setup when there is none)."""
        path = self.project.config_dir / LOGGING_FILE
        source, config = "built-in logging defaults", DEFAULT_LOGGING
        if path.is_file():
            doc = self._load(path)
            if not isinstance(doc.data, dict):
                raise ConfigError(f"{doc.source}: must be a logging dictConfig mapping")
            source, config = doc.source, doc.data
        try:
            logging.config.dictConfig(config)
        except (ValueError, TypeError, AttributeError, ImportError) as exc:
            raise ConfigError(f"{source}: invalid logging configuration: {exc}") from None
        if debug:
            logging.getLogger().setLevel(logging.DEBUG)

    def data_sources(self, config: CaseConfig) -> dict[str, DataSource]:
        """Turn ``data_sources`` into DataSource objects with checked, resolved paths."""
        from datareplay.data_hub import DataSource
        from datareplay.formats import FORMATS

        settings = config.settings
        root = self.project.root
        roots = [root, *(root / extra for extra in settings.data.allowed_roots)]
        case_data = contained_path(
            settings.data.case_folder,
            base=config.folder,
            roots=roots,
            what=f"{merged_where(config, ('data', 'case_folder'))}: data.case_folder",
        )
        sources: dict[str, DataSource] = {}
        for name, spec in settings.data_sources.items():
            where = merged_where(config, ("data_sources", name))
            fmt_name = spec.format
            if fmt_name is None and spec.path is not None:
                fmt_name = _format_from_suffix(spec.path)
            fmt = FORMATS[fmt_name or settings.data.default_format]
            path: Path | None = None
            if fmt.persistent:
                if spec.path is not None:
                    path = contained_path(
                        spec.path, base=root, roots=roots, what=f"{where}: data source '{name}'"
                    )
                else:
                    path = case_data / f"{name}{fmt.extension}"
            # pickle runs code on load: only the case's own store is trusted by default
            trusted = (
                fmt.name != "pickle"
                or spec.trusted
                or (path is not None and path.is_relative_to(case_data))
            )
            sources[name] = DataSource(
                name=name,
                format=fmt,
                path=path,
                read_only=spec.read_only,
                description=spec.description,
                trusted=trusted,
            )
        return sources


def merged_where(config: CaseConfig, path: KeyPath) -> str:
    return config.merged.origin(path)


def _format_from_suffix(path: str) -> str | None:
    from datareplay.formats import FORMATS

    suffix = Path(path).suffix
    for fmt in FORMATS.values():
        if fmt.extension and fmt.extension == suffix:
            return fmt.name
    return None


def _explain(exc: Any, merged: MergedConfig) -> str:
    """One line for the first validation error: origin, key path, problem and fix."""
    from datareplay.config_schema import known_keys

    error = exc.errors()[0]
    loc: KeyPath = tuple(error["loc"])
    key = format_path(loc)
    where = merged.origin(loc)
    if error["type"] == "extra_forbidden":
        bad = str(loc[-1])
        options = known_keys(loc[:-1])
        hint = did_you_mean(bad, options)
        if not hint and options:
            hint = f" (allowed: {', '.join(options)})"
        return f"{where}: unknown key '{key}'{hint}"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if isinstance(value, Mapping) else f" (got {value!r})"
    return f"{where}: {key}: {message}{shown}"
