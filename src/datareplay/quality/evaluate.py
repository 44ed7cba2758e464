"""Running checks on pandas DataFrames; every outcome is a ``CheckResult`` row.

Allowed values and referential integrity use pandera's check library; the others are
vectorised numpy/pandas. Every check reads NumPy, nullable, categorical and
pyarrow-backed columns alike (``quality.values``) and skips missing values — only
``not_null`` and ``constant`` count them. A check with a ``where`` condition judges only
the rows where it holds: its ``total`` is their number and its message says which rows
("of 1,234 rows where weather == 'sun'"); sample rows keep their position in the whole
frame. A check never raises on bad data: a check that cannot be judged (a missing column,
a value of another kind than its column, a comparison that cannot be evaluated) is a
result marked not ``usable`` — blocking whatever its severity, since the check itself is
wrong, with no failing rows and the reason as its message.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from datareplay.errors import did_you_mean
from datareplay.quality.durations import format_duration
from datareplay.quality.specs import CheckSpec
from datareplay.quality.values import (
    KINDS,
    Incomparable,
    coerce,
    comparable,
    holds,
    kind,
    value_kind,
)

SAMPLE_ROWS = 5
Lookup = Callable[[str], Any]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one dataset.

    ``failing`` counts what the check's README entry says (rows out of range, rows after
    a key's first occurrence, how far the row count is from its bound...), ``total`` the
    rows the check applied to (those matching its ``where``), ``sample`` up to five
    failing rows as ``{"row": position in the checked frame, column: value...}``.
    """

    source: str
    check: str
    severity: str
    passed: bool
    failing: int
    total: int
    message: str
    sample: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    step: str = ""
    usable: bool = True  # False: the check could not be judged on this data

    @property
    def blocking(self) -> bool:
        """A failed check of severity error, or one that could not be judged: the run must
        stop."""
        return not self.passed and (self.severity == "error" or not self.usable)

    def line(self) -> str:
        """One line for logs and errors."""
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.source}: {self.check} {verdict}: {self.message}"

    def as_row(self) -> dict[str, Any]:
        import json

        row = asdict(self)
        row["sample"] = json.dumps(self.sample, default=str)
        row["params"] = json.dumps(self.params, default=str)
        return row


def results_frame(results: list[CheckResult]) -> pd.DataFrame:
    """All results as a DataFrame (the quality-results dataset)."""
    columns = list(CheckResult.__dataclass_fields__)
    return pd.DataFrame([r.as_row() for r in results], columns=columns)


def evaluate(
    spec: CheckSpec, frame: Any, *, source: str, lookup: Lookup, step: str = ""
) -> CheckResult:
    """Run one check on ``frame`` (a DataFrame); ``lookup(name)`` loads a reference source.

    Never raises on data: what cannot be judged (not a DataFrame, a missing column, text
    compared with numbers) is a result that is not ``usable``, whose message gives the
    reason.
    """
    if not isinstance(frame, pd.DataFrame):
        scope = _Scope(spec, source, step, pd.DataFrame())
        return scope.unusable(f"is a {type(frame).__name__}, not a DataFrame; checks need a table")
    if isinstance(frame.columns, pd.MultiIndex):
        scope = _Scope(spec, source, step, frame.iloc[:, :0])
        return scope.unusable(
            f"has {frame.columns.nlevels} levels of column labels; checks name single "
            "columns: flatten them first (df.columns = ['_'.join(map(str, c)) for c in "
            "df.columns])"
        )
    scope = _Scope(spec, source, step, _reset(_text_labels(frame)))
    if spec.name != "schema":
        names = [str(c) for c in frame.columns]
        for column in spec.columns:
            if column not in scope.frame.columns:
                if column in [str(n) for n in frame.index.names if n is not None]:
                    return scope.unusable(
                        f"column '{column}' is the index; reset_index() or name a column "
                        f"(columns: {', '.join(names)})"
                    )
                return scope.unusable(
                    f"column '{column}' is missing{did_you_mean(column, names)} "
                    f"(columns: {', '.join(names)})"
                )
            if names.count(column) > 1:
                return scope.unusable(
                    f"column '{column}' appears {names.count(column)} times; "
                    "a check reads one column of a name"
                )
    if spec.params.where is not None:
        try:
            scope = scope.narrowed()
        except _DATA_ERRORS as exc:
            return scope.unusable(f"where {spec.params.where.describe()}: {_reason(exc)}")
        if len(scope.frame) == 0 and len(frame):
            return scope.result(
                True, 0, f"no {scope.rows} (of {len(frame):,} rows); nothing to judge"
            )
    try:
        return _CHECKS[spec.name](scope, lookup)
    except _DATA_ERRORS as exc:  # e.g. comparing text with numbers
        return scope.unusable(_reason(exc))


