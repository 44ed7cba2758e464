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
``"2024-05-01 12:00"``, ISO 8601 only) with datetimes and dates — a naive time is read in
the column's time zone, a wall-clock time a daylight-saving change skips counts from the
first instant after it, a repeated one is the earlier — and a duration (``500ms``, or
seconds) with timedeltas. Anything else raises ``Incomparable``, whose message the check
reports as its result. ``comparable`` gives each kind one representation before any
comparison: ordered categoricals keep their order, unordered ones become their values,
dates and timestamps in any storage become pandas datetimes (compared by instant).
"""

from __future__ import annotations

import datetime as dt
import operator
import re
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
    empty (no value at all, or a pyarrow ``null`` column).

    A column whose every value is missing is empty whatever its dtype (an all-NaN float
    column, a categorical without values): it compares with a value of any kind, and
    matches none.
    """
    import numpy as np
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    if len(series) and not series.notna().any():
        return "empty"  # nothing to judge: a blank CSV column read as NaN, NaT only...
    if isinstance(dtype, pd.CategoricalDtype):
        return kind(pd.Series(dtype.categories))
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        arrow = dtype.pyarrow_dtype
        if pa.types.is_null(arrow):
            return "empty"
        if pa.types.is_duration(arrow):
            return "duration"
        if pa.types.is_date(arrow) or pa.types.is_timestamp(arrow):
            return "time"
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
    kinds = {"boolean": "bool", "datetime": "time", "date": "time", "timedelta": "duration"}
    return kinds.get(inferred, "other")


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
    """``series`` as checks compare it, one representation per kind.

    An ordered categorical stays one (it compares in category order); an unordered one
    becomes its values, in their own dtype. Dates and timestamps (pyarrow ``date32``,
    ``timestamp[..][pyarrow]``, Python dates, datetimes and Timestamps in an object column)
    become pandas datetimes, so that times in any storage or zone compare by instant, and
    pyarrow durations become timedeltas. Raises Incomparable for an object column mixing
    times with and without a time zone.
    """
    import numpy as np
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if dtype.ordered:
            return series
        try:
            plain = series.astype(dtype.categories.dtype)
        except (TypeError, ValueError):  # integer categories with a missing value
            plain = series.astype(object)
        return comparable(plain)
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        arrow = dtype.pyarrow_dtype
        if pa.types.is_date(arrow):
            return series.astype("datetime64[ms]")
        if pa.types.is_timestamp(arrow):
            zone = f", {arrow.tz}" if arrow.tz else ""
            return series.astype(f"datetime64[{arrow.unit}{zone}]")
        if pa.types.is_duration(arrow):
            return series.astype(f"timedelta64[{arrow.unit}]")
        return series
    if not (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        return series
    inferred = types.infer_dtype(series, skipna=True)
    if inferred in ("date", "datetime"):
        present = series.dropna()
        zoned = {getattr(v, "tzinfo", None) is not None for v in present}
        if len(zoned) > 1:
            raise Incomparable(f"column '{series.name}' mixes times with and without a time zone")
        try:
            return pd.to_datetime(series)
        except (TypeError, ValueError):  # times in several zones: compare them as instants
            return pd.to_datetime(series, utc=True)
    return series


def _zone(series: pd.Series) -> Any:
    return getattr(series.dtype, "tz", None)


def _is_decimal(series: pd.Series) -> bool:
    import numpy as np
    from pandas.api import types

    dtype = series.dtype
    return (
        isinstance(dtype, np.dtype)
        and dtype.kind == "O"
        and types.infer_dtype(series, skipna=True) == "decimal"
    )


# an ISO 8601 date or date and time: 2024-05-01, 2024-05-01 17:45, 2024-05-01T17:45:00.5+02:00
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
    r"(?:\s*(?:Z|[+-]\d{2}(?::?\d{2})?))?)?"
)


