"""Storage formats of data sources: how a value is written to and read from one file.

Tabular formats (parquet, feather, csv) hold pandas DataFrames; json holds a DataFrame
(as a table document with its schema) or any JSON value; pickle holds any Python object;
memory is never written to disk. pandas and pyarrow are imported only when a format is
actually used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ReadFn = Callable[[Path], Any]
WriteFn = Callable[[Any, Path], None]


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas")


def _release_arrow_memory() -> None:
    """Give memory Arrow freed back to the system (its allocator keeps it otherwise).

    Reading a recording leaves decompression buffers in Arrow's pool; returning them
    before the plugin allocates its own results lowers a run's peak memory a lot.
    """
    import pyarrow as pa

    pool = pa.default_memory_pool()
    release = getattr(pool, "release_unused", None)
    if release is not None:
        release()


def _read_parquet(path: Path) -> Any:
    import pyarrow.parquet as pq

    # free each Arrow buffer as soon as its column is converted: lower peak memory
    frame = pq.read_table(path).to_pandas(split_blocks=True, self_destruct=True)
    _release_arrow_memory()
    return frame


def _write_parquet(value: Any, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(value), path, compression="zstd")
    _release_arrow_memory()


def _read_feather(path: Path) -> Any:
    import pyarrow.feather as feather

    frame = feather.read_table(path).to_pandas(split_blocks=True, self_destruct=True)
    _release_arrow_memory()
    return frame


def _write_feather(value: Any, path: Path) -> None:
    import pyarrow.feather as feather

    feather.write_feather(value, path, compression="lz4")
    _release_arrow_memory()


def _default_index(frame: Any) -> bool:
    import pandas as pd

    index = frame.index
    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )


def _read_csv(path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(path)


def _write_csv(value: Any, path: Path) -> None:
    value.to_csv(path, index=not _default_index(value))


def _read_json(path: Path) -> Any:
    import json

    with open(path, encoding="utf-8") as fh:
        head = fh.read(4096)
    if '"schema"' in head and '"pandas_version"' in head:  # written from a DataFrame
        import pandas as pd

        try:
            return pd.read_json(path, orient="table")
        except (ValueError, KeyError):
            pass  # a plain document that only looks like a table
    with open(path, encoding="utf-8") as fh:
        document = json.load(fh)
    if _is_table_document(document):
        raise ValueError("a DataFrame table document that pandas cannot read back")
    return document


def _is_table_document(document: Any) -> bool:
    """True for what DataFrame.to_json(orient="table") writes."""
    return (
        isinstance(document, dict)
        and set(document) == {"schema", "data"}
        and isinstance(document["schema"], dict)
        and "fields" in document["schema"]
        and "pandas_version" in document["schema"]
    )


def _write_json(value: Any, path: Path) -> None:
    import json

    with open(path, "w", encoding="utf-8") as fh:
        if _is_frame(value):
            value.to_json(fh, orient="table", index=not _default_index(value), indent=1)
            return
        json.dump(value, fh, indent=1, allow_nan=False)
        fh.write("\n")


def _read_pickle(path: Path) -> Any:
    import pickle

    with open(path, "rb") as fh:
        return pickle.load(fh)  # trusted sources only: the DataHub checks before reading


def _write_pickle(value: Any, path: Path) -> None:
    import pickle

    with open(path, "wb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)


@dataclass(frozen=True)
class Format:
    """One storage format."""

    name: str
    extension: str
    read: ReadFn | None
    write: WriteFn | None
    tabular: bool

    @property
    def persistent(self) -> bool:
        return self.write is not None

    def accepts(self, value: Any) -> bool:
        return _is_frame(value) if self.tabular else True


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("parquet", ".parquet", _read_parquet, _write_parquet, tabular=True),
        Format("feather", ".feather", _read_feather, _write_feather, tabular=True),
        Format("csv", ".csv", _read_csv, _write_csv, tabular=True),
        Format("json", ".json", _read_json, _write_json, tabular=False),
        Format("pickle", ".pkl", _read_pickle, _write_pickle, tabular=False),
        Format("memory", "", None, None, tabular=False),
    )
}
ALIASES = {"arrow": "feather", "ipc": "feather", "pkl": "pickle"}


def describe(value: Any) -> str:
    """Shape or type of a value, for summaries: ``DataFrame 1,000×5`` or ``dict``."""
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape:
        dims = "×".join(f"{n:,}" for n in shape)
        return f"{type(value).__name__} {dims}"
    if isinstance(value, (list, dict, tuple, set)):
        return f"{type(value).__name__} of {len(value):,}"
    return type(value).__name__


def memory_bytes(value: Any) -> int | None:
    """Approximate in-memory size of a value in bytes, when cheaply known."""
    if _is_frame(value):
        return int(value.memory_usage(index=True, deep=False).sum())
    nbytes = getattr(value, "nbytes", None)
    return int(nbytes) if isinstance(nbytes, int) else None
