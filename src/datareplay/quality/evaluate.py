"""Running checks on pandas DataFrames; every outcome is a ``CheckResult`` row.

Element-wise checks (range, allowed values, regex, referential integrity) use pandera's
check library; the others are vectorised numpy/pandas. A check never raises on bad data:
a missing column or an impossible comparison is itself a failed result with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from datareplay.quality.specs import CheckSpec

SAMPLE_ROWS = 5
Lookup = Callable[[str], Any]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one dataset."""

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

    @property
    def blocking(self) -> bool:
        """A failed check of severity error: the run must stop."""
        return not self.passed and self.severity == "error"

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
    """Run one check on ``frame`` (a DataFrame); ``lookup(name)`` loads a reference source."""
    if not isinstance(frame, pd.DataFrame):
        return _result(
            spec,
            source,
            step,
            False,
            1,
            1,
            f"is a {type(frame).__name__}, not a DataFrame; checks need a table",
        )
    missing = [c for c in _columns_of(spec) if c not in frame.columns]
    if missing and spec.name != "schema":
        return _unusable(
            spec,
            source,
            step,
            frame,
            f"column '{missing[0]}' is missing (columns: {', '.join(map(str, frame.columns))})",
        )
    try:
        return _CHECKS[spec.name](spec, frame, source, lookup, step)
    except (TypeError, ValueError) as exc:  # e.g. comparing text with numbers
        reason = f"cannot be evaluated on this data: {type(exc).__name__}: {exc}"
        return _unusable(spec, source, step, frame, reason)


def _unusable(
    spec: CheckSpec, source: str, step: str, frame: pd.DataFrame, reason: str
) -> CheckResult:
    """A failed result for data the check cannot judge: every row counts as failing."""
    return _result(spec, source, step, False, len(frame), len(frame), reason)


def _columns_of(spec: CheckSpec) -> list[str]:
    params = spec.params
    columns = getattr(params, "columns", None)
    if isinstance(columns, list):
        return columns
    column = getattr(params, "column", None)
    return [column] if column else []


def _result(
    spec: CheckSpec,
    source: str,
    step: str,
    passed: bool,
    failing: int,
    total: int,
    message: str,
    sample: list[dict[str, Any]] | None = None,
) -> CheckResult:
    return CheckResult(
        source=source,
        check=spec.describe(),
        severity=spec.severity,
        passed=passed,
        failing=int(failing),
        total=int(total),
        message=message,
        sample=sample or [],
        params=spec.as_dict(),
        step=step,
    )


def _rows(
    spec: CheckSpec, frame: pd.DataFrame, source: str, step: str, bad: np.ndarray, what: str
) -> CheckResult:
    """A result from a boolean mask of failing rows, with a sample of them."""
    total = len(frame)
    failing = int(bad.sum())
    # compare shares with a little slack: 0.29 * 100 is 28.999999999999996 in floats
    passed = failing == 0 or failing <= spec.params.tolerance * total + 1e-9
    if failing == 0:
        return _result(spec, source, step, True, 0, total, f"all {total:,} rows {what}")
    positions = np.flatnonzero(bad)[:SAMPLE_ROWS]
    columns = [c for c in _columns_of(spec) if c in frame.columns]
    sample = _sample(frame, positions, columns)
    share = f"{failing / total:.2%}" if total else "n/a"
    tolerance = f" (tolerance {spec.params.tolerance:.2%})" if spec.params.tolerance else ""
    example = "; ".join(
        f"row {row['row']}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k != "row")
        for row in sample[:3]
    )
    message = f"{failing:,} of {total:,} rows ({share}) fail{tolerance}; e.g. {example}"
    return _result(spec, source, step, passed, failing, total, message, sample)


def _sample(frame: pd.DataFrame, positions: np.ndarray, columns: list[str]) -> list[dict[str, Any]]:
    part = frame.iloc[positions]
    shown = list(dict.fromkeys([c for c in ("t_s",) if c in frame.columns] + columns))
    rows = []
    for position, (_, values) in zip(positions, part[shown].iterrows(), strict=True):
        rows.append({"row": int(position), **{str(k): _plain(v) for k, v in values.items()}})
    return rows


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def _pandera_mask(check: Any, series: pd.Series) -> np.ndarray:
    """Failing rows of an element-wise pandera check (nulls are not its business)."""
    outcome = check(series).check_output
    bad = np.zeros(len(series), dtype=bool)
    failed_index = outcome.index[~outcome.to_numpy(dtype=bool)]
    if len(failed_index):
        bad[series.index.get_indexer(failed_index)] = True
    return bad


def _reset(frame: pd.DataFrame) -> pd.DataFrame:
    """Positional index so that masks and labels agree, even with duplicate labels."""
    return frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index(drop=True)


