"""No step can change what another step reads: every in-place change stays with its maker.

Each mutation a plugin might make to a frame it read (or to a frame it wrote, after the
write) is applied, and then the value in the catalog and what the next reader gets are
compared with the original. A mutation may also simply be refused by pandas (a write
through a read-only ``to_numpy()``): it must never reach anyone else.
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from datareplay.data.catalog import DataCatalog
from datareplay.data.formats import FORMATS
from datareplay.data.source import DataSource
from datareplay.data.views import reader_view, snapshot


def original() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "v": np.arange(6, dtype="float64"),
            "n": np.arange(6, dtype="int64"),
            "label": ["a", "b", "c", "d", "e", "f"],
            "count": pd.array([1, 2, None, 4, 5, 6], dtype="Int64"),
            "road": pd.Categorical(["x", "y", "x", "y", "x", "y"]),
            "t": pd.date_range("2026-01-01", periods=6, freq="s", tz="UTC"),
            "naive": pd.date_range("2026-01-01", periods=6, freq="ms"),
        },
        index=pd.Index(np.arange(10, 16), name="sample"),
    )
    frame.attrs["unit"] = {"v": "m/s", "tags": ["raw"]}
    return frame


def _set(obj: Any, key: Any, value: Any) -> None:
    obj[key] = value


Mutation = Callable[[pd.DataFrame], Any]

MUTATIONS: dict[str, Mutation] = {
    "column assignment -=": lambda f: _set(f, "v", f["v"] - f["v"].mean()),
    "augmented assignment on a column": lambda f: f["v"].__isub__(1.0),
    "new column": lambda f: _set(f, "new", 1.0),
    "insert": lambda f: f.insert(0, "first", 0),
    "del column": lambda f: f.__delitem__("v"),
    "pop": lambda f: f.pop("n"),
    ".loc write": lambda f: _set(f.loc, (10, "v"), 99.0),
    ".loc row slice write": lambda f: _set(f.loc, (slice(None), "n"), 0),
    ".iloc write": lambda f: _set(f.iloc, (0, 0), 99.0),
    ".at write": lambda f: _set(f.at, (11, "label"), "zz"),
    "column setitem": lambda f: _set(f["v"], 10, 99.0),
    "chained .iloc on a column": lambda f: _set(f["v"].iloc, 0, 99.0),
    "fillna inplace": lambda f: f.fillna({"count": 0}, inplace=True),
    "drop inplace": lambda f: f.drop(columns=["v"], inplace=True),
    "rename inplace": lambda f: f.rename(columns={"v": "speed"}, inplace=True),
    "sort_values inplace": lambda f: f.sort_values("v", ascending=False, inplace=True),
    "reset_index inplace": lambda f: f.reset_index(inplace=True),
    "set_index inplace": lambda f: f.set_index("label", inplace=True),
    "dropna inplace": lambda f: f.dropna(inplace=True),
    "replace inplace": lambda f: f.replace({"v": {0.0: -1.0}}, inplace=True),
    "clip inplace": lambda f: f["v"].clip(upper=1.0, inplace=True),
    "update": lambda f: f.update(pd.DataFrame({"v": [7.0] * 6}, index=f.index)),
    "to_numpy write (one column)": lambda f: _set(f["v"].to_numpy(), 0, 99.0),
    "to_numpy write (float block)": lambda f: _set(f[["v"]].to_numpy(), (0, 0), 99.0),
    ".values write": lambda f: _set(f["n"].values, 0, 99),
    "np.asarray write": lambda f: _set(np.asarray(f["v"]), 0, 99.0),
    "datetime .values write": lambda f: _set(f["naive"].values, 0, np.datetime64("2000")),
    "Int64 .array write": lambda f: _set(f["count"].array, 0, 99),
    "Int64 .values write": lambda f: _set(f["count"].values, 0, 99),
    "categorical .array write": lambda f: _set(f["road"].array, 0, "y"),
    "tz datetime .array write": lambda f: _set(f["t"].array, 0, pd.Timestamp("2000", tz="UTC")),
    "index replaced": lambda f: setattr(f, "index", range(6)),
    "index renamed": lambda f: setattr(f.index, "name", "other"),
    "columns replaced": lambda f: setattr(f, "columns", [f"c{i}" for i in range(f.shape[1])]),
    "columns renamed": lambda f: setattr(f.columns, "name", "fields"),
    "attrs key": lambda f: f.attrs.update(unit="km/h"),
    "attrs nested": lambda f: f.attrs["unit"]["tags"].append("changed"),
    "flags": lambda f: setattr(f.flags, "allows_duplicate_labels", False),
}


def mutate(frame: pd.DataFrame, how: Mutation) -> None:
    """Apply a mutation; pandas may refuse it (read-only buffers), which is fine."""
    # deprecated inplace= and chained assignment still run; "assignment destination is
    # read-only" and the like are refusals
    with warnings.catch_warnings(), contextlib.suppress(ValueError, TypeError):
        warnings.simplefilter("ignore")
        how(frame)


def assert_untouched(frame: Any) -> None:
    expected = original()
    assert isinstance(frame, pd.DataFrame)
    pd.testing.assert_frame_equal(frame, expected)
    assert frame.attrs == expected.attrs
    assert frame.index.name == "sample" and frame.columns.name is None
    assert frame.flags.allows_duplicate_labels


@pytest.fixture
def catalog(tmp_path: Path) -> DataCatalog:
    (tmp_path / "data").mkdir()
    parquet, memory = FORMATS["parquet"], FORMATS["memory"]
    sources = {
        "raw": DataSource("raw", parquet, tmp_path / "data" / "raw.parquet", read_only=True),
        "table": DataSource("table", parquet, tmp_path / "data" / "table.parquet"),
        "scratch": DataSource("scratch", memory, None),
    }
    assert parquet.write is not None
    parquet.write(original(), tmp_path / "data" / "raw.parquet")
    return DataCatalog(sources, project_root=tmp_path)


@pytest.mark.parametrize("how", list(MUTATIONS.values()), ids=list(MUTATIONS))
@pytest.mark.parametrize("name", ["raw", "table", "scratch"])
def test_a_reader_changing_its_input_changes_nothing_else(
    catalog: DataCatalog, name: str, how: Mutation
) -> None:
    if name != "raw":
        catalog.hub("make", reads={}, writes={"out": name})["out"] = original()
    first = catalog.hub("first", reads={"data": name}, writes={})
    second = catalog.hub("second", reads={"data": name}, writes={})
    seen = first["data"]
    mutate(seen, how)
    assert_untouched(second["data"])  # the next step
    assert_untouched(catalog[name])  # the catalog, and the API
    assert_untouched(catalog._cache[name])  # the cached value itself


@pytest.mark.parametrize("how", list(MUTATIONS.values()), ids=list(MUTATIONS))
@pytest.mark.parametrize("name", ["table", "scratch"])
def test_a_writer_changing_its_frame_after_the_write_changes_nothing(
    catalog: DataCatalog, name: str, how: Mutation
) -> None:
    hub = catalog.hub("make", reads={}, writes={"out": name})
    mine = original()
    hub["out"] = mine
    mutate(mine, how)
    assert_untouched(hub["out"])  # reading back its own output
    assert_untouched(catalog.hub("next", reads={"data": name}, writes={})["data"])


def test_the_writer_keeps_a_writable_frame(catalog: DataCatalog) -> None:
    mine = original()
    catalog.hub("make", reads={}, writes={"out": "table"})["out"] = mine
    mine.loc[10, "count"] = 7
    mine["count"].array[1] = 8  # its own extension buffers stay writable
    assert mine["count"].tolist()[:2] == [7, 8]
    assert_untouched(catalog["table"])


def test_a_reader_may_change_its_copy_as_it_likes(catalog: DataCatalog) -> None:
    frame = catalog["raw"]
    frame.loc[10, "count"] = 7
    frame["v"] -= 1.0
    frame.fillna({"count": 0}, inplace=True)
    assert frame.loc[10, "count"] == 7 and frame["v"].iloc[0] == -1.0
    assert_untouched(catalog["raw"])


def test_reading_shares_every_column_buffer(catalog: DataCatalog) -> None:
    cached = catalog._value("raw")
    view = catalog["raw"]
    for column in ("v", "n", "naive"):
        assert np.shares_memory(view[column].to_numpy(), cached[column].to_numpy()), column
    assert np.shares_memory(view["count"].array._data, cached["count"].array._data)


# -- values that are not frames -------------------------------------------------------


def test_a_series_read_is_isolated() -> None:
    series = pd.Series(np.arange(4.0), index=pd.Index(list("abcd"), name="k"), name="s")
    for how in (
        lambda s: _set(s, "a", 9.0),
        lambda s: s.__isub__(1.0),
        lambda s: _set(s.to_numpy(), 0, 9.0),
        lambda s: setattr(s.index, "name", "z"),
        lambda s: s.rename("other", inplace=True),
        lambda s: s.sort_values(ascending=False, inplace=True),
    ):
        mutate(reader_view(series), how)  # type: ignore[arg-type]
    assert series.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert series.name == "s" and series.index.name == "k"


def test_a_numpy_array_is_read_only_for_readers_and_copied_for_the_cache() -> None:
    array = np.arange(5.0)
    cached = snapshot(array)
    array[0] = 99.0  # the writer goes on changing its array
    assert cached[0] == 0.0
    view = reader_view(cached)
    assert np.shares_memory(view, cached)
    with pytest.raises(ValueError, match="read-only"):
        view[1] = 5.0
    assert view.copy().flags.writeable


def test_documents_are_isolated_level_by_level() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    document = {"meta": {"tags": ["x"]}, "rows": [1, 2], "table": frame, "pair": (1, [2])}
    view = reader_view(document)
    view["meta"]["tags"].append("y")
    view["rows"].append(3)
    view["pair"][1].append(4)
    view["table"].loc[0, "a"] = 9.0
    assert document == {"meta": {"tags": ["x"]}, "rows": [1, 2], "table": frame, "pair": (1, [2])}
    assert frame["a"].tolist() == [1.0, 2.0]
    assert np.shares_memory(reader_view(document)["table"]["a"].to_numpy(), frame["a"].to_numpy())


def test_other_objects_are_deep_copied_and_immutable_values_shared() -> None:
    class Model:
        def __init__(self) -> None:
            self.weights = [1.0, 2.0]

    model = Model()
    assert snapshot(model) is model  # cached as written: no pickling hooks run twice
    view = reader_view(model)
    view.weights.append(3.0)
    assert model.weights == [1.0, 2.0]
    text = "unchanged"
    assert reader_view(text) is text


def test_a_json_document_read_twice_is_two_documents(tmp_path: Path) -> None:
    source = DataSource("doc", FORMATS["json"], tmp_path / "doc.json")
    catalog = DataCatalog({"doc": source}, project_root=tmp_path)
    catalog["doc"] = {"speeds": [1, 2, 3]}
    first = catalog["doc"]
    first["speeds"].clear()
    assert catalog["doc"] == {"speeds": [1, 2, 3]}


def test_a_reader_can_change_its_view_after_the_catalog_released_the_value(
    catalog: DataCatalog,
) -> None:
    frame = catalog["raw"]
    column = frame["count"]
    catalog.release("raw")
    gc.collect()
    frame.loc[10, "count"] = 7  # copies the shared buffer, never writes it in place
    frame.loc[11, "road"] = "x"
    frame.loc[10, "t"] = pd.Timestamp("2000", tz="UTC")
    column.loc[12] = 9
    assert frame.loc[10, "count"] == 7 and column.loc[12] == 9
    assert_untouched(catalog["raw"])
