"""Unit tests of datareplay.data.formats: each storage format round-trips its values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from datareplay.data.formats import ALIASES, FORMATS, Format, describe, memory_bytes


@dataclass
class Recording:
    """A module-level class so pickle can find it again."""

    name: str
    samples: list[float]
    tags: set[str] = field(default_factory=set)


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.array([1, -2, 3, 40_000_000_000], dtype="int64"),
            "f": [1.5, np.nan, -3.25, 1e-9],
            "s": ["a", "bé", "", 'x,y "q"'],
            "b": [True, False, True, False],
            "t": pd.to_datetime(
                [
                    "2024-01-01 00:00:00",
                    "2024-01-02 03:04:05.250",
                    "2024-03-01 12:00:00",
                    "1999-12-31 23:59:59",
                ],
                format="ISO8601",
            ),
        }
    )


def round_trip(fmt_name: str, value: Any, folder: Path) -> Any:
    fmt = FORMATS[fmt_name]
    assert fmt.write is not None and fmt.read is not None
    path = folder / f"value{fmt.extension}"
    fmt.write(value, path)
    assert path.is_file()
    return fmt.read(path)


def assert_same_frame(back: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Values, column names and kinds equal; datetime resolution may differ."""
    assert list(back.columns) == list(frame.columns)
    for column in frame.columns:
        assert back[column].dtype.kind == frame[column].dtype.kind, column
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


@pytest.mark.parametrize("fmt", ["parquet", "feather"])
def test_binary_tabular_round_trip_keeps_values_and_dtypes(fmt: str, tmp_path: Path) -> None:
    frame = sample_frame()
    back = round_trip(fmt, frame, tmp_path)
    pd.testing.assert_frame_equal(back, frame)


def test_csv_round_trip_keeps_values(tmp_path: Path) -> None:
    frame = sample_frame()
    back = round_trip("csv", frame, tmp_path)
    assert list(back.columns) == list(frame.columns)
    assert isinstance(back.index, pd.RangeIndex)
    # csv holds text: datetimes come back as text and are parsed by the reader
    back["t"] = pd.to_datetime(back["t"], format="ISO8601")
    back["s"] = back["s"].fillna("")
    assert_same_frame(back, frame)


def test_json_round_trip_of_dataframe(tmp_path: Path) -> None:
    frame = sample_frame()
    back = round_trip("json", frame, tmp_path)
    assert_same_frame(back, frame)
    document = json.loads((tmp_path / "value.json").read_text(encoding="utf-8"))
    assert document["__datareplay__"] == "frame"
    assert document["data"][1]["s"] == "bé"  # rows are records while labels are unique text


@pytest.mark.parametrize("fmt", ["parquet", "feather", "json"])
@pytest.mark.parametrize(
    "index",
    [
        pd.Index([10, 20, 30, 40], name="k"),
        pd.Index(["w", "x", "y", "z"], name="label"),
        pd.RangeIndex(5, 9),
    ],
    ids=["int-named", "str-named", "range-offset"],
)
def test_non_default_index_is_kept(fmt: str, index: pd.Index, tmp_path: Path) -> None:
    frame = sample_frame().set_index(index)
    back = round_trip(fmt, frame, tmp_path)
    assert list(back.columns) == list(frame.columns)
    assert list(back.index) == list(frame.index)
    assert back.index.name == frame.index.name
    assert_same_frame(back, frame)


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, "x", None, True], "b": {"nested": {}}, "c": []},
        [1, "two", {"three": 3}],
        "text",
        42,
        None,
    ],
)
def test_json_round_trip_of_plain_values(value: Any, tmp_path: Path) -> None:
    assert round_trip("json", value, tmp_path) == value


def test_json_plain_dict_with_schema_and_data_keys_round_trips(tmp_path: Path) -> None:
    """Any JSON value must come back as written, even one shaped like a table document."""
    value = {"schema": "v1", "data": [1, 2, 3]}
    assert round_trip("json", value, tmp_path) == value