# -- the checks ------------------------------------------------------------------------


def _schema(spec: CheckSpec, frame: pd.DataFrame, source: str, _: Lookup, step: str) -> CheckResult:
    problems = []
    for column, dtype in spec.params.columns.items():
        if column not in frame.columns:
            problems.append(f"column '{column}' is missing")
        elif dtype is not None and not _dtype_matches(frame[column].dtype, dtype):
            problems.append(f"column '{column}' is {frame[column].dtype}, expected {dtype}")
    if spec.params.strict:
        extra = [c for c in frame.columns if c not in spec.params.columns]
        problems += [f"unexpected column '{c}'" for c in extra]
    total = len(spec.params.columns)
    if problems:
        return _result(spec, source, step, False, len(problems), total, "; ".join(problems))
    return _result(
        spec, source, step, True, 0, total, f"all {total} columns present with their types"
    )


def _dtype_matches(actual: Any, expected: str) -> bool:
    from pandas.api import types

    expected = expected.lower()
    families = {
        "float": types.is_float_dtype,
        "int": types.is_integer_dtype,
        "bool": types.is_bool_dtype,
        "str": types.is_string_dtype,
        "string": types.is_string_dtype,
        "datetime": types.is_datetime64_any_dtype,
        "numeric": types.is_numeric_dtype,
    }
    if expected in families:
        return bool(families[expected](actual))
    return str(actual).lower() == expected


def _not_null(
    spec: CheckSpec, frame: pd.DataFrame, source: str, _: Lookup, step: str
) -> CheckResult:
    bad = frame[spec.params.columns].isna().any(axis=1).to_numpy()
    return _rows(spec, frame, source, step, bad, "have values")


def _unique(spec: CheckSpec, frame: pd.DataFrame, source: str, _: Lookup, step: str) -> CheckResult:
    bad = frame.duplicated(subset=spec.params.columns, keep=False).to_numpy()
    return _rows(spec, frame, source, step, bad, "are unique")


def _range(spec: CheckSpec, frame: pd.DataFrame, source: str, _: Lookup, step: str) -> CheckResult:
    import pandera.pandas as pa

    p = spec.params
    if p.min is not None and p.max is not None:
        check = pa.Check.in_range(
            p.min, p.max, include_min=p.min_inclusive, include_max=p.max_inclusive
        )
    elif p.min is not None:
        check = pa.Check.ge(p.min) if p.min_inclusive else pa.Check.gt(p.min)
    else:
        check = pa.Check.le(p.max) if p.max_inclusive else pa.Check.lt(p.max)
    frame = _reset(frame)
    return _rows(spec, frame, source, step, _pandera_mask(check, frame[p.column]), "are in range")


def _allowed(
    spec: CheckSpec, frame: pd.DataFrame, source: str, _: Lookup, step: str
) -> CheckResult:
    import pandera.pandas as pa

    frame = _reset(frame)
    bad = _pandera_mask(pa.Check.isin(spec.params.values), frame[spec.params.column])
    return _rows(spec, frame, source, step, bad, "hold allowed values")


def _regex(spec: CheckSpec, frame: pd.DataFrame, source: str, _: Lookup, step: str) -> CheckResult:
    import pandera.pandas as pa

    frame = _reset(frame)
    series = frame[spec.params.column]
    text = series.where(series.isna(), series.astype(str))
    bad = _pandera_mask(pa.Check.str_matches(spec.params.pattern), text)
    return _rows(spec, frame, source, step, bad, "match")


def _row_count(
    spec: CheckSpec, frame: pd.DataFrame, source: str, _: Lookup, step: str
) -> CheckResult:
    p, n = spec.params, len(frame)
    low = p.min is None or n >= p.min
    high = p.max is None or n <= p.max
    bounds = f"{p.min if p.min is not None else 0:,}..{p.max if p.max is not None else '∞'}"
    if low and high:
        return _result(spec, source, step, True, 0, n, f"{n:,} rows, within {bounds}")
    return _result(spec, source, step, False, 1, n, f"{n:,} rows, outside {bounds}")


