"""Storage formats of data sources: how a value is written to and read from one file.

Every format keeps exactly what it is given or refuses the write (see
``datareplay.data.fidelity``): parquet and feather hold DataFrames and Series with every
dtype, index and label; csv holds plain tables (default index, unique text labels,
int64/float64/bool/text columns); json holds DataFrames, Series (see
``datareplay.data.jsoncodec``) and any JSON value; npy holds NumPy arrays; pickle holds
any Python object; excel (xlsx, xlsm, xls, ods) is read only; memory is never written to
disk. A format's ``options`` are the keys a data source may set under ``options:``.
pandas and pyarrow are imported only when a format is actually used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Options = Mapping[str, Any]
# read(path[, options]) and write(value, path[, options]): options are passed when set
ReadFn = Callable[..., Any]
WriteFn = Callable[..., None]
_NO_OPTIONS: Options = {}


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


def _read_parquet(path: Path, options: Options = _NO_OPTIONS) -> Any:
    import pyarrow.parquet as pq

    from datareplay.data.fidelity import from_arrow

    # free each Arrow buffer as soon as its column is converted: lower peak memory
    value = from_arrow(pq.read_table(path))
    _release_arrow_memory()
    return value


def _write_parquet(value: Any, path: Path, options: Options = _NO_OPTIONS) -> None:
    import pyarrow.parquet as pq

    from datareplay.data.fidelity import to_arrow

    pq.write_table(
        to_arrow(value),
        path,
        compression=options.get("compression", "zstd"),
        compression_level=options.get("compression_level"),
    )
    _release_arrow_memory()


def _read_feather(path: Path, options: Options = _NO_OPTIONS) -> Any:
    import pyarrow.feather as feather

    from datareplay.data.fidelity import from_arrow

    value = from_arrow(feather.read_table(path))
    _release_arrow_memory()
    return value


def _write_feather(value: Any, path: Path, options: Options = _NO_OPTIONS) -> None:
    import pyarrow.feather as feather

    from datareplay.data.fidelity import to_arrow

    feather.write_feather(
        to_arrow(value),
        path,
        compression=options.get("compression", "lz4"),
        compression_level=options.get("compression_level"),
    )
    _release_arrow_memory()


_CSV_WRITE = ("sep", "decimal", "encoding", "quotechar")


def _read_csv(path: Path, options: Options = _NO_OPTIONS) -> Any:
    import warnings

    import pandas as pd

    settings = dict(options)
    settings.setdefault("index_col", False)  # more fields than the header: an error
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(path, **settings)
        except pd.errors.ParserWarning as exc:
            raise ValueError(
                f"the header and the rows disagree in their number of fields ({exc})"
            ) from None


def _write_csv(value: Any, path: Path, options: Options = _NO_OPTIONS) -> None:
    settings = {k: v for k, v in options.items() if k in _CSV_WRITE}
    value.to_csv(path, index=False, **settings)


def _read_json(path: Path, options: Options = _NO_OPTIONS) -> Any:
    import json

    from datareplay.data.jsoncodec import decode

    with open(path, encoding="utf-8") as fh:
        return decode(json.load(fh))


def _write_json(value: Any, path: Path, options: Options = _NO_OPTIONS) -> None:
    import json

    from datareplay.data.jsoncodec import encode

    document = encode(value)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=options.get("indent"), allow_nan=False)
        fh.write("\n")


def _read_npy(path: Path, options: Options = _NO_OPTIONS) -> Any:
    import numpy as np

    return np.load(path, allow_pickle=False)


def _write_npy(value: Any, path: Path, options: Options = _NO_OPTIONS) -> None:
    import numpy as np

    with open(path, "wb") as fh:
        np.save(fh, value, allow_pickle=False)


def _read_pickle(path: Path, options: Options = _NO_OPTIONS) -> Any:
    import pickle

    with open(path, "rb") as fh:
        return pickle.load(fh)  # trusted sources only: the DataHub checks before reading


def _write_pickle(value: Any, path: Path, options: Options = _NO_OPTIONS) -> None:
    import pickle

    with open(path, "wb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _read_excel(path: Path, options: Options = _NO_OPTIONS) -> Any:
    from datareplay.data.excel import read_excel

    return read_excel(path, options)


@dataclass(frozen=True)
class Format:
    """One storage format.

    ``extensions`` are the path suffixes that choose it (the first is used for default
    paths); ``options`` the keys allowed under a source's ``options:``; ``tabular`` that it
    holds only DataFrames. A format with ``read`` but no ``write`` is read only (excel).
    """

    name: str
    extension: str
    read: ReadFn | None
    write: WriteFn | None
    tabular: bool
    options: frozenset[str] = frozenset()
    extensions: tuple[str, ...] = field(default=())

    @property
    def persistent(self) -> bool:
        """True when the source lives in a file (everything but memory)."""
        return self.read is not None

    @property
    def read_only(self) -> bool:
        return self.read is not None and self.write is None

    def accepts(self, value: Any) -> bool:
        """True when the format holds values of this kind (DataFrame, Series, array, ...).

        Whether it keeps this particular value exactly is ``check``'s decision.
        """
        from datareplay.data.fidelity import holds

        return holds(self.name, value)

    def check(self, value: Any) -> None:
        """Raise ``fidelity.Refused`` when this format cannot hold ``value`` exactly."""
        from datareplay.data.fidelity import check

        check(self.name, value)


_CSV_OPTIONS = {
    "sep", "decimal", "encoding", "header", "parse_dates", "date_format", "thousands",
    "skiprows", "usecols", "na_values", "keep_default_na", "comment", "quotechar", "dtype",
    "nrows",
}  # fmt: skip
_EXCEL_OPTIONS = {"sheet", "header", "skiprows", "usecols", "nrows", "na_values", "dtype"}
_COMPRESSION = {"compression", "compression_level"}

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("parquet", ".parquet", _read_parquet, _write_parquet, True, frozenset(_COMPRESSION)),
        Format(
            "feather", ".feather", _read_feather, _write_feather, True, frozenset(_COMPRESSION),
            (".feather", ".arrow"),
        ),  # fmt: skip
        Format("csv", ".csv", _read_csv, _write_csv, True, frozenset(_CSV_OPTIONS)),
        Format("json", ".json", _read_json, _write_json, False, frozenset({"indent"})),
        Format("npy", ".npy", _read_npy, _write_npy, False),
        Format("pickle", ".pkl", _read_pickle, _write_pickle, False, extensions=(".pkl", ".pickle")),
        Format(
            "excel", ".xlsx", _read_excel, None, True, frozenset(_EXCEL_OPTIONS),
            (".xlsx", ".xlsm", ".xls", ".ods"),
        ),  # fmt: skip
        Format("memory", "", None, None, tabular=False),
    )
}
ALIASES = {"arrow": "feather", "ipc": "feather", "pkl": "pickle"}


def format_for_suffix(path: str) -> str | None:
    """The format a path's suffix names (``.xlsx`` → excel), or None for no known one."""
    suffix = Path(path).suffix.lower()
    for fmt in FORMATS.values():
        if suffix in (fmt.extensions or (fmt.extension,)) and fmt.extension:
            return fmt.name
    return None


def suffixes() -> list[str]:
    """Every suffix that names a format, for messages."""
    return [s for fmt in FORMATS.values() for s in (fmt.extensions or (fmt.extension,)) if s]


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
    if type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas"):
        return int(value.memory_usage(index=True, deep=False).sum())
    nbytes = getattr(value, "nbytes", None)
    return int(nbytes) if isinstance(nbytes, int) else None
