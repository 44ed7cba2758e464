"""Persistence with references: datareplay.data.storage (DataRef, LocalStorage, hash_file).

Every write returns a ``DataRef`` that describes exactly the bytes that became visible;
a read checked against a reference refuses a file changed since. The ``DataHub`` a plugin
receives exposes its ports and nothing of the engine.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from datareplay import BasePlugin, DataHub
from datareplay.data.catalog import DataCatalog
from datareplay.data.formats import FORMATS
from datareplay.data.source import DataSource
from datareplay.data.storage import DataRef, LocalStorage, hash_file
from datareplay.errors import PersistenceError
from datareplay.plugins.loader import PluginRef
from datareplay.run.execute import execute
from datareplay.run.step import StepSpec

PERSISTENT = ["parquet", "feather", "csv", "json", "pickle"]


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "t_s": [0.0, 0.05, 0.1, 0.15],
            "speed_mps": [12.5, 12.75, float("nan"), 13.0],
            "kind": ["a", "b", "c", "d"],
        }
    )


def source(root: Path, fmt: str, name: str = "table") -> DataSource:
    path = None if fmt == "memory" else root / "data" / f"{name}{FORMATS[fmt].extension}"
    return DataSource(name, FORMATS[fmt], path)


def catalog_of(root: Path, *sources: DataSource) -> DataCatalog:
    (root / "data").mkdir(parents=True, exist_ok=True)
    return DataCatalog({s.name: s for s in sources}, project_root=root)


def assert_matches_disk(ref: DataRef, src: DataSource, value: Any) -> None:
    assert src.path is not None
    assert ref.location == str(src.path)
    assert ref.persisted
    assert ref.source == src.name and ref.format == src.format.name
    assert ref.content_hash is not None and ref.content_hash.startswith("xxh3_128:")
    assert len(ref.content_hash) == len("xxh3_128:") + 32
    assert hash_file(src.path) == (ref.content_hash, ref.size_bytes)
    assert ref.size_bytes == src.path.stat().st_size > 0
    shape = getattr(value, "shape", None)
    if shape is not None:
        assert (ref.rows, ref.columns) == shape
    else:
        assert (ref.rows, ref.columns) == (None, None)


# -- what a write returns ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", PERSISTENT)
def test_catalog_put_returns_the_ref_of_the_bytes_on_disk(tmp_path: Path, fmt: str) -> None:
    src = source(tmp_path, fmt)
    catalog = catalog_of(tmp_path, src)
    value = frame()
    ref = catalog.put("table", value)
    assert_matches_disk(ref, src, value)
    assert ref.kind == "DataFrame 4×3"
    assert catalog.refs["table"] == ref
    assert pickle.loads(pickle.dumps(ref)) == ref

    # a second, different write gives a new reference that again matches the file
    second = catalog.put("table", value.iloc[:2])
    assert_matches_disk(second, src, value.iloc[:2])
    assert second.content_hash != ref.content_hash
    assert catalog.refs["table"] == second


@pytest.mark.parametrize("fmt", ["json", "pickle"])
def test_non_tabular_values_have_no_shape(tmp_path: Path, fmt: str) -> None:
    src = source(tmp_path, fmt)
    catalog = catalog_of(tmp_path, src)
    value = {"distance_m": 1234.5, "events": [1, 2, 3]}
    ref = catalog.put("table", value)
    assert_matches_disk(ref, src, value)
    assert ref.kind == "dict of 2"


def test_same_value_written_twice_has_the_same_hash(tmp_path: Path) -> None:
    src = source(tmp_path, "parquet")
    catalog = catalog_of(tmp_path, src)
    first = catalog.put("table", frame())
    assert catalog.put("table", frame()) == first


@pytest.mark.parametrize("fmt", PERSISTENT)
def test_a_step_write_through_its_hub_returns_the_ref_of_the_bytes_on_disk(
    tmp_path: Path, fmt: str
) -> None:
    src = source(tmp_path, fmt, name="result")
    catalog = catalog_of(tmp_path, src)
    seen: list[tuple[str, DataRef]] = []
    hub = catalog.hub(
        "writer",
        reads={},
        writes={"out": "result"},
        on_write=lambda s, v, ref: seen.append((s.name, ref)),
    )
    value = frame()
    hub["out"] = value
    ((name, ref),) = seen
    assert name == "result"
    assert_matches_disk(ref, src, value)
    assert catalog.refs["result"] == ref


@pytest.mark.parametrize("fmt", PERSISTENT)
def test_a_step_outcome_carries_the_ref_of_the_bytes_on_disk(tmp_path: Path, fmt: str) -> None:
    class Writer(BasePlugin):
        """Write a table."""

        outputs: ClassVar[dict[str, str]] = {"out": "A table."}

        def run(self, hub: DataHub) -> None:
            hub["out"] = frame()

    src = source(tmp_path, fmt, name="result")
    spec = StepSpec(
        run_id="r",
        case="unit",
        name="Writer",
        index=0,
        plugin=PluginRef("Writer", "tests", None, "xxh3_128:0"),
        params={},
        inputs={},
        outputs={"out": "result"},
        sources={"result": src},
        project_root=str(tmp_path),
    )
    outcome = execute(spec, catalog=catalog_of(tmp_path, src), plugin=Writer).outcome
    assert outcome.error is None
    assert_matches_disk(outcome.outputs["result"], src, frame())


def test_memory_format_has_no_location_and_no_hash(tmp_path: Path) -> None:
    catalog = catalog_of(tmp_path, source(tmp_path, "memory"))
    ref = catalog.put("table", frame())
    assert ref == DataRef("table", "memory", None, None, None, 4, 3, "DataFrame 4×3")
    assert not ref.persisted
    assert list((tmp_path / "data").iterdir()) == []
    assert catalog.put("table", [1, 2]) == DataRef(
        "table", "memory", None, None, None, None, None, "list of 2"
    )


def test_hash_file_reads_large_files_in_chunks(tmp_path: Path) -> None:
    import xxhash

    data = os.urandom(1 << 16) * 300  # ~19.7 MB: more than one 16 MiB chunk
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert hash_file(path) == ("xxh3_128:" + xxhash.xxh3_128_hexdigest(data), len(data))
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert hash_file(empty) == ("xxh3_128:" + xxhash.xxh3_128_hexdigest(b""), 0)


# -- reads checked against a reference --------------------------------------------------------


@pytest.mark.parametrize("fmt", PERSISTENT)
def test_read_against_an_unchanged_reference(tmp_path: Path, fmt: str) -> None:
    src = source(tmp_path, fmt)
    (tmp_path / "data").mkdir()
    storage = LocalStorage()
    ref = storage.write(src, frame())
    value = storage.read(src, expect=ref)
    assert isinstance(value, pd.DataFrame)
    assert value.shape == (4, 3)
    # touching the file without changing its bytes keeps it the expected version
    assert src.path is not None
    os.utime(src.path, (1_000_000_000, 1_000_000_000))
    assert storage.read(src, expect=ref).shape == (4, 3)


@pytest.mark.parametrize("fmt", PERSISTENT)
def test_read_of_a_file_changed_after_the_write_is_refused(tmp_path: Path, fmt: str) -> None:
    src = source(tmp_path, fmt, name="features")
    (tmp_path / "data").mkdir()
    storage = LocalStorage(lambda p: str(p.relative_to(tmp_path)))
    ref = storage.write(src, frame())
    LocalStorage().write(src, frame().iloc[:3])  # another writer replaced it since
    with pytest.raises(PersistenceError) as info:
        storage.read(src, expect=ref)
    message = str(info.value)
    found, _ = hash_file(src.path)  # type: ignore[arg-type]
    assert message.startswith(
        f"data source 'features' at data/features{src.format.extension} is not the version "
        f"expected (content hash {found}, expected {ref.content_hash}); it was changed after "
        "it was written"
    )
    assert message.endswith(": rerun that step")
    # without a reference the current file is read
    assert storage.read(src).shape == (3, 3)


def test_read_of_a_file_edited_in_place_is_refused_with_the_hint(tmp_path: Path) -> None:
    src = source(tmp_path, "csv", name="events")
    (tmp_path / "data").mkdir()
    storage = LocalStorage()
    ref = storage.write(src, frame())
    assert src.path is not None
    with open(src.path, "a", encoding="utf-8") as fh:
        fh.write("0.2,14.0,e\n")
    with pytest.raises(PersistenceError, match=r"^data source 'events' at .*events\.csv") as info:
        storage.read(src, expect=ref, hint=" (written by step 'detect')")
    assert "written (written by step 'detect'): rerun that step" in str(info.value)


def test_a_memory_reference_checks_nothing(tmp_path: Path) -> None:
    src = source(tmp_path, "parquet")
    (tmp_path / "data").mkdir()
    storage = LocalStorage()
    storage.write(src, frame())
    unhashed = DataRef("table", "parquet", None, None, None, 4, 3, "DataFrame 4×3")
    assert storage.read(src, expect=unhashed).shape == (4, 3)


# -- what a plugin can reach ------------------------------------------------------------------

ENGINE_ATTRIBUTES = [
    "release",
    "record_quality",
    "sources",
    "summary",
    "status",
    "put",
    "load",
    "storage",
    "producers",
    "refs",
    "catalog",
    "hub",
    "add_source",
    "available",
    "in_memory",
    "project_root",
    "quality_path",
]


def captured_hub(tmp_path: Path) -> DataHub:
    """The DataHub that ``execute`` hands to a plugin's ``run``."""
    received: list[DataHub] = []

    class Spy(BasePlugin):
        """Keep the hub."""

        inputs: ClassVar[dict[str, str]] = {"table": "A table."}
        outputs: ClassVar[dict[str, str]] = {"out": "A table."}

        def run(self, hub: DataHub) -> None:
            received.append(hub)
            hub["out"] = hub["table"]

    table, out = source(tmp_path, "parquet"), source(tmp_path, "feather", name="out")
    catalog = catalog_of(tmp_path, table, out)
    catalog.put("table", frame())
    spec = StepSpec(
        run_id="r",
        case="unit",
        name="Spy",
        index=0,
        plugin=PluginRef("Spy", "tests", None, "xxh3_128:0"),
        params={},
        inputs={"table": "table"},
        outputs={"out": "out"},
        sources={"table": table, "out": out},
        project_root=str(tmp_path),
    )
    assert execute(spec, catalog=catalog, plugin=Spy).outcome.error is None
    (hub,) = received
    return hub


def test_the_hub_a_plugin_receives_offers_only_its_ports(tmp_path: Path) -> None:
    hub = captured_hub(tmp_path)
    assert type(hub) is DataHub
    public = sorted(name for name in dir(hub) if not name.startswith("_"))
    assert public == ["get", "report_quality"]
    for name in ENGINE_ATTRIBUTES:
        assert not hasattr(hub, name), name
    # the mapping operations over its ports
    assert sorted(hub) == ["out", "table"] and len(hub) == 2
    assert "table" in hub and "elsewhere" not in hub
    assert hub["table"].shape == (4, 3)


def test_the_hub_has_slots_only_and_holds_no_engine_object(tmp_path: Path) -> None:
    hub = captured_hub(tmp_path)
    assert DataHub.__slots__
    assert not hasattr(hub, "__dict__")
    with pytest.raises(AttributeError):
        hub.catalog = object()  # type: ignore[attr-defined]
    values = [getattr(hub, slot) for slot in DataHub.__slots__]
    assert not any(isinstance(v, DataCatalog | LocalStorage) for v in values)
