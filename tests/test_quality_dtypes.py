"""Every check on every dtype family pandas holds, with and without missing values.

Four kinds of data carry the same shape of defects: eight values ``v`` with a repeat, a
run of three, three values outside the allowed set and steps backwards; the ``gappy``
variant adds three missing values (first, middle, last) that split no run. Each family
(NumPy, nullable, categorical, pyarrow-backed) of a kind must give the counts of the
table, never an internal error; a check that does not apply to a kind (``range`` on text)
is a failed result with its reason, every row counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from datareplay.quality.evaluate import CheckResult, evaluate
from datareplay.quality.specs import parse_checks

HOURS = [3, 1, 2, 2, 7, 7, 7, 5]
START = pd.Timestamp("2024-01-01")


def at(hour: int) -> str:
    return str(START + pd.Timedelta(hours=hour))


# kind -> its eight values and the values of the reference (and of allowed_values)
BASE: dict[str, tuple[list[Any], list[Any]]] = {
    "number": (HOURS, [1, 2, 3, 5]),
    "text": (["c", "a", "b", "b", "g", "g", "g", "e"], ["a", "b", "c", "e"]),
    "bool": ([True, False, True, True, False, False, False, True], [True]),
    "time": ([at(h) for h in HOURS], [at(h) for h in (1, 2, 3, 5)]),
}


def as_time(dtype: str) -> Callable[[list[Any]], pd.Series]:
    def make(values: list[Any]) -> pd.Series:
        series = pd.Series(pd.to_datetime(pd.Series(values, dtype=object)))
        if dtype == "tz":
            return series.dt.tz_localize("Europe/Berlin")
        return series.astype(dtype)

    return make


def typed(dtype: str) -> Callable[[list[Any]], pd.Series]:
    return lambda values: pd.Series(values, dtype=dtype)


# family -> (kind, how to build the column, whether it can hold a missing value)
FAMILIES: dict[str, tuple[str, Callable[[list[Any]], pd.Series], bool]] = {
    "int64": ("number", typed("int64"), False),
    "float64": ("number", typed("float64"), True),
    "Int64": ("number", typed("Int64"), True),
    "Float64": ("number", typed("Float64"), True),
    "category-number": ("number", typed("category"), True),
    "int64[pyarrow]": ("number", typed("int64[pyarrow]"), True),
    "double[pyarrow]": ("number", typed("double[pyarrow]"), True),
    "object-str": ("text", typed("object"), True),
    "str": ("text", typed("str"), True),
    "string": ("text", typed("string"), True),
    "string[pyarrow]": ("text", typed("string[pyarrow]"), True),
    "category-text": ("text", typed("category"), True),
    "bool": ("bool", typed("bool"), False),
    "boolean": ("bool", typed("boolean"), True),
    "bool[pyarrow]": ("bool", typed("bool[pyarrow]"), True),
    "datetime64[s]": ("time", as_time("datetime64[s]"), True),
    "datetime64[ms]": ("time", as_time("datetime64[ms]"), True),
    "datetime64[us]": ("time", as_time("datetime64[us]"), True),
    "datetime64[ns]": ("time", as_time("datetime64[ns]"), True),
    "datetime64[us, Europe/Berlin]": ("time", as_time("tz"), True),
    "timestamp[us][pyarrow]": ("time", as_time("timestamp[us][pyarrow]"), True),
}

MISSING_AT = (0, 5, 10)  # in the gappy column of 11 rows: first, between runs, last


def gappy(values: list[Any]) -> list[Any]:
    out: list[Any] = list(values)
    for position in MISSING_AT:
        out.insert(position, None)
    return out


# check (as written, with the kind's values filled in) -> failing (clean, gappy) per kind;
# "all" marks a check that does not apply: a failed result counting every row
UNUSABLE = "all"
GAP = {"number": 1, "time": "1h", "text": 1, "bool": 1}
PATTERN = {
    "number": r"[1235](\.0)?",
    "text": "[a-e]",
    "bool": "True",
    "time": r"2024-01-01 0[1-5]:00:00.*",
}
ABOVE = {"number": 2, "text": "b", "bool": None, "time": at(2)}
TABLE: dict[str, dict[str, Any]] = {
    "not_null": {"number": (0, 3), "text": (0, 3), "bool": (0, 3), "time": (0, 3)},
    "unique": {"number": (3, 3), "text": (3, 3), "bool": (6, 6), "time": (3, 3)},
    "range": {"number": (3, 3), "text": UNUSABLE, "bool": UNUSABLE, "time": UNUSABLE},
    "allowed_values": {"number": (3, 3), "text": (3, 3), "bool": (4, 4), "time": (3, 3)},
    "regex": {"number": (3, 3), "text": (3, 3), "bool": (4, 4), "time": (3, 3)},
    "row_count": {"number": (2, 0), "text": (2, 0), "bool": (2, 0), "time": (2, 0)},
    "monotonic": {"number": (6, 6), "text": UNUSABLE, "bool": UNUSABLE, "time": (6, 6)},
    "stuck": {"number": (3, 3), "text": (3, 3), "bool": (3, 3), "time": (3, 3)},
    "compare": {"number": (3, 3), "text": (3, 3), "bool": (4, 4), "time": (3, 3)},
    # the most common value (7, 'g', True: first of a tie, 07:00) - missing values differ
    "constant": {"number": (5, 8), "text": (5, 8), "bool": (4, 7), "time": (5, 8)},
    "referential": {"number": (3, 3), "text": (3, 3), "bool": (4, 4), "time": (3, 3)},
    "drift": {"number": (0, 0), "text": UNUSABLE, "bool": (0, 0), "time": (0, 0)},
    # where: the rows holding one of two values (3 rows; 4 False), at most 2 of them
    "row_count where in": {"number": (1, 1), "text": (1, 1), "bool": (2, 2), "time": (1, 1)},
    # where: only the missing rows; not_null fails on each of them
    "not_null where is null": {"number": (0, 3), "text": (0, 3), "bool": (0, 3), "time": (0, 3)},
}
REASONS = {
    ("range", "text"): "column 'x' holds text; range needs numbers or durations",
    ("range", "bool"): "column 'x' holds true/false values; range needs numbers or durations",
    ("range", "time"): "column 'x' holds times; range needs numbers or durations",
    ("monotonic", "text"): "column 'x' holds text; monotonic needs numbers or times",
    ("monotonic", "bool"): "column 'x' holds true/false values; monotonic needs numbers or times",
    ("drift", "text"): "column 'x' holds text; drift needs numbers or times",
}


def item_for(label: str, kind: str) -> dict[str, Any]:
    values, allowed = BASE[kind]
    items: dict[str, dict[str, Any]] = {
        "not_null": {"check": "not_null", "column": "x"},
        "unique": {"check": "unique", "column": "x"},
        "range": {"check": "range", "column": "x", "min": 1, "max": 6},
        "allowed_values": {"check": "allowed_values", "column": "x", "values": allowed},
        "regex": {"check": "regex", "column": "x", "pattern": PATTERN[kind]},
        "row_count": {"check": "row_count", "min": 10},
        "monotonic": {"check": "monotonic", "column": "x", "max_gap": GAP[kind]},
        "stuck": {"check": "stuck", "column": "x", "max_repeats": 2},
        "compare": (
            {"check": "compare", "column": "x", "op": "==", "value": True}
            if kind == "bool"
            else {"check": "compare", "column": "x", "op": ">", "value": ABOVE[kind]}
        ),
        "constant": {"check": "constant", "column": "x"},
        "referential": {"check": "referential", "column": "x", "reference": "ref"},
        "drift": {"check": "drift", "column": "x", "reference": "ref"},
        "row_count where in": {
            "check": "row_count",
            "max": 2,
            "where": {"column": "x", "in": [values[1]] if kind == "bool" else values[1:3]},
        },
        "not_null where is null": {
            "check": "not_null",
            "column": "x",
            "where": {"column": "x", "is": None},
        },
    }
    return items[label]


CASES = [
    pytest.param(label, family, missing, id=f"{label}-{family}-{'gappy' if missing else 'clean'}")
    for label in TABLE
    for family, (_, _, can_miss) in FAMILIES.items()
    for missing in ((False, True) if can_miss else (False,))
]


def run_on(label: str, family: str, missing: bool) -> tuple[CheckResult, pd.Series]:
    kind, make, _ = FAMILIES[family]
    values, allowed = BASE[kind]
    column = make(gappy(values) if missing else values)
    reference = pd.DataFrame({"x": make(allowed if label == "referential" else values)})
    (spec,) = parse_checks([item_for(label, kind)], where="test")
    frame = pd.DataFrame({"x": column})
    result = evaluate(spec, frame, source="src", lookup=lambda name: reference)
    return result, column


@pytest.mark.parametrize(("label", "family", "missing"), CASES)
def test_every_check_on_every_dtype(label: str, family: str, missing: bool) -> None:
    kind = FAMILIES[family][0]
    result, column = run_on(label, family, missing)
    expected = TABLE[label][kind]
    if expected == UNUSABLE:
        assert (result.passed, result.usable) == (False, False)
        assert (result.failing, result.total) == (0, len(column))
        assert result.message == REASONS[(label.split()[0], kind)]
        return
    failing = expected[1] if missing else expected[0]
    assert result.failing == failing, result.message
    assert "Error" not in result.message, result.message
    if label == "not_null where is null":
        assert result.total == (3 if missing else 0)
    elif label == "row_count where in":
        assert result.total == (4 if kind == "bool" else 3)
    elif label != "row_count":
        assert result.total == len(column)
    if failing and label not in ("row_count", "drift") and "where" not in label:
        # sample rows are positions of the checked frame and show the failing values
        for row in result.sample:
            value = column.iloc[row["row"]]
            assert row["x"] is None if pd.isna(value) else row["x"] == _plain(value)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# -- the pitfalls of the issue, one by one -----------------------------------------------


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([True, None, None, True, True, True, False], dtype="boolean"),
        pd.Series(["a", None, None, "a", "a", "a", "b"], dtype="string"),
        pd.Series([1, None, None, 1, 1, 1, 2], dtype="Int64"),
        pd.Series([1, None, None, 1, 1, 1, 2], dtype="int64[pyarrow]"),
    ],
    ids=["boolean", "string", "Int64", "int64[pyarrow]"],
)
def test_stuck_on_nullable_dtypes_counts_the_run_not_every_row(column: pd.Series) -> None:
    # was: TypeError: boolean value of NA is ambiguous, and every row marked failed
    (spec,) = parse_checks([{"check": "stuck", "column": "x", "max_repeats": 2}], where="t")
    result = evaluate(spec, pd.DataFrame({"x": column}), source="s", lookup=lambda n: None)
    assert (result.failing, result.total) == (3, 7)
    assert [row["row"] for row in result.sample] == [3, 4, 5]


@pytest.mark.parametrize(
    ("column", "pattern", "failing"),
    [
        (pd.Series([10, None, 7, 123], dtype="Int64"), r"\d\d", 2),
        (pd.Series([True, None, False], dtype="boolean"), "True", 1),
        (pd.Series(["N1A", None, "N1AB"], dtype="string"), r"N\d+A", 1),
        (pd.Series([10, None, 7], dtype="int64[pyarrow]"), r"\d\d", 1),
    ],
    ids=["Int64", "boolean", "string", "int64[pyarrow]"],
)
def test_regex_on_nullable_and_integer_dtypes(
    column: pd.Series, pattern: str, failing: int
) -> None:
    # was: a TypeError on any Int64 column; missing values are skipped
    (spec,) = parse_checks([{"check": "regex", "column": "x", "pattern": pattern}], where="t")
    result = evaluate(spec, pd.DataFrame({"x": column}), source="s", lookup=lambda n: None)
    assert (result.failing, result.total) == (failing, len(column)), result.message


def test_a_text_value_against_a_number_column_is_a_reason_not_an_error() -> None:
    (spec,) = parse_checks(
        [{"check": "compare", "column": "x", "op": "<", "value": "ten"}], where="t"
    )
    frame = pd.DataFrame({"x": pd.Series([1, None], dtype="Int64")})
    result = evaluate(spec, frame, source="s", lookup=lambda n: None)
    assert not result.passed
    assert result.message == "column 'x' holds numbers, 'ten' is text"
    assert (result.failing, result.total, result.usable) == (0, 2, False)


# -- odd tables never make a check raise -------------------------------------------------

EVERY_CHECK = [
    {"check": "not_null", "column": "x"},
    {"check": "unique", "columns": ["x", "y"]},
    {"check": "range", "column": "x", "min": 0},
    {"check": "allowed_values", "column": "x", "values": [1, "a", True]},
    {"check": "regex", "column": "x", "pattern": "a"},
    {"check": "row_count", "min": 1},
    {"check": "monotonic", "column": "x", "max_gap": "1s"},
    {"check": "stuck", "column": "x", "max_repeats": 1},
    {"check": "compare", "column": "x", "op": "<", "other": "y"},
    {"check": "compare", "column": "x", "op": "<", "value": 1},
    {"check": "constant", "column": "x", "value": "a"},
    {"check": "referential", "column": "x", "reference": "r"},
    {"check": "drift", "column": "x", "reference": "r"},
    {"check": "not_null", "column": "x", "where": {"column": "y", ">": 1}},
]
ODD = {
    "empty": pd.DataFrame({"x": [], "y": []}),
    "mixed objects": pd.DataFrame(
        {"x": [1, "a", None, pd.Timestamp(0), 2.5], "y": ["b", 3, None, 1, 1]}
    ),
    "no value at all": pd.DataFrame({"x": [None, None], "y": [None, None]}, dtype=object),
    "lists and dicts": pd.DataFrame({"x": [[1], [1], [2]], "y": [{"a": 1}, None, 3]}),
    "complex": pd.DataFrame({"x": np.array([1 + 1j, 1 + 1j, 2]), "y": [1.0, 2.0, 3.0]}),
    "timedeltas": pd.DataFrame(
        {"x": pd.to_timedelta([1, 1, 3], unit="s"), "y": pd.to_timedelta([2, 0, 1], unit="s")}
    ),
    "twice the same name": pd.DataFrame([[1, 2, 3], [4, 5, 6]], columns=["x", "x", "y"]),
}


@pytest.mark.parametrize("item", EVERY_CHECK, ids=[str(i) for i in range(len(EVERY_CHECK))])
@pytest.mark.parametrize("name", list(ODD))
def test_no_check_raises_on_odd_tables(name: str, item: dict[str, Any]) -> None:
    (spec,) = parse_checks([item], where="t")
    reference = pd.DataFrame({"x": [1, 2]})
    result = evaluate(spec, ODD[name], source="s", lookup=lambda n: reference)
    assert result.failing >= 0 and result.total >= 0
    if name == "twice the same name" and item["check"] != "row_count":
        assert result.message == "column 'x' appears 2 times; a check reads one column of a name"


def test_a_column_without_any_value_has_nothing_out_of_range() -> None:
    frame = ODD["no value at all"]
    for item in (
        {"check": "range", "column": "x", "min": 0},
        {"check": "monotonic", "column": "x"},
        {"check": "compare", "column": "x", "op": "<", "value": 1},
    ):
        (spec,) = parse_checks([item], where="t")
        result = evaluate(spec, frame, source="s", lookup=lambda n: None)
        assert (result.passed, result.failing) == (True, 0), result.message
