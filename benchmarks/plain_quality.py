"""The shipped demo's data-quality work, written by hand with numpy and pandas.

``plain_demo.py`` runs these in place of the engine's checks for ``cases/demo/case.yaml``:
the checks declared on the sources ``wheel`` and ``aligned`` (run when the source is
written), the QualityGate step ``signal_quality`` and the DataProfiler step. Same checks,
same parameters, failing rows counted as README "Data quality" defines them (a missing
value is skipped; ``unique`` counts the rows after a key's first occurrence; a
``monotonic`` row fails when it steps back or ends a gap over ``max_gap`` seconds;
``stuck`` counts every row of a run longer than ``max_repeats``; a check passes when its
failing rows are at most ``tolerance`` of the rows), written the way one writes them for
a known table: one ``np.diff`` per time column, shared by the checks that read it;
repeats found by comparing neighbours when the column is sorted (``duplicated()``
otherwise); run lengths from the positions where a value changes. No datareplay import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

log = logging.getLogger("plain.quality")
STATISTICS = ("min", "p01", "mean", "p50", "p99", "max", "std")
PROFILE_COLUMNS = ("column", "dtype", "rows", "missing", "missing_pct", "unique", *STATISTICS)


@dataclass(frozen=True)
class Result:
    """One check's outcome: a row of ``quality_results.parquet``."""

    source: str
    check: str
    severity: str
    passed: bool
    failing: int
    total: int
    message: str
    step: str

    @property
    def blocking(self) -> bool:
        return not self.passed and self.severity == "error"

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.source}: {self.check} {verdict}: {self.message}"


class CheckFailed(Exception):
    """A check of severity error failed: the run stops with exit code 1."""


def result(
    source: str,
    check: str,
    failing: int,
    total: int,
    *,
    step: str,
    tolerance: float = 0.0,
    severity: str = "error",
    of: str = "rows",
) -> Result:
    passed = failing == 0 or failing <= tolerance * total + 1e-9
    message = f"{failing:,} of {total:,} {of} fail"
    if tolerance:
        message += f" (tolerance {tolerance:.2%})"
    found = Result(source, check, severity, passed, failing, total, message, step)
    log.log(logging.INFO if passed else logging.WARNING, "quality %s", found.line())
    return found


def stop_on_errors(results: list[Result]) -> None:
    failed = [r.line() for r in results if r.blocking]
    if failed:
        raise CheckFailed("\n".join(failed))


# -- the checks ------------------------------------------------------------------------


