"""Rules across columns and rows: compare, constant and where, as written in YAML."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from datareplay.errors import ConfigError
from datareplay.quality.evaluate import CheckResult, evaluate
from datareplay.quality.specs import parse_checks


def run(item: dict[str, Any] | str, frame: pd.DataFrame) -> CheckResult:
    if isinstance(item, str):
        item = yaml.safe_load(item)
    (spec,) = parse_checks([item], where="test")
    return evaluate(spec, frame, source="weather", lookup=lambda name: frame)


@pytest.fixture
def weather() -> pd.DataFrame:
    """A few days shaped like the public Seattle weather data, with planted mistakes."""
    return pd.DataFrame(
        {
            "date": pd.to_datetime(
                [f"2015-01-{day:02d}" for day in range(1, 11)]
            ),  # datetime64[us]
            "station": ["SEA"] * 9 + ["SEA "],
            "precipitation": [0.0, 0.0, 1.5, 0.3, None, 0.0, 8.1, 0.0, 2.0, 0.0],
            "temp_max": [12.8, 10.6, 4.4, 2.1, 7.2, 13.9, 5.0, 15.6, 1.1, 10.0],
            "temp_min": [5.0, 2.8, 16.1, -2.7, 3.3, 6.1, 1.1, 16.0, -3.2, None],
            "weather": ["sun", "sun", "rain", "snow", "fog", "sun", "rain", None, "snow", "sun"],
        }
    )


# -- the findings the issue could not express --------------------------------------------


def test_a_relation_between_two_columns(weather: pd.DataFrame) -> None:
    result = run("{check: compare, column: temp_min, op: '<=', other: temp_max}", weather)
    assert (result.failing, result.total) == (2, 10)  # rows 2 and 7; row 9 lacks temp_min
    assert result.check == "compare(temp_min <= temp_max)"
    assert [row["row"] for row in result.sample] == [2, 7]
    assert result.sample[0] == {"row": 2, "temp_min": 16.1, "temp_max": 4.4}
    ok = run(
        "{check: compare, column: temp_min, op: '<', other: temp_max, tolerance: 0.2}", weather
    )
    assert ok.passed and ok.failing == 2


def test_a_sunny_day_has_no_precipitation(weather: pd.DataFrame) -> None:
    text = "{check: compare, column: precipitation, op: '==', value: 0, where: {column: weather, '==': sun}}"
    result = run(text, weather)
    assert (result.passed, result.failing, result.total) == (True, 0, 4)
    assert result.message == "all 4 rows where weather == 'sun' have precipitation == 0"
    assert result.check == "compare(precipitation == 0) where weather == 'sun'"
    weather.loc[5, "precipitation"] = 0.5
    failed = run(text, weather)
    assert (failed.failing, failed.total) == (1, 4)
    assert failed.message.startswith(
        "1 of 4 rows where weather == 'sun' (25.00%) fail; e.g. row 5: precipitation=0.5, "
        "weather='sun'"
    )


def test_a_snowy_day_is_not_warm(weather: pd.DataFrame) -> None:
    text = """
    check: range
    column: temp_max
    max: 5
    where: {column: weather, in: [snow]}
    """
    result = run(text, weather)
    assert (result.failing, result.total) == (0, 2)
    weather.loc[3, "temp_max"] = 9.0
    assert run(text, weather).failing == 1


def test_a_column_that_must_be_constant(weather: pd.DataFrame) -> None:
    result = run("{check: constant, column: station}", weather)
    assert (result.failing, result.total) == (1, 10)
    assert result.message.startswith(
        "most common value 'SEA' (9 rows); 1 of 10 rows (10.00%) fail; e.g. row 9: station='SEA '"
    )
    pinned = run("{check: constant, column: station, value: SEA}", weather)
    assert pinned.failing == 1 and pinned.message.startswith("expected 'SEA';")


# -- where: the grammar ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "rows"),
    [
        ("{column: weather, op: '==', value: sun}", [0, 1, 5, 9]),
        ("{column: weather, '==': sun}", [0, 1, 5, 9]),
        ("{column: weather, '!=': sun}", [2, 3, 4, 6, 8]),  # row 7 has no weather
        ("{column: weather, in: [rain, snow]}", [2, 3, 6, 8]),
        ("{column: weather, not in: [rain, snow]}", [0, 1, 4, 5, 9]),
        ("{column: weather, is: null}", [7]),
        ("{column: weather, is: 'null'}", [7]),
        ("{column: weather, is: not null}", [0, 1, 2, 3, 4, 5, 6, 8, 9]),
        ("{column: precipitation, '>': 1}", [2, 6, 8]),
        ("{column: precipitation, '<=': 0}", [0, 1, 5, 7, 9]),
        ("{column: temp_min, '<': 0}", [3, 8]),
        ("{column: date, '>=': 2015-01-08}", [7, 8, 9]),  # YAML reads an unquoted date
        ("{column: date, '<': '2015-01-02 12:00'}", [0, 1]),
        ("{all: [{column: weather, '==': sun}, {column: temp_max, '>': 11}]}", [0, 5]),
        ("{any: [{column: weather, '==': fog}, {column: precipitation, is: null}]}", [4]),
        (
            "{any: [{all: [{column: weather, '==': rain}, {column: precipitation, '>': 5}]},"
            " {column: weather, is: null}]}",
            [6, 7],
        ),
    ],
)
def test_where_selects_the_rows(weather: pd.DataFrame, where: str, rows: list[int]) -> None:
    # not_null on a column missing everywhere: every selected row fails, at its position
    weather["nothing"] = np.nan
    result = run(
        {"check": "not_null", "column": "nothing", "where": yaml.safe_load(where)}, weather
    )
    assert result.total == len(rows)
    assert result.failing == len(rows)
    assert [row["row"] for row in result.sample] == rows[:5]


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ({"column": "w", "==": "sun"}, "w == 'sun'"),
        ({"column": "w", "op": "!=", "value": 3}, "w != 3"),
        ({"column": "w", "in": ["a", "b"]}, "w in ['a', 'b']"),
        ({"column": "w", "not in": [1]}, "w not in [1]"),
        ({"column": "w", "is": None}, "w is null"),
        ({"column": "w", "is": "not null"}, "w is not null"),
        (
            {
                "all": [
                    {"column": "a", ">": 1},
                    {"any": [{"column": "b", "is": None}, {"column": "c", "<": 2}]},
                ]
            },
            "a > 1 and (b is null or c < 2)",
        ),
    ],
)
def test_where_is_described_and_read_back(where: dict[str, Any], text: str) -> None:
    (spec,) = parse_checks([{"check": "row_count", "where": where}], where="w")
    assert spec.describe() == f"row_count where {text}"
    (again,) = parse_checks([spec.as_dict()], where="w")
    assert again.params == spec.params


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            "weather == sun",
            r"where: a condition is a mapping such as \{column: weather, '==': sun\}",
        ),
        ({}, r"where: a condition is a mapping"),
        (
            {"colum": "w", "==": 1},
            r"where: a condition names a 'column' .*; did you mean 'column'\?",
        ),
        ({"column": "w", "=": 1}, r"where: unknown key '='; did you mean '=='\?"),
        (
            {"column": "w", "op": "=<", "value": 1},
            r"where: op: unknown operator '=<'; did you mean '<='\? \(operators: <, <=, ==, !=, >=, >\)",
        ),
        ({"column": "w", "op": "=="}, r"where: op and value go together"),
        ({"column": "w", "==": 1, "in": [1]}, r"where: test 'w' in one way"),
        ({"column": "w"}, r"where: test 'w' in one way, .* \(found nothing\)"),
        (
            {"column": "w", "==": None},
            r"where: ==: a missing value matches nothing; test it with is: null",
        ),
        ({"column": "w", "in": []}, r"where: in: give a non-empty list of values"),
        ({"column": "w", "in": "sun"}, r"where: in: give a non-empty list of values, got 'sun'"),
        ({"column": "w", "in": ["a", None]}, r"where: in\[1\]: a missing value matches nothing"),
        ({"column": "w", "==": [1]}, r"where: ==: \[1\] is not a single value"),
        ({"column": "w", "is": "empty"}, r"where: is: write is: null or is: not null, got 'empty'"),
        ({"column": 3, "==": 1}, r"where: column: a column name is text, got 3"),
        ({"all": []}, r"where: all: give a non-empty list of conditions"),
        ({"any": [{"column": "w", "in": []}]}, r"where: any\[0\].in: give a non-empty list"),
        (
            {"all": [{"column": "a", "==": 1}], "column": "b"},
            r"where: 'all' stands alone in its mapping",
        ),
    ],
)
def test_where_mistakes_are_named_when_loaded(where: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^w\[0\]: check 'range': {message}"):
        parse_checks([{"check": "range", "column": "x", "min": 0, "where": where}], where="w")


def test_schema_takes_no_where() -> None:
    item = {"check": "schema", "columns": {"x": None}, "where": {"column": "x", "is": None}}
    with pytest.raises(ConfigError, match=r"where: schema judges columns, not rows"):
        parse_checks([item], where="w")


# -- where: semantics --------------------------------------------------------------------


def test_missing_values_in_a_where_column_never_match_a_comparison() -> None:
    # SQL's WHERE: x != 1 and x not in [1] do not pick rows where x is missing
    frame = pd.DataFrame({"x": pd.Series([1, None, 2], dtype="Int64"), "y": [0, 0, 0]})
    for where in ({"column": "x", "!=": 1}, {"column": "x", "not in": [1]}):
        assert run({"check": "row_count", "where": where}, frame).total == 1
    assert run({"check": "row_count", "where": {"column": "x", "is": None}}, frame).total == 1


def test_no_matching_rows_pass_with_a_total_of_zero_and_say_so() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "w": ["a", "b"]})
    result = run(
        {"check": "range", "column": "x", "max": 0, "where": {"column": "w", "==": "z"}}, frame
    )
    assert (result.passed, result.failing, result.total) == (True, 0, 0)
    assert result.message == "no rows where w == 'z' (of 2 rows); nothing to judge"


@pytest.mark.parametrize(
    ("item", "failing"),
    [
        ({"check": "not_null", "column": "x"}, 1),
        ({"check": "unique", "column": "x"}, 1),
        ({"check": "range", "column": "x", "max": 2}, 2),
        ({"check": "allowed_values", "column": "x", "values": [1, 2]}, 2),
        ({"check": "regex", "column": "s", "pattern": "[ab]"}, 1),
        ({"check": "row_count", "max": 3}, 1),
        ({"check": "monotonic", "column": "x"}, 1),
        ({"check": "stuck", "column": "x", "max_repeats": 1}, 2),
        ({"check": "compare", "column": "x", "op": "<", "other": "y"}, 1),
        ({"check": "constant", "column": "s"}, 2),
        ({"check": "referential", "column": "x", "reference": "r"}, 2),
        ({"check": "drift", "column": "x", "reference": "r", "method": "ks", "threshold": 1}, 0),
    ],
)
def test_every_row_check_takes_a_where(item: dict[str, Any], failing: int) -> None:
    # rows with keep == 'yes' (positions 0, 2, 4, 6): x 1, 3, 3, None; the others would
    # fail every check
    frame = pd.DataFrame(
        {
            "keep": ["yes", "no", "yes", "no", "yes", "no", "yes", "no"],
            "x": [1.0, -9, 3, -9, 3, -9, None, -9],
            "y": [2.0, -99, 2, -99, 9, -99, 9, -99],
            "s": ["a", "zz", "b", "zz", "c", "zz", "a", "zz"],
        }
    )
    reference = pd.DataFrame({"x": [1.0, 2.0]})
    (spec,) = parse_checks([{**item, "where": {"column": "keep", "==": "yes"}}], where="w")
    result = evaluate(spec, frame, source="s", lookup=lambda name: reference)
    assert result.failing == failing, result.message
    assert result.total == 4
    assert all(row["row"] in (0, 2, 4, 6) for row in result.sample)


def test_where_against_a_column_of_another_kind_is_a_reason() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "n": [1, 2]})
    result = run({"check": "not_null", "column": "x", "where": {"column": "n", "==": "one"}}, frame)
    assert not result.passed and (result.failing, result.total) == (0, 2)
    assert result.message == "where n == 'one': column 'n' holds numbers, 'one' is text"


# -- misspelt columns --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "column"),
    [
        ({"check": "compare", "column": "temp_mx", "op": "<", "value": 40}, "temp_mx"),
        ({"check": "compare", "column": "temp_min", "op": "<=", "other": "temp_mx"}, "temp_mx"),
        (
            {"check": "not_null", "column": "temp_min", "where": {"column": "wether", "==": "sun"}},
            "wether",
        ),
        (
            {
                "check": "row_count",
                "where": {"any": [{"column": "weather", "is": None}, {"column": "precip", ">": 0}]},
            },
            "precip",
        ),
    ],
)
def test_a_misspelt_column_gets_a_did_you_mean(
    weather: pd.DataFrame, item: dict[str, Any], column: str
) -> None:
    result = run(item, weather)
    assert not result.passed
    close = {"temp_mx": "temp_max", "wether": "weather", "precip": "precipitation"}[column]
    assert result.message.startswith(
        f"column '{column}' is missing; did you mean '{close}'? (columns: date,"
    )


def test_a_strict_schema_makes_column_names_known_when_loaded() -> None:
    checks = [
        {
            "check": "schema",
            "columns": {"temp_min": "float", "temp_max": "float", "weather": "str"},
            "strict": True,
        },
        {"check": "compare", "column": "temp_min", "op": "<=", "other": "temp_max"},
        {
            "check": "range",
            "column": "temp_max",
            "max": 5,
            "where": {"column": "wheather", "==": "snow"},
        },
    ]
    with pytest.raises(
        ConfigError,
        match=r"^w\[2\]: check 'range' names column 'wheather', which the strict schema at "
        r"w\[0\] does not have; did you mean 'weather'\?$",
    ):
        parse_checks(checks, where="w")
    checks[0]["strict"] = False  # other columns may exist: the data will tell
    assert len(parse_checks(checks, where="w")) == 3


# -- compare -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"check": "compare", "column": "a", "op": "<"}, r"give one of them"),
        (
            {"check": "compare", "column": "a", "op": "<", "other": "b", "value": 1},
            r"give one of them",
        ),
        (
            {"check": "compare", "column": "a", "op": "=", "value": 1},
            r"op: unknown operator '='; did you mean '=='\?",
        ),
        ({"check": "compare", "column": "a", "op": "<>", "value": 1}, r"did you mean '!='\?"),
        (
            {"check": "compare", "column": "a", "op": "<", "value": None},
            r"value: a missing value equals nothing",
        ),
        (
            {"check": "compare", "column": "a", "op": "<", "value": [1]},
            r"value: \[1\] is not a single value",
        ),
    ],
)
def test_compare_mistakes_are_named_when_loaded(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_checks([item], where="w")


def test_compare_skips_rows_missing_either_side() -> None:
    frame = pd.DataFrame(
        {
            "a": pd.Series([1, None, 3, 4], dtype="Int64"),
            "b": pd.Series([2.0, 1.0, None, 3.0], dtype="Float64"),
        }
    )
    result = run({"check": "compare", "column": "a", "op": "<", "other": "b"}, frame)
    assert (result.failing, result.total) == (1, 4)
    assert result.sample == [{"row": 3, "a": 4, "b": 3.0}]


@pytest.mark.parametrize(
    ("left", "right", "message"),
    [
        (["x", "y"], [1.0, 2.0], "column 'a' holds text, column 'b' holds numbers"),
        ([1, 2], ["2024-01-01", "2024-01-02"], "column 'a' holds numbers, column 'b' holds times"),
    ],
)
def test_compare_columns_of_different_kinds_is_a_reason(
    left: list[Any], right: list[Any], message: str
) -> None:
    b = pd.to_datetime(pd.Series(right)) if isinstance(right[0], str) and "-" in right[0] else right
    frame = pd.DataFrame({"a": left, "b": b})
    result = run({"check": "compare", "column": "a", "op": "<", "other": "b"}, frame)
    assert not result.passed
    assert result.message == message
    assert (result.failing, result.total, result.usable) == (0, 2, False)


def test_compare_text_and_times_with_values() -> None:
    frame = pd.DataFrame(
        {
            "code": pd.Series(["b", "a", None, "c"], dtype="string[pyarrow]"),
            "at": pd.Series(
                pd.to_datetime(["2024-01-01", "2024-06-01", None, "2025-01-01"])
            ).dt.tz_localize("UTC"),
        }
    )
    assert run({"check": "compare", "column": "code", "op": ">=", "value": "b"}, frame).failing == 1
    late = run({"check": "compare", "column": "at", "op": "<", "value": "2024-12-31"}, frame)
    assert late.failing == 1  # a naive time is read in the column's zone
    not_a_time = run({"check": "compare", "column": "at", "op": "<", "value": "soon"}, frame)
    assert not_a_time.message.startswith(
        "'soon' is not an ISO 8601 date or time (column 'at' holds times): write 2024-05-01"
    )


# -- constant ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "failing", "verdict"),
    [
        ([5, 5, 5], 0, None),
        ([5, 5, 6, 5], 1, "most common value 5 (3 rows)"),
        ([5.0, 5.0, np.nan, 5.0], 1, "most common value 5 (3 rows)"),  # a missing value differs
        ([np.nan, np.nan], 2, "no value at all"),
        ([6, 5, 5, 6], 2, "most common value 6 (2 rows)"),  # a tie: the first value seen
        ([], 0, None),
    ],
)
def test_constant_counts_rows_other_than_the_most_common_value(
    values: list[float], failing: int, verdict: str | None
) -> None:
    frame = pd.DataFrame({"x": pd.Series(values, dtype=float)})
    result = run({"check": "constant", "column": "x"}, frame)
    assert (result.failing, result.total) == (failing, len(values))
    if verdict:
        assert result.message.startswith(verdict + ";")


def test_constant_with_a_value_counts_every_other_row() -> None:
    frame = pd.DataFrame({"unit": pd.Series(["m/s", "km/h", "km/h", None], dtype="str")})
    result = run({"check": "constant", "column": "unit", "value": "m/s"}, frame)
    assert result.failing == 3
    assert result.message.startswith("expected 'm/s'; 3 of 4 rows (75.00%) fail")


# -- properties against a pandas reference -----------------------------------------------

OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}
numbers = st.lists(
    st.one_of(st.none(), st.integers(-3, 3).map(float), st.floats(-5, 5, allow_nan=False)),
    min_size=0,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(
    numbers,
    numbers,
    st.sampled_from(list(OPS)),
    st.booleans(),
    st.sampled_from(["float64", "Float64"]),
)
def test_compare_matches_pandas(
    a: list[float | None], b: list[float | None], op: str, with_column: bool, dtype: str
) -> None:
    n = min(len(a), len(b))
    frame = pd.DataFrame({"a": pd.Series(a[:n], dtype=dtype), "b": pd.Series(b[:n], dtype=dtype)})
    item: dict[str, Any] = {"check": "compare", "column": "a", "op": op}
    item.update({"other": "b"} if with_column else {"value": 0.5})
    right = frame["b"] if with_column else 0.5
    present = frame["a"].notna() & (frame["b"].notna() if with_column else True)
    holds = OPS[op](
        frame["a"].astype(float), right if not with_column else frame["b"].astype(float)
    )
    expected = int((present & ~holds.fillna(False).astype(bool)).sum())
    result = run(item, frame)
    assert (result.failing, result.total) == (expected, n)


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and draw(st.booleans()):
        mode = draw(st.sampled_from(["all", "any"]))
        parts = draw(st.lists(conditions(depth + 1), min_size=1, max_size=3))
        return {mode: parts}
    column = draw(st.sampled_from(["n", "t"]))
    form = draw(st.sampled_from(["op", "in", "not in", "is null", "not null"]))
    value = draw(st.integers(-2, 2).map(float)) if column == "n" else draw(st.sampled_from("abc"))
    if form == "op":
        return {"column": column, draw(st.sampled_from(list(OPS))): value}
    if form in ("in", "not in"):
        return {"column": column, form: [value, value * 2 if column == "n" else "x"]}
    return {"column": column, "is": None if form == "is null" else "not null"}


def reference(condition: dict[str, Any], row: dict[str, Any]) -> bool:
    """The condition on one row, the way SQL's WHERE reads it (a missing value matches no test)."""
    if "all" in condition:
        return all(reference(part, row) for part in condition["all"])
    if "any" in condition:
        return any(reference(part, row) for part in condition["any"])
    value = row[condition["column"]]
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    if "is" in condition:
        return missing if condition["is"] is None else not missing
    if missing:
        return False
    if "in" in condition:
        return value in condition["in"]
    if "not in" in condition:
        return value not in condition["not in"]
    ((op, wanted),) = ((k, v) for k, v in condition.items() if k != "column")
    return bool(OPS[op](value, wanted))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-2, 2).map(float)),
            st.one_of(st.none(), st.sampled_from("abc")),
        ),
        max_size=25,
    ),
    conditions(),
    st.sampled_from([("float64", "object"), ("Float64", "string"), ("double[pyarrow]", "str")]),
)
def test_where_matches_a_row_by_row_reference(
    rows: list[tuple[float | None, str | None]], condition: dict[str, Any], dtypes: tuple[str, str]
) -> None:
    frame = pd.DataFrame(
        {
            "n": pd.Series([r[0] for r in rows], dtype=dtypes[0]),
            "t": pd.Series([r[1] for r in rows], dtype=dtypes[1]),
            "gap": np.nan,
        }
    )
    expected = [i for i, (n, t) in enumerate(rows) if reference(condition, {"n": n, "t": t})]
    result = run({"check": "not_null", "column": "gap", "where": condition}, frame)
    assert result.total == len(expected)
    assert result.failing == len(expected)
    assert [row["row"] for row in result.sample] == expected[:5]
