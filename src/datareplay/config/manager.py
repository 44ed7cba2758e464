"""Layered configuration of a case, traceable to the file and line of every value.

Layers, lowest first: built-in defaults, ``config/global.yaml``, the environment layer
``config/env/<name>.yaml`` (``--env``), ``cases/<case>/case.yaml``, ``--params`` files and
``--set`` overrides. The merge rule is the same at every layer: mappings merge key by key,
everything else (lists, strings, numbers, booleans, null) replaces the lower value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datareplay.config.interpolation import interpolate
from datareplay.config.logging_config import apply_logging_config, check_logging_config
from datareplay.config.merged import MergedConfig
from datareplay.config.overrides import Override, resolve_path
from datareplay.config.safe_yaml import KeyPath, YamlDocument, format_path, load_yaml
from datareplay.config.secrets import Secrets, install_filter
from datareplay.errors import (
    ConfigError,
    UnknownNameError,
    boolean_hint,
    did_you_mean,
    quote_value,
)
from datareplay.project.names import check_location, check_name, contained_path
from datareplay.project.paths import Project

if TYPE_CHECKING:
    from datareplay.config.schema import Settings
    from datareplay.data.source import DataSource

GLOBAL_FILE = "global.yaml"
LOGGING_FILE = "logging.yaml"
ENV_FOLDER = "env"
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
class CaseConfig:
    """The validated configuration of one case."""

    name: str
    folder: Path
    settings: Settings
    merged: MergedConfig
    files: list[str]
    overrides: list[tuple[str, Any, str]] = field(default_factory=list)


class ConfigManager:
    """Loads, merges and validates the configuration of a project's cases.

    ``secrets`` collects the value of every environment variable a loaded configuration
    used, so that the command line and the log handlers can keep them out of messages.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.secrets = Secrets()

    def _load(self, path: Path) -> YamlDocument:
        return load_yaml(path, display=self.project.relative(path))

    def load_case(
        self,
        case: str,
        *,
        case_file: Path | None = None,
        env: str | None = None,
        params_files: Sequence[Path] = (),
        overrides: Sequence[str] = (),
    ) -> CaseConfig:
        """Merge every layer of ``case``, resolve references, then validate the result.

        Layers, lowest first: built-in defaults, config/global.yaml, config/env/<env>.yaml,
        the case.yaml (or ``case_file``, e.g. a template before it is copied), each
        ``params_files`` entry, each ``--set`` override.
        """
        folder = self.project.case_dir(case)
        case_file = case_file or self.project.case_file(case)
        merged = MergedConfig()
        files: list[str] = []
        override_sources: set[str] = set()

        def apply(doc: YamlDocument) -> None:
            merged.apply(doc)
            files.append(doc.source)

        global_file = self.project.config_dir / GLOBAL_FILE
        if _present(global_file):
            apply(self._load(global_file))
        if env:
            env_doc = self._load(self.env_file(env))
            apply(env_doc)
            override_sources.add(env_doc.source)
        case_doc = self._load(case_file)
        if case_doc.data is None:
            raise ConfigError(
                f"{case_doc.source}: the file is empty; a case needs data_sources and a pipeline"
            )
        apply(case_doc)
        for params_file in params_files:
            doc = self._load(params_file)
            self._apply_params_file(merged, doc)
            files.append(doc.source)
            override_sources.add(doc.source)
        for text in overrides:
            override = Override.parse(text)
            path = resolve_path(
                merged.data, override.key, add=override.add, known=_known, origin="--set"
            )
            merged.set(path, override.value, origin=f"--set {override.key}", texts=override.texts)
        if overrides:
            override_sources.add("--set")
        builtins = {
            "case.name": case,
            "case.folder": self.project.relative(folder),
            "project.root": str(self.project.root),
        }
        try:
            merged.data = interpolate(
                merged.data,
                builtins=builtins,
                where=merged.origin,
                env=merged.env,
                texts=merged.texts,
                references=merged.references,
            )
        finally:  # known before any error can quote one of them
            self.secrets.add(merged.env.values)
        settings = self.validate(merged)
        if not settings.pipeline:
            raise ConfigError(f"{case_doc.source}: the pipeline is empty; add at least one step")
        _check_project_only(merged, ("data", "allowed_roots"), len(settings.data.allowed_roots))
        overridden = [
            (format_path(path), merged.shown(value, path), origin)
            for path, value, origin in (merged.leaves() if override_sources else ())
            if origin.rpartition(":")[0] in override_sources or origin.startswith("--set")
        ]
        return CaseConfig(
            name=case,
            folder=folder,
            settings=settings,
            merged=merged,
            files=files,
            overrides=overridden,
        )

    def load_recorded(
        self, case: str, data: Mapping[str, Any], *, origins: Mapping[str, str], run_id: str
    ) -> CaseConfig:
        """The configuration a run recorded (already merged and resolved), validated again.

        Values the run read from environment variables were recorded redacted
        (``<redacted: env:NAME>``); each is taken from the variable's current value, and a
        variable that is not set is a ConfigError naming it.
        """
        import copy

        resolved = copy.deepcopy(dict(data))
        from_env: dict[KeyPath, tuple[str, ...]] = {}
        for path, value in leaf_items(resolved):
            if isinstance(value, str) and value.startswith("<redacted: env:"):
                names = [n.strip().removeprefix("env:") for n in value[11:-1].split(",")]
                if len(names) != 1 or names[0] not in os.environ:
                    raise ConfigError(
                        f"run {run_id}: {format_path(path)} came from the environment "
                        f"({value}), which a record never stores; set "
                        f"{' and '.join(names)} to replay it"
                    )
                _set_at(resolved, path, os.environ[names[0]])
                from_env[path] = (names[0],)
        merged = MergedConfig()
        merged.apply(YamlDocument(resolved, f"run {run_id}", {}, {}))
        merged.env.paths.update(from_env)  # shown redacted again, in the replay's record
        merged.env.values.update({names[0]: os.environ[names[0]] for names in from_env.values()})
        self.secrets.add(merged.env.values)
        shown = {key: f"run {run_id} ({where})" for key, where in origins.items()}
        merged.origins = {}
        for path, _ in leaf_items(resolved):
            merged.origins[tuple(path)] = shown.get(format_path(path), f"run {run_id}")
        settings = self.validate(merged)
        return CaseConfig(
            name=case,
            folder=self.project.case_dir(case),
            settings=settings,
            merged=merged,
            files=[f"run {run_id}"],
        )

    def load_global(self) -> Settings:
        """The validated project-wide settings (config/global.yaml alone)."""
        merged = MergedConfig()
        global_file = self.project.config_dir / GLOBAL_FILE
        if _present(global_file):
            merged.apply(self._load(global_file))
        return self.validate(merged)

    def env_file(self, env: str) -> Path:
        """``config/env/<env>.yaml``, or UnknownNameError listing the environments."""
        path = self.project.config_dir / ENV_FOLDER / f"{check_name(env, kind='environment')}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in (self.project.config_dir / ENV_FOLDER).glob("*.yaml"))
            hint = did_you_mean(env, known) or f" (environments: {', '.join(known) or 'none'})"
            raise UnknownNameError(
                f"unknown environment '{env}': no {self.project.relative(path)}{hint}"
            )
        return path

    def _apply_params_file(self, merged: MergedConfig, doc: YamlDocument) -> None:
        """Merge a --params file; its dotted top-level keys address values like --set."""
        if doc.data is None:
            return
        if not isinstance(doc.data, dict):
            raise ConfigError(f"{doc.source}: a params file must be a mapping of keys")
        nested = {k: v for k, v in doc.data.items() if "." not in k}
        merged.apply(YamlDocument(nested, doc.source, doc.lines, doc.texts))
        for key, value in doc.data.items():
            if "." not in key:
                continue
            add = key.startswith("+")
            dotted = key.removeprefix("+")
            where = doc.where((key,))
            path = resolve_path(merged.data, dotted, add=add, known=_known, origin=where)
            texts = {sub[1:]: text for sub, text in doc.texts.items() if sub[0] == key}
            merged.set(path, value, origin=where, texts=texts)

    def validate(self, merged: MergedConfig) -> Settings:
        """Validate merged data; the first problem becomes a ConfigError naming file and key."""
        from pydantic import ValidationError

        from datareplay.config.schema import Settings

        try:
            return Settings.model_validate(merged.data)
        except ValidationError as exc:
            raise ConfigError(_explain(exc, merged)) from None

    def configure_logging(self, *, debug: bool = False, verbosity: int = 0) -> None:
        """Check and apply ``config/logging.yaml`` (a plain stderr setup when there is none).

        The file is checked before ``dictConfig`` sees it (see ``logging_config``): a
        factory, a class outside the standard handlers, an import or a log file outside
        the project is a ConfigError and nothing is configured. Every handler then gets a
        filter that keeps environment values out of the log. ``verbosity`` -1 (``--quiet``)
        raises the root level to WARNING, 1 (``--verbose``) lowers it to DEBUG, as does
        ``debug``.
        """
        path = self.project.config_dir / LOGGING_FILE
        source, config = "built-in logging defaults", DEFAULT_LOGGING
        if _present(path):
            doc = self._load(path)
            source, config = doc.source, check_logging_config(doc, project_root=self.project.root)
        apply_logging_config(config, source=source)
        install_filter(self.secrets)
        root = logging.getLogger()
        if debug or verbosity > 0:
            root.setLevel(logging.DEBUG)
            for handler in root.handlers:  # a handler's own level must not hide them
                if handler.level > logging.DEBUG:
                    handler.setLevel(logging.DEBUG)
        elif verbosity < 0:
            root.setLevel(max(root.level, logging.WARNING))

    def _data_roots(self, config: CaseConfig) -> list[Path]:
        root = self.project.root
        return [root, *(root / extra for extra in config.settings.data.allowed_roots)]

    def case_data_folder(self, config: CaseConfig) -> Path:
        """Where the case's outputs go by default (``data.case_folder`` in its folder)."""
        return contained_path(
            config.settings.data.case_folder,
            base=config.folder,
            roots=self._data_roots(config),
            what=f"{merged_where(config, ('data', 'case_folder'))}: data.case_folder",
        )

    def data_sources(self, config: CaseConfig) -> dict[str, DataSource]:
        """Turn ``data_sources`` into DataSource objects with checked, resolved paths."""
        from datareplay.config.schema import SourceProblem, resolve_source_format
        from datareplay.data.formats import FORMATS
        from datareplay.data.source import DataSource

        settings = config.settings
        root = self.project.root
        roots = self._data_roots(config)
        case_data = self.case_data_folder(config)
        resolved_roots = tuple(root.resolve() for root in roots)
        sources: dict[str, DataSource] = {}
        for name, spec in settings.data_sources.items():
            where = merged_where(config, ("data_sources", name))
            try:
                fmt_name, options = resolve_source_format(name, spec, settings.data.default_format)
            except SourceProblem as problem:
                raise ConfigError(f"{merged_where(config, problem.key)}: {problem}") from None
            fmt = FORMATS[fmt_name]
            path: Path | None = None
            if fmt.persistent:
                if spec.path is not None:
                    path = contained_path(
                        spec.path, base=root, roots=roots, what=f"{where}: data source '{name}'"
                    )
                else:
                    path = check_location(
                        case_data / f"{name}{fmt.extension}",
                        roots=roots,
                        what=f"{where}: data source '{name}'",
                        shown=self.project.relative(case_data / f"{name}{fmt.extension}"),
                    )
            # pickle runs code on load: only the case's own store (``store``, checked on
            # the resolved file at read time) is trusted by default
            trusted = fmt.name != "pickle" or spec.trusted
            checks: tuple[Any, ...] = ()
            if spec.checks:
                from datareplay.quality.specs import parse_checks

                checks = parse_checks(
                    spec.checks,
                    where=f"{merged_where(config, ('data_sources', name, 'checks'))}: "
                    f"data_sources.{name}.checks",
                )
            sources[name] = DataSource(
                name=name,
                format=fmt,
                path=path,
                read_only=spec.read_only,
                description=spec.description,
                trusted=trusted,
                checks=checks,
                roots=resolved_roots,
                store=case_data,
                options=tuple(options.items()),
            )
        self._refuse_shared_files(config, sources)
        for source in sources.values():
            for check in source.checks:
                for reference in check.references:
                    if reference not in sources:
                        raise ConfigError(
                            f"{check.where}: reference '{reference}' is not a data source"
                            f"{did_you_mean(reference, sources)}"
                        )
        return sources

    def _refuse_shared_files(self, config: CaseConfig, sources: Mapping[str, DataSource]) -> None:
        """ConfigError when two sources of the case are one file and either can be written.

        Paths are compared after symlinks (``./x`` and ``x``, a symlinked folder) and, for a
        file that exists, by identity (a hard link), so one source can never silently
        overwrite what another holds. Sources that can only be read may share a file.
        """
        seen: dict[object, str] = {}
        for name, source in sources.items():
            if source.path is None:
                continue
            keys: list[object] = [Path(os.path.realpath(source.path))]
            with suppress(OSError):
                info = os.stat(source.path)
                keys.append((info.st_dev, info.st_ino))
            first = next((seen[key] for key in keys if key in seen), None)
            if first is None:
                for key in keys:
                    seen[key] = name
                continue
            other = sources[first]
            if not (_writable(source) or _writable(other)):
                continue
            shown = self.project.relative(Path(os.path.realpath(source.path)))
            raise ConfigError(
                f"{self._path_where(config, name)}: data sources '{first}' "
                f"({self._path_where(config, first)}) and '{name}' both resolve to the file "
                f"{shown}; one would silently overwrite the other: give each its own path"
            )

    @staticmethod
    def _path_where(config: CaseConfig, name: str) -> str:
        """Where source ``name`` got its path (its ``path:`` line, else its own line)."""
        spec = config.settings.data_sources[name]
        key = ("data_sources", name, "path") if spec.path is not None else ("data_sources", name)
        return merged_where(config, key)