def _timestamp(value: Any, series: pd.Series, column: str) -> Any:
    """``value`` (ISO 8601 text, a date or a datetime) as a Timestamp in the column's zone."""
    import pandas as pd

    if isinstance(value, str) and not _ISO.fullmatch(value.strip()):
        raise Incomparable(
            f"{value!r} is not an ISO 8601 date or time (column '{column}' holds times): "
            "write 2024-05-01 or '2024-05-01 17:45' (a time of day alone, 'now' or "
            "01/05/2024 would depend on the day or the reader)"
        )
    try:
        stamp = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError) as exc:
        raise Incomparable(
            f"{value!r} is not a time (column '{column}' holds times): {exc}"
        ) from None
    zone = _zone(series)
    if zone is not None and stamp.tzinfo is None:
        # a wall-clock time skipped by a daylight-saving change counts from the first
        # instant after the change; a repeated one is the first (earlier) of the two
        return stamp.tz_localize(zone, nonexistent="shift_forward", ambiguous=True)
    if zone is None and stamp.tzinfo is not None:
        raise Incomparable(f"{value!r} has a time zone, column '{column}' holds times without one")
    return stamp


def coerce(value: Any, series: pd.Series, *, column: str) -> Any:
    """``value`` as something ``series`` can be compared with; Incomparable if it cannot.

    ISO 8601 text or a date becomes a timestamp for a column of times or dates (in the
    column's time zone when it has one), text or a number a duration for durations, a
    float a Decimal for Decimal objects and a whole float an int for integer columns (so
    that it compares exactly: ``2.0**62`` is not ``2**62 + 1``); otherwise the kinds must
    agree.
    """
    import decimal

    import pandas as pd

    target, given = kind(series), value_kind(value)
    if target == "time" and given in ("text", "time"):
        return _timestamp(value, comparable(series), column)
    if target == "duration" and given in ("text", "number"):
        try:
            return pd.Timedelta(parse_duration(value), unit="s")
        except ValueError as exc:
            raise Incomparable(f"column '{column}' holds durations: {exc}") from None
    if target == "number" and isinstance(value, float) and _is_decimal(series):
        return decimal.Decimal(repr(value))  # 1.1 is Decimal("1.1"), not the binary float
    whole = target == "number" and isinstance(value, float) and value.is_integer()
    if whole and _integers(comparable(series)) is not None:
        return int(value)  # 4611686018427387904.0 compares with int64 exactly
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
    """Incomparable unless two columns hold the same kind of values (times both with a
    time zone or both without)."""
    a, b = kind(left), kind(right)
    if a != b and not {"other", "empty"} & {a, b}:
        raise Incomparable(
            f"column '{names[0]}' holds {KINDS[a]}, column '{names[1]}' holds {KINDS[b]}"
        )
    if a == b == "time":
        zones = [_zone(comparable(left)), _zone(comparable(right))]
        if (zones[0] is None) != (zones[1] is None):
            naive, aware = (0, 1) if zones[0] is None else (1, 0)
            raise Incomparable(
                f"column '{names[naive]}' holds times without a time zone, column "
                f"'{names[aware]}' times in {zones[aware]}; localize one (tz_localize) to "
                "compare them"
            )


def holds(left: pd.Series, op: str, right: Any) -> np.ndarray:
    """Where ``left <op> right`` is true (``right`` a Series or a value); False on a gap.

    Raises Incomparable for values that cannot be ordered (mixed objects, a value that is
    not a category of an ordered categorical). An integer column meets a number exactly:
    a fraction is rounded the way the comparison needs (``x < 2.5`` is ``x <= 2``), and a
    bound outside the dtype's range holds for every value or for none.
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
    a = comparable(left if everywhere else left[present])
    b = right
    if other:
        b = comparable(right if everywhere else right[present])
        a, b = a.reset_index(drop=True), b.reset_index(drop=True)
        a, b = _numeric_pair(a, b)
    else:
        bound = _integer_bound(a, op, b)
        if isinstance(bound, bool):  # a bound no integer of the column's dtype reaches
            out[present] = bound
            return out
        op, b = bound
    _in_order(a, op, b)
    try:
        outcome = OPERATORS[op](a, b)
    except TypeError as exc:
        raise Incomparable(_unordered(a, op, b, exc)) from None
    values = outcome.to_numpy(dtype=bool, na_value=False)
    if everywhere:
        return np.asarray(values, dtype=bool)
    out[present] = values
    return out


def _integers(series: pd.Series) -> np.iinfo[Any] | None:
    """The range of an integer column's dtype (NumPy, nullable or pyarrow), else None."""
    import numpy as np
    from pandas.api import types

    if not types.is_integer_dtype(series.dtype):
        return None
    dtype = getattr(series.dtype, "numpy_dtype", series.dtype)
    return np.iinfo(dtype) if isinstance(dtype, np.dtype) and dtype.kind in "iu" else None


