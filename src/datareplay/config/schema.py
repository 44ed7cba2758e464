"""The shape of the merged configuration (global.yaml with case.yaml over it).

Unknown keys are errors everywhere, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
)

from datareplay.data.formats import ALIASES, FORMATS, format_for_suffix, suffixes
from datareplay.errors import UnsafeNameError
from datareplay.project.names import check_name

MAX_NAME_BYTES = 255  # one file or folder name (NAME_MAX)
MAX_PATH_BYTES = 4095  # a whole path (PATH_MAX less its NUL)


def _path_text(value: str) -> str:
    """A path as the operating system can take it: no NUL byte, no over-long name."""
    if "\x00" in value:
        raise ValueError("a path cannot contain a NUL byte")
    size = len(value.encode("utf-8", "surrogateescape"))
    if size > MAX_PATH_BYTES:
        raise ValueError(f"path of {size:,} bytes is too long (at most {MAX_PATH_BYTES:,})")
    longest = max(value.split("/"), key=lambda part: len(part.encode("utf-8", "surrogateescape")))
    size = len(longest.encode("utf-8", "surrogateescape"))
    if size > MAX_NAME_BYTES:
        raise ValueError(
            f"a file or folder name of {size:,} bytes in the path is too long "
            f"(at most {MAX_NAME_BYTES})"
        )
    return value


PathText = Annotated[StrictStr, AfterValidator(_path_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSettings(_Strict):
    name: StrictStr = "datareplay-project"


class DataSettings(_Strict):
    default_format: StrictStr = "parquet"
    case_folder: PathText = "data"
    raw_root: PathText = "data/raw"
    allowed_roots: list[PathText] = Field(default_factory=list)

    @field_validator("default_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        value = _check_format(value)
        if FORMATS[value].read_only:
            raise ValueError(f"format {value} is read only; the default format must be writable")
        return value


class PluginSettings(_Strict):
    paths: list[PathText] = Field(default_factory=lambda: ["modules"])


class RunSettings(_Strict):
    release_memory: StrictBool = True


class DataSourceConfig(_Strict):
    format: StrictStr | None = None
    path: PathText | None = None
    read_only: StrictBool = False
    trusted: StrictBool = False
    description: StrictStr = ""
    checks: list[dict[StrictStr, Any]] = Field(default_factory=list)
    options: dict[StrictStr, Any] = Field(default_factory=dict)

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        return None if value is None else _check_format(value)


class StepConfig(_Strict):
    plugin: StrictStr
    name: StrictStr | None = None
    inputs: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    outputs: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    params: dict[StrictStr, Any] = Field(default_factory=dict)

    @property
    def step_name(self) -> str:
        return self.name or self.plugin

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        return None if value is None else _safe_name(value, kind="step")


class Settings(_Strict):
    """The merged configuration of one case."""

    project: ProjectSettings = Field(default_factory=ProjectSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    plugins: PluginSettings = Field(default_factory=PluginSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    description: StrictStr = ""
    vars: dict[StrictStr, Any] = Field(default_factory=dict)
    data_sources: dict[StrictStr, DataSourceConfig] = Field(default_factory=dict)
    pipeline: list[StepConfig] = Field(default_factory=list)

    @field_validator("data_sources")
    @classmethod
    def _safe_source_names(cls, value: dict[str, DataSourceConfig]) -> dict[str, DataSourceConfig]:
        for name in value:
            _safe_name(name, kind="data source")
        return value


def _safe_name(value: str, *, kind: str) -> str:
    try:
        return check_name(value, kind=kind)
    except UnsafeNameError as exc:
        raise ValueError(str(exc)) from None


def _check_format(value: str) -> str:
    value = ALIASES.get(value, value)
    if value not in FORMATS:
        raise ValueError(f"unknown format '{value}'; use one of {', '.join(FORMATS)}")
    return value


class SourceProblem(ValueError):
    """A data source whose format or options cannot work; ``key`` is where it is declared."""

    def __init__(self, key: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.key = key


def resolve_source_format(
    name: str, spec: DataSourceConfig, default_format: str
) -> tuple[str, dict[str, Any]]:
    """The format name and checked options of data source ``name``.

    The format is ``format:``, else the one the path's suffix names, else
    ``default_format``. A suffix that names no format, an option the format does not
    take and a writable source in a read-only format (excel) raise SourceProblem.
    """
    import difflib

    where = ("data_sources", name)
    fmt_name = spec.format
    if fmt_name is None and spec.path is not None:
        fmt_name = format_for_suffix(spec.path)
        suffix = PurePosixPath(spec.path).suffix
        stored = [n for n, f in FORMATS.items() if f.persistent]
        if fmt_name is None and suffix:
            raise SourceProblem(
                (*where, "path"),
                f"data_sources.{name}.path: the suffix '{suffix}' names no known format; "
                f"set data_sources.{name}.format (one of {', '.join(stored)}) "
                f"or use one of {', '.join(suffixes())}",
            )
    fmt = FORMATS[fmt_name or default_format]
    for key in spec.options:
        if key not in fmt.options:
            close = difflib.get_close_matches(key, sorted(fmt.options), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            allowed = ", ".join(sorted(fmt.options)) or "none"
            raise SourceProblem(
                (*where, "options", key),
                f"data_sources.{name}.options: unknown option '{key}' for format "
                f"{fmt.name}{hint} (options of {fmt.name}: {allowed})",
            )
    if fmt.read_only and not spec.read_only:
        raise SourceProblem(
            where,
            f"data_sources.{name}: format {fmt.name} is read only; set read_only: true "
            "(a step cannot write a workbook), or write to another format",
        )
    return fmt.name, dict(spec.options)


def known_keys(path: tuple[str | int, ...]) -> list[str]:
    """Field names allowed at ``path`` of the merged config (for "did you mean").

    Under a mapping of names (``data_sources``) or a list (``pipeline``) the next key is
    free, so nothing is known there.
    """
    model: type[BaseModel] | None = Settings
    free = False  # the next part is a name or an index, not a field
    for part in path:
        if free:
            free = False
            continue
        if model is None:
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        free = getattr(annotation, "__origin__", None) in (dict, list)
        model = _model_of(annotation)
    if free or model is None:
        return []
    return list(model.model_fields)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
