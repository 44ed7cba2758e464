"""Durations with units in check parameters, and time gaps at every datetime resolution."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from datareplay.errors import ConfigError
from datareplay.quality.durations import format_duration, parse_duration
from datareplay.quality.evaluate import CheckResult, evaluate
from datareplay.quality.specs import parse_checks


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("1.5min", 90.0),
        ("1h", 3600.0),
        ("2d", 172_800.0),
        ("250us", 250e-6),
        ("250µs", 250e-6),
        ("100ns", 1e-7),
        (" 1.5 h ", 5400.0),
        ("1e3ms", 1.0),
        (".5s", 0.5),
        ("5", 5.0),
        (5, 5.0),
        (0.25, 0.25),
    ],
)
def test_parse_duration(written: Any, seconds: float) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("5m", r"unknown unit 'm' in '5m' \('m' is ambiguous: write min or ms\) \(units: ns, us"),
        ("5 hours", r"unknown unit 'hours' in '5 hours' \(units: ns, us, ms, s, min, h, d;"),
        ("fast", r"'fast' is not a duration \(e\.g\. 500ms, 2s, 1h; units: ns, us, ms, s, min"),
        ("1h30min", r"unknown unit 'h30min'"),
        (True, r"True is not a duration"),
        (None, r"None is not a duration"),
        (float("inf"), r"inf is not a finite duration"),
    ],
)
def test_bad_durations_name_the_accepted_units(written: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(written)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (1e-7, "100ns"),
        (250e-6, "250us"),
        (0.5, "500ms"),
        (5.0, "5s"),
        (20.7002, "20.7s"),
        (90.0, "1.5min"),
        (3600.0, "1h"),
        (5400.0, "1.5h"),
        (172_800.0, "2d"),
        (-2.0, "-2s"),
    ],
)
def test_format_duration_picks_a_readable_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.floats(min_value=1e-9, max_value=1e7, allow_nan=False))
def test_formatted_durations_parse_back_closely(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=1e-3)


def test_max_gap_is_validated_as_a_duration_when_loaded() -> None:
    (spec,) = parse_checks([{"check": "monotonic", "column": "t", "max_gap": "1h"}], where="w")
    assert spec.params.max_gap == 3600.0
    assert spec.as_dict()["max_gap"] == 3600.0  # seconds: read back the same
    with pytest.raises(
        ConfigError, match=r"w\[0\]: check 'monotonic': max_gap: unknown unit 'm' in '5m'"
    ):
        parse_checks([{"check": "monotonic", "column": "t", "max_gap": "5m"}], where="w")
    with pytest.raises(ConfigError, match=r"max_gap: Input should be greater than 0"):
        parse_checks([{"check": "monotonic", "column": "t", "max_gap": "0ms"}], where="w")


# -- gaps on datetime columns of every resolution ----------------------------------------

RESOLUTIONS = ["s", "ms", "us", "ns"]


def times(stamps: list[str], unit: str, family: str) -> pd.Series:
    series = pd.Series(pd.to_datetime(stamps)).astype(f"datetime64[{unit}]")
    if family == "tz":
        return series.dt.tz_localize("America/New_York")
    if family == "pyarrow":
        return series.astype(f"timestamp[{unit}][pyarrow]")
    return series


def gap_check(frame: pd.DataFrame, max_gap: Any) -> CheckResult:
    item = {"check": "monotonic", "column": str(frame.columns[0]), "max_gap": max_gap}
    (spec,) = parse_checks([item], where="w")
    return evaluate(spec, frame, source="s", lookup=lambda name: None)


@pytest.mark.parametrize("family", ["numpy", "tz", "pyarrow"])
@pytest.mark.parametrize("unit", RESOLUTIONS)
def test_a_one_hour_dropout_fails_at_every_resolution(unit: str, family: str) -> None:
    # was: max_gap assumed nanoseconds, so on microsecond datetimes the hour passed
    stamps = ["2024-03-01 10:00:00", "2024-03-01 10:00:01", "2024-03-01 11:00:01"]
    frame = pd.DataFrame({"t": times(stamps, unit, family)})
    five = gap_check(frame, 5)
    assert (five.passed, five.failing) == (False, 1)
    assert five.message.startswith("1 gap over 5s (largest 1h after t=2024-03-01 10:00:01")
    assert [row["row"] for row in five.sample] == [2]
    assert gap_check(frame, "30min").failing == 1
    assert gap_check(frame, "1h").passed  # a gap of exactly max_gap is allowed
    assert gap_check(frame, "2h").message == "all 3 rows increase by at most 2h"


@pytest.mark.parametrize(
    ("unit", "step", "limit", "failing"),
    [
        ("s", "2s", "2s", 0),
        ("s", "2s", "1999ms", 1),
        ("ms", "500ms", "500ms", 0),
        ("ms", "500ms", "499ms", 1),
        ("ms", "500ms", "499.5ms", 1),
        ("us", "250us", "250us", 0),
        ("us", "250us", "249us", 1),
        ("ns", "100ns", "100ns", 0),
        ("ns", "100ns", "99ns", 1),
        ("ns", "1h", "1h", 0),
        ("us", "1h", "3599.999999s", 1),
    ],
)
def test_gaps_are_compared_exactly_in_the_columns_unit(
    unit: str, step: str, limit: str, failing: int
) -> None:
    start = pd.Timestamp("2024-03-01")
    stamps = [start, start + pd.Timedelta(step), start + 2 * pd.Timedelta(step)]
    frame = pd.DataFrame({"t": pd.Series(stamps).astype(f"datetime64[{unit}]")})
    result = gap_check(frame, limit)
    assert result.failing == 2 * failing, result.message


def test_gaps_on_a_numeric_time_column_are_seconds() -> None:
    frame = pd.DataFrame({"t_s": [0.0, 0.4, 0.9, 2.0, 2.1]})
    assert gap_check(frame, "500ms").failing == 1
    assert gap_check(frame, 1.1).passed
    ints = pd.DataFrame({"t_s": pd.Series([0, 1, 5, None, 6], dtype="Int64")})
    result = gap_check(ints, "2s")
    assert (result.failing, result.sample) == (1, [{"row": 2, "t_s": 5}])
    assert result.message.startswith("1 gap over 2s (largest 4s after t_s=1, row 1)")


def test_missing_times_are_skipped_not_steps() -> None:
    stamps = ["2024-03-01 10:00", None, "2024-03-01 10:01", None, "2024-03-01 10:00"]
    frame = pd.DataFrame({"t": pd.Series(pd.to_datetime(stamps))})
    result = gap_check(frame, "5min")
    assert (result.failing, result.total) == (1, 5)
    assert [row["row"] for row in result.sample] == [4]  # the step back, at its own row
    assert result.message.startswith("1 step not increasing;")


def test_numeric_gaps_with_nan_and_inf_raise_no_warning() -> None:
    frame = pd.DataFrame({"t": [0.0, np.nan, 1.0, np.inf, np.inf]})
    result = gap_check(frame, 10)
    assert result.failing == 2  # the jump to infinity and the repeat of it
