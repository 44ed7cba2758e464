"""Regressions: regex text of times, float32 gaps, strict parameters, exact floats in
messages, columns without any value, integer columns against float bounds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from datareplay.config.safe_yaml import parse_yaml
from datareplay.errors import ConfigError
from datareplay.quality.evaluate import CheckResult, evaluate
from datareplay.quality.specs import parse_checks

WHERE = "cases/demo/case.yaml:19: data_sources.wheel.checks"


def load(text: str) -> Any:
    """YAML as configuration is read: 1.2 core schema (``yes`` is text)."""
    return parse_yaml(text.encode(), source="test").data


def run(item: dict[str, Any] | str, frame: pd.DataFrame) -> CheckResult:
    if isinstance(item, str):
        item = load(item)
    (spec,) = parse_checks([item], where="test")
    return evaluate(spec, frame, source="src", lookup=lambda name: frame)


def texts_matched(series: pd.Series) -> list[str]:
    """The text regex matches for each present value of ``series``."""
    from datareplay.quality.evaluate import _texts

    return list(_texts(series.dropna()))


# -- 1. regex on datetimes and durations: each value has one text -------------------------

STAMPS = ["2024-03-31 00:00:00", "2024-03-31 00:00:00.5", "2024-03-31 12:30:00.000001"]
SECOND = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


def times(storage: str, values: list[str] = STAMPS) -> pd.Series:
    return pd.Series(pd.to_datetime(values, format="ISO8601")).astype(storage)


@pytest.mark.parametrize(
    "storage",
    ["datetime64[ns]", "datetime64[us]", "timestamp[us][pyarrow]", "timestamp[ns][pyarrow]"],
)
def test_regex_text_of_a_datetime_does_not_depend_on_the_other_rows(storage: str) -> None:
    frame = pd.DataFrame({"t": times(storage)})
    whole = run({"check": "regex", "column": "t", "pattern": SECOND}, frame)
    assert (whole.failing, whole.total) == (2, 3)  # only the midnight value has no fraction
    assert [row["row"] for row in whole.sample] == [1, 2]
    fraction = run({"check": "regex", "column": "t", "pattern": SECOND + r"\.\d+"}, frame)
    assert fraction.failing == 1 and fraction.sample[0]["row"] == 0
    assert texts_matched(frame["t"]) == [
        "2024-03-31 00:00:00",
        "2024-03-31 00:00:00.5",
        "2024-03-31 12:30:00.000001",
    ]


def test_regex_on_milliseconds_with_one_fraction_keeps_the_whole_seconds() -> None:
    frame = pd.DataFrame({"t": times("datetime64[ms]", ["2024-03-31 00:00:00"] * 4 + STAMPS[1:2])})
    result = run({"check": "regex", "column": "t", "pattern": SECOND}, frame)
    assert (result.failing, result.total) == (1, 5)
    assert result.sample[0]["row"] == 4


def test_regex_on_midnights_still_sees_the_time_of_day() -> None:
    frame = pd.DataFrame({"t": times("datetime64[ns]", ["2024-03-31", "2024-04-01"])})
    assert run({"check": "regex", "column": "t", "pattern": SECOND}, frame).passed
    date_only = run({"check": "regex", "column": "t", "pattern": r"\d{4}-\d{2}-\d{2}"}, frame)
    assert date_only.failing == 2


def test_regex_text_of_a_zoned_datetime_ends_with_its_own_offset() -> None:
    series = times("datetime64[ns]", ["2024-03-31 01:00", "2024-03-31 03:00:00.25"])
    zoned = series.dt.tz_localize("Europe/Stockholm")  # daylight saving begins between them
    assert texts_matched(zoned) == ["2024-03-31 01:00:00+01:00", "2024-03-31 03:00:00.25+02:00"]
    arrow = zoned.astype(pd.ArrowDtype(pa.timestamp("ms", tz="America/Sao_Paulo")))
    assert texts_matched(arrow) == ["2024-03-30 21:00:00-03:00", "2024-03-30 22:00:00.25-03:00"]
    utc = pd.DataFrame({"t": zoned.dt.tz_convert("UTC")})
    assert run(
        {"check": "regex", "column": "t", "pattern": SECOND + r"(\.\d+)?\+00:00"}, utc
    ).passed


def test_regex_text_of_times_is_the_same_in_every_storage() -> None:
    naive = times("datetime64[ns]")
    objects = pd.Series([dt.datetime(2024, 3, 31), pd.Timestamp(STAMPS[1])], dtype=object)
    assert texts_matched(objects) == texts_matched(naive)[:2]
    dates = pd.Series([dt.date(2024, 3, 31), None], dtype=object)
    assert texts_matched(dates) == ["2024-03-31"]
    assert texts_matched(dates.astype("date32[pyarrow]")) == ["2024-03-31"]
    assert texts_matched(pd.Series(pd.Categorical(naive))) == texts_matched(naive)
    before_1970 = times("datetime64[ms]", ["1969-12-31 23:59:59.75"])
    assert texts_matched(before_1970) == ["1969-12-31 23:59:59.75"]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_regex_text_of_a_duration_is_its_own(unit: str) -> None:
    durations = pd.Series(pd.to_timedelta(["1s", "2s", "-1s"])).astype(f"timedelta64[{unit}]")
    frame = pd.DataFrame({"d": durations})
    clock = r"-?\d+ days \+?\d{2}:\d{2}:\d{2}"
    assert run({"check": "regex", "column": "d", "pattern": clock}, frame).passed
    assert texts_matched(durations) == ["0 days 00:00:01", "0 days 00:00:02", "-1 days +23:59:59"]
    if unit != "s":
        half = pd.Series(pd.to_timedelta(["1s", "0.5s"])).astype(f"timedelta64[{unit}]")
        assert texts_matched(half) == ["0 days 00:00:01", "0 days 00:00:00.5"]
        result = run({"check": "regex", "column": "d", "pattern": clock}, pd.DataFrame({"d": half}))
        assert result.failing == 1 and result.sample[0]["row"] == 1


def test_regex_on_many_zoned_times_matches_every_value() -> None:
    stamps = pd.Series(pd.date_range("2024-01-01", periods=100_000, freq="1ms", tz="UTC"))
    frame = pd.DataFrame({"t": stamps})
    result = run({"check": "regex", "column": "t", "pattern": SECOND + r"(\.\d+)?\+00:00"}, frame)
    assert result.passed and result.total == 100_000


# -- 2. monotonic max_gap on float32 seconds ---------------------------------------------


@pytest.mark.parametrize("storage", ["float32", "Float32", "float[pyarrow]"])
def test_float32_time_column_has_no_false_gaps(storage: str) -> None:
    t_s = pd.Series(np.arange(1000, dtype="float32") * np.float32(0.1)).astype(storage)
    result = run(
        {"check": "monotonic", "column": "t", "max_gap": "100ms"}, pd.DataFrame({"t": t_s})
    )
    assert (result.passed, result.failing) == (True, 0), result.message


def test_float32_time_column_still_finds_a_real_gap() -> None:
    t_s = np.arange(1000, dtype="float32") * np.float32(0.1)
    t_s[500:] += np.float32(0.2)
    result = run(
        {"check": "monotonic", "column": "t", "max_gap": "100ms"}, pd.DataFrame({"t": t_s})
    )
    assert result.failing == 1
    assert result.sample[0]["row"] == 500
    assert "largest 300ms after t=49.9, row 499" in result.message


# -- 3. parameters are what YAML 1.2 says they are ----------------------------------------


@pytest.mark.parametrize(
    ("item", "pattern"),
    [
        (
            "{check: monotonic, column: t, strict: yes}",
            r"check 'monotonic': strict: must be a valid boolean \(true or false\), got str "
            r"'yes'; only true and false are booleans in YAML 1\.2 \(yes is text\): write true$",
        ),
        (
            "{check: monotonic, column: t, strict: off}",
            r"check 'monotonic': strict: .*got str 'off'; .*: write false$",
        ),
        (
            "{check: monotonic, column: t, strict: 0}",
            r"check 'monotonic': strict: .*got int 0; write true or false$",
        ),
        (
            "{check: monotonic, column: t, strict: 'false'}",
            r"check 'monotonic': strict: .*got str 'false'; write false without quotes$",
        ),
        (
            "{check: range, column: x, max: 1, max_inclusive: n}",
            r"check 'range': max_inclusive: .*got str 'n'; .*: write false$",
        ),
        (
            "{check: schema, columns: {a: null}, strict: yes}",
            r"check 'schema': strict: .*got str 'yes'; .*write true$",
        ),
        (
            "{check: stuck, column: x, max_repeats: '2'}",
            r"check 'stuck': max_repeats: must be a valid integer, got str '2'; write the number "
            r"without quotes: max_repeats: 2$",
        ),
        (
            "{check: not_null, column: x, tolerance: '0.5'}",
            r"check 'not_null': tolerance: must be a valid number, got str '0\.5'; write the "
            r"number without quotes: tolerance: 0\.5$",
        ),
        (
            "{check: drift, column: x, reference: r, bins: '5'}",
            r"check 'drift': bins: .*write the number without quotes: bins: 5$",
        ),
        (
            "{check: not_null, column: x, tolerance: true}",
            r"check 'not_null': tolerance: .*valid number, got bool True$",
        ),
    ],
)
def test_check_parameters_refuse_what_is_not_their_type(item: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{WHERE}\[0\]: {pattern}") as caught:
        parse_checks([load(item)], where=WHERE)
    assert "\n" not in str(caught.value)


def test_check_parameters_of_their_type_are_accepted() -> None:
    specs = parse_checks(
        load(
            """
            - {check: monotonic, column: t, strict: false, max_gap: 1}
            - {check: range, column: x, min: 0, max: 1.5, max_inclusive: false}
            - {check: not_null, column: x, tolerance: 0}
            - {check: not_null, column: x, tolerance: 1}
            - {check: stuck, column: x, max_repeats: 3}
            - {check: schema, columns: {t: null, x: float}, strict: true}
            """
        ),
        where=WHERE,
    )
    assert specs[0].params.strict is False
    assert specs[2].params.tolerance == 0.0 and specs[3].params.tolerance == 1.0
    # and what a spec writes back reads again
    assert parse_checks([s.as_dict() for s in specs], where=WHERE) == specs


# -- 4. messages show the value that failed, not a rounding of it ------------------------


def test_a_failing_float_is_shown_exactly() -> None:
    result = run("{check: range, column: f, max: 1}", pd.DataFrame({"f": [0.5, 1.0000001]}))
    assert result.failing == 1
    assert "row 1: f=1.0000001" in result.message
    small = run("{check: range, column: f, min: 0}", pd.DataFrame({"f": [-1e-07, 123456.789]}))
    assert "f=-1e-07" in small.message
    stuck = run(
        "{check: stuck, column: f, max_repeats: 1}", pd.DataFrame({"f": [0.30000000000000004] * 2})
    )
    assert "longest 2 samples of 0.30000000000000004" in stuck.message


def test_whole_floats_and_float32_values_stay_readable() -> None:
    whole = run("{check: range, column: f, max: 1}", pd.DataFrame({"f": [400.0]}))
    assert "f=400" in whole.message
    single = pd.DataFrame({"f": np.array([0.1, 2.5], dtype="float32")})
    result = run("{check: range, column: f, max: 0.05}", single)
    assert "row 0: f=0.1;" in result.message and result.sample[0]["f"] == 0.1


def test_drift_threshold_is_shown_exactly() -> None:
    frame = pd.DataFrame({"x": np.arange(100.0)})
    result = run("{check: drift, column: x, reference: src, threshold: 0.1234567}", frame)
    assert "threshold 0.1234567" in result.message


# -- 5. a column without any value has nothing to judge ----------------------------------


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([np.nan, np.nan, np.nan]),  # a blank CSV column
        pd.Series(pd.Categorical([None, None, None])),
        pd.Series(pd.Categorical([None, None, None], categories=[1, 2])),
        pd.Series([pd.NaT] * 3),
        pd.Series([None] * 3, dtype="Float64"),
        pd.Series([None] * 3, dtype="int64[pyarrow]"),
    ],
)
def test_a_column_without_values_passes_checks_of_any_value_kind(column: pd.Series) -> None:
    frame = pd.DataFrame({"x": column, "y": ["a", "b", "c"]})
    for item in [
        "{check: allowed_values, column: x, values: [sun, rain]}",
        "{check: compare, column: x, op: '==', value: sun}",
        "{check: compare, column: x, op: '<', other: y}",
        "{check: range, column: x, max: 3, severity: warn}",
    ]:
        result = run(item, frame)
        assert result.usable and result.passed, (item, result.message)
        assert result.message == "no value to judge: column 'x' is missing in all 3 rows"
    where = run("{check: not_null, column: y, where: {column: x, in: [sun]}}", frame)
    assert where.usable and where.passed
    assert where.message == "no rows where x in ['sun'] (of 3 rows); nothing to judge"
    missing = run("{check: not_null, column: x, severity: warn}", frame)
    assert missing.usable and (missing.passed, missing.failing) == (False, 3)


def test_a_column_with_one_value_still_judges_its_kind() -> None:
    frame = pd.DataFrame({"x": [np.nan, 1.5, np.nan]})
    result = run("{check: allowed_values, column: x, values: [sun], severity: warn}", frame)
    assert not result.usable and result.blocking
    assert "holds numbers, 'sun' is text" in result.message


# -- integer columns against float bounds ------------------------------------------------

BIG = np.array([2**62, 2**62 + 1, 2**63 - 1, -(2**63)], dtype=np.int64)


@pytest.mark.parametrize("storage", ["int64", "Int64", "int64[pyarrow]"])
def test_an_integral_float_bound_compares_exactly_with_integers(storage: str) -> None:
    frame = pd.DataFrame({"x": pd.Series(BIG).astype(storage)})
    result = run({"check": "range", "column": "x", "max": 4611686018427387904.0}, frame)
    assert result.failing == 2
    assert [row["row"] for row in result.sample] == [1, 2]
    below = run({"check": "compare", "column": "x", "op": "<", "value": 2.0**63}, frame)
    assert below.passed  # 2**63 - 1 < 2**63, though both are 9.223372036854776e18 as floats
    beyond = run({"check": "range", "column": "x", "min": -1e30, "max": 1e30}, frame)
    assert beyond.passed and beyond.usable
    allowed = run(
        {"check": "allowed_values", "column": "x", "values": [4611686018427387904.0]}, frame
    )
    assert allowed.failing == 3


@pytest.mark.parametrize(
    ("op", "expected"),
    [("<", [1, 2]), ("<=", [1, 2]), (">", [3]), (">=", [3]), ("==", []), ("!=", [1, 2, 3])],
)
def test_a_fractional_bound_against_integers(op: str, expected: list[int]) -> None:
    frame = pd.DataFrame({"x": pd.Series([1, 2, 3, None], dtype="Int64")})
    # every row the where picks fails compare x == 0: the sample lists the picked values
    result = run(
        {
            "check": "compare",
            "column": "x",
            "op": "==",
            "value": 0,
            "where": {"column": "x", op: 2.5},
        },
        frame,
    )
    assert result.total == len(expected)
    assert [row["x"] for row in result.sample] == expected
    holds = run({"check": "compare", "column": "x", "op": op, "value": 2.5}, frame)
    assert holds.total == 4 and holds.failing == 3 - len(expected)  # the missing row is skipped