def _monotonic(
    spec: CheckSpec, frame: pd.DataFrame, source: str, _: Lookup, step: str
) -> CheckResult:
    p = spec.params
    column = frame[p.column]
    if pd.api.types.is_datetime64_any_dtype(column):
        values = column.astype("int64").to_numpy(dtype=float) / 1e9  # seconds
    elif pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
    else:
        return _unusable(
            spec,
            source,
            step,
            frame,
            f"column '{p.column}' is {column.dtype}, not numbers or times",
        )
    steps = np.diff(values)
    backward = steps <= 0 if p.strict else steps < 0
    gaps = steps > p.max_gap if p.max_gap is not None else np.zeros_like(backward)
    bad = np.zeros(len(values), dtype=bool)
    bad[1:] = backward | gaps
    result = _rows(
        spec,
        frame,
        source,
        step,
        bad,
        "increase" + (f" by at most {p.max_gap}" if p.max_gap else ""),
    )
    if result.passed and not result.failing:
        return result
    parts = []
    if backward.any():
        kind = "not increasing" if p.strict else "decreasing"
        parts.append(f"{int(backward.sum()):,} steps {kind}")
    if gaps.any():
        largest = int(np.argmax(np.where(gaps, steps, -np.inf)))
        parts.append(
            f"{int(gaps.sum()):,} gaps over {p.max_gap:g} (largest {steps[largest]:.6g} "
            f"after {p.column}={values[largest]:.6g}, row {largest})"
        )
    verdict = ", ".join(parts)
    return CheckResult(**{**asdict(result), "message": f"{verdict}; {result.message}"})


def _stuck(spec: CheckSpec, frame: pd.DataFrame, source: str, _: Lookup, step: str) -> CheckResult:
    p = spec.params
    values = frame[p.column].to_numpy()
    n = len(values)
    if n == 0:
        return _result(spec, source, step, True, 0, 0, "no rows")
    present = ~pd.isna(values)
    same = np.zeros(n, dtype=bool)
    same[1:] = (values[1:] == values[:-1]) & present[1:]  # missing values never count
    run_id = np.cumsum(~same)
    lengths = np.bincount(run_id)
    long_runs = np.flatnonzero(lengths > p.max_repeats)
    bad = np.isin(run_id, long_runs)
    result = _rows(spec, frame, source, step, bad, f"change within {p.max_repeats} samples")
    if not len(long_runs):
        return result
    longest = long_runs[np.argmax(lengths[long_runs])]
    start = int(np.argmax(run_id == longest))
    verdict = (
        f"{len(long_runs)} run(s) of one value longer than {p.max_repeats} samples "
        f"(longest {int(lengths[longest]):,} samples of {_fmt(_plain(values[start]))} "
        f"from row {start})"
    )
    return CheckResult(**{**asdict(result), "message": f"{verdict}; {result.message}"})


def _reference(spec: CheckSpec, lookup: Lookup) -> tuple[pd.Series | None, str]:
    """The reference column of a referential or drift check, and its label or the problem."""
    p = spec.params
    reference = lookup(p.reference)
    column = p.reference_column or p.column
    if not isinstance(reference, pd.DataFrame) or column not in reference.columns:
        return None, f"reference '{p.reference}' has no column '{column}'"
    return reference[column], f"{p.reference}.{column}"


def _referential(
    spec: CheckSpec, frame: pd.DataFrame, source: str, lookup: Lookup, step: str
) -> CheckResult:
    import pandera.pandas as pa

    keys, label = _reference(spec, lookup)
    if keys is None:
        return _unusable(spec, source, step, frame, label)
    frame = _reset(frame)
    check = pa.Check.isin(pd.unique(keys.dropna()))
    bad = _pandera_mask(check, frame[spec.params.column])
    return _rows(spec, frame, source, step, bad, f"exist in {label}")


def _drift(
    spec: CheckSpec, frame: pd.DataFrame, source: str, lookup: Lookup, step: str
) -> CheckResult:
    p = spec.params
    reference, label = _reference(spec, lookup)
    if reference is None:
        return _result(spec, source, step, False, 1, len(frame), label)
    current = pd.to_numeric(frame[p.column], errors="coerce").dropna().to_numpy(dtype=float)
    expected = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype=float)
    if len(current) == 0 or len(expected) == 0:
        return _result(spec, source, step, False, 1, len(frame), "no values to compare")
    statistic = _psi(expected, current, p.bins) if p.method == "psi" else _ks(expected, current)
    passed = statistic <= p.limit
    verdict = "within" if passed else "above"
    message = (
        f"{p.method.upper()} {statistic:.4f} against {label} is {verdict} the threshold {p.limit:g}"
    )
    return _result(spec, source, step, passed, 0 if passed else 1, len(frame), message)


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


_CHECKS: dict[str, Callable[[CheckSpec, pd.DataFrame, str, Lookup, str], CheckResult]] = {
    "schema": _schema,
    "not_null": _not_null,
    "unique": _unique,
    "range": _range,
    "allowed_values": _allowed,
    "regex": _regex,
    "row_count": _row_count,
    "monotonic": _monotonic,
    "stuck": _stuck,
    "referential": _referential,
    "drift": _drift,
}
