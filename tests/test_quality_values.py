"""How checks read values: category order, exact integers, dates, zones, decimals, floats.

Each test pins a count pandas itself gives for the same question, or the reason a check
gives when the question has no answer (a time of day against a datetime column).
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from datareplay.config.safe_yaml import parse_yaml
from datareplay.errors import ConfigError
from datareplay.quality.evaluate import CheckResult, evaluate
from datareplay.quality.specs import parse_checks


def run(item: dict[str, Any] | str, frame: pd.DataFrame, lookup: Any = None) -> CheckResult:
    if isinstance(item, str):  # YAML, as a user writes it
        item = parse_yaml(item.encode(), source="t").data
    (spec,) = parse_checks([item], where="t")
    return evaluate(spec, frame, source="s", lookup=lookup or (lambda name: None))


# -- ordered categoricals compare in category order ----------------------------------------

LEVELS = pd.CategoricalDtype(["low", "mid", "high"], ordered=True)


def levels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lv": pd.Series(["low", "high", "mid", "low", None, "high"], dtype=LEVELS),
            "lv2": pd.Series(["mid", "mid", "mid", "low", "low", "low"], dtype=LEVELS),
            "v": range(6),
        }
    )


def test_ordered_categoricals_compare_by_category_order() -> None:
    frame = levels()
    assert run({"check": "compare", "column": "lv", "op": "<=", "value": "mid"}, frame).failing == 2
    assert run({"check": "compare", "column": "lv", "op": "<=", "other": "lv2"}, frame).failing == 2
    where = run('{check: row_count, where: {column: lv, ">=": mid}}', frame)
    assert where.total == 3


def test_ordered_categorical_against_an_unknown_category_is_a_reason() -> None:
    result = run({"check": "compare", "column": "lv", "op": "<", "value": "huge"}, levels())
    assert not result.usable
    assert result.message.startswith("'huge' is not a category of ordered column 'lv'")


def test_unordered_categoricals_compare_by_their_values() -> None:
    frame = pd.DataFrame({"n": pd.Series([10, 9, 100, None], dtype="category")})
    # as numbers, not as text ('9' > '10')
    assert run({"check": "compare", "column": "n", "op": "<", "value": 50}, frame).failing == 1


# -- range on big integers is exact ---------------------------------------------------------


def test_range_compares_big_integers_exactly() -> None:
    big = pd.DataFrame({"x": pd.Series([2**63 - 1, 5], dtype="int64")})
    assert run({"check": "range", "column": "x", "max": 2**63 - 2}, big).failing == 1
    near = pd.DataFrame({"x": pd.Series([2**53 + 1, 5], dtype="int64")})
    assert run({"check": "range", "column": "x", "max": 2**53}, near).failing == 1
    low = pd.DataFrame({"x": pd.Series([-(2**63), 5], dtype="Int64")})
    assert run({"check": "range", "column": "x", "min": -(2**63) + 1}, low).failing == 1


# -- values against datetime columns: ISO 8601 only ------------------------------------------


def stamps() -> pd.DataFrame:
    times = pd.date_range("2024-05-01 17:00", periods=4, freq="30min")
    return pd.DataFrame({"t": times, "v": range(4)})


@pytest.mark.parametrize("value", ["17:45", "now", "today", "01/05/2024", "tomorrow noon"])
def test_a_where_value_that_is_no_iso_date_is_a_reason(value: str) -> None:
    item = {"check": "row_count", "where": {"column": "t", ">=": value}}
    result = run(item, stamps())
    assert not result.usable
    assert f"{value!r} is not an ISO 8601 date or time" in result.message


@pytest.mark.parametrize(
    ("value", "count"),
    [("2024-05-01", 4), ("2024-05-01 17:45", 2), ("2024-05-01T17:45:00", 2)],
)
def test_iso_dates_and_times_select_rows(value: str, count: int) -> None:
    item = {"check": "row_count", "where": {"column": "t", ">=": value}}
    assert run(item, stamps()).total == count


# -- date columns ---------------------------------------------------------------------------

DAYS = [dt.date(2024, 5, 1), dt.date(2024, 5, 1), dt.date(2024, 5, 3)]


@pytest.mark.parametrize(
    "column",
    [pd.Series(DAYS, dtype="date32[pyarrow]"), pd.Series(DAYS, dtype=object)],
    ids=["date32", "object-date"],
)
def test_date_columns_take_iso_dates(column: pd.Series) -> None:
    frame = pd.DataFrame({"day": column, "v": range(3)})
    where = run('{check: row_count, where: {column: day, "==": 2024-05-01}}', frame)
    assert where.total == 2
    later = run('{check: row_count, where: {column: day, ">=": 2024-05-02}}', frame)
    assert later.total == 1
    compare = run('{check: compare, column: day, op: "<", value: 2024-05-02}', frame)
    assert (compare.usable, compare.failing) == (True, 1)
    assert run("{check: constant, column: day, value: 2024-05-01}", frame).failing == 1
    assert run("{check: allowed_values, column: day, values: [2024-05-01]}", frame).failing == 1
    gaps = run("{check: monotonic, column: day, strict: false, max_gap: 1d}", frame)
    assert (gaps.usable, gaps.failing) == (True, 1)


# -- times in zones and storages compare by instant -------------------------------------------


def test_zoned_columns_compare_by_instant_across_zones_and_storage() -> None:
    utc = pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-06-01 10:00"]).tz_localize("UTC"))
    frame = pd.DataFrame(
        {
            "a": utc.astype("timestamp[ms, tz=UTC][pyarrow]"),
            "b": utc.dt.tz_convert("Europe/Stockholm").astype("datetime64[us, Europe/Stockholm]"),
        }
    )
    result = run({"check": "compare", "column": "a", "op": "==", "other": "b"}, frame)
    assert (result.passed, result.failing) == (True, 0)


def test_naive_against_zoned_columns_is_a_reason() -> None:
    times = pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-06-01 10:00"]))
    frame = pd.DataFrame({"a": times, "b": times.dt.tz_localize("UTC")})
    result = run({"check": "compare", "column": "a", "op": "==", "other": "b"}, frame)
    assert not result.usable
    assert result.message == (
        "column 'a' holds times without a time zone, column 'b' times in UTC; "
        "localize one (tz_localize) to compare them"
    )


# -- daylight-saving changes in where values ------------------------------------------------


def test_a_wall_clock_time_skipped_or_repeated_by_dst_is_resolved() -> None:
    spring = pd.date_range("2024-03-31 01:00", periods=6, freq="30min", tz="Europe/Stockholm")
    frame = pd.DataFrame({"t": spring})
    skipped = run({"check": "row_count", "where": {"column": "t", ">=": "2024-03-31 02:30"}}, frame)
    assert skipped.usable and skipped.total == 4  # from 03:00, the first instant after the gap
    autumn = pd.date_range("2024-10-27 01:30", periods=4, freq="30min", tz="Europe/Stockholm")
    frame = pd.DataFrame({"t": autumn})  # 01:30, 02:00 +02, 02:30 +02, 02:00 +01
    repeated = run(
        {"check": "row_count", "where": {"column": "t", "==": "2024-10-27 02:30"}}, frame
    )
    assert repeated.usable and repeated.total == 1  # the earlier 02:30


# -- max_gap on float seconds -----------------------------------------------------------------


@pytest.mark.parametrize("start", [0.0, 1000.0, 1.7e9])
def test_float_seconds_steps_equal_to_max_gap_are_no_gaps(start: float) -> None:
    t_s = start + np.arange(40) / 10  # 10 Hz, with the rounding of float seconds
    frame = pd.DataFrame({"t_s": t_s})
    assert run({"check": "monotonic", "column": "t_s", "max_gap": "100ms"}, frame).failing == 0
    late = frame.copy()
    late.loc[20:, "t_s"] += 0.001
    assert run({"check": "monotonic", "column": "t_s", "max_gap": "100ms"}, late).failing == 1


# -- Decimal values ---------------------------------------------------------------------------


def test_decimal_objects_compare_numerically_with_written_floats() -> None:
    frame = pd.DataFrame({"d": [decimal.Decimal("1.10"), decimal.Decimal("2.5")]})
    assert run({"check": "allowed_values", "column": "d", "values": [1.1, 2.5]}, frame).passed
    assert run({"check": "compare", "column": "d", "op": "<=", "value": 1.1}, frame).failing == 1
    floats = frame.assign(f=[1.1, 2.4])
    assert run({"check": "compare", "column": "d", "op": "==", "other": "f"}, floats).failing == 1


# -- odd inputs are reasons, not internal errors ------------------------------------------------


def test_odd_tables_give_reasons() -> None:
    twice = pd.DataFrame([[1, 2]], columns=["a", "a"])
    schema = run({"check": "schema", "columns": {"a": "int"}}, twice)
    assert schema.message == "column 'a' appears 2 times"
    levels = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")]))
    result = run({"check": "range", "column": "a", "min": 0}, levels)
    assert not result.usable and "2 levels of column labels" in result.message
    objects = pd.DataFrame(
        {"t": pd.Series(list(pd.date_range("2024-01-01", periods=3)), dtype=object)}
    )
    mono = run({"check": "monotonic", "column": "t", "max_gap": "1d"}, objects)
    assert (mono.usable, mono.failing) == (True, 0)
    pythons = pd.DataFrame({"t": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3)]}, dtype=object)
    assert run({"check": "monotonic", "column": "t", "max_gap": "1d"}, pythons).failing == 1


@pytest.mark.parametrize(
    ("item", "column", "reason"),
    [
        (
            {"check": "compare", "column": "x", "op": ">", "value": 1},
            pd.Series(["a", 2, 3], dtype=object),
            "column 'x' and 1 hold values that '>' cannot order (int, str)",
        ),
        (
            {"check": "regex", "column": "x", "pattern": "a"},
            pd.Series([b"\xff", b"a"], dtype=object),
            "column 'x' holds bytes; decode them first",
        ),
        (
            {"check": "constant", "column": "x"},
            pd.Series([[2], [1], [2]], dtype=object),
            "cells hold lists, not single values",
        ),
        (
            {"check": "drift", "column": "x", "reference": "r"},
            pd.Series(["a", "b"]),
            "column 'x' holds text; drift needs numbers or times",
        ),
    ],
)
def test_raw_exceptions_become_one_line_reasons(
    item: dict[str, Any], column: pd.Series, reason: str
) -> None:
    frame = pd.DataFrame({"x": column})
    result = run(item, frame, lookup=lambda name: frame)
    assert not result.usable
    assert result.message.startswith(reason), result.message
    assert "\n" not in result.message


def test_a_null_pyarrow_column_has_no_values() -> None:
    frame = pd.DataFrame({"x": pd.Series([None, None], dtype="null[pyarrow]")})
    result = run({"check": "compare", "column": "x", "op": ">", "value": 1}, frame)
    assert (result.passed, result.usable) == (True, True)


def test_a_misspelt_reference_column_suggests_the_name() -> None:
    frame = pd.DataFrame({"k": [1]})
    item = {"check": "referential", "column": "k", "reference": "r", "reference_column": "idd"}
    result = run(item, frame, lookup=lambda name: pd.DataFrame({"id": [1]}))
    assert result.message == "reference 'r' has no column 'idd'; did you mean 'id'?"


# -- mistakes in a check: blocking whatever the severity ----------------------------------------


def test_a_missing_column_blocks_even_a_warning_and_counts_no_rows() -> None:
    frame = pd.DataFrame({"value": range(60)})
    result = run({"check": "not_null", "column": "valeu", "severity": "warn"}, frame)
    assert (result.passed, result.failing, result.total) == (False, 0, 60)
    assert result.blocking and not result.usable
    assert result.message == "column 'valeu' is missing; did you mean 'value'? (columns: value)"


def test_column_names_as_numbers_and_the_index() -> None:
    numbered = pd.DataFrame({0: [1, None], 1: [1, 2]})
    assert run({"check": "not_null", "column": "0"}, numbered).failing == 1
    with pytest.raises(
        ConfigError, match=r"column: 0 is int, a name is text; quote it: column: '0'"
    ):
        parse_checks([{"check": "not_null", "column": 0}], where="t")
    grouped = pd.DataFrame({"g": ["a", "b"], "v": [1, 2]}).set_index("g")
    result = run({"check": "not_null", "column": "g"}, grouped)
    assert result.message.startswith("column 'g' is the index; reset_index() or name a column")


# -- load-time validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "pattern"),
    [
        ({"check": "range", "column": "x", "min": float("nan")}, r"min: NaN is no bound"),
        ({"check": "range", "column": "x", "min": "1"}, r"min: '1' is not a number"),
        ({"check": "range", "column": "x", "max": True}, r"max: True is not a number"),
        (
            {"check": "compare", "column": "x", "op": "<", "value": float("nan")},
            r"value: NaN equals nothing",
        ),
        ({"check": "constant", "column": "x", "value": float("nan")}, r"value: NaN equals nothing"),
        ({"check": "row_count", "min": 10, "max": 5}, r"min 10 is greater than max 5"),
        (
            {"check": "schema", "columns": {"x": "integer"}},
            r"columns: column 'x': unknown dtype 'integer'; did you mean 'int",
        ),
        (
            {"check": "allowed_values", "column": "x", "values": ["a", None]},
            r"values: None is a missing value; .* not_null",
        ),
        (
            {"check": "row_count", "where": {"column": "x", "==": float("nan")}},
            r"NaN matches nothing; test a missing value with is: null",
        ),
    ],
)
def test_load_time_refusals(item: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        parse_checks([item], where="t")


@pytest.mark.parametrize("dtype", ["int64", "Int64", "int64[pyarrow]"])
def test_exact_dtype_names_match_in_any_storage(dtype: str) -> None:
    frame = pd.DataFrame({"x": pd.Series([1, 2], dtype=dtype)})
    for expected in ("int64", "Int64", "int64[pyarrow]", "int"):
        assert run({"check": "schema", "columns": {"x": expected}}, frame).passed, expected
    assert not run({"check": "schema", "columns": {"x": "int32"}}, frame).passed


@pytest.mark.parametrize(
    ("column", "values", "reason"),
    [
        (["a", "b"], [1, 2], "values: column 'x' holds text, 1 is a number (quote numbers"),
        ([1, 2], ["1", "2"], "values: column 'x' holds numbers, '1' is text (write numbers"),
    ],
)
def test_allowed_values_of_another_kind_are_a_reason(
    column: list[Any], values: list[Any], reason: str
) -> None:
    frame = pd.DataFrame({"x": column})
    result = run({"check": "allowed_values", "column": "x", "values": values}, frame)
    assert not result.usable
    assert result.message.startswith(reason), result.message


# -- durations and their text -------------------------------------------------------------------


def test_timedelta_columns_take_range_and_monotonic_in_seconds() -> None:
    waits = pd.Series(pd.to_timedelta([1, 2, 30, 4], unit="s"))
    frame = pd.DataFrame({"w": waits})
    assert run({"check": "range", "column": "w", "max": 10}, frame).failing == 1
    result = run({"check": "monotonic", "column": "w", "max_gap": "10s"}, frame)
    assert (result.usable, result.failing) == (True, 2)  # the jump to 30s and the step back
    assert result.message.startswith("1 step not increasing, 1 gap over 10s (largest 28s")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1e-6, "1us"), (61, "61s"), (90, "1.5min"), (20.7123, "20.71s"), (float("inf"), "infinite")],
)
def test_durations_are_written_as_people_do(seconds: float, text: str) -> None:
    from datareplay.quality.durations import format_duration

    assert format_duration(seconds) == text