def times(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """The present values of a time column and the steps between them."""
    t = frame[column].to_numpy(dtype="float64")
    missing = np.isnan(t)
    if missing.any():
        t = t[~missing]
    return t, np.diff(t)


def repeats(t: np.ndarray, steps: np.ndarray) -> int:
    """Rows that repeat an earlier value (``steps = np.diff(t)``)."""
    if (steps >= 0).all():  # sorted: a repeat sits next to its first occurrence
        return int(np.count_nonzero(steps == 0))
    return int(pd.Series(t).duplicated().sum())


def out_of_order(steps: np.ndarray, *, strict: bool, max_gap: float | None = None) -> int:
    """Rows that step back (or repeat, when ``strict``) or end a gap over ``max_gap``."""
    bad = steps <= 0 if strict else steps < 0
    if max_gap is not None:
        bad |= steps > max_gap
    return int(np.count_nonzero(bad))


def stuck_rows(values: np.ndarray, max_repeats: int) -> int:
    """Rows in runs of one value longer than ``max_repeats`` (NaN ends a run)."""
    if len(values) == 0:
        return 0
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    lengths = np.diff(np.append(starts, len(values)))
    return int(lengths[lengths > max_repeats].sum())


def check_wheel(wheel: pd.DataFrame, *, step: str) -> list[Result]:
    """``data_sources.wheel.checks``: unique and strictly increasing ``t_s``."""
    t, steps = times(wheel, "t_s")
    n = len(wheel)
    return [
        result("wheel", "unique(t_s)", repeats(t, steps), n, step=step),
        result("wheel", "monotonic(t_s)", out_of_order(steps, strict=True), n, step=step),
    ]


def check_aligned(aligned: pd.DataFrame, *, step: str) -> list[Result]:
    """``data_sources.aligned.checks``: the float columns t_s, speed_mps, ax, lat."""
    expected = ("t_s", "speed_mps", "ax", "lat")
    problems = sum(
        c not in aligned.columns or not pd.api.types.is_float_dtype(aligned[c]) for c in expected
    )
    label = f"schema({', '.join(expected)})"
    return [result("aligned", label, problems, len(expected), step=step, of="columns")]


SOURCE_CHECKS: dict[str, Callable[..., list[Result]]] = {
    "wheel": check_wheel,
    "aligned": check_aligned,
}


def signal_quality(
    wheel_speed_raw: pd.DataFrame,
    imu_raw: pd.DataFrame,
    aligned: pd.DataFrame,
    *,
    step: str = "signal_quality",
) -> list[Result]:
    """The QualityGate step ``signal_quality`` of the demo, check for check."""
    results = []
    t, steps = times(wheel_speed_raw, "t_s")
    fl = wheel_speed_raw["fl"].to_numpy()
    n = len(wheel_speed_raw)
    results += [
        result("wheel_speed_raw", "unique(t_s)", repeats(t, steps), n, tolerance=0.001, step=step),
        result(
            "wheel_speed_raw",
            "monotonic(t_s)",
            out_of_order(steps, strict=False, max_gap=5.0),
            n,
            step=step,
        ),
        result(
            "wheel_speed_raw",
            "range(fl)",
            int(np.count_nonzero((fl < -5) | (fl > 250))),  # NaN is in no range
            n,
            tolerance=0.0003,
            step=step,
        ),
    ]
    _, steps = times(imu_raw, "t_s")
    n = len(imu_raw)
    gaps = out_of_order(steps, strict=True, max_gap=5.0)
    results += [
        result("imu_raw", "monotonic(t_s)", gaps, n, step=step),
        result("imu_raw", "stuck(ax)", stuck_rows(imu_raw["ax"].to_numpy(), 100), n, step=step),
    ]
    _, steps = times(aligned, "t_s")
    n = len(aligned)
    results += [
        result("aligned", "monotonic(t_s)", out_of_order(steps, strict=True), n, step=step),
        result(
            "aligned",
            "not_null(speed_mps)",
            int(aligned["speed_mps"].isna().sum()),
            n,
            tolerance=0.05,
            severity="warn",
            step=step,
        ),
        result("aligned", "stuck(ax)", stuck_rows(aligned["ax"].to_numpy(), 40), n, step=step),
    ]
    return results


# -- the profile and the results table -------------------------------------------------


def profile(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per column: dtype, rows, missing values, distinct values, and for numbers
    min, 1st percentile, mean, median, 99th percentile, max and standard deviation of
    the finite values (the DataProfiler's table)."""
    rows = []
    for name, series in frame.items():
        missing = int(series.isna().sum())
        row = {
            "column": str(name),
            "dtype": str(series.dtype),
            "rows": len(series),
            "missing": missing,
            "missing_pct": 100.0 * missing / len(series) if len(series) else 0.0,
            "unique": series.nunique(),
        }
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = series.to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if len(values):
                p01, p50, p99 = np.quantile(values, [0.01, 0.5, 0.99])
                row.update(
                    min=values.min(),
                    p01=p01,
                    mean=values.mean(),
                    p50=p50,
                    p99=p99,
                    max=values.max(),
                    std=values.std(),
                )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(PROFILE_COLUMNS))


def results_table(results: list[Result]) -> pd.DataFrame:
    return pd.DataFrame([asdict(r) for r in results], columns=list(Result.__dataclass_fields__))