# what pandas, numpy and pyarrow raise for values they cannot compare or convert
# (Incomparable is a ValueError; pyarrow's errors derive from these)
_DATA_ERRORS = (TypeError, ValueError, NotImplementedError)


def _reason(exc: Exception) -> str:
    if isinstance(exc, Incomparable):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, TypeError) and "unhashable type" in text:
        cells = text.split(":")[-1].strip().strip("'")
        return f"cells hold {cells}s, not single values; checks compare one value per cell"
    return f"cannot be evaluated on this data: {type(exc).__name__}: {text}"


def _text_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Column labels as text, as checks name them (``0`` is ``'0'``), when that keeps them
    apart."""
    labels = list(frame.columns)
    if all(isinstance(c, str) for c in labels):
        return frame
    text = [str(c) for c in labels]
    if len(set(text)) != len(set(labels)):
        return frame
    return frame.set_axis(text, axis=1)


def _reset(frame: pd.DataFrame) -> pd.DataFrame:
    """Positional index so that masks and labels agree, even with duplicate labels."""
    return frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index(drop=True)


@dataclass(frozen=True)
class _Scope:
    """One check on the rows it applies to, and how its results are written."""

    spec: CheckSpec
    source: str
    step: str
    frame: pd.DataFrame  # positional index: the rows judged
    origin: np.ndarray | None = None  # their positions in the checked frame, when narrowed
    rows: str = "rows"  # "rows where weather == 'sun'" when narrowed

    @property
    def params(self) -> Any:
        return self.spec.params

    def narrowed(self) -> _Scope:
        """Only the rows matching the check's ``where`` (and only the columns it reads)."""
        from datareplay.quality.conditions import mask

        condition = self.params.where
        origin = np.flatnonzero(mask(condition, self.frame))
        shown = [c for c in dict.fromkeys(["t_s", *self.spec.columns]) if c in self.frame]
        part = self.frame[shown].iloc[origin].reset_index(drop=True)
        return replace(self, frame=part, origin=origin, rows=f"rows where {condition.describe()}")

    def row(self, position: int) -> int:
        """The position in the checked frame of the judged row at ``position``."""
        return int(position if self.origin is None else self.origin[position])

    def result(
        self,
        passed: bool,
        failing: int,
        message: str,
        sample: list[dict[str, Any]] | None = None,
        *,
        total: int | None = None,
    ) -> CheckResult:
        return CheckResult(
            source=self.source,
            check=self.spec.describe(),
            severity=self.spec.severity,
            passed=passed,
            failing=int(failing),
            total=int(len(self.frame) if total is None else total),
            message=message,
            sample=sample or [],
            params=self.spec.as_dict(),
            step=self.step,
        )

    def unusable(self, reason: str) -> CheckResult:
        """The check cannot judge this data: not usable, blocking, no row counted."""
        return replace(self.result(False, 0, reason), usable=False)

    def judged(self, bad: np.ndarray, what: str, verdict: str = "") -> CheckResult:
        """A result from a boolean mask of failing rows, with a sample of them.

        ``what`` ends "all 3 rows ..." when nothing fails; ``verdict`` (what the failures
        have in common, e.g. "2 repeated keys in 5 rows") leads the message when some do.
        """
        total = len(self.frame)
        failing = int(np.count_nonzero(bad))
        # compare shares with a little slack: 0.29 * 100 is 28.999999999999996 in floats
        passed = failing == 0 or failing <= self.params.tolerance * total + 1e-9
        if failing == 0:
            column = getattr(self.params, "column", None)
            if (
                total
                and self.spec.name not in _COUNTS_MISSING
                and isinstance(column, str)
                and not self.frame[column].notna().any()
            ):
                return self.result(
                    True,
                    0,
                    f"no value to judge: column '{column}' is missing in all {total:,} {self.rows}",
                )
            return self.result(True, 0, f"all {total:,} {self.rows} {what}")
        positions = np.flatnonzero(bad)[:SAMPLE_ROWS]
        sample = self.sample(positions)
        share = f"{failing / total:.2%}" if total else "n/a"
        tolerance = f" (tolerance {self.params.tolerance:.2%})" if self.params.tolerance else ""
        example = "; ".join(
            f"row {row['row']}: "
            + ", ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k != "row")
            for row in sample[:3]
        )
        message = f"{failing:,} of {total:,} {self.rows} ({share}) fail{tolerance}; e.g. {example}"
        if verdict:
            message = f"{verdict}; {message}"
        return self.result(passed, failing, message, sample)

    def sample(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """The judged rows at ``positions``: ``t_s`` when present and the check's columns."""
        frame = self.frame
        shown = [c for c in dict.fromkeys(["t_s", *self.spec.columns]) if c in frame.columns]
        picked = {str(c): frame[c].iloc[positions] for c in shown}  # each column keeps its type
        return [
            {"row": self.row(position), **{c: _plain(v.iloc[i]) for c, v in picked.items()}}
            for i, position in enumerate(positions)
        ]


# checks for which a missing value is a failure, not a value skipped
_COUNTS_MISSING = ("not_null", "constant")


def _count(n: int, noun: str) -> str:
    """``1 gap``, ``3 gaps``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _plain(value: Any) -> Any:
    if isinstance(value, np.floating) and value.dtype.itemsize < 8 and np.isfinite(value):
        # a float32 0.1 is 0.1, as NumPy writes it, not the 0.10000000149011612 it widens to
        value = float(str(value))
    elif isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _fmt(value: Any) -> str:
    """A value in a message, exactly: a float as its shortest round-trip text
    (``1.0000001``, ``1e-07``, ``1e+20``; a whole one below 1e16 as its integer, ``400``),
    never rounded to look like the bound it broke; text quoted."""
    if isinstance(value, np.floating | float):
        plain = _plain(value)
        if plain is None:
            return "nan"
        if float(plain).is_integer() and abs(plain) < 1e16:
            return str(int(plain))  # a whole float as the integer it is: 400, -30
        return repr(float(plain))
    return repr(value) if isinstance(value, str) else str(value)


def _pandera_mask(check: Any, series: pd.Series) -> np.ndarray:
    """Failing rows of an element-wise pandera check (nulls are not its business)."""
    outcome = check(series).check_output
    bad = np.zeros(len(series), dtype=bool)
    failed_index = outcome.index[~outcome.to_numpy(dtype=bool)]
    if len(failed_index):
        bad[series.index.get_indexer(failed_index)] = True
    return bad


def _scatter(values: np.ndarray, present: np.ndarray | None) -> np.ndarray:
    """``values`` computed on the present rows, placed back among all rows (False elsewhere)."""
    if present is None:
        return values
    out = np.zeros(len(present), dtype=bool)
    out[present] = values
    return out


def _needs(scope: _Scope, column: str, allowed: tuple[str, ...], what: str) -> None:
    """Incomparable unless the column holds one of the ``allowed`` kinds (or no value)."""
    found = kind(scope.frame[column])
    if found not in (*allowed, "empty"):
        raise Incomparable(f"column '{column}' holds {KINDS[found]}; {what}")


# -- the checks ------------------------------------------------------------------------


def _schema(scope: _Scope, _: Lookup) -> CheckResult:
    frame, params = scope.frame, scope.params
    problems = []
    names = list(frame.columns)
    for column, dtype in params.columns.items():
        if column not in frame.columns:
            problems.append(f"column '{column}' is missing")
        elif names.count(column) > 1:
            problems.append(f"column '{column}' appears {names.count(column)} times")
        elif dtype is not None and not _dtype_matches(frame[column].dtype, dtype):
            problems.append(f"column '{column}' is {frame[column].dtype}, expected {dtype}")
    if params.strict:
        extra = [c for c in frame.columns if c not in params.columns]
        problems += [f"unexpected column '{c}'" for c in extra]
    total = len(params.columns)
    if problems:
        return scope.result(False, len(problems), "; ".join(problems), total=total)
    return scope.result(True, 0, f"all {total} columns present with their types", total=total)


def _dtype_matches(actual: Any, expected: str) -> bool:
    """A family name (``int``) matches its kind; an exact name (``int64``) matches that
    dtype in any storage: NumPy ``int64``, nullable ``Int64`` and ``int64[pyarrow]``."""
    from pandas.api import types

    from datareplay.quality.specs import DTYPE_FAMILIES

    if expected.lower() in DTYPE_FAMILIES:
        test = getattr(types, DTYPE_FAMILIES[expected.lower()])
        return bool(test(actual))
    if str(actual).lower() == expected.lower():
        return True
    try:
        wanted = pd.api.types.pandas_dtype(expected)
    except TypeError:
        return False
    return _storage_free(actual) == _storage_free(wanted)


def _storage_free(dtype: Any) -> str:
    """The NumPy dtype behind a nullable or pyarrow one (``Int64`` -> ``int64``)."""
    numpy_dtype = getattr(dtype, "numpy_dtype", None)
    if isinstance(dtype, pd.StringDtype):
        return "string"
    return str(numpy_dtype if isinstance(numpy_dtype, np.dtype) else dtype).lower()


def _not_null(scope: _Scope, _: Lookup) -> CheckResult:
    bad = scope.frame[scope.params.columns].isna().any(axis=1).to_numpy()
    return scope.judged(bad, "have values")


def _unique(scope: _Scope, _: Lookup) -> CheckResult:
    """Rows after a key's first occurrence fail; a key with a missing part is not judged.

    A single column already in order (``is_monotonic_increasing`` or decreasing, a linear
    pass) holds its repeats next to each other: comparing neighbours finds them without
    hashing every key.
    """
    keys = scope.frame[scope.params.columns]
    present = keys.notna().all(axis=1).to_numpy()
    judged = keys if present.all() else keys[present]
    series = judged.iloc[:, 0]
    if len(judged.columns) == 1 and len(series) > 1 and _ordered(series):
        values = series.to_numpy() if isinstance(series.dtype, np.dtype) else series.array
        repeat = np.zeros(len(series), dtype=bool)
        repeat[1:] = np.asarray(values[1:] == values[:-1], dtype=bool)
        repeated = int(np.count_nonzero(repeat[1:] & ~repeat[:-1]))
    else:
        repeat = judged.duplicated(keep="first").to_numpy()
        repeated = len(judged[repeat].drop_duplicates()) if repeat.any() else 0
    bad = _scatter(repeat, None if present.all() else present)
    failing = int(np.count_nonzero(bad))
    verdict = (
        f"{repeated:,} repeated key{'s' if repeated != 1 else ''} in {failing + repeated:,} rows"
    )
    return scope.judged(bad, "are unique", verdict)


def _ordered(series: pd.Series) -> bool:
    try:
        return bool(series.is_monotonic_increasing or series.is_monotonic_decreasing)
    except TypeError:  # values Python cannot order, such as text mixed with numbers
        return False


def _range(scope: _Scope, _: Lookup) -> CheckResult:
    """Bounds compared as ``compare`` does: integers exactly, however large."""
    p = scope.params
    _needs(scope, p.column, ("number", "duration"), "range needs numbers or durations")
    series = scope.frame[p.column]
    inside = np.array(series.notna().to_numpy(), dtype=bool)
    if p.min is not None:
        low = coerce(p.min, series, column=p.column)
        inside &= holds(series, ">=" if p.min_inclusive else ">", low)
    if p.max is not None:
        high = coerce(p.max, series, column=p.column)
        inside &= holds(series, "<=" if p.max_inclusive else "<", high)
    bad = series.notna().to_numpy() & ~inside
    return scope.judged(np.asarray(bad, dtype=bool), "are in range")


def _allowed(scope: _Scope, _: Lookup) -> CheckResult:
    import pandera.pandas as pa

    p = scope.params
    series = scope.frame[p.column]
    target = kind(series)
    allowed = []
    for value in p.values:
        try:
            allowed.append(coerce(value, series, column=p.column))
        except Incomparable as exc:
            raise Incomparable(
                f"values: {exc}{_QUOTING.get((target, value_kind(value)), '')}"
            ) from None
    if target == "empty":  # no value to test (and pyarrow refuses values of another type)
        return scope.judged(np.zeros(len(series), dtype=bool), "hold allowed values")
    bad = _pandera_mask(pa.Check.isin(allowed), comparable(series))
    return scope.judged(bad, "hold allowed values")


# (column kind, value kind) -> how to write the value in YAML
_QUOTING = {
    ("text", "number"): " (quote numbers meant as text: values: ['1', '2'])",
    ("text", "bool"): " (quote true/false meant as text: values: ['yes', 'no'])",
    ("number", "text"): " (write numbers without quotes: values: [1, 2])",
    ("bool", "text"): " (write true or false without quotes)",
}


def _regex(scope: _Scope, _: Lookup) -> CheckResult:
    """The text of each present value is matched; a value's text never depends on the
    other rows.

    Text is itself; a number is written as pandas writes it (``10`` for an ``Int64``,
    ``1.5``). A datetime in any storage is ``YYYY-MM-DD HH:MM:SS``, then the fraction of a
    second only when the value has one, in its shortest exact digits (``.5``, ``.000001``,
    never ``.500000``), then the UTC offset of its own instant for a zoned column
    (``+02:00``, ``-03:00``; ``+00:00`` for UTC): midnight is ``2024-03-31 00:00:00``, not
    ``2024-03-31``. A date (``date32[pyarrow]``, Python dates) is ``YYYY-MM-DD``. A duration
    is ``D days HH:MM:SS`` with its fraction likewise (``0 days 00:00:00.5``; negative ones
    as pandas writes them, ``-1 days +23:59:59``). A categorical's values are written as
    its categories' values.
    """
    p = scope.params
    series = scope.frame[p.column]
    present = series.notna().to_numpy()
    everywhere = bool(present.all())
    text = series if everywhere else series[present]
    if kind(text) == "other" and pd.api.types.infer_dtype(text, skipna=True) == "bytes":
        raise Incomparable(
            f"column '{p.column}' holds bytes; decode them first "
            "(df[column].str.decode('utf-8')) to match a pattern"
        )
    text = _texts(text)
    if p.match == "full":
        matched = text.str.fullmatch(p.pattern)
    elif p.match == "start":
        matched = text.str.match(p.pattern)
    else:
        matched = text.str.contains(p.pattern, regex=True)
    ok = np.asarray(matched.to_numpy(dtype=bool, na_value=False), dtype=bool)
    bad = _scatter(~ok, None if everywhere else present)
    return scope.judged(bad, "match")


def _texts(values: pd.Series) -> pd.Series:
    """The text ``regex`` matches for each of ``values`` (all present), as ``_regex`` says."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype):
        return values
    if isinstance(dtype, pd.CategoricalDtype):  # each category written once, as its values
        categories = _texts(pd.Series(dtype.categories)).to_numpy(dtype=object)
        return pd.Series(categories[values.cat.codes.to_numpy()], index=values.index)
    found = kind(values)
    stored = isinstance(dtype, np.dtype) and dtype.kind == "O"  # Python objects, one by one
    if found == "time" and not stored:
        arrow = getattr(dtype, "pyarrow_dtype", None)
        if arrow is not None and str(arrow).startswith("date"):
            days = comparable(values).to_numpy(dtype="datetime64[D]")
            return pd.Series(np.datetime_as_string(days, unit="D"), index=values.index)
        return pd.Series(_time_texts(comparable(values)), index=values.index)
    if found == "duration" and not stored:
        return pd.Series(_duration_texts(comparable(values)), index=values.index)
    if stored and found in ("time", "duration"):
        return values.map(_one_text)
    return values.astype(str)


# fraction digits of a unit (datetime64 and timedelta64 units pandas holds)
_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def _fractions(ticks: np.ndarray, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole seconds (floored) of ``ticks`` (counts of a unit of ``digits`` fraction
    digits), and the text of each fraction: ``.5`` in its shortest exact digits, or ``""``."""
    seconds, rest = np.divmod(ticks, 10**digits)
    fraction = np.zeros(len(ticks), dtype="<U10")
    some = rest != 0
    if some.any():
        written = np.char.zfill(rest[some].astype(str), digits)
        fraction[some] = np.char.add(".", np.char.rstrip(written, "0"))
    return seconds, fraction


def _time_texts(times: pd.Series) -> np.ndarray:
    """``YYYY-MM-DD HH:MM:SS[.fraction][+HH:MM]`` for each datetime64 of ``times``."""
    unit, zone = str(times.dt.unit), times.dt.tz
    wall = times.dt.tz_localize(None) if zone is not None else times
    ticks = wall.to_numpy(dtype=f"datetime64[{unit}]").view("i8")
    seconds, fraction = _fractions(ticks, _DIGITS[unit])
    whole = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    out = np.char.add(np.char.replace(whole, "T", " "), fraction)
    if zone is None:
        return np.asarray(out)
    instant = times.dt.tz_convert("UTC").dt.tz_localize(None)
    utc = instant.to_numpy(dtype=f"datetime64[{unit}]").view("i8")
    offsets, where = np.unique((ticks - utc) // 10 ** _DIGITS[unit], return_inverse=True)
    written = np.array([_offset(int(o)) for o in offsets])
    return np.asarray(np.char.add(out, written[where.reshape(-1)]))


def _offset(seconds: int) -> str:
    """A UTC offset: ``+02:00``, ``-03:30``, ``+01:12:12`` (local mean time)."""
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _duration_texts(durations: pd.Series) -> np.ndarray:
    """``D days HH:MM:SS[.fraction]`` for each timedelta64 of ``durations`` (days floored,
    as pandas writes them: ``-1 days +23:59:59``)."""
    unit = str(durations.dt.unit)
    ticks = durations.to_numpy(dtype=f"timedelta64[{unit}]").view("i8")
    seconds, fraction = _fractions(ticks, _DIGITS[unit])
    days, rest = np.divmod(seconds, 86400)
    hours, rest = np.divmod(rest, 3600)
    minutes, secs = np.divmod(rest, 60)
    text = np.char.add(days.astype(str), np.where(days < 0, " days +", " days "))
    clock = np.char.add(np.char.add(_two(hours), ":"), np.char.add(_two(minutes), ":"))
    return np.asarray(np.char.add(np.char.add(text, clock), np.char.add(_two(secs), fraction)))


def _two(numbers: np.ndarray) -> np.ndarray:
    """Numbers 0..99 as two digits."""
    return np.char.zfill(numbers.astype(str), 2)


def _one_text(value: Any) -> str:
    """``_texts`` for one Python or pandas time or duration (an object column's value)."""
    if isinstance(value, pd.Timedelta | np.timedelta64 | dt.timedelta):
        return str(_duration_texts(pd.Series([pd.Timedelta(value)]))[0])
    if isinstance(value, dt.datetime | np.datetime64):
        stamp = pd.Timestamp(value)
        return str(_time_texts(pd.Series([stamp]))[0])
    return str(value)  # a date: 2024-03-31


def _row_count(scope: _Scope, _: Lookup) -> CheckResult:
    p, n = scope.params, len(scope.frame)
    bounds = f"{p.min if p.min is not None else 0:,}..{p.max if p.max is not None else '∞'}"
    if p.min is not None and n < p.min:
        distance, side = p.min - n, "too few"
    elif p.max is not None and n > p.max:
        distance, side = n - p.max, "too many"
    else:
        return scope.result(True, 0, f"{n:,} {scope.rows}, within {bounds}")
    return scope.result(
        False, distance, f"{n:,} {scope.rows}, outside {bounds} ({distance:,} {side})"
    )


def _monotonic(scope: _Scope, _: Lookup) -> CheckResult:
    """Each present value against the previous present one; ``max_gap`` is in seconds.

    Datetime columns (any resolution, time zone or pyarrow timestamps) are compared as
    integer counts of their own unit, exactly; numeric columns are read as seconds.
    """
    p = scope.params
    column = scope.frame[p.column]
    _needs(scope, p.column, ("number", "time", "duration"), "monotonic needs numbers or times")
    present = column.notna().to_numpy()
    everywhere = bool(present.all())
    part = comparable(column if everywhere else column[present])
    times = kind(part) in ("time", "duration")
    limit: float | None = p.max_gap
    if times:
        values, unit_ns = _ticks(part)
        unit_s = unit_ns / 1e9
        if p.max_gap is not None:  # whole units: a step of k units is a gap when k > limit
            limit = round(p.max_gap * 1e9) // unit_ns
    elif pd.api.types.is_integer_dtype(part.dtype):
        values, unit_s = part.to_numpy(dtype=np.int64), 1.0
    else:  # in the column's own float precision: float32 rounds far more than float64
        values, unit_s = part.to_numpy(dtype=_float_dtype(part)), 1.0
    # one pass over the column and one array of steps: temporaries of the column's size
    # are what makes a check's time per row grow with the rows (fresh pages, caches)
    with np.errstate(invalid="ignore", over="ignore"):
        if values.dtype.kind == "f" and values.dtype.itemsize < 8:  # exact steps of float32s
            steps = np.subtract(values[1:], values[:-1], dtype=np.float64)
        else:
            steps = np.diff(values)
        after, before = values[1:], values[:-1]  # views; compared, never subtracted
        backward = after <= before if p.strict else after < before
        if limit is None:
            gaps = np.zeros_like(backward)
        else:
            gaps = steps > limit
            if values.dtype.kind == "f" and gaps.any():
                # seconds in floats: 0.1 steps come out as 0.10000000000002274, so a
                # candidate gap must exceed the limit by more than the rounding of its ends,
                # spaced in the column's own dtype (a float32 64.1 is off by up to 4e-6)
                at = np.flatnonzero(gaps)
                after, before = values[at + 1], values[at]
                ends = np.spacing(np.fmax(abs(after), abs(before))).astype(np.float64)
                slack = np.fmax(8 * ends, 1e-9 * limit)
                gaps[at] = steps[at] - limit > slack
    flagged = np.zeros(len(values), dtype=bool)
    flagged[1:] = backward | gaps
    bad = _scatter(flagged, None if everywhere else present)
    gap_text = f" by at most {format_duration(p.max_gap)}" if p.max_gap is not None else ""
    parts = []
    if backward.any():
        parts.append(
            f"{_count(int(backward.sum()), 'step')} "
            f"{'not increasing' if p.strict else 'decreasing'}"
        )
    if gaps.any():
        at = np.flatnonzero(gaps)
        largest = int(at[np.argmax(steps[at])])
        last = _plain(part.iloc[largest])  # the value before the largest gap
        row = scope.row(int(np.flatnonzero(present)[largest]) if not everywhere else largest)
        parts.append(
            f"{_count(int(gaps.sum()), 'gap')} over {format_duration(p.max_gap)} (largest "
            f"{format_duration(float(steps[largest]) * unit_s)} after "
            f"{p.column}={_fmt(last)}, row {row})"
        )
    return scope.judged(bad, "increase" + gap_text, ", ".join(parts))


def _float_dtype(numbers: pd.Series) -> np.dtype[Any]:
    """The NumPy float dtype a numeric column's values are read in: its own (``float32``
    for ``float32``, ``Float32`` or ``float[pyarrow]``), else float64."""
    dtype = getattr(numbers.dtype, "numpy_dtype", numbers.dtype)
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return dtype
    return np.dtype(np.float64)


def _ticks(times: pd.Series) -> tuple[np.ndarray, int]:
    """Present datetimes as int64 counts of their own unit (UTC for zoned ones), and the
    unit's length in nanoseconds.

    The unit is the column's (``s``, ``ms``, ``us``, ``ns``), read and converted by pandas,
    never an assumed ``ns``.
    """
    unit = str(times.dt.unit)
    unit_ns = int(pd.Timedelta(1, unit=unit) // pd.Timedelta(1, unit="ns"))
    base = "timedelta64" if pd.api.types.is_timedelta64_dtype(times.dtype) else "datetime64"
    return times.to_numpy(dtype=f"{base}[{unit}]").view("i8"), unit_ns


def _stuck(scope: _Scope, _: Lookup) -> CheckResult:
    """Runs of one value; a missing value ends a run and never counts as a repeat."""
    p = scope.params
    series = scope.frame[p.column]
    n = len(series)
    if n == 0:
        return scope.result(True, 0, "no rows")
    same = np.zeros(n, dtype=bool)
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "biufcmM":
        values = series.to_numpy()
        same[1:] = values[1:] == values[:-1]  # NaN and NaT equal nothing
    else:  # nullable, categorical, text, pyarrow: compare codes, -1 marks a missing value
        codes = pd.factorize(series)[0]
        same[1:] = (codes[1:] == codes[:-1]) & (codes[1:] >= 0)
    run_id = np.cumsum(~same)
    lengths = np.bincount(run_id)
    too_long = lengths > p.max_repeats
    bad = too_long[run_id]
    verdict = ""
    if too_long.any():
        long_runs = np.flatnonzero(too_long)
        longest = long_runs[np.argmax(lengths[long_runs])]
        start = int(np.argmax(run_id == longest))
        verdict = (
            f"{len(long_runs)} run(s) of one value longer than {p.max_repeats} samples "
            f"(longest {int(lengths[longest]):,} samples of {_fmt(_plain(series.iloc[start]))} "
            f"from row {scope.row(start)})"
        )
    return scope.judged(bad, f"change within {p.max_repeats} samples", verdict)


def _compare(scope: _Scope, _: Lookup) -> CheckResult:
    """``column op other`` (a column or a value); a row missing either side is skipped."""
    from datareplay.quality.values import same_kind

    p = scope.params
    left = scope.frame[p.column]
    present = np.array(left.notna().to_numpy(), dtype=bool)
    if p.other is not None:
        right: Any = scope.frame[p.other]
        same_kind(left, right, names=(p.column, p.other))
        present &= right.notna().to_numpy()
    else:
        right = coerce(p.value, left, column=p.column)
    bad = present & ~holds(left, p.op, right)
    return scope.judged(bad, f"have {p.column} {p.op} {p.right}")


def _constant(scope: _Scope, _: Lookup) -> CheckResult:
    """Rows other than ``value`` (by default the most common value) fail, missing ones too."""
    p = scope.params
    series = scope.frame[p.column]
    if len(series) == 0:
        return scope.result(True, 0, f"no {scope.rows}")
    if p.value is not None:
        expected = coerce(p.value, series, column=p.column)
        bad = ~holds(series, "==", expected)
        return scope.judged(bad, f"hold {_fmt(p.value)}", f"expected {_fmt(p.value)}")
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "biufmM":
        values = series.to_numpy()
        if values[0] == values[0] and bool((values == values[0]).all()):  # one value, no NaN
            first = _fmt(_plain(series.iloc[0]))
            return scope.judged(np.zeros(len(values), dtype=bool), f"hold {first}")
    codes, uniques = pd.factorize(series)
    found = codes >= 0
    if not found.any():
        return scope.judged(np.ones(len(series), dtype=bool), "", "no value at all")
    counts = np.bincount(codes[found])
    top = int(np.argmax(counts))  # the first value to appear among the most common ones
    value = _fmt(_plain(uniques[top]))
    verdict = f"most common value {value} ({int(counts[top]):,} rows)"
    return scope.judged(codes != top, f"hold {value}", verdict)


def _reference(spec: CheckSpec, lookup: Lookup) -> tuple[pd.Series | None, str]:
    """The reference column of a referential or drift check, and its label or the problem."""
    p = spec.params
    reference = lookup(p.reference)
    column = p.reference_column or p.column
    if not isinstance(reference, pd.DataFrame):
        return None, f"reference '{p.reference}' is a {type(reference).__name__}, not a table"
    if column not in reference.columns:
        names = [str(c) for c in reference.columns]
        return (
            None,
            f"reference '{p.reference}' has no column '{column}'{did_you_mean(column, names)}",
        )
    return reference[column], f"{p.reference}.{column}"


def _referential(scope: _Scope, lookup: Lookup) -> CheckResult:
    import pandera.pandas as pa

    keys, label = _reference(scope.spec, lookup)
    if keys is None:
        return scope.unusable(label)
    check = pa.Check.isin(pd.unique(keys.dropna()))
    bad = _pandera_mask(check, scope.frame[scope.params.column])
    return scope.judged(bad, f"exist in {label}")


def _drift(scope: _Scope, lookup: Lookup) -> CheckResult:
    p = scope.params
    reference, label = _reference(scope.spec, lookup)
    if reference is None:
        return scope.unusable(label)
    current = _numbers(scope.frame[p.column])
    expected = _numbers(reference)
    if len(current) == 0 or len(expected) == 0:
        return scope.result(False, 1, "no values to compare")
    statistic = _psi(expected, current, p.bins) if p.method == "psi" else _ks(expected, current)
    passed = statistic <= p.limit
    verdict = "within" if passed else "above"
    message = (
        f"{p.method.upper()} {statistic:.4f} against {label} is {verdict} the threshold "
        f"{_fmt(p.limit)}"
    )
    return scope.result(passed, 0 if passed else 1, message)


def _numbers(series: pd.Series) -> np.ndarray:
    """The present values of ``series`` as floats: times in seconds since 1970, text that
    is no number dropped."""
    series = comparable(series)
    found = kind(series)
    if found in ("number", "bool"):
        values = np.asarray(series.to_numpy(dtype=float, na_value=np.nan), dtype=float)
        return np.asarray(values[~np.isnan(values)], dtype=float)
    present = comparable(series.dropna())
    if found == "empty":
        return np.array([], dtype=float)
    if found not in ("time", "number"):
        raise Incomparable(
            f"column '{series.name}' holds {KINDS[found]}; drift needs numbers or times"
        )
    if found == "time":
        ticks, unit_ns = _ticks(present)
        return np.asarray(ticks * (unit_ns / 1e9), dtype=float)
    numbers = pd.to_numeric(present, errors="coerce").dropna()
    if not pd.api.types.is_numeric_dtype(numbers) or pd.api.types.is_complex_dtype(numbers):
        raise Incomparable(f"column '{series.name}' holds {KINDS[found]}, not numbers")
    return np.asarray(numbers.to_numpy(dtype=float), dtype=float)


def _psi(expected: np.ndarray, current: np.ndarray, bins: int) -> float:
    """Population stability index over quantile bins of the reference."""
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([expected[0] - 0.5, expected[0] + 0.5])
    inner = edges[1:-1]
    e = np.bincount(np.searchsorted(inner, expected, side="right"), minlength=len(edges) - 1)
    c = np.bincount(np.searchsorted(inner, current, side="right"), minlength=len(edges) - 1)
    eps = 1e-6
    pe = np.maximum(e / e.sum(), eps)
    pc = np.maximum(c / c.sum(), eps)
    return float(np.sum((pc - pe) * np.log(pc / pe)))


def _ks(expected: np.ndarray, current: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two CDFs."""
    a = np.sort(expected)
    b = np.sort(current)
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


_CHECKS: dict[str, Callable[[_Scope, Lookup], CheckResult]] = {
    "schema": _schema,
    "not_null": _not_null,
    "unique": _unique,
    "range": _range,
    "allowed_values": _allowed,
    "regex": _regex,
    "row_count": _row_count,
    "monotonic": _monotonic,
    "stuck": _stuck,
    "compare": _compare,
    "constant": _constant,
    "referential": _referential,
    "drift": _drift,
}
