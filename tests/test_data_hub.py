"""Unit tests of datareplay.data.catalog and .hub: lazy loading, cache, atomic writes, step hubs."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from datareplay.data.atomic import TMP_MARKER
from datareplay.data.catalog import DataCatalog, SourceSummary, Status
from datareplay.data.formats import FORMATS, Format
from datareplay.data.source import DataSource
from datareplay.errors import DataAccessError, PersistenceError


class CountingFormat:
    """A json-like format that counts reads and writes."""

    def __init__(self) -> None:
        self.reads: list[Path] = []
        self.writes: list[Path] = []
        self.format = Format("counting", ".txt", self._read, self._write, tabular=False)

    def _read(self, path: Path) -> Any:
        self.reads.append(path)
        return path.read_text(encoding="utf-8")

    def _write(self, value: Any, path: Path) -> None:
        self.writes.append(path)
        path.write_text(str(value), encoding="utf-8")


def frame(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"x": list(range(n)), "y": [float(i) / 2 for i in range(n)]})


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path


def source(root: Path, name: str, fmt: str = "parquet", **kwargs: Any) -> DataSource:
    f = FORMATS[fmt]
    path = root / "data" / f"{name}{f.extension}" if f.persistent else None
    return DataSource(name=name, format=f, path=path, **kwargs)


def hub_of(root: Path, *sources: DataSource) -> DataCatalog:
    return DataCatalog({s.name: s for s in sources}, project_root=root)


# -- lazy loading and the cache ------------------------------------------------------------


def test_file_is_read_only_on_first_access(root: Path) -> None:
    counting = CountingFormat()
    path = root / "data" / "notes.txt"
    path.write_text("hello", encoding="utf-8")
    hub = DataCatalog({"notes": DataSource("notes", counting.format, path)}, project_root=root)
    assert counting.reads == []
    assert "notes" in hub
    assert counting.reads == []
    assert hub["notes"] == "hello"
    assert counting.reads == [path]
    assert hub["notes"] == "hello"
    assert hub.get("notes") == "hello"
    assert counting.reads == [path]


def test_every_read_is_a_view_of_one_cached_frame(root: Path) -> None:
    src = source(root, "t")
    FORMATS["parquet"].write(frame(), src.path)  # type: ignore[misc, arg-type]
    hub = hub_of(root, src)
    first = hub["t"]
    second = hub["t"]
    assert isinstance(first, pd.DataFrame)
    assert second is not first  # each reader its own object...
    assert np.shares_memory(first["y"].to_numpy(), second["y"].to_numpy())  # ...no copy
    pd.testing.assert_frame_equal(first, frame())


def test_a_written_value_is_cached_without_a_copy_and_handed_over(root: Path) -> None:
    hub = hub_of(root, source(root, "t"))
    value = frame()
    hub["t"] = value
    first, second = hub["t"], hub["t"]
    assert first is not value and second is not first
    # no copy: the writer's frame, the cache and every reader share one read-only buffer
    assert np.shares_memory(first["y"].to_numpy(), value["y"].to_numpy())
    assert np.shares_memory(first["y"].to_numpy(), second["y"].to_numpy())
    with pytest.raises(ValueError, match="read-only"):
        value["y"].array[0] = 99.0  # the writer changing its frame after the write
    with pytest.raises(ValueError, match="read-only"):
        first["y"].array[0] = 99.0  # a reader writing through the array
    value.loc[0, "y"] = 99.0  # pandas' own operations copy first
    first.loc[1, "y"] = 98.0
    assert second["y"].tolist() == frame()["y"].tolist()


def test_views_share_one_cache(root: Path) -> None:
    counting = CountingFormat()
    path = root / "data" / "n.txt"
    path.write_text("v", encoding="utf-8")
    hub = DataCatalog({"n": DataSource("n", counting.format, path)}, project_root=root)
    a = hub.hub("a", reads={"n": "n"}, writes={})
    b = hub.hub("b", reads={"in": "n"}, writes={})
    assert a["n"] == "v"
    assert b["in"] == "v"
    assert len(counting.reads) == 1
    assert hub.in_memory("n")


# -- writes ---------------------------------------------------------------------------------


def test_write_is_persisted_immediately(root: Path) -> None:
    src = source(root, "t")
    hub = hub_of(root, src)
    assert src.path is not None and not src.path.exists()
    hub["t"] = frame(5)
    assert src.path.is_file()
    pd.testing.assert_frame_equal(FORMATS["parquet"].read(src.path), frame(5))  # type: ignore[misc]
    assert sorted(p.name for p in src.path.parent.iterdir()) == ["t.parquet"]


def test_write_replaces_file_atomically(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counting = CountingFormat()
    path = root / "data" / "v.txt"
    hub = DataCatalog({"v": DataSource("v", counting.format, path)}, project_root=root)
    hub["v"] = "one"
    hub["v"] = "two"
    assert path.read_text(encoding="utf-8") == "two"
    # the format wrote to temporaries beside the target, never to the target itself
    assert len(counting.writes) == 2
    for written in counting.writes:
        assert written != path
        assert written.parent == path.parent
        assert TMP_MARKER in written.name
        assert not written.exists()


def test_failed_write_keeps_previous_file_and_names_source(root: Path) -> None:
    src = source(root, "t")
    hub = hub_of(root, src)
    hub["t"] = frame(2)
    assert src.path is not None
    before = src.path.read_bytes()
    bad = pd.DataFrame({"obj": [object(), object()]})
    with pytest.raises(PersistenceError) as info:
        hub["t"] = bad
    message = str(info.value)
    assert "data source 't'" in message
    assert "previous version is kept" in message
    assert src.path.read_bytes() == before
    assert sorted(p.name for p in src.path.parent.iterdir()) == ["t.parquet"]


def test_memory_format_is_never_written(root: Path) -> None:
    src = source(root, "scratch", "memory")
    assert src.path is None and not src.persisted
    hub = hub_of(root, src)
    hub["scratch"] = {"any": object()}
    assert "scratch" in hub
    assert list((root / "data").iterdir()) == []
    assert hub.status("scratch") is Status.IN_MEMORY


def test_memory_format_with_a_path_is_still_not_written(root: Path) -> None:
    path = root / "data" / "mem.bin"
    hub = DataCatalog({"m": DataSource("m", FORMATS["memory"], path)}, project_root=root)
    hub["m"] = [1, 2]
    assert not path.exists()
    hub.release("m")
    assert "m" not in hub
    with pytest.raises(PersistenceError, match="has no data yet"):
        hub["m"]


def test_read_only_source_refuses_writes(root: Path) -> None:
    src = source(root, "raw", read_only=True)
    FORMATS["parquet"].write(frame(), src.path)  # type: ignore[misc, arg-type]
    before = src.path.read_bytes()  # type: ignore[union-attr]
    hub = hub_of(root, src)
    with pytest.raises(DataAccessError, match="'raw' is read_only"):
        hub["raw"] = frame(9)
    assert src.path.read_bytes() == before  # type: ignore[union-attr]
    assert not hub.in_memory("raw")


@pytest.mark.parametrize("fmt", ["parquet", "feather", "csv"])
@pytest.mark.parametrize(
    "value", [{"a": 1}, [1, 2], pd.Series([1, 2])], ids=["dict", "list", "series"]
)
def test_tabular_format_refuses_non_dataframe(root: Path, fmt: str, value: Any) -> None:
    if isinstance(value, pd.Series) and fmt != "csv":
        pytest.skip("parquet and feather hold a Series (tests/test_format_fidelity.py)")
    hub = hub_of(root, source(root, "table", fmt)).hub("Maker", reads={}, writes={"out": "table"})
    with pytest.raises(PersistenceError) as info:
        hub["out"] = value
    message = str(info.value)
    assert "data source 'table'" in message
    assert f"format {fmt}" in message
    assert "step 'Maker'" in message
    assert type(value).__name__ in message
    assert list((root / "data").iterdir()) == []


@pytest.mark.parametrize("fmt", ["json", "pickle", "memory"])
def test_non_tabular_formats_take_any_value(root: Path, fmt: str) -> None:
    hub = hub_of(root, source(root, "v", fmt))
    hub["v"] = {"a": [1, 2]}
    hub.release("v")
    if fmt != "memory":
        assert hub["v"] == {"a": [1, 2]}


# -- views ------------------------------------------------------------------------------------


@pytest.fixture
def hub(root: Path) -> DataCatalog:
    return hub_of(root, source(root, "signals"), source(root, "events"), source(root, "other"))


def test_view_maps_port_names_to_source_names(hub: DataCatalog, root: Path) -> None:
    hub["signals"] = frame(4)
    view = hub.hub("Detect", reads={"features": "signals"}, writes={"found": "events"})
    pd.testing.assert_frame_equal(view["features"], hub["signals"])
    result = frame(1)
    view["found"] = result
    pd.testing.assert_frame_equal(hub["events"], result)
    assert (root / "data" / "events.parquet").is_file()
    assert not (root / "data" / "found.parquet").exists()
    assert sorted(view) == ["features", "found"]
    assert len(view) == 2
    assert sorted(hub) == ["events", "other", "signals"]


def test_view_refuses_undeclared_read(hub: DataCatalog) -> None:
    hub["other"] = frame()
    view = hub.hub("Detect", reads={"features": "signals"}, writes={"found": "events"})
    with pytest.raises(DataAccessError) as info:
        view["other"]
    message = str(info.value)
    assert "step 'Detect' read 'other'" in message
    assert "declared inputs: features" in message
    # the source name is not a port of the step either
    with pytest.raises(DataAccessError):
        view["signals"]


def test_view_refuses_undeclared_write(hub: DataCatalog, root: Path) -> None:
    view = hub.hub("Detect", reads={"features": "signals"}, writes={"found": "events"})
    with pytest.raises(DataAccessError) as info:
        view["other"] = frame()
    message = str(info.value)
    assert "step 'Detect' wrote 'other'" in message
    assert "declared outputs: found" in message
    with pytest.raises(DataAccessError, match="declared outputs: found"):
        view["features"] = frame()  # an input port is not writable
    assert list((root / "data").iterdir()) == []


def test_view_without_ports_says_none(hub: DataCatalog) -> None:
    view = hub.hub("Empty", reads={}, writes={})
    with pytest.raises(DataAccessError, match=r"declared inputs: none"):
        view["signals"]
    with pytest.raises(DataAccessError, match=r"declared outputs: none"):
        view["signals"] = frame()
    assert list(view) == []


def test_view_can_read_back_its_own_output(hub: DataCatalog) -> None:
    view = hub.hub("S", reads={}, writes={"out": "events"})
    assert "out" not in view
    value = frame()
    view["out"] = value
    assert "out" in view
    pd.testing.assert_frame_equal(view["out"], value)


def test_port_mapped_to_unknown_source(hub: DataCatalog) -> None:
    view = hub.hub("S", reads={"x": "nope"}, writes={})
    with pytest.raises(DataAccessError, match="no data source named 'nope'"):
        view["x"]
    assert "x" not in view


def test_contains_and_get(hub: DataCatalog) -> None:
    view = hub.hub("S", reads={"in": "signals"}, writes={"out": "events"})
    assert "in" not in view
    assert view.get("in") is None
    marker = object()
    assert view.get("in", marker) is marker
    assert "undeclared" not in view
    assert view.get("undeclared", marker) is marker
    assert 3 not in view
    hub["signals"] = frame()
    assert "in" in view
    assert isinstance(view.get("in"), pd.DataFrame)


def test_contains_on_disk_without_loading(hub: DataCatalog, root: Path) -> None:
    FORMATS["parquet"].write(frame(), root / "data" / "signals.parquet")  # type: ignore[misc]
    assert "signals" in hub
    assert not hub.in_memory("signals")
    assert hub.available("signals")
    assert not hub.available("events")


# -- release and status ------------------------------------------------------------------------


def test_release_then_read_reloads_from_disk(root: Path) -> None:
    counting = CountingFormat()
    path = root / "data" / "n.txt"
    hub = DataCatalog({"n": DataSource("n", counting.format, path)}, project_root=root)
    hub["n"] = "first"
    assert hub.status("n") is Status.IN_MEMORY
    hub.release("n")
    assert not hub.in_memory("n")
    assert hub.status("n") is Status.ON_DISK
    assert counting.reads == []
    path.write_text("changed on disk", encoding="utf-8")
    assert hub["n"] == "changed on disk"
    assert counting.reads == [path]
    assert hub.status("n") is Status.IN_MEMORY


def test_status_values(root: Path) -> None:
    on_disk = source(root, "on_disk")
    FORMATS["parquet"].write(frame(), on_disk.path)  # type: ignore[misc, arg-type]
    hub = hub_of(
        root,
        on_disk,
        source(root, "missing"),
        source(root, "mem", "memory"),
        source(root, "written"),
    )
    assert hub.status("on_disk") is Status.NOT_LOADED
    assert hub.status("missing") is Status.MISSING
    assert hub.status("mem") is Status.MISSING
    assert hub.status("written") is Status.MISSING

    hub["on_disk"]
    hub["mem"] = [1]
    hub["written"] = frame()
    assert hub.status("on_disk") is Status.IN_MEMORY
    assert hub.status("mem") is Status.IN_MEMORY
    assert hub.status("written") is Status.IN_MEMORY

    for name in ("on_disk", "mem", "written"):
        hub.release(name)
    assert hub.status("on_disk") is Status.ON_DISK
    assert hub.status("written") is Status.ON_DISK
    assert hub.status("mem") is Status.RELEASED
    assert "mem" not in hub
    assert Status.RELEASED.value == "released"
    assert Status.NOT_LOADED.value == "not loaded"


def test_release_of_a_value_that_is_none(root: Path) -> None:
    hub = hub_of(root, source(root, "m", "memory"))
    hub["m"] = None
    assert "m" in hub
    hub.release("m")
    assert hub.status("m") is Status.RELEASED


def test_release_of_untouched_source_changes_nothing(root: Path) -> None:
    hub = hub_of(root, source(root, "m", "memory"))
    hub.release("m")
    assert hub.status("m") is Status.MISSING


def test_summary_rows(root: Path) -> None:
    disk = source(root, "disk")
    FORMATS["parquet"].write(frame(), disk.path)  # type: ignore[misc, arg-type]
    mem = source(root, "mem", "memory")
    hub = hub_of(root, disk, mem, source(root, "nothing", "csv"))
    value = frame(10)
    hub["mem"] = value
    rows = {row.name: row for row in hub.summary()}
    assert list(rows) == ["disk", "mem", "nothing"]
    assert all(isinstance(r, SourceSummary) for r in rows.values())

    assert rows["disk"].status is Status.NOT_LOADED
    assert rows["disk"].kind == "parquet"
    assert rows["disk"].size_bytes == disk.path.stat().st_size  # type: ignore[union-attr]
    assert rows["disk"].path == disk.path
    assert rows["disk"].format == "parquet"

    assert rows["mem"].status is Status.IN_MEMORY
    assert rows["mem"].kind == "DataFrame 10×2"
    assert rows["mem"].size_bytes == int(value.memory_usage(index=True).sum())
    assert rows["mem"].path is None
    assert rows["mem"].format == "memory"

    assert rows["nothing"].status is Status.MISSING
    assert rows["nothing"].kind == ""
    assert rows["nothing"].size_bytes is None
    assert rows["nothing"].format == "csv"


# -- failures when reading -----------------------------------------------------------------------


def test_untrusted_pickle_is_refused(root: Path) -> None:
    path = root / "data" / "blob.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    hub = hub_of(root, DataSource("blob", FORMATS["pickle"], path, trusted=False))
    with pytest.raises(PersistenceError) as info:
        hub["blob"]
    message = str(info.value)
    assert "refusing to unpickle data/blob.pkl" in message
    assert "trusted: true" in message
    assert not hub.in_memory("blob")


def test_trusted_pickle_is_loaded(root: Path) -> None:
    path = root / "data" / "blob.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    hub = hub_of(root, DataSource("blob", FORMATS["pickle"], path, trusted=True))
    assert hub["blob"] == {"a": 1}


def test_corrupt_parquet_names_file_and_producing_step(root: Path) -> None:
    src = source(root, "features")
    src.path.write_bytes(b"this is not parquet at all")  # type: ignore[union-attr]
    hub = hub_of(root, src)
    hub.producers["features"] = "FeatureBuilder"
    with pytest.raises(PersistenceError) as info:
        hub["features"]
    message = str(info.value)
    assert "cannot read data source 'features' from data/features.parquet" in message
    assert "(written by step 'FeatureBuilder')" in message
    assert "rerunning" in message
    assert not hub.in_memory("features")


def test_missing_file_names_path_and_producer(root: Path) -> None:
    hub = hub_of(root, source(root, "features"))
    hub.producers["features"] = "FeatureBuilder"
    with pytest.raises(PersistenceError) as info:
        hub["features"]
    message = str(info.value)
    assert "has no file at data/features.parquet" in message
    assert "FeatureBuilder" in message


def test_relative_paths_in_messages(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    hub = hub_of(root)
    assert hub.relative(root / "data" / "x.csv") == str(Path("data") / "x.csv")
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "x.csv"
    assert hub.relative(elsewhere) == str(elsewhere)
    assert hub.relative(None) == "memory"
