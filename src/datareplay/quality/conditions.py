"""``where:`` conditions: the rows a check applies to, declared as data, never code.

A condition is a mapping, nestable::

    {column: weather, op: "==", value: sun}     # <, <=, ==, !=, >=, >
    {column: weather, "==": sun}                # the same, shorter
    {column: weather, in: [rain, snow]}         # also "not in"
    {column: precipitation, is: null}           # or is: not null
    {all: [<condition>, ...]}                   # every one holds
    {any: [<condition>, ...]}                   # at least one holds

A missing value in a tested column makes a test false (as SQL's WHERE does): ``!=``,
``not in`` and the comparisons never pick a row whose value is missing; only ``is: null``
does. Values follow the column's kind (``quality.values``): a number for numbers, text
for text, a date or time for datetimes. ``parse_condition`` validates the mapping when
the configuration is loaded; ``mask`` evaluates it on a DataFrame.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, model_serializer

from datareplay.errors import did_you_mean
from datareplay.quality.values import OPERATORS, operator_hint

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Op = Literal["<", "<=", "==", "!=", ">=", ">", "in", "not in", "is null", "not null"]
SCALARS = (str, int, float, bool, dt.date)
_EXAMPLE = "{column: weather, '==': sun}"
_TEST_KEYS = ("op", "value", *OPERATORS, "in", "not in", "is")


class Test(BaseModel):
    """One column tested against a value: ``weather == 'sun'``, ``x in [1, 2]``, ``x is null``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    op: Op
    value: Any = None  # a scalar for a comparison, a tuple for in / not in, None otherwise

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def describe(self) -> str:
        if self.op == "is null":
            return f"{self.column} is null"
        if self.op == "not null":
            return f"{self.column} is not null"
        if self.op in ("in", "not in"):
            return f"{self.column} {self.op} [{', '.join(_show(v) for v in self.value)}]"
        return f"{self.column} {self.op} {_show(self.value)}"

    @model_serializer
    def _as_written(self) -> dict[str, Any]:
        if self.op == "is null":
            return {"column": self.column, "is": None}
        if self.op == "not null":
            return {"column": self.column, "is": "not null"}
        if self.op in ("in", "not in"):
            return {"column": self.column, self.op: list(self.value)}
        return {"column": self.column, "op": self.op, "value": self.value}