def _integer_bound(a: pd.Series, op: str, b: Any) -> tuple[str, Any] | bool:
    """``a <op> b`` for an integer column as an exact comparison with an int, or the one
    outcome it has for every value (a bound beyond the dtype's range, ``== 2.5``).

    Anything else (another column kind, an infinite bound) is returned unchanged.
    """
    import math

    limits = _integers(a)
    if limits is None or isinstance(b, bool) or not isinstance(b, int | float):
        return op, b
    if isinstance(b, float):
        if not math.isfinite(b):
            return op, b
        if not b.is_integer():
            if op in ("==", "!="):
                return op == "!="
            # x < 2.5 and x <= 2.5 are x <= 2; x > 2.5 and x >= 2.5 are x >= 3
            op, b = ("<=", math.floor(b)) if op in ("<", "<=") else (">=", math.ceil(b))
        b = int(b)
    if b > int(limits.max):  # beyond every value: 10**30 on int64
        return op in ("<", "<=", "!=")
    if b < int(limits.min):
        return op in (">", ">=", "!=")
    return op, b


def _numeric_pair(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Decimal objects beside floats compare as floats (Decimal("1.10") == 1.1)."""
    from pandas.api import types

    if _is_decimal(a) and types.is_float_dtype(b.dtype):
        return a.astype(float), b
    if _is_decimal(b) and types.is_float_dtype(a.dtype):
        return a, b.astype(float)
    return a, b


def _in_order(a: pd.Series, op: str, b: Any) -> None:
    """Incomparable unless an ordered categorical meets a category or a like column."""
    import pandas as pd

    sides = [s for s in (a, b) if isinstance(getattr(s, "dtype", None), pd.CategoricalDtype)]
    ordered = [s for s in sides if s.dtype.ordered]
    if not ordered:
        return
    categories = ordered[0].dtype.categories
    shown = ", ".join(str(c) for c in categories[:10])
    if not isinstance(b, pd.Series):
        if op not in ("==", "!=") and b not in categories:
            raise Incomparable(
                f"{b!r} is not a category of ordered column '{a.name}' ({shown}); "
                "an ordered column compares by its categories' order"
            )
        return
    if len(ordered) != 2 or not ordered[0].dtype == ordered[1].dtype:
        raise Incomparable(
            f"columns '{a.name}' and '{b.name}' are not ordered categoricals with the same "
            f"categories ({shown}); compare them as such or as plain values"
        )


def _unordered(a: pd.Series, op: str, b: Any, exc: TypeError) -> str:
    import pandas as pd

    if "tz-naive and tz-aware" in str(exc):
        return f"column '{a.name}' and {_side(b)} mix times with and without a time zone"
    found = sorted({type(v).__name__ for v in a.dropna()})
    if isinstance(b, pd.Series):
        found = sorted({*found, *(type(v).__name__ for v in b.dropna())})
    else:
        found = sorted({*found, type(b).__name__})
    kinds = ", ".join(found)
    return f"column '{a.name}' and {_side(b)} hold values that '{op}' cannot order ({kinds})"


def _side(b: Any) -> str:
    import pandas as pd

    return f"column '{b.name}'" if isinstance(b, pd.Series) else repr(b)


def isin(series: pd.Series, values: Sequence[Any]) -> np.ndarray:
    """Where ``series`` holds one of ``values``; False on a gap.

    ``values`` are compared as given: coerce them first to match a column's kind.
    """
    import numpy as np

    present = series.notna().to_numpy()
    if not present.any():  # nothing to find (pyarrow refuses values of another type)
        return np.zeros(len(series), dtype=bool)
    found = comparable(series).isin(list(values)).to_numpy(dtype=bool, na_value=False)
    return np.asarray(found & present, dtype=bool)
