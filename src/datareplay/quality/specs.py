"""What a data-quality check is: its name, parameters and severity, checked at load time.

A check is written in YAML as a mapping with a ``check`` key and its parameters::

    - check: range
      column: speed_mps
      min: 0
      max: 70
      severity: error        # error (default) stops the run; warn logs and goes on
      tolerance: 0.0         # share of rows (0..1) allowed to fail before it counts
      where: {column: gear, "!=": P}   # optional: judge only the rows where this holds

Every check's parameters are validated when the configuration is loaded, so a typo in a
check fails in a second with the file and key named, never in the middle of a replay.
``where`` conditions are described in ``quality.conditions``, durations (``max_gap``) in
``quality.durations``. Nothing a check declares is ever run as code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from datareplay.errors import ConfigError, boolean_hint, did_you_mean, quote_value
from datareplay.quality.conditions import SCALARS, Group, Test, parse_condition
from datareplay.quality.durations import parse_duration
from datareplay.quality.values import OPERATORS, operator_hint

Operator = Literal["<", "<=", "==", "!=", ">=", ">"]

# schema dtype families -> the pandas.api.types test for them
DTYPE_FAMILIES = {
    "float": "is_float_dtype",
    "int": "is_integer_dtype",
    "bool": "is_bool_dtype",
    "str": "is_string_dtype",
    "string": "is_string_dtype",
    "datetime": "is_datetime64_any_dtype",
    "numeric": "is_numeric_dtype",
}
# exact dtype names offered as "did you mean" (pandas reads many more)
_DTYPE_NAMES = (
    *DTYPE_FAMILIES,
    *(f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)),
    "Int8", "Int16", "Int32", "Int64", "float32", "float64", "Float32", "Float64",
    "boolean", "object", "category", "datetime64[ns]", "datetime64[us]", "datetime64[ms]",
    "datetime64[s]", "timedelta64[ns]", "int64[pyarrow]", "double[pyarrow]",
    "string[pyarrow]", "bool[pyarrow]", "timestamp[us][pyarrow]",
)  # fmt: skip


def _dtype_name(name: str) -> None:
    """ValueError unless ``name`` is a dtype family or a dtype pandas knows."""
    if name.lower() in DTYPE_FAMILIES:
        return
    from pandas.api.types import pandas_dtype

    try:
        pandas_dtype(name)
    except TypeError:
        raise ValueError(
            f"unknown dtype {name!r}{did_you_mean(name, _DTYPE_NAMES)} (families: "
            f"{', '.join(DTYPE_FAMILIES)}; or an exact name such as int64, Float64, "
            "datetime64[ns], string[pyarrow])"
        ) from None


class _Check(BaseModel):
    # strict: YAML 1.2 has only true and false as booleans, and a number in quotes is text;
    # pydantic's lax mode would read yes, off, 0 and "false" as booleans and "2" as 2
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    severity: Literal["error", "warn"] = "error"
    tolerance: float = Field(0.0, ge=0.0, le=1.0)
    where: Test | Group | None = None

    @field_validator("where", mode="before")
    @classmethod
    def _condition(cls, value: Any) -> Any:
        return None if value is None else parse_condition(value)


def _operator(value: Any) -> Any:
    if value not in OPERATORS:
        raise ValueError(
            f"unknown operator {value!r}{operator_hint(str(value))} "
            f"(operators: {', '.join(OPERATORS)})"
        )
    return value


def _single_value(value: Any) -> Any:
    if value is None:
        raise ValueError("a missing value equals nothing; not_null is the check for gaps")
    if not isinstance(value, SCALARS):
        raise ValueError(f"{value!r} is not a single value (a number, text, true/false or a date)")
    if isinstance(value, float) and math.isnan(value):
        raise ValueError("NaN equals nothing; not_null is the check for gaps")
    return value


def _bound(value: Any) -> Any:
    """A range bound: a number, never text, true/false or NaN."""
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number (write it without quotes: 10, 0.5, -3)")
    if math.isnan(value):
        raise ValueError("NaN is no bound (leave the side out for no bound)")
    return value


class _Columns(_Check):
    columns: list[str] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _one_column(cls, data: Any) -> Any:
        if isinstance(data, dict) and "column" in data and "columns" not in data:
            data = {**data, "columns": [data["column"]]}
            del data["column"]
        return data


class SchemaCheck(_Check):
    columns: dict[str, str | None] = Field(min_length=1)
    strict: bool = False

    @field_validator("columns")
    @classmethod
    def _known_dtypes(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        for column, dtype in value.items():
            if dtype is not None:
                try:
                    _dtype_name(dtype)
                except ValueError as exc:
                    raise ValueError(f"column '{column}': {exc}") from None
        return value

    @field_validator("where")
    @classmethod
    def _no_rows(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("schema judges columns, not rows: it takes no where")
        return value


class NotNullCheck(_Columns):
    pass


class UniqueCheck(_Columns):
    pass


class RangeCheck(_Check):
    column: str
    min: int | float | None = None  # an int stays one: compared exactly, however large
    max: int | float | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True

    @field_validator("min", "max", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return _bound(value)

    @model_validator(mode="after")
    def _bounds(self) -> RangeCheck:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None:
            if self.min > self.max:
                raise ValueError(f"min {self.min} is greater than max {self.max}")
            if self.min == self.max and not (self.min_inclusive and self.max_inclusive):
                raise ValueError(f"min = max = {self.min} with an exclusive bound is empty")
        return self


class AllowedValuesCheck(_Check):
    column: str
    values: list[Any] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _present(cls, value: list[Any]) -> list[Any]:
        for item in value:
            if item is None or (isinstance(item, float) and math.isnan(item)):
                raise ValueError(
                    f"{item!r} is a missing value; list present values only and check "
                    "gaps with not_null"
                )
            if not isinstance(item, SCALARS):
                raise ValueError(
                    f"{item!r} is not a single value (a number, text, true/false or a date)"
                )
        return value


class RegexCheck(_Check):
    column: str
    pattern: str
    match: Literal["full", "start", "search"] = "full"

    @model_validator(mode="after")
    def _compiles(self) -> RegexCheck:
        import re

        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern {self.pattern!r} is not a valid regex: {exc}") from None
        return self


class RowCountCheck(_Check):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> RowCountCheck:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class MonotonicCheck(_Check):
    column: str
    strict: bool = True
    max_gap: float | None = Field(None, gt=0)  # seconds; written 500ms, 2s, 1h or a number

    @field_validator("max_gap", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


class StuckCheck(_Check):
    column: str
    max_repeats: int = Field(ge=1)


class CompareCheck(_Check):
    column: str
    op: Operator
    other: str | None = None
    value: Any = None

    @field_validator("op", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        return _operator(value)

    @field_validator("value", mode="before")
    @classmethod
    def _one(cls, value: Any) -> Any:
        return _single_value(value)

    @model_validator(mode="after")
    def _one_side(self) -> CompareCheck:
        given = {"other", "value"} & self.model_fields_set
        if len(given) != 1:
            raise ValueError(
                "compare the column with another column (other: temp_max) or with a value "
                "(value: 0): give one of them"
            )
        return self

    @property
    def right(self) -> str:
        return self.other if self.other is not None else _show(self.value)


class ConstantCheck(_Check):
    column: str
    value: Any = None

    @field_validator("value", mode="before")
    @classmethod
    def _one(cls, value: Any) -> Any:
        return _single_value(value)


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


class ReferentialCheck(_Check):
    column: str
    reference: str
    reference_column: str | None = None


class DriftCheck(_Check):
    column: str
    reference: str
    reference_column: str | None = None
    method: Literal["psi", "ks"] = "psi"
    threshold: float | None = Field(None, gt=0)
    bins: int = Field(10, ge=2, le=1000)

    @property
    def limit(self) -> float:
        """PSI above 0.2 or a KS statistic above 0.1 is commonly read as a real shift."""
        if self.threshold is not None:
            return self.threshold
        return 0.2 if self.method == "psi" else 0.1


MODELS: dict[str, type[_Check]] = {
    "schema": SchemaCheck,
    "not_null": NotNullCheck,
    "unique": UniqueCheck,
    "range": RangeCheck,
    "allowed_values": AllowedValuesCheck,
    "regex": RegexCheck,
    "row_count": RowCountCheck,
    "monotonic": MonotonicCheck,
    "stuck": StuckCheck,
    "compare": CompareCheck,
    "constant": ConstantCheck,
    "referential": ReferentialCheck,
    "drift": DriftCheck,
}


@dataclass(frozen=True)
class CheckSpec:
    """One validated check: its name, its parameters and where it was written.

    ``where`` is the place in configuration (``cases/demo/case.yaml:19: ...[0]``); the
    rows a check applies to are ``params.where``, a ``quality.conditions`` condition.
    """

    name: str
    params: Any
    where: str

    @property
    def severity(self) -> str:
        return str(self.params.severity)

    @property
    def references(self) -> tuple[str, ...]:
        """Other data sources this check reads (referential integrity, drift)."""
        reference = getattr(self.params, "reference", None)
        return (reference,) if reference else ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the check names: its own, compare's ``other`` and ``where``'s."""
        params = self.params
        names: list[str] = list(getattr(params, "columns", None) or ())
        for attribute in ("column", "other"):
            name = getattr(params, attribute, None)
            if isinstance(name, str):
                names.append(name)
        if params.where is not None:
            names += params.where.columns
        return tuple(dict.fromkeys(names))

    def describe(self) -> str:
        """Short text such as ``range(speed_mps)`` or ``compare(a <= b) where kind == 'x'``."""
        params = self.params
        columns = getattr(params, "columns", None)
        column = getattr(params, "column", None)
        if isinstance(params, CompareCheck):
            text = f"{self.name}({params.column} {params.op} {params.right})"
        elif isinstance(columns, list | dict):
            text = f"{self.name}({', '.join(columns)})"
        else:
            text = f"{self.name}({column})" if column else self.name
        if params.where is not None:
            text += f" where {params.where.describe()}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """The check as a mapping ``parse_checks`` reads back (durations in seconds)."""
        params = self.params.model_dump(mode="json")
        where = params.pop("where")
        if isinstance(self.params, CompareCheck):
            params.pop("value" if self.params.other is not None else "other")
        if isinstance(self.params, ConstantCheck) and self.params.value is None:
            params.pop("value")
        if where is not None:
            params["where"] = where
        return {"check": self.name, **params}


def parse_checks(raw: Any, *, where: str) -> tuple[CheckSpec, ...]:
    """Validate a list of check mappings; errors name ``where`` and the check index."""
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: checks must be a list of mappings, got {type(raw).__name__}")
    specs = []
    for index, item in enumerate(raw):
        label = f"{where}[{index}]"
        if not isinstance(item, dict) or "check" not in item:
            raise ConfigError(
                f"{label}: a check is a mapping with a 'check' key, e.g. "
                "{check: not_null, column: speed_mps}"
            )
        name = item["check"]
        model = MODELS.get(name) if isinstance(name, str) else None
        if model is None:
            raise ConfigError(
                f"{label}: unknown check {name!r}{did_you_mean(str(name), MODELS)} "
                f"(checks: {', '.join(MODELS)})"
            )
        params = {k: v for k, v in item.items() if k != "check"}
        _text_names(params, f"{label}: check '{name}'")
        allowed = list(model.model_fields)
        if issubclass(model, _Columns):
            allowed.append("column")
            if "column" in params and "columns" in params:
                raise ConfigError(f"{label}: check '{name}': give column or columns, not both")
        for key in params:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed) or f" (parameters: {', '.join(allowed)})"
                raise ConfigError(f"{label}: check '{name}' has no parameter '{key}'{hint}")
        try:
            specs.append(CheckSpec(name, model.model_validate(params), label))
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(str(p) for p in error["loc"]) or name
            message = _type_error(error, key) or str(error["msg"]).removeprefix("Value error, ")
            raise ConfigError(f"{label}: check '{name}': {key}: {message}") from None
    _within_strict_schema(specs)
    return tuple(specs)


def _type_error(error: Any, key: str) -> str:
    """The message for a parameter of the wrong type (``strict: yes``, ``max_repeats: "2"``)
    saying what to write instead; "" for any other error."""
    value = error.get("input")
    shown = f"got {type(value).__name__} {quote_value(value)}"
    if error["type"] == "bool_type":
        hint = boolean_hint(value)
        if not hint and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            hint = f"; write {value.strip().lower()} without quotes"
        return f"must be a valid boolean (true or false), {shown}{hint or '; write true or false'}"
    if error["type"] in ("int_type", "float_type"):
        number = "a valid number" if error["type"] == "float_type" else "a valid integer"
        if isinstance(value, str) and _is_number(value):
            return f"must be {number}, {shown}; write the number without quotes: {key}: {value}"
        if error["type"] == "int_type" and isinstance(value, float) and value.is_integer():
            return f"must be {number}, {shown}; write it without a fraction: {key}: {int(value)}"
        return f"must be {number}, {shown}"
    return ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _text_names(params: dict[str, Any], label: str) -> None:
    """Column names are text: ``column: 0`` is named by the key the user wrote."""
    for key in ("column", "other", "reference_column", "reference"):
        value = params.get(key)
        if isinstance(value, int | float | bool):
            raise ConfigError(
                f"{label}: {key}: {value!r} is {type(value).__name__}, a name is text; "
                f"quote it: {key}: '{value}'"
            )
    columns = params.get("columns")
    if isinstance(columns, list):
        for i, value in enumerate(columns):
            if isinstance(value, int | float | bool):
                raise ConfigError(
                    f"{label}: columns[{i}]: {value!r} is {type(value).__name__}, a name is "
                    f"text; quote it: '{value}'"
                )


def _within_strict_schema(specs: list[CheckSpec]) -> None:
    """A check naming a column that a strict schema of the same list excludes is a typo."""
    known = [spec for spec in specs if spec.name == "schema" and spec.params.strict]
    if not known:
        return
    columns = list(known[0].params.columns)
    for spec in specs:
        if spec.name == "schema":
            continue
        for column in spec.columns:
            if column not in columns:
                raise ConfigError(
                    f"{spec.where}: check '{spec.name}' names column '{column}', which the "
                    f"strict schema at {known[0].where} does not have"
                    f"{did_you_mean(column, columns)}"
                )


def checks_by_source(
    raw: Any, *, where: str, known_sources: Sequence[str]
) -> dict[str, tuple[CheckSpec, ...]]:
    """A mapping of source name to check list (a QualityGate's ``checks`` param)."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            f"{where}: checks must map data-source names to lists of checks, e.g. "
            "{aligned: [{check: not_null, column: speed_mps}]}"
        )
    result = {}
    for source, items in raw.items():
        if not isinstance(source, str):
            raise ConfigError(f"{where}: data-source names must be text, got {source!r}")
        if known_sources and source not in known_sources:
            raise ConfigError(
                f"{where}: no data source '{source}'{did_you_mean(source, known_sources)}"
            )
        result[source] = parse_checks(items, where=f"{where}.{source}")
    return result