class Group(BaseModel):
    """Conditions combined: ``all`` must hold, or ``any`` one of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["all", "any"]
    parts: tuple[Condition, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for part in self.parts for c in part.columns))

    def describe(self) -> str:
        joint = " and " if self.mode == "all" else " or "
        return joint.join(
            f"({part.describe()})" if isinstance(part, Group) else part.describe()
            for part in self.parts
        )

    @model_serializer
    def _as_written(self) -> dict[str, Any]:
        return {self.mode: [part.model_dump(mode="json") for part in self.parts]}


Condition = Test | Group
Group.model_rebuild()


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def parse_condition(raw: Any, *, path: str = "") -> Test | Group:
    """The condition written as ``raw`` (see the module docstring).

    Raises ValueError naming the place inside the condition (``any[1].in``, relative to
    ``path``) and what to write instead.
    """
    at = f"{path}: " if path else ""
    if isinstance(raw, Test | Group):
        return raw
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{at}a condition is a mapping such as {_EXAMPLE}, got {raw!r}")
    if "all" in raw or "any" in raw:
        mode: Literal["all", "any"] = "all" if "all" in raw else "any"
        if len(raw) != 1:
            others = ", ".join(repr(k) for k in raw if k != mode)
            raise ValueError(
                f"{at}'{mode}' stands alone in its mapping (found {others} beside it); "
                f"nest the conditions in its list"
            )
        parts = raw[mode]
        if not isinstance(parts, list) or not parts:
            raise ValueError(f"{_key(path, mode)}: give a non-empty list of conditions")
        return Group(
            mode=mode,
            parts=tuple(
                parse_condition(part, path=f"{_key(path, mode)}[{i}]")
                for i, part in enumerate(parts)
            ),
        )
    if "column" not in raw:
        hint = did_you_mean(str(next(iter(raw))), ["column", "all", "any"])
        raise ValueError(
            f"{at}a condition names a 'column' (or combines others with all/any){hint}"
        )
    column = raw["column"]
    if not isinstance(column, str) or not column:
        raise ValueError(
            f"{_key(path, 'column')}: a column name is text, got {column!r}"
            + (f"; quote it: column: '{column}'" if column not in (None, "") else "")
        )
    rest = {key: value for key, value in raw.items() if key != "column"}
    for key in rest:
        if key not in _TEST_KEYS:
            hint = operator_hint(str(key), _TEST_KEYS) or (
                f" (a test is one of: op/value, {', '.join(OPERATORS)}, in, not in, is)"
            )
            raise ValueError(f"{at}unknown key {key!r}{hint}")
    if "op" in rest or "value" in rest:
        if set(rest) != {"op", "value"}:
            raise ValueError(f"{at}op and value go together, with nothing else beside them")
        op = rest["op"]
        if op not in OPERATORS:
            hint = operator_hint(str(op))
            raise ValueError(
                f"{_key(path, 'op')}: unknown operator {op!r}{hint} "
                f"(operators: {', '.join(OPERATORS)})"
            )
        return Test(column=column, op=op, value=_scalar(rest["value"], _key(path, "value")))
    if len(rest) != 1:
        found = ", ".join(repr(k) for k in rest) or "nothing"
        raise ValueError(
            f"{at}test '{column}' in one way, e.g. {_EXAMPLE}, in: [...] or is: null "
            f"(found {found})"
        )
    ((key, value),) = rest.items()
    if key in OPERATORS:
        return Test(column=column, op=key, value=_scalar(value, _key(path, key)))
    if key in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{_key(path, key)}: give a non-empty list of values, got {value!r}")
        items = tuple(_scalar(item, f"{_key(path, key)}[{i}]") for i, item in enumerate(value))
        return Test(column=column, op=key, value=items)
    if value is None or (isinstance(value, str) and value.strip().lower() == "null"):
        return Test(column=column, op="is null")
    if isinstance(value, str) and " ".join(value.lower().split()) == "not null":
        return Test(column=column, op="not null")
    raise ValueError(f"{_key(path, 'is')}: write is: null or is: not null, got {value!r}")


def _key(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _scalar(value: Any, path: str) -> Any:
    if value is None:
        raise ValueError(f"{path}: a missing value matches nothing; test it with is: null")
    if not isinstance(value, SCALARS):
        raise ValueError(
            f"{path}: {value!r} is not a single value (a number, text, true/false or a date)"
        )
    if isinstance(value, float) and value != value:
        raise ValueError(f"{path}: NaN matches nothing; test a missing value with is: null")
    return value


def mask(condition: Test | Group, frame: pd.DataFrame) -> np.ndarray:
    """The rows of ``frame`` (a DataFrame with a positional index) where ``condition`` holds.

    Raises ``quality.values.Incomparable`` when a value cannot be compared with its
    column (text against numbers), TypeError for values Python cannot order.
    """
    import numpy as np

    from datareplay.quality.values import coerce, holds, isin

    if isinstance(condition, Group):
        masks = [mask(part, frame) for part in condition.parts]
        combine = np.logical_and if condition.mode == "all" else np.logical_or
        return np.asarray(combine.reduce(masks), dtype=bool)
    series = frame[condition.column]
    if condition.op == "is null":
        return np.asarray(series.isna().to_numpy(), dtype=bool)
    if condition.op == "not null":
        return np.asarray(series.notna().to_numpy(), dtype=bool)
    if condition.op in ("in", "not in"):
        values = [coerce(v, series, column=condition.column) for v in condition.value]
        found = isin(series, values)
        if condition.op == "in":
            return found
        return np.asarray(~found & series.notna().to_numpy(), dtype=bool)
    value = coerce(condition.value, series, column=condition.column)
    return holds(series, condition.op, value)
