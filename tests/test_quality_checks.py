"""Every data-quality check on passing and failing pandas data, through evaluate()."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datareplay.errors import ConfigError
from datareplay.quality.evaluate import CheckResult, evaluate, results_frame
from datareplay.quality.specs import parse_checks


def no_lookup(name: str) -> Any:
    raise AssertionError(f"this check must not read another source ({name})")


def run(
    item: dict[str, Any],
    frame: Any,
    *,
    lookup: Callable[[str], Any] = no_lookup,
    source: str = "src",
    step: str = "",
) -> CheckResult:
    (spec,) = parse_checks([item], where="test")
    return evaluate(spec, frame, source=source, lookup=lookup, step=step)


def frame(**columns: Any) -> pd.DataFrame:
    return pd.DataFrame(columns)


# -- the result object -------------------------------------------------------------------


def test_result_carries_source_check_severity_params_and_step() -> None:
    result = run(
        {"check": "range", "column": "x", "max": 1, "severity": "warn"},
        frame(x=[0.0, 2.0]),
        source="wheel",
        step="InitialDataReader",
    )
    assert result.source == "wheel"
    assert result.check == "range(x)"
    assert result.severity == "warn"
    assert result.step == "InitialDataReader"
    assert result.params["check"] == "range"
    assert result.params["max"] == 1.0
    assert not result.passed
    assert not result.blocking  # a warning never stops the run
    assert result.line().startswith("wheel: range(x) FAILED: 1 of 2 rows")


def test_failed_error_is_blocking_and_passed_line() -> None:
    failed = run({"check": "range", "column": "x", "max": 1}, frame(x=[0.0, 2.0]))
    assert failed.blocking
    passed = run({"check": "range", "column": "x", "max": 5}, frame(x=[0.0, 2.0]))
    assert not passed.blocking
    assert passed.line() == "src: range(x) passed: all 2 rows are in range"


# -- not_null ----------------------------------------------------------------------------


def test_not_null_passes_on_complete_data() -> None:
    result = run({"check": "not_null", "column": "x"}, frame(x=[1.0, 2.0, 3.0]))
    assert (result.passed, result.failing, result.total) == (True, 0, 3)
    assert result.message == "all 3 rows have values"
    assert result.sample == []


def test_not_null_catches_nan_and_none_in_any_of_its_columns() -> None:
    data = frame(t_s=[0.0, 0.1, 0.2, 0.3], x=[1.0, np.nan, 3.0, 4.0], s=["a", "b", None, "d"])
    result = run({"check": "not_null", "columns": ["x", "s"]}, data)
    assert (result.passed, result.failing, result.total) == (False, 2, 4)
    assert result.check == "not_null(x, s)"
    assert result.sample == [
        {"row": 1, "t_s": 0.1, "x": None, "s": "b"},
        {"row": 2, "t_s": 0.2, "x": 3.0, "s": None},
    ]
    assert result.message.startswith("2 of 4 rows (50.00%) fail; e.g. row 1: t_s=0.1, x=None")


def test_sample_is_capped_at_five_rows_and_message_at_three() -> None:
    result = run({"check": "not_null", "column": "x"}, frame(x=[np.nan] * 8))
    assert result.failing == 8
    assert [row["row"] for row in result.sample] == [0, 1, 2, 3, 4]
    assert result.message.count("row ") == 3


# -- unique ------------------------------------------------------------------------------


def test_unique_passes_on_distinct_values() -> None:
    result = run({"check": "unique", "column": "t_s"}, frame(t_s=[0.0, 0.01, 0.02]))
    assert (result.passed, result.failing) == (True, 0)
    assert result.message == "all 3 rows are unique"


def test_unique_counts_the_rows_after_each_first_occurrence() -> None:
    # as pandas' duplicated() and dbt count: 0.01 twice and 0.03 three times make 3
    # failing rows, 2 repeated keys and 5 rows involved
    data = frame(t_s=[0.0, 0.01, 0.01, 0.02, 0.03, 0.03, 0.03])
    result = run({"check": "unique", "column": "t_s"}, data)
    assert (result.passed, result.failing, result.total) == (False, 3, 7)
    assert [row["row"] for row in result.sample] == [2, 5, 6]
    assert result.sample[0] == {"row": 2, "t_s": 0.01}
    assert result.message.startswith("2 repeated keys in 5 rows; 3 of 7 rows (42.86%) fail;")


def test_unique_in_any_order_counts_the_same() -> None:
    data = frame(t_s=[0.03, 0.01, 0.03, 0.0, 0.01, 0.03, 0.02])
    result = run({"check": "unique", "column": "t_s"}, data)
    assert result.failing == 3
    assert [row["row"] for row in result.sample] == [2, 4, 5]
    assert result.message.startswith("2 repeated keys in 5 rows;")


def test_unique_on_a_sorted_column_finds_neighbours() -> None:
    # the linear path for ordered columns, increasing or decreasing
    increasing = frame(t_s=[0.0, 1.0, 1.0, 1.0, 2.0, 3.0, 3.0])
    result = run({"check": "unique", "column": "t_s"}, increasing)
    assert (result.failing, [r["row"] for r in result.sample]) == (3, [2, 3, 6])
    assert result.message.startswith("2 repeated keys in 5 rows;")
    decreasing = frame(t_s=[3.0, 3.0, 2.0, 1.0, 1.0, 1.0, 0.0])
    result = run({"check": "unique", "column": "t_s"}, decreasing)
    assert (result.failing, [r["row"] for r in result.sample]) == (3, [1, 4, 5])
    single = run({"check": "unique", "column": "t_s"}, frame(t_s=[0.0, 0.0]))
    assert single.message.startswith("1 repeated key in 2 rows;")


def test_unique_leaves_missing_keys_to_not_null() -> None:
    # as in SQL and dbt: a missing key is no key, so two of them are no repeat
    data = frame(k=[1.0, np.nan, np.nan, 2.0, 1.0], j=["a", "b", None, None, "a"])
    assert run({"check": "unique", "column": "k"}, data).failing == 1
    both = run({"check": "unique", "columns": ["k", "j"]}, data)
    assert (both.failing, both.sample) == (1, [{"row": 4, "k": 1.0, "j": "a"}])


def test_unique_over_several_columns_uses_the_combination() -> None:
    data = frame(a=[1, 1, 1, 2], b=[1, 2, 1, 1])
    result = run({"check": "unique", "columns": ["a", "b"]}, data)
    assert result.failing == 1
    assert result.sample == [{"row": 2, "a": 1, "b": 1}]
    assert result.message.startswith("1 repeated key in 2 rows;")


# -- range -------------------------------------------------------------------------------


def test_range_passes_inside_inclusive_bounds() -> None:
    result = run({"check": "range", "column": "x", "min": 0, "max": 1}, frame(x=[0.0, 0.5, 1.0]))
    assert (result.passed, result.failing, result.total) == (True, 0, 3)
    assert result.message == "all 3 rows are in range"


def test_range_fails_outside_with_sample_positions_and_values() -> None:
    data = frame(t_s=[0.0, 0.01, 0.02, 0.03, 0.04], fl=[10.0, 400.0, 20.0, -30.0, 30.0])
    result = run({"check": "range", "column": "fl", "min": -5, "max": 250}, data)
    assert (result.passed, result.failing, result.total) == (False, 2, 5)
    assert result.sample == [
        {"row": 1, "t_s": 0.01, "fl": 400.0},
        {"row": 3, "t_s": 0.03, "fl": -30.0},
    ]
    assert result.message == (
        "2 of 5 rows (40.00%) fail; e.g. row 1: t_s=0.01, fl=400; row 3: t_s=0.03, fl=-30"
    )


@pytest.mark.parametrize(
    ("bounds", "failing_rows"),
    [
        ({"min": 0, "max": 1}, []),
        ({"min": 0, "max": 1, "min_inclusive": False}, [0]),
        ({"min": 0, "max": 1, "max_inclusive": False}, [2]),
        ({"min": 0, "max": 1, "min_inclusive": False, "max_inclusive": False}, [0, 2]),
        ({"min": 0, "min_inclusive": False}, [0]),
        ({"max": 1, "max_inclusive": False}, [2]),
        ({"min": 0.5}, [0]),
        ({"max": 0.5}, [2]),
        ({"min": 0, "max": 0}, [1, 2]),
    ],
)
def test_range_bounds_and_inclusiveness(bounds: dict[str, Any], failing_rows: list[int]) -> None:
    result = run({"check": "range", "column": "x", **bounds}, frame(x=[0.0, 0.5, 1.0]))
    assert [row["row"] for row in result.sample] == failing_rows
    assert result.failing == len(failing_rows)


@pytest.mark.parametrize(
    "exclusive",
    [
        {"min_inclusive": False},
        {"max_inclusive": False},
        {"min_inclusive": False, "max_inclusive": False},
    ],
)
def test_range_with_an_empty_interval(exclusive: dict[str, bool]) -> None:
    # min == max with an exclusive side admits no value: either the configuration is
    # rejected when loaded, or every non-null row fails - evaluate() must never raise.
    item = {"check": "range", "column": "x", "min": 0, "max": 0, **exclusive}
    try:
        (spec,) = parse_checks([item], where="test")
    except ConfigError as exc:
        assert "min" in str(exc) and "max" in str(exc)
        return
    result = evaluate(spec, frame(x=[0.0, 1.0, np.nan]), source="src", lookup=no_lookup)
    assert not result.passed
    assert result.failing == 2


def test_range_ignores_nulls_but_not_infinities() -> None:
    data = frame(x=[np.nan, 1.0, np.inf, None, -np.inf])
    result = run({"check": "range", "column": "x", "min": 0, "max": 10}, data)
    assert result.failing == 2
    assert [row["row"] for row in result.sample] == [2, 4]


def test_range_on_integer_and_nullable_integer_columns() -> None:
    assert run({"check": "range", "column": "x", "min": 0}, frame(x=[1, -1, 2])).failing == 1
    nullable = frame(x=pd.Series([1, None, -1], dtype="Int64"))
    result = run({"check": "range", "column": "x", "min": 0}, nullable)
    assert result.failing == 1
    assert result.sample == [{"row": 2, "x": -1}]


def test_range_on_empty_frame_passes() -> None:
    result = run({"check": "range", "column": "x", "min": 0}, frame(x=pd.Series([], dtype=float)))
    assert (result.passed, result.failing, result.total) == (True, 0, 0)


def test_range_on_text_column_is_a_failed_result_not_an_exception() -> None:
    # "a check never raises on bad data: an impossible comparison is a failed result"
    result = run({"check": "range", "column": "s", "min": 0}, frame(s=["a", "b"]))
    assert not result.passed
    assert (result.failing, result.usable) == (0, False)


# -- allowed_values ----------------------------------------------------------------------


def test_allowed_values_pass_and_fail_ignoring_nulls() -> None:
    ok = run(
        {"check": "allowed_values", "column": "g", "values": ["D", "N", "R"]}, frame(g=["D", "N"])
    )
    assert ok.passed and ok.message == "all 2 rows hold allowed values"
    data = frame(g=["D", None, "X", "N", "P"])
    result = run({"check": "allowed_values", "column": "g", "values": ["D", "N", "R"]}, data)
    assert (result.passed, result.failing, result.total) == (False, 2, 5)
    assert result.sample == [{"row": 2, "g": "X"}, {"row": 4, "g": "P"}]
    assert "row 2: g='X'; row 4: g='P'" in result.message


def test_allowed_values_on_numbers_ignore_nan() -> None:
    data = frame(x=[1.0, np.nan, 3.0, 2.0])
    result = run({"check": "allowed_values", "column": "x", "values": [1, 2]}, data)
    assert result.failing == 1
    assert result.sample == [{"row": 2, "x": 3.0}]


# -- regex -------------------------------------------------------------------------------


def test_regex_pass_and_fail_ignoring_nulls() -> None:
    pattern = r"^[A-Z]{2}-\d{3}$"
    ok = run({"check": "regex", "column": "id", "pattern": pattern}, frame(id=["AB-123", "XY-999"]))
    assert ok.passed and ok.message == "all 2 rows match"
    data = frame(id=["AB-123", None, "ab-123", "AB-12", np.nan])
    result = run({"check": "regex", "column": "id", "pattern": pattern}, data)
    assert (result.failing, result.total) == (2, 5)
    assert result.sample == [{"row": 2, "id": "ab-123"}, {"row": 3, "id": "AB-12"}]


@pytest.mark.parametrize(
    ("match", "failing_rows"),
    [
        ({}, [1, 2, 3]),  # the whole value, by default
        ({"match": "full"}, [1, 2, 3]),
        ({"match": "start"}, [2, 3]),
        ({"match": "search"}, [3]),
    ],
)
def test_regex_matches_the_whole_value_unless_told(
    match: dict[str, str], failing_rows: list[int]
) -> None:
    # N\d+A must not pass values that merely begin that way
    data = frame(s=["N12A", "N12AB", "xN12A", "xyz"])
    result = run({"check": "regex", "column": "s", "pattern": r"N\d+A", **match}, data)
    assert [row["row"] for row in result.sample] == failing_rows
    assert result.failing == len(failing_rows)


def test_regex_on_numbers_matches_their_text() -> None:
    data = frame(x=[1.5, -2.0, np.nan])
    result = run({"check": "regex", "column": "x", "pattern": r"\d+\.\d+"}, data)
    assert result.failing == 1
    assert result.sample == [{"row": 1, "x": -2.0}]


# -- schema ------------------------------------------------------------------------------


@pytest.fixture
def typed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "f": [1.0, 2.0],
            "i": [1, 2],
            "i32": np.array([1, 2], dtype="int32"),
            "b": [True, False],
            "s": ["a", "b"],
            "d": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )


@pytest.mark.parametrize(
    ("column", "matches", "mismatches"),
    [
        (
            "f",
            ["float", "numeric", "float64", "FLOAT", "Float64"],
            ["int", "bool", "str", "datetime", "float32"],
        ),
        ("i", ["int", "numeric", "int64"], ["float", "bool", "str", "datetime", "int32"]),
        ("i32", ["int", "numeric", "int32"], ["float", "int64", "datetime"]),
        ("b", ["bool"], ["float", "int", "str", "datetime"]),
        ("s", ["str", "string"], ["float", "int", "numeric", "bool", "datetime"]),
        ("d", ["datetime"], ["float", "int", "numeric", "bool", "str"]),
    ],
)
def test_schema_dtype_families_and_exact_names(
    typed: pd.DataFrame, column: str, matches: list[str], mismatches: list[str]
) -> None:
    for dtype in matches:
        result = run({"check": "schema", "columns": {column: dtype}}, typed)
        assert result.passed, (column, dtype, result.message)
    for dtype in mismatches:
        result = run({"check": "schema", "columns": {column: dtype}}, typed)
        assert not result.passed, (column, dtype)
        assert result.message == f"column '{column}' is {typed[column].dtype}, expected {dtype}"


def test_schema_exact_datetime_name(typed: pd.DataFrame) -> None:
    exact = str(typed["d"].dtype)
    assert run({"check": "schema", "columns": {"d": exact}}, typed).passed


def test_schema_passes_and_counts_columns(typed: pd.DataFrame) -> None:
    result = run({"check": "schema", "columns": {"f": "float", "s": None, "d": "datetime"}}, typed)
    assert (result.passed, result.failing, result.total) == (True, 0, 3)
    assert result.message == "all 3 columns present with their types"


def test_schema_missing_column_and_wrong_type_are_listed(typed: pd.DataFrame) -> None:
    result = run({"check": "schema", "columns": {"f": "int", "nope": None, "s": "str"}}, typed)
    assert (result.passed, result.failing, result.total) == (False, 2, 3)
    assert result.message == "column 'f' is float64, expected int; column 'nope' is missing"


def test_schema_strict_rejects_extra_columns(typed: pd.DataFrame) -> None:
    columns = {c: None for c in typed.columns}
    assert run({"check": "schema", "columns": columns, "strict": True}, typed).passed
    lenient = run({"check": "schema", "columns": {"f": "float"}}, typed)
    assert lenient.passed
    strict = run({"check": "schema", "columns": {"f": "float", "i": None}, "strict": True}, typed)
    assert not strict.passed
    assert strict.failing == 4
    assert strict.message == (
        "unexpected column 'i32'; unexpected column 'b'; unexpected column 's'; "
        "unexpected column 'd'"
    )


# -- row_count ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bounds", "rows", "passed", "text"),
    [
        ({"min": 1, "max": 5}, 3, True, "3 rows, within 1..5"),
        ({"min": 3, "max": 3}, 3, True, "3 rows, within 3..3"),
        ({"min": 4}, 3, False, "3 rows, outside 4..∞ (1 too few)"),
        ({"max": 2}, 3, False, "3 rows, outside 0..2 (1 too many)"),
        ({"max": 2}, 0, True, "0 rows, within 0..2"),
        ({"min": 1}, 0, False, "0 rows, outside 1..∞ (1 too few)"),
        ({"min": 1000}, 1500, True, "1,500 rows, within 1,000..∞"),
        ({"min": 0, "max": 100}, 130, False, "130 rows, outside 0..100 (30 too many)"),
        ({"min": 50, "max": 100}, 8, False, "8 rows, outside 50..100 (42 too few)"),
    ],
)
def test_row_count_bounds(bounds: dict[str, Any], rows: int, passed: bool, text: str) -> None:
    # failing is the distance to the bound the count violates, not 1
    result = run({"check": "row_count", **bounds}, frame(x=np.arange(rows, dtype=float)))
    assert result.passed is passed
    low, high = bounds.get("min", 0), bounds.get("max", rows)
    assert result.failing == max(low - rows, rows - high, 0)
    assert result.total == rows
    assert result.message == text


# -- monotonic ---------------------------------------------------------------------------


def test_monotonic_passes_on_increasing_values() -> None:
    result = run({"check": "monotonic", "column": "t"}, frame(t=[0.0, 0.1, 0.25, 1.0]))
    assert result.passed and result.message == "all 4 rows increase"


def test_monotonic_strict_rejects_repeats_non_strict_accepts_them() -> None:
    data = frame(t=[0.0, 1.0, 1.0, 2.0])
    strict = run({"check": "monotonic", "column": "t"}, data)
    assert (strict.passed, strict.failing) == (False, 1)
    assert strict.sample == [{"row": 2, "t": 1.0}]
    assert strict.message.startswith("1 step not increasing; 1 of 4 rows")
    assert run({"check": "monotonic", "column": "t", "strict": False}, data).passed


def test_monotonic_non_strict_rejects_decreases() -> None:
    data = frame(t=[0.0, 2.0, 1.0, 3.0])
    result = run({"check": "monotonic", "column": "t", "strict": False}, data)
    assert (result.failing, result.sample) == (1, [{"row": 2, "t": 1.0}])
    assert result.message.startswith("1 step decreasing;")


def test_monotonic_max_gap_names_the_largest_gap() -> None:
    data = frame(t_s=[0.0, 1.0, 5.0, 6.0, 16.0, 17.0])
    result = run({"check": "monotonic", "column": "t_s", "max_gap": 2}, data)
    assert (result.passed, result.failing, result.total) == (False, 2, 6)
    assert [row["row"] for row in result.sample] == [2, 4]
    assert result.message.startswith("2 gaps over 2s (largest 10s after t_s=6, row 3); 2 of 6 rows")
    ok = run({"check": "monotonic", "column": "t_s", "max_gap": 10}, data)
    assert ok.passed
    assert ok.message == "all 6 rows increase by at most 10s"


def test_monotonic_reports_both_backward_steps_and_gaps() -> None:
    data = frame(t=[0.0, 1.0, 2.0, 5.0, 5.0, 4.0, 10.0])
    result = run({"check": "monotonic", "column": "t", "max_gap": 1.5}, data)
    assert result.failing == 4
    assert [row["row"] for row in result.sample] == [3, 4, 5, 6]
    assert result.message.startswith(
        "2 steps not increasing, 2 gaps over 1.5s (largest 6s after t=4, row 5);"
    )


def test_monotonic_on_datetimes() -> None:
    data = frame(t=pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-03"]))
    result = run({"check": "monotonic", "column": "t"}, data)
    assert result.failing == 1
    assert [row["row"] for row in result.sample] == [1]


def test_monotonic_on_text_is_a_failed_result() -> None:
    # text cannot be compared as numbers: silently passing would hide the problem
    result = run({"check": "monotonic", "column": "t"}, frame(t=["b", "a"]))
    assert not result.passed


# -- stuck -------------------------------------------------------------------------------


def test_stuck_passes_when_runs_are_short_enough() -> None:
    data = frame(ax=[1.0, 1.0, 1.0, 2.0, 2.0, 3.0])
    result = run({"check": "stuck", "column": "ax", "max_repeats": 3}, data)
    assert result.passed and result.message == "all 6 rows change within 3 samples"


def test_stuck_flags_every_row_of_each_long_run() -> None:
    data = frame(t_s=np.arange(12) / 10, ax=[1.0, 1, 1, 2, 3, 3, 3, 3, 4, 5, 5, 5])
    result = run({"check": "stuck", "column": "ax", "max_repeats": 2}, data)
    assert (result.passed, result.failing, result.total) == (False, 10, 12)
    assert [row["row"] for row in result.sample] == [0, 1, 2, 4, 5]
    assert result.sample[3] == {"row": 4, "t_s": 0.4, "ax": 3.0}
    assert result.message.startswith(
        "3 run(s) of one value longer than 2 samples (longest 4 samples of 3 from row 4); "
        "10 of 12 rows"
    )


def test_stuck_run_of_exactly_max_repeats_passes() -> None:
    data = frame(x=[7] * 5 + [8])
    assert run({"check": "stuck", "column": "x", "max_repeats": 5}, data).passed
    assert run({"check": "stuck", "column": "x", "max_repeats": 4}, data).failing == 5


def test_stuck_on_strings() -> None:
    data = frame(s=["a", "a", "a", "b"])
    result = run({"check": "stuck", "column": "s", "max_repeats": 2}, data)
    assert result.failing == 3
    assert "of 'a' from row 0" in result.message


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([1.0, np.nan, np.nan, np.nan, np.nan, 2.0]),
        pd.Series([1.0, None, None, None, None, 2.0], dtype="Float64"),
        pd.Series([1, None, None, None, None, 2], dtype="Int64"),
        pd.Series(["a", None, None, None, None, "b"]),
        pd.Series(["a", None, None, None, None, "b"], dtype=object),
    ],
    ids=["float-nan", "Float64-NA", "Int64-NA", "str-missing", "object-None"],
)
def test_stuck_ignores_runs_of_missing_values(values: pd.Series) -> None:
    result = run({"check": "stuck", "column": "x", "max_repeats": 2}, frame(x=values))
    assert result.passed, result.message
    assert result.failing == 0


def test_stuck_on_empty_frame() -> None:
    result = run(
        {"check": "stuck", "column": "x", "max_repeats": 1}, frame(x=pd.Series([], dtype=float))
    )
    assert (result.passed, result.total) == (True, 0)


# -- referential -------------------------------------------------------------------------


def test_referential_looks_up_the_reference_source() -> None:
    seen: list[str] = []
    trips = frame(id=[1, 2, 3, None])

    def lookup(name: str) -> Any:
        seen.append(name)
        return trips

    data = frame(trip=[1.0, 2.0, 4.0, None, 5.0, 3.0])
    result = run(
        {"check": "referential", "column": "trip", "reference": "trips", "reference_column": "id"},
        data,
        lookup=lookup,
    )
    assert seen == ["trips"]
    assert (result.passed, result.failing, result.total) == (False, 2, 6)
    assert result.sample == [{"row": 2, "trip": 4.0}, {"row": 4, "trip": 5.0}]
    ok = run(
        {"check": "referential", "column": "trip", "reference": "trips", "reference_column": "id"},
        frame(trip=[1, 3, 3]),
        lookup=lookup,
    )
    assert ok.passed
    assert ok.message == "all 3 rows exist in trips.id"


def test_referential_defaults_to_the_same_column_name() -> None:
    keys = frame(code=["A", "B"])
    result = run(
        {"check": "referential", "column": "code", "reference": "codes"},
        frame(code=["A", "C", "B"]),
        lookup=lambda name: keys,
    )
    assert result.failing == 1
    assert result.sample == [{"row": 1, "code": "C"}]


def test_referential_with_missing_reference_column_fails() -> None:
    result = run(
        {"check": "referential", "column": "k", "reference": "ref", "reference_column": "zz"},
        frame(k=[1, 2, 3]),
        lookup=lambda name: frame(id=[1]),
    )
    assert (result.passed, result.failing, result.total) == (False, 0, 3)
    assert result.message == "reference 'ref' has no column 'zz'"


# -- drift -------------------------------------------------------------------------------

RNG_SEED = 20240611


@pytest.fixture(scope="module")
def normals() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(RNG_SEED)
    return {
        "reference": frame(v=rng.normal(0.0, 1.0, 10_000)),
        "same": frame(v=rng.normal(0.0, 1.0, 10_000)),
        "shifted": frame(v=rng.normal(1.0, 1.0, 10_000)),
    }


def statistic(message: str, method: str) -> float:
    match = re.match(rf"{method} (\d+\.\d{{4}}) against ", message)
    assert match, message
    return float(match.group(1))


@pytest.mark.parametrize(("method", "limit"), [("psi", "0.2"), ("ks", "0.1")])
def test_drift_same_distribution_passes(
    normals: dict[str, pd.DataFrame], method: str, limit: str
) -> None:
    result = run(
        {"check": "drift", "column": "v", "reference": "baseline", "method": method},
        normals["same"],
        lookup=lambda name: normals["reference"],
    )
    assert result.passed, result.message
    assert (result.failing, result.total) == (0, 10_000)
    assert f"against baseline.v is within the threshold {limit}" in result.message
    assert statistic(result.message, method.upper()) < 0.05


@pytest.mark.parametrize(("method", "limit"), [("psi", "0.2"), ("ks", "0.1")])
def test_drift_shifted_distribution_fails_with_its_statistic(
    normals: dict[str, pd.DataFrame], method: str, limit: str
) -> None:
    result = run(
        {"check": "drift", "column": "v", "reference": "baseline", "method": method},
        normals["shifted"],
        lookup=lambda name: normals["reference"],
    )
    assert not result.passed
    assert result.failing == 1
    assert f"against baseline.v is above the threshold {limit}" in result.message
    value = statistic(result.message, method.upper())
    if method == "ks":
        # two normals one sigma apart: sup |F0 - F1| = 2 * Phi(0.5) - 1 = 0.383
        assert value == pytest.approx(0.383, abs=0.03)
    else:
        assert value > 0.5


def test_drift_custom_threshold_and_reference_column(normals: dict[str, pd.DataFrame]) -> None:
    reference = normals["reference"].rename(columns={"v": "speed"})
    result = run(
        {
            "check": "drift",
            "column": "v",
            "reference": "baseline",
            "reference_column": "speed",
            "method": "ks",
            "threshold": 0.5,
        },
        normals["shifted"],
        lookup=lambda name: reference,
    )
    assert result.passed
    assert "against baseline.speed is within the threshold 0.5" in result.message


def test_drift_missing_reference_column_and_no_values(normals: dict[str, pd.DataFrame]) -> None:
    missing = run(
        {"check": "drift", "column": "v", "reference": "base", "reference_column": "w"},
        normals["same"],
        lookup=lambda name: normals["reference"],
    )
    assert not missing.passed
    assert missing.message == "reference 'base' has no column 'w'"
    empty = run(
        {"check": "drift", "column": "v", "reference": "base"},
        frame(v=[np.nan, np.nan]),
        lookup=lambda name: normals["reference"],
    )
    assert not empty.passed
    assert empty.message == "no values to compare"


def test_drift_ignores_nan_in_both_sides(normals: dict[str, pd.DataFrame]) -> None:
    same = normals["same"].copy()
    same.loc[::10, "v"] = np.nan
    result = run(
        {"check": "drift", "column": "v", "reference": "base", "method": "ks"},
        same,
        lookup=lambda name: normals["reference"],
    )
    assert result.passed


# -- tolerance ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tolerance", "passed"), [(0.0, False), (0.3, False), (0.39, False), (0.4, True), (1.0, True)]
)
def test_tolerance_lets_a_share_of_rows_fail(tolerance: float, passed: bool) -> None:
    data = frame(x=[1, 1, 1, 3, 4])  # 2 of 5 rows (40 %) repeat an earlier key
    result = run({"check": "unique", "column": "x", "tolerance": tolerance}, data)
    assert result.failing == 2
    assert result.passed is passed
    if tolerance:
        assert f"(tolerance {tolerance:.2%})" in result.message
    else:
        assert "tolerance" not in result.message


def test_tolerance_passes_with_failing_rows_still_reported() -> None:
    result = run(
        {"check": "range", "column": "x", "max": 10, "tolerance": 0.5}, frame(x=[1.0, 20.0, 3.0])
    )
    assert result.passed
    assert result.failing == 1
    assert result.sample == [{"row": 1, "x": 20.0}]


@pytest.mark.parametrize(
    ("failing", "total", "tolerance"), [(29, 100, 0.29), (7, 100, 0.07), (3, 10, 0.3)]
)
def test_tolerance_boundary_is_inclusive_despite_float_rounding(
    failing: int, total: int, tolerance: float
) -> None:
    # failing / total == tolerance exactly: the share allowed to fail is reached, not exceeded
    data = frame(x=[np.nan] * failing + [1.0] * (total - failing))
    result = run({"check": "not_null", "column": "x", "tolerance": tolerance}, data)
    assert result.failing == failing
    assert result.passed, result.message


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        {"check": "not_null", "column": "missing"},
        {"check": "unique", "columns": ["x", "missing"]},
        {"check": "range", "column": "missing", "min": 0},
        {"check": "allowed_values", "column": "missing", "values": [1]},
        {"check": "regex", "column": "missing", "pattern": "x"},
        {"check": "monotonic", "column": "missing"},
        {"check": "stuck", "column": "missing", "max_repeats": 2},
        {"check": "referential", "column": "missing", "reference": "r"},
        {"check": "drift", "column": "missing", "reference": "r"},
    ],
)
def test_missing_column_is_a_failed_result(item: dict[str, Any]) -> None:
    result = run({**item, "severity": "warn"}, frame(x=[1.0, 2.0, 3.0], y=[1, 2, 3]))
    assert not result.passed
    assert result.message == "column 'missing' is missing (columns: x, y)"
    # a mistake in the check, not failing rows: it stops the run whatever its severity
    assert (result.failing, result.total, result.usable) == (0, 3, False)
    assert result.blocking


def test_schema_missing_column_is_its_own_message() -> None:
    result = run({"check": "schema", "columns": {"missing": None}}, frame(x=[1]))
    assert not result.passed
    assert result.message == "column 'missing' is missing"


@pytest.mark.parametrize(
    ("value", "kind"),
    [([1, 2], "list"), (None, "NoneType"), (pd.Series([1.0]), "Series"), ({"x": [1]}, "dict")],
)
def test_non_dataframe_input_is_a_failed_result(value: Any, kind: str) -> None:
    for item in (
        {"check": "not_null", "column": "x"},
        {"check": "row_count", "min": 1},
        {"check": "schema", "columns": {"x": None}},
    ):
        result = run(item, value)
        assert not result.passed
        assert (result.failing, result.total, result.blocking) == (0, 0, True)
        assert result.message == f"is a {kind}, not a DataFrame; checks need a table"


# -- index handling ----------------------------------------------------------------------

INDEXED = [
    {"check": "not_null", "column": "x"},
    {"check": "unique", "column": "x"},
    {"check": "range", "column": "x", "min": 0, "max": 5},
    {"check": "allowed_values", "column": "x", "values": [1.0, 2.0, 3.0]},
    {"check": "regex", "column": "s", "pattern": "^[ab]$"},
    {"check": "monotonic", "column": "x", "max_gap": 2},
    {"check": "stuck", "column": "x", "max_repeats": 1},
    {"check": "referential", "column": "x", "reference": "r"},
]
VALUES = {
    "x": [1.0, 2.0, 2.0, 9.0, -1.0, np.nan, 3.0, 3.0],
    "s": ["a", "b", "c", None, "a", "zz", "b", "a"],
}
INDEXES = {
    "duplicate": [7, 7, 3, 3, 1, 1, 0, 0],
    "strings": list("hgfedcba"),
    "offset-range": pd.RangeIndex(100, 108),
    "stepped-range": pd.RangeIndex(0, 16, 2),
    "multi": pd.MultiIndex.from_tuples([(1, 1)] * 8),
}


@pytest.mark.parametrize("item", INDEXED, ids=[i["check"] for i in INDEXED])
@pytest.mark.parametrize("index", list(INDEXES), ids=list(INDEXES))
def test_results_do_not_depend_on_the_index(item: dict[str, Any], index: str) -> None:
    reference = frame(x=[1.0, 2.0, 3.0])

    def lookup(name: str) -> Any:
        return reference

    plain = run(item, pd.DataFrame(VALUES), lookup=lookup)
    indexed = run(item, pd.DataFrame(VALUES, index=INDEXES[index]), lookup=lookup)
    assert plain.failing > 0, plain.message
    assert indexed == plain


def test_sample_rows_are_positions_not_index_labels() -> None:
    data = pd.DataFrame({"x": [1.0, 50.0, 2.0, 60.0]}, index=[10, 10, 20, 20])
    result = run({"check": "range", "column": "x", "max": 10}, data)
    assert result.sample == [{"row": 1, "x": 50.0}, {"row": 3, "x": 60.0}]


def test_evaluate_does_not_change_the_frame() -> None:
    data = pd.DataFrame({"x": [1.0, 50.0]}, index=[5, 5])
    before = data.copy()
    run({"check": "range", "column": "x", "max": 10}, data)
    pd.testing.assert_frame_equal(data, before)


# -- results_frame -----------------------------------------------------------------------

FIELDS = [
    "source",
    "check",
    "severity",
    "passed",
    "failing",
    "total",
    "message",
    "sample",
    "params",
    "step",
    "usable",
]


def test_results_frame_has_one_row_per_result_with_json_sample_and_params() -> None:
    results = [
        run(
            {"check": "range", "column": "x", "max": 1, "tolerance": 0.1},
            frame(t_s=[0.5, 1.5], x=[0.0, 2.0]),
            source="wheel",
            step="Reader",
        ),
        run(
            {"check": "monotonic", "column": "t"},
            frame(t=pd.to_datetime(["2024-01-02", "2024-01-01"])),
            source="log",
            step="Gate",
        ),
        run({"check": "row_count", "min": 1}, frame(x=[1]), source="tiny", step="Gate"),
    ]
    table = results_frame(results)
    assert list(table.columns) == FIELDS
    assert len(table) == 3
    assert table["source"].tolist() == ["wheel", "log", "tiny"]
    assert table["step"].tolist() == ["Reader", "Gate", "Gate"]
    assert table["passed"].tolist() == [False, False, True]
    assert table["failing"].tolist() == [1, 1, 0]
    assert json.loads(table["sample"][0]) == [{"row": 1, "t_s": 1.5, "x": 2.0}]
    assert json.loads(table["params"][0]) == {
        "check": "range",
        "severity": "error",
        "tolerance": 0.1,
        "column": "x",
        "min": None,
        "max": 1.0,
        "min_inclusive": True,
        "max_inclusive": True,
    }
    # timestamps in a sample are written as text, never lost
    (row,) = json.loads(table["sample"][1])
    assert row["row"] == 1 and row["t"].startswith("2024-01-01")
    assert json.loads(table["sample"][2]) == []


def test_results_frame_of_no_results_keeps_the_columns() -> None:
    table = results_frame([])
    assert list(table.columns) == FIELDS
    assert table.empty


def test_results_frame_can_be_written_to_parquet(tmp_path: Any) -> None:
    results = [
        run({"check": "not_null", "column": "x"}, frame(x=[np.nan, 1.0])),
        run({"check": "schema", "columns": {"x": "float"}}, frame(x=[1.0])),
    ]
    target = tmp_path / "quality_results.parquet"
    results_frame(results).to_parquet(target)
    back = pd.read_parquet(target)
    assert back["check"].tolist() == ["not_null(x)", "schema(x)"]
    assert json.loads(back["sample"][0]) == [{"row": 0, "x": None}]


# -- properties --------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def range_cases(draw: st.DrawFn) -> tuple[list[float], dict[str, Any]]:
    values = draw(
        st.lists(
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True),
                st.sampled_from([0.0, 1.0, -1.0, 2.5]),  # hit the bounds sometimes
            ),
            max_size=40,
        )
    )
    low = draw(st.one_of(st.none(), st.sampled_from([0.0, -1.0, 1.0]), finite))
    high = draw(st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.5]), finite))
    if low is None and high is None:
        low = 0.0
    if low is not None and high is not None and low > high:
        low, high = high, low
    params: dict[str, Any] = {
        "min_inclusive": draw(st.booleans()),
        "max_inclusive": draw(st.booleans()),
    }
    if low is not None and low == high:
        # an empty interval is its own test: test_range_with_an_empty_interval
        params["min_inclusive"] = params["max_inclusive"] = True
    if low is not None:
        params["min"] = low
    if high is not None:
        params["max"] = high
    return values, params


@settings(max_examples=150, deadline=None)
@given(range_cases())
def test_range_failing_count_matches_numpy(case: tuple[list[float], dict[str, Any]]) -> None:
    values, params = case
    x = np.array(values, dtype=float)
    ok = np.ones(len(x), dtype=bool)
    with np.errstate(invalid="ignore"):
        if "min" in params:
            ok &= x >= params["min"] if params["min_inclusive"] else x > params["min"]
        if "max" in params:
            ok &= x <= params["max"] if params["max_inclusive"] else x < params["max"]
    expected = int((~ok & ~np.isnan(x)).sum())
    result = run({"check": "range", "column": "x", **params}, frame(x=x))
    assert result.failing == expected
    assert result.total == len(x)
    assert result.passed is (expected == 0)
    assert [row["row"] for row in result.sample] == list(np.flatnonzero(~ok & ~np.isnan(x))[:5])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)), max_size=30),
    st.booleans(),
)
def test_unique_failing_count_matches_pandas_duplicated(
    rows: list[tuple[int, int]], both: bool
) -> None:
    data = pd.DataFrame(rows, columns=["a", "b"], dtype="int64")
    columns = ["a", "b"] if both else ["a"]
    result = run({"check": "unique", "columns": columns}, data)
    assert result.failing == int(data.duplicated(subset=columns, keep="first").sum())
    keys = [tuple(r[: len(columns)]) for r in rows]
    counts = Counter(keys)
    assert result.failing == len(keys) - len(counts)
    repeated = sum(1 for n in counts.values() if n > 1)
    involved = sum(n for n in counts.values() if n > 1)
    if repeated:
        assert result.message.startswith(
            f"{repeated} repeated key{'s' if repeated > 1 else ''} in {involved} rows;"
        )
    assert result.passed is (result.failing == 0)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(finite, st.integers(-5, 5).map(float)), max_size=40),
    st.booleans(),
    st.one_of(st.none(), st.floats(min_value=0.01, max_value=1e3)),
)
def test_monotonic_failing_count_matches_reference(
    values: list[float], strict: bool, max_gap: float | None
) -> None:
    bad_rows = []
    for i in range(1, len(values)):
        step = values[i] - values[i - 1]
        backward = step <= 0 if strict else step < 0
        gap = max_gap is not None and step > max_gap
        if backward or gap:
            bad_rows.append(i)
    item: dict[str, Any] = {"check": "monotonic", "column": "t", "strict": strict}
    if max_gap is not None:
        item["max_gap"] = max_gap
    result = run(item, frame(t=np.array(values, dtype=float)))
    assert result.failing == len(bad_rows)
    assert result.passed is (not bad_rows)
    assert [row["row"] for row in result.sample] == bad_rows[:5]