def leaf_items(value: Any, path: KeyPath = ()) -> list[tuple[KeyPath, Any]]:
    """``(key path, leaf)`` of nested mappings and lists."""
    if isinstance(value, dict) and value:
        return [item for key, v in value.items() for item in leaf_items(v, (*path, key))]
    if isinstance(value, list) and value:
        return [item for i, v in enumerate(value) for item in leaf_items(v, (*path, i))]
    return [(path, value)]


def _set_at(data: Any, path: KeyPath, value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def _writable(source: DataSource) -> bool:
    return not source.read_only and source.format.write is not None


def _present(path: Path) -> bool:
    """Whether a file is there to be read (a FIFO or a dangling link is, and is refused)."""
    return os.path.lexists(path)


def _known(path: KeyPath) -> list[str] | None:
    """Keys the schema allows at ``path``; None under a step's params (any name)."""
    from datareplay.config.schema import known_keys

    if len(path) >= 3 and path[0] == "pipeline" and path[2] == "params":
        return None
    if path[:1] == ("vars",):
        return None
    return known_keys(path)


def merged_where(config: CaseConfig, path: KeyPath) -> str:
    return config.merged.origin(path)


def _explain(exc: Any, merged: MergedConfig) -> str:
    """One line for the first validation error: origin, key path, problem and fix."""
    from datareplay.config.schema import known_keys

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
    hidden = merged.shown(value, loc)
    if isinstance(value, str) and value and hidden != value:  # a validator quoted it
        message = message.replace(repr(value), str(hidden)).replace(value, str(hidden))
    shown = "" if isinstance(value, Mapping) else f" (got {quote_value(hidden)})"
    if _missing_space(value) and error["type"] in _STRUCTURE_ERRORS:
        key_text, _, rest = value.partition(":")
        shown += (
            f"; YAML reads '{value}' as one text because there is no space after ':': "
            f"write '{key_text}: {rest}'"
        )
    elif error["type"] == "string_type":
        shown += merged.quote_hint(loc)
    elif error["type"] in ("bool_type", "bool_parsing"):
        shown += boolean_hint(value)
    return f"{where}: {key}: {message}{shown}"


# validation errors where a mapping (or list) was expected and something else was found
_STRUCTURE_ERRORS = frozenset(
    {"dict_type", "model_type", "model_attributes_type", "list_type", "mapping_type"}
)


def _missing_space(value: Any) -> bool:
    """True for text like ``plugin:Raiser`` or ``{a:1}``: a key and a value run together."""
    import re

    return isinstance(value, str) and re.fullmatch(r"[\w.\-]+:[^\s:/].*", value) is not None


def _check_project_only(merged: MergedConfig, key: KeyPath, count: int) -> None:
    """Refuse ``key`` (a list) unless every item comes from config/global.yaml or config/env/.

    Folders outside the project that data may be read from and written to are the
    project's decision: a case, a template, a ``--params`` file or ``--set`` cannot grant
    itself more.
    """
    for index in range(count):
        origin = merged.origin((*key, index))
        if not origin.startswith(("config/global.yaml", "config/env/")):
            raise ConfigError(
                f"{origin}: {format_path(key)} can only be set in config/global.yaml or an "
                "env layer (config/env/NAME.yaml); a case, --params or --set cannot widen "
                "where data may go"
            )