def test_json_refuses_nan_in_plain_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JSON has no number for"):
        FORMATS["json"].write({"x": float("nan")}, tmp_path / "v.json")


def test_json_plain_file_is_utf8_text(tmp_path: Path) -> None:
    FORMATS["json"].write({"name": "café"}, tmp_path / "v.json")
    assert json.loads((tmp_path / "v.json").read_bytes().decode("utf-8")) == {"name": "café"}


def test_pickle_round_trip_of_arbitrary_object(tmp_path: Path) -> None:
    value = {
        "rec": Recording("drive", [1.0, 2.5], {"night"}),
        "tuple": (1, b"\x00\xff", frozenset({3})),
        "array": np.arange(6).reshape(2, 3),
        "frame": sample_frame(),
    }
    back = round_trip("pickle", value, tmp_path)
    assert back["rec"] == value["rec"]
    assert back["tuple"] == value["tuple"]
    np.testing.assert_array_equal(back["array"], value["array"])
    pd.testing.assert_frame_equal(back["frame"], value["frame"])


# -- format table ----------------------------------------------------------------------


def test_format_table() -> None:
    assert set(FORMATS) == {"parquet", "feather", "csv", "json", "npy", "pickle", "excel", "memory"}
    assert {n for n, f in FORMATS.items() if f.tabular} == {"parquet", "feather", "csv", "excel"}
    assert {n for n, f in FORMATS.items() if f.persistent} == set(FORMATS) - {"memory"}
    assert {n for n, f in FORMATS.items() if f.read_only} == {"excel"}
    assert FORMATS["pickle"].extension == ".pkl"
    assert FORMATS["memory"].read is None and FORMATS["memory"].write is None
    for alias, target in ALIASES.items():
        assert target in FORMATS, alias


def test_each_format_accepts_its_kinds_of_value() -> None:
    frame = sample_frame()
    for fmt in ("parquet", "feather", "csv"):
        assert FORMATS[fmt].accepts(frame)
        assert not FORMATS[fmt].accepts({"a": [1]})
        assert not FORMATS[fmt].accepts(frame.to_numpy())
    assert FORMATS["parquet"].accepts(frame["i"]) and FORMATS["feather"].accepts(frame["i"])
    assert not FORMATS["csv"].accepts(frame["i"])
    assert FORMATS["npy"].accepts(frame.to_numpy()) and not FORMATS["npy"].accepts(frame)
    assert not FORMATS["json"].accepts(frame.to_numpy())
    for fmt in ("json", "pickle", "memory"):
        assert FORMATS[fmt].accepts(frame)
        assert FORMATS[fmt].accepts([1, 2])


def test_format_is_frozen() -> None:
    fmt = Format("x", ".x", None, None, tabular=False)
    assert not fmt.persistent
    with pytest.raises(AttributeError):
        fmt.name = "y"  # type: ignore[misc]


# -- describe and memory_bytes ---------------------------------------------------------


def test_describe_shapes_and_types() -> None:
    frame = pd.DataFrame({c: range(1000) for c in "abcde"})
    assert describe(frame) == "DataFrame 1,000×5"
    assert describe(frame["a"]) == "Series 1,000"
    assert describe(np.zeros((2, 3, 4))) == "ndarray 2×3×4"
    assert describe([1, 2, 3]) == "list of 3"
    assert describe({"a": 1}) == "dict of 1"
    assert describe(set(range(1234))) == "set of 1,234"
    assert describe(()) == "tuple of 0"
    assert describe(3.5) == "float"
    assert describe(None) == "NoneType"
    assert describe(np.float64(1.0)) == "float64"


def test_memory_bytes() -> None:
    frame = pd.DataFrame({"a": np.arange(100, dtype="int64"), "b": np.ones(100)})
    expected = int(frame.memory_usage(index=True, deep=False).sum())
    assert memory_bytes(frame) == expected
    assert memory_bytes(frame) >= 1600
    assert memory_bytes(np.zeros(10, dtype="float32")) == 40
    assert memory_bytes([1, 2, 3]) is None
    assert memory_bytes("text") is None
    assert memory_bytes(None) is None
