"""Every format keeps exactly what it is given, or refuses the write.

A property test writes generated frames (every dtype family, extreme values, odd labels
and indexes) in every format: either ``Format.check`` refuses, or the value reads back
equal with the strictest comparison pandas has. Named real-world pitfalls follow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datareplay.data.fidelity import Refused
from datareplay.data.formats import FORMATS

WRITABLE = ["parquet", "feather", "csv", "json", "pickle"]

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=4)
UNITS = ["s", "ms", "us", "ns"]


def _column(kind: str, rows: int, draw: Any) -> Any:
    def values(strategy: Any) -> list[Any]:
        return draw(st.lists(strategy, min_size=rows, max_size=rows))

    if kind == "int64":
        return np.array(values(st.sampled_from([0, -1, 7, 2**63 - 1, -(2**63)])), dtype="int64")
    if kind == "uint64":
        return np.array(values(st.sampled_from([0, 3, 2**64 - 1])), dtype="uint64")
    if kind == "int8":
        return np.array(values(st.integers(-128, 127)), dtype="int8")
    if kind == "float64":
        special = st.sampled_from([-0.0, 5e-324, 2.2e-308, float("inf"), -float("inf"), 0.41])
        return np.array(values(st.floats() | special), dtype="float64")
    if kind == "float32":
        return np.array(values(st.floats(width=32)), dtype="float32")
    if kind == "bool":
        return np.array(values(st.booleans()), dtype=bool)
    if kind == "Int64":
        return pd.array(values(st.none() | st.integers(-(2**63), 2**63 - 1)), dtype="Int64")
    if kind == "boolean":
        return pd.array(values(st.none() | st.booleans()), dtype="boolean")
    if kind == "str":
        return pd.array(values(st.none() | TEXT), dtype=pd.StringDtype(na_value=np.nan))
    if kind == "string":
        return pd.array(values(st.none() | TEXT), dtype="string")
    if kind == "object":
        return np.array(values(TEXT), dtype=object) if rows else np.empty(0, dtype=object)
    if kind == "int64[pyarrow]":
        return pd.array(values(st.none() | st.integers(-(2**63), 2**63 - 1)), dtype=kind)
    if kind == "category":
        cats = ["low", "mid", "high", "1"]
        return pd.Categorical(values(st.sampled_from(cats)), categories=cats, ordered=True)
    if kind.startswith("datetime"):
        unit = kind.split(":")[1]
        scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
        ticks = values(st.integers(-(10**9), 4 * 10**9).map(lambda s: s * scale + scale // 3))
        array = np.array(ticks, dtype="int64").view(f"datetime64[{unit}]")
        if kind.startswith("datetime-tz"):
            return pd.DatetimeIndex(array).tz_localize("UTC").tz_convert("Europe/Berlin").array
        return array
    if kind.startswith("timedelta"):
        unit = kind.split(":")[1]
        return np.array(values(st.integers(-(10**12), 10**12)), dtype="int64").view(
            f"timedelta64[{unit}]"
        )
    raise AssertionError(kind)


KINDS = [
    "int64", "uint64", "int8", "float64", "float32", "bool", "Int64", "boolean", "str",
    "string", "object", "int64[pyarrow]", "category",
    *(f"datetime:{u}" for u in UNITS), *(f"datetime-tz:{u}" for u in UNITS),
    *(f"timedelta:{u}" for u in UNITS),
]  # fmt: skip


@st.composite
def frames(draw: Any) -> pd.DataFrame:
    rows = draw(st.integers(0, 4))
    kinds = draw(st.lists(st.sampled_from(KINDS), max_size=4))
    data = {i: _column(kind, rows, draw) for i, kind in enumerate(kinds)}
    frame = (
        pd.DataFrame(data, index=pd.RangeIndex(rows))
        if data
        else pd.DataFrame(index=pd.RangeIndex(rows))
    )
    n = len(kinds)
    labels = draw(st.sampled_from(["text", "int", "range", "duplicate", "multi", "object"]))
    if labels == "text":
        frame.columns = pd.Index([f"c{i}" for i in range(n)], dtype="str")
    elif labels == "int":
        frame.columns = pd.Index(draw(st.permutations(list(range(10, 10 + n)))), dtype="int64")
    elif labels == "duplicate" and n:
        frame.columns = pd.Index(["x"] * n, dtype="str")
    elif labels == "multi" and n:
        frame.columns = pd.MultiIndex.from_arrays(
            [["a"] * n, [f"m{i}" for i in range(n)]], names=["outer", "inner"]
        )
    elif labels == "object":
        frame.columns = pd.Index([f"o{i}" for i in range(n)], dtype=object)
    if draw(st.booleans()) and not isinstance(frame.columns, pd.MultiIndex):
        frame.columns.name = "field"
    index = draw(st.sampled_from(["default", "offset", "named", "text", "time", "multi"]))
    if index == "offset":
        frame.index = pd.RangeIndex(5, 5 + 2 * rows, 2)
    elif index == "named":
        frame.index = pd.Index(np.arange(rows, dtype="int64") * 3, name="sensor")
    elif index == "text":
        frame.index = pd.Index([f"r{i}" for i in range(rows)], dtype="str")
    elif index == "time":
        frame.index = pd.date_range("2024-01-01", periods=rows, freq="250us", tz="UTC", name="t")
        frame.index.freq = None
    elif index == "multi":
        frame.index = pd.MultiIndex.from_arrays(
            [[f"k{i % 2}" for i in range(rows)], np.arange(rows, dtype="int64")],
            names=["road", "lap"],
        )
    return frame


def assert_kept(back: Any, value: Any) -> None:
    if isinstance(value, pd.DataFrame):
        assert isinstance(back, pd.DataFrame)
        pd.testing.assert_frame_equal(
            back,
            value,
            check_exact=True,
            check_index_type=True,
            check_column_type=True,
            check_dtype=True,
            check_names=True,
            check_freq=False,
        )
        for i in range(value.shape[1]):  # -0.0 keeps its sign
            column = value.iloc[:, i]
            if isinstance(column.dtype, np.dtype) and column.dtype.kind == "f":
                want = column.to_numpy()
                numbers = ~np.isnan(want)  # a NaN's sign bit is not a value
                got = np.signbit(back.iloc[:, i].to_numpy())
                assert (got[numbers] == np.signbit(want)[numbers]).all()
    else:
        assert isinstance(back, pd.Series)
        pd.testing.assert_series_equal(
            back, value, check_exact=True, check_index_type=True, check_names=True
        )


def write_and_read(fmt: str, value: Any, folder: Path) -> Any:
    """None when the format refuses ``value``; else what reads back."""
    format_ = FORMATS[fmt]
    try:
        format_.check(value)
    except Refused as exc:
        message = str(exc)
        assert message.startswith((f"{fmt} cannot keep", f"format {fmt} cannot hold")), message
        assert "; use " in message and "\n" not in message
        return Refused
    path = folder / f"value{format_.extension}"
    format_.write(value, path)
    return format_.read(path)


@pytest.mark.parametrize("fmt", WRITABLE)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=frames())
def test_every_frame_is_kept_or_refused(fmt: str, frame: pd.DataFrame, tmp_path: Path) -> None:
    back = write_and_read(fmt, frame, tmp_path)
    if back is not Refused:
        assert_kept(back, frame)


@pytest.mark.parametrize("fmt", WRITABLE)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=frames(), name=st.sampled_from([None, "value", 3]))
def test_every_series_is_kept_or_refused(
    fmt: str, frame: pd.DataFrame, name: Any, tmp_path: Path
) -> None:
    if frame.shape[1] == 0:
        return
    series = frame.iloc[:, 0].rename(name)
    back = write_and_read(fmt, series, tmp_path)
    if back is not Refused:
        assert_kept(back, series)


# -- what each format must keep (not merely refuse) ------------------------------------


def exotic() -> pd.DataFrame:
    """Everything parquet, feather and json promise to keep, in one frame."""
    return pd.DataFrame(
        {
            "u": np.array([2**64 - 1, 0], dtype="uint64"),
            "i": np.array([-(2**63), 2**63 - 1], dtype="int64"),
            "f": [2.5e-12, -0.0],
            "g": [float("inf"), float("nan")],
            "n": pd.array([1, None], dtype="Int64"),
            "b": pd.array([None, True], dtype="boolean"),
            "s": pd.array(["x", None], dtype="string"),
            "a": pd.array([None, 5], dtype="int64[pyarrow]"),
            "c": pd.Categorical(["b", "a"], categories=["b", "a", "z"], ordered=True),
            "t": pd.to_datetime([1, 250_001], unit="ns").tz_localize("Asia/Tokyo"),
            "d": pd.to_timedelta([1, 2], unit="us").as_unit("us"),
        },
        index=pd.MultiIndex.from_tuples([("north", 1), ("south", 2)], names=["road", "lap"]),
    )


@pytest.mark.parametrize("fmt", ["parquet", "feather", "json", "pickle"])
def test_rich_frames_are_kept(fmt: str, tmp_path: Path) -> None:
    frame = exotic()
    assert_kept(write_and_read(fmt, frame, tmp_path), frame)


@pytest.mark.parametrize("fmt", ["parquet", "feather", "json", "pickle"])
@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(),
        pd.DataFrame({"a": pd.Series([], dtype="int32"), "b": pd.Series([], dtype="str")}),
        pd.DataFrame(np.arange(3 * 1000).reshape(3, 1000)),
        pd.DataFrame([[1, 2]], columns=["x", "x"]),
        pd.DataFrame([[1, 2]], columns=[0, "0"]),
    ],
    ids=["0x0", "empty-typed", "1000-columns", "duplicate-labels", "int-and-text-labels"],
)
def test_shapes_and_labels_are_kept(fmt: str, frame: pd.DataFrame, tmp_path: Path) -> None:
    assert_kept(write_and_read(fmt, frame, tmp_path), frame)


def test_json_keeps_four_distinct_250us_samples(tmp_path: Path) -> None:
    frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=4, freq="250us")})
    back = write_and_read("json", frame, tmp_path)
    assert back["t"].is_unique
    assert_kept(back, frame)


def test_csv_keeps_plain_tables(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": np.array([1, -(2**63)], dtype="int64"),
            "x": [0.1 + 0.2, -0.0],
            "ok": [True, False],
            "name": pd.array(["Zürich", 'a,"b"'], dtype="str"),
        }
    )
    assert_kept(write_and_read("csv", frame, tmp_path), frame)


# -- named real-world pitfalls: what csv refuses, and that the message says why ---------


def pitfalls() -> dict[str, tuple[pd.DataFrame, str]]:
    rides = pd.DataFrame(
        {
            "sensor": ["a", "b", "a"],
            "road": pd.Categorical(["x", "y", "x"]),
            "v": [1.0, 2.0, 3.0],
            "t": pd.date_range("2024-01-01", periods=3, freq="min", tz="UTC"),
        }
    )
    return {
        "groupby-named-index": (
            rides.groupby("sensor")[["v"]].mean(),
            "csv cannot keep the index 'sensor'",
        ),
        "category-column": (rides[["road", "v"]], "the category dtype of 'road'"),
        "resample-output": (
            rides.set_index("t")[["v"]].resample("2min").mean(),
            "csv cannot keep the index 't'",
        ),
        "pivot-multiindex-columns": (
            rides.pivot_table(index="sensor", columns="road", values=["v"], observed=True),
            "the multi-level column labels",
        ),
        "tz-aware": (rides[["t"]], "the datetime64[us, UTC] dtype of 't'"),
        "empty-typed": (rides.iloc[:0], "the dtypes of an empty frame"),
        "0x0": (pd.DataFrame(), "a frame without columns"),
        "int-labels": (pd.DataFrame(np.zeros((2, 2))), "the non-text column label 0"),
        "numeric-text": (
            pd.DataFrame({"zip": pd.array(["01234", "99999"], dtype="str")}),
            "the text that reads back as numbers in 'zip'",
        ),
        "all-missing-text": (
            pd.DataFrame({"note": pd.array([None, None], dtype="str")}),
            "the text dtype of 'note', which holds only missing values",
        ),
        "nullable": (
            pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}),
            "the Int64 dtype of 'n'",
        ),
    }


@pytest.mark.parametrize("name", list(pitfalls()))
def test_csv_refuses_named_pitfalls_with_a_reason(name: str) -> None:
    frame, reason = pitfalls()[name]
    with pytest.raises(Refused, match="; use parquet or feather") as info:
        FORMATS["csv"].check(frame)
    assert reason in str(info.value)


@pytest.mark.parametrize("name", list(pitfalls()))
@pytest.mark.parametrize("fmt", ["parquet", "feather", "json"])
def test_pitfalls_are_kept_by_the_rich_formats(name: str, fmt: str, tmp_path: Path) -> None:
    frame, _ = pitfalls()[name]
    assert_kept(write_and_read(fmt, frame, tmp_path), frame)


def test_csv_refusal_advises_pickle_when_no_table_format_keeps_the_value() -> None:
    frame = pd.DataFrame({"p": pd.period_range("2020", periods=2, freq="M")})
    with pytest.raises(
        Refused, match=r"^csv cannot keep the period\[M\] dtype of 'p'; use pickle$"
    ):
        FORMATS["csv"].check(frame)


def test_csv_refusal_names_index_and_category_together() -> None:
    frame = pd.DataFrame(
        {"road": pd.Categorical(["x"]), "v": [1.0]}, index=pd.Index(["a"], name="sensor")
    )
    with pytest.raises(Refused) as info:
        FORMATS["csv"].check(frame)
    assert str(info.value) == (
        "csv cannot keep the index 'sensor' or the category dtype of 'road'; "
        "use parquet or feather, or reset the index"
    )


# -- beyond DataFrames -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"big": 2**80, "neg": -(2**70), "f": 0.1 + 0.2, "tiny": 5e-324, "z": -0.0},
        [[], {}, [None, True, "ü"], {"__datareplay__": "frame"}],
        12345678901234567890123,
    ],
    ids=["numbers", "nested", "bigint"],
)
def test_json_holds_any_json_value_exactly(value: Any, tmp_path: Path) -> None:
    back = write_and_read("json", value, tmp_path)
    assert back == value
    assert repr(back) == repr(value)  # -0.0 and float bits included


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({1: "a"}, "json cannot keep the value: the key 1 (JSON keys are text); use pickle"),
        ((1, 2), "json cannot keep the value: a tuple, which JSON has no type for"),
        ({"x": [float("inf")]}, "json cannot keep the value['x'][0]: inf, which JSON"),
        (np.float64(1.5), "the value: a float64"),
        (
            pd.DataFrame({"p": pd.period_range("2020", periods=2, freq="M")}),
            "json cannot keep the period[M] dtype of column 'p'; use pickle",
        ),
        (
            pd.DataFrame({"b": np.array([b"x"], dtype=object)}),
            "json cannot keep b'x' (bytes) in the object values of column 'b' (JSON keeps",
        ),
    ],
)
def test_json_refuses_what_it_would_change(value: Any, reason: str) -> None:
    with pytest.raises(Refused, match="; use pickle") as info:
        FORMATS["json"].check(value)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype="uint64").reshape(3, 4) * (2**60),
        np.array([[-0.0, np.inf], [np.nan, 5e-324]]),
        np.array(["a", "bé"]),
        np.array(["2024-01-01T00:00:00.000000001"], dtype="datetime64[ns]"),
        np.zeros((0, 3), dtype="float32"),
    ],
)
def test_npy_keeps_arrays(array: np.ndarray, tmp_path: Path) -> None:
    back = write_and_read("npy", array, tmp_path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize(
    ("fmt", "value", "advice"),
    [
        ("parquet", np.zeros(3), "format parquet cannot hold a NumPy array; use npy or pickle"),
        (
            "csv",
            pd.Series([1]),
            "format csv cannot hold a Series; use parquet or feather or json or pickle",
        ),
        ("json", np.zeros(3), "format json cannot hold a NumPy array; use npy or pickle"),
        (
            "npy",
            pd.DataFrame({"a": [1]}),
            "format npy cannot hold a DataFrame; use parquet or feather or json or pickle",
        ),
        ("npy", np.array([object()]), "npy cannot hold an array of Python objects; use pickle"),
    ],
)
def test_refusal_names_the_formats_that_can(fmt: str, value: Any, advice: str) -> None:
    with pytest.raises(Refused) as info:
        FORMATS[fmt].check(value)
    assert str(info.value) == advice
