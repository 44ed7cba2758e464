"""How checks read a column: what kind of values it holds, and comparisons that skip gaps.

Every dtype pandas holds is read the same way: NumPy (int, float, bool, text in object
columns, datetime64 at any resolution, with or without a time zone), the nullable types
(Int64, Float64, boolean, string), categoricals (read as the values of their categories)
and pyarrow-backed columns (``int64[pyarrow]``, ``string[pyarrow]``,
``timestamp[us][pyarrow]``...). A missing value (None, NaN, NaT, ``pd.NA``) never
satisfies a comparison, so it is neither a match nor a failure: skipping gaps is the
caller's choice, never an ``boolean value of NA is ambiguous`` error.

A value from configuration is compared with a column of its own kind only: a number with
numbers, text with text, true/false with booleans, a time (``2024-05-01`` or
``"2024-05-01 12:00"``) with datetimes — a naive time is read in the column's time zone —
and a duration (``500ms``, or seconds) with timedeltas. Anything else raises
``Incomparable``, whose message the check reports as its result.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from datareplay.quality.durations import parse_duration

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}
# what people write for an operator, from SQL and spreadsheets
_SPELLINGS = {"=": "==", "=<": "<=", "=>": ">=", "<>": "!=", "=!": "!=", "≤": "<=", "≥": ">="}


def operator_hint(written: str, candidates: Sequence[str] = tuple(OPERATORS)) -> str:
    """A "did you mean" for a misspelt operator (``=<`` -> ``<=``), else for the closest
    of ``candidates``; "" when nothing is close."""
    from datareplay.errors import did_you_mean

    if written in _SPELLINGS:
        return f"; did you mean '{_SPELLINGS[written]}'?"
    return did_you_mean(written, candidates)


# kind -> how a message names it
KINDS = {
    "number": "numbers",
    "bool": "true/false values",
    "text": "text",
    "time": "times",
    "duration": "durations",
    "other": "mixed values",
    "empty": "no values",
}


class Incomparable(ValueError):
    """The values cannot be compared: text with numbers, a time with a number..."""


def kind(series: pd.Series) -> str:
    """What ``series`` holds: number, bool, text, time, duration, other (mixed objects) or
    empty (an object column with no value at all)."""
    import numpy as np
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return kind(pd.Series(dtype.categories))
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        if pa.types.is_duration(dtype.pyarrow_dtype):
            return "duration"
    if types.is_bool_dtype(dtype):
        return "bool"
    if types.is_datetime64_any_dtype(dtype):
        return "time"
    if types.is_timedelta64_dtype(dtype):
        return "duration"
    if types.is_complex_dtype(dtype):
        return "other"
    if types.is_numeric_dtype(dtype):
        return "number"
    if not (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        return "text" if types.is_string_dtype(dtype) else "other"
    inferred = types.infer_dtype(series, skipna=True)
    if inferred == "empty":
        return "empty"
    if inferred == "string":
        return "text"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "number"
    return {"boolean": "bool", "datetime": "time", "timedelta": "duration"}.get(inferred, "other")


def value_kind(value: Any) -> str:
    """The kind of a value written in configuration."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.date):
        return "time"
    return "other"


def comparable(series: pd.Series) -> pd.Series:
    """``series`` with a categorical read as its values (unordered ones refuse ``<``)."""
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return pd.Series(series.to_numpy(), index=series.index, name=series.name)
    return series


def coerce(value: Any, series: pd.Series, *, column: str) -> Any:
    """``value`` as something ``series`` can be compared with; Incomparable if it cannot.

    Text becomes a timestamp for a datetime column (in the column's time zone when it
    has one) and a duration for a timedelta column; otherwise the kinds must agree.
    """
    import pandas as pd

    target, given = kind(series), value_kind(value)
    if target == "time" and given in ("text", "time"):
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise Incomparable(f"{value!r} is not a time (column '{column}' holds times)") from None
        zone = getattr(series.dtype, "tz", None)
        if zone is None and isinstance(series.dtype, pd.ArrowDtype):
            zone = getattr(series.dtype.pyarrow_dtype, "tz", None)
        if zone is not None and stamp.tzinfo is None:
            return stamp.tz_localize(zone)
        if zone is None and stamp.tzinfo is not None:
            raise Incomparable(
                f"{value!r} has a time zone, column '{column}' holds times without one"
            )
        return stamp
    if target == "duration" and given in ("text", "number"):
        try:
            return pd.Timedelta(parse_duration(value), unit="s")
        except ValueError as exc:
            raise Incomparable(f"column '{column}' holds durations: {exc}") from None
    if target in ("other", "empty") or target == given:
        return value
    raise Incomparable(f"column '{column}' holds {KINDS[target]}, {value!r} is {_A[given]}")


_A = {
    "number": "a number",
    "bool": "a true/false value",
    "text": "text",
    "time": "a time",
    "other": "not a number, text, true/false or a time",
}


def same_kind(left: pd.Series, right: pd.Series, *, names: tuple[str, str]) -> None:
    """Incomparable unless two columns hold the same kind of values."""
    a, b = kind(left), kind(right)
    if a != b and not {"other", "empty"} & {a, b}:
        raise Incomparable(
            f"column '{names[0]}' holds {KINDS[a]}, column '{names[1]}' holds {KINDS[b]}"
        )


def holds(left: pd.Series, op: str, right: Any) -> np.ndarray:
    """Where ``left <op> right`` is true (``right`` a Series or a value); False on a gap.

    Raises TypeError for values Python cannot order (mixed objects).
    """
    import numpy as np
    import pandas as pd

    present = np.array(left.notna().to_numpy(), dtype=bool)
    other = isinstance(right, pd.Series)
    if other:
        present &= right.notna().to_numpy()
    out = np.zeros(len(left), dtype=bool)
    if not present.any():
        return out
    everywhere = bool(present.all())
    a = comparable(left) if everywhere else comparable(left)[present]
    b = right if not other else (comparable(right) if everywhere else comparable(right)[present])
    if other:
        a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    outcome = OPERATORS[op](a, b)
    values = outcome.to_numpy(dtype=bool, na_value=False)
    if everywhere:
        return np.asarray(values, dtype=bool)
    out[present] = values
    return out


def isin(series: pd.Series, values: Sequence[Any]) -> np.ndarray:
    """Where ``series`` holds one of ``values``; False on a gap.

    ``values`` are compared as given: coerce them first to match a column's kind.
    """
    import numpy as np

    present = series.notna().to_numpy()
    found = series.isin(list(values)).to_numpy(dtype=bool, na_value=False)
    return np.asarray(found & present, dtype=bool)
