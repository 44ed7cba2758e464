"""Which format can hold which value exactly, decided before anything is written.

Every format keeps what it is given — values, dtypes, index (names, levels), column labels
and their order — or the write is refused with a ``Refused`` naming exactly what would be
lost and which formats can keep it. The decision looks at types, dtypes and labels only
(plus the text values of csv string columns), never reads the file back, so it costs
nothing next to the write itself. ``tests/test_format_fidelity.py`` proves each decision
with a property test: what is accepted reads back equal.

For parquet and feather the frame goes through Arrow with pandas' own metadata plus a
small ``datareplay`` entry that restores what Arrow would change: the exact column labels
(integer, duplicate, multi-level, object-typed), second-resolution datetimes (parquet
stores milliseconds), object columns of text and the Series-ness of a Series.
"""

from __future__ import annotations

import json
from typing import Any

from datareplay.data import jsoncodec

META_KEY = b"datareplay"
_MASKED = {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"}
_MASKED |= {"boolean", "Float32", "Float64"}


class Refused(ValueError):
    """A value a format cannot hold exactly; the message is the reason and the advice."""


def kind_of(value: Any) -> str:
    """``frame``, ``series``, ``array`` or ``other`` — what the formats care about."""
    kind = type(value)
    if kind.__module__.startswith("pandas"):
        if kind.__name__ == "DataFrame":
            return "frame"
        if kind.__name__ == "Series":
            return "series"
    if kind.__module__ == "numpy" and kind.__name__ == "ndarray":
        return "array"
    return "other"


def _label(value: Any) -> str:
    return repr(value)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    shown = items[:4] + ([f"{len(items) - 4} more"] if len(items) > 4 else [])
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _arrow_column_problem(values: Any) -> str | None:
    """What Arrow would lose of one column or index level, or None."""
    import pandas as pd

    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        try:
            jsoncodec.encode_array(dtype.categories, "the categories")
        except jsoncodec.Unrepresentable:
            return f"the categories ({dtype.categories.dtype})"
        return _arrow_column_problem(dtype.categories)
    if isinstance(dtype, pd.ArrowDtype):
        # nested and decimal types are written but do not come back as the same dtype
        import pyarrow as pa

        kind = dtype.pyarrow_dtype
        nested = pa.types.is_nested(kind) or pa.types.is_decimal(kind)
        return f"the {dtype} dtype" if nested else None
    if isinstance(dtype, (pd.DatetimeTZDtype, pd.StringDtype)):
        return None
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return None if str(dtype) in _MASKED else f"the {dtype} dtype"
    if dtype.kind in "iubmM" or (dtype.kind == "f" and dtype.itemsize >= 4):
        return None
    if dtype.kind == "O":
        inferred = pd.api.types.infer_dtype(values, skipna=False)
        if inferred in ("string", "empty"):
            return None
        return f"the object values ({inferred})"
    return f"the {dtype} dtype"


# -- csv -------------------------------------------------------------------------------

_CSV_NA = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"}
_CSV_NA |= {"1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}


def _csv_text_problem(column: Any) -> str | None:
    import pandas as pd

    present = column.dropna()
    if present.isin(list(_CSV_NA)).any():
        return "the empty or NA-like text in {name}"
    if present.astype(str).str.contains("\r", regex=False).any():
        return "the carriage returns in the text of {name}"
    if not len(present):
        return "the text dtype of {name}, which holds only missing values" if len(column) else None
    # the reader turns a column into numbers or booleans only when every value reads as
    # one: a few values that do not settle it without parsing the whole column
    head = present.iloc[:64]
    if pd.to_numeric(head, errors="coerce").notna().all() and (
        pd.to_numeric(present, errors="coerce").notna().all()
    ):
        return "the text that reads back as numbers in {name}"
    booleans = ["True", "False", "true", "false", "TRUE", "FALSE"]
    if head.isin(booleans).all() and present.isin(booleans).all():
        return "the text that reads back as booleans in {name}"
    return None


def csv_losses(frame: Any) -> list[str]:
    """What csv would lose of ``frame`` (empty when it keeps everything)."""
    import numpy as np
    import pandas as pd

    lost: list[str] = []
    index = frame.index
    if isinstance(index, pd.MultiIndex):
        lost.append(f"the index levels {list(index.names)!r}")
    elif not (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    ):
        lost.append("the index" if index.name is None else f"the index {index.name!r}")
    columns = frame.columns
    if frame.shape[1] == 0:
        lost.append("a frame without columns")
    elif isinstance(columns, pd.MultiIndex):
        lost.append("the multi-level column labels")
    else:
        if columns.name is not None:
            lost.append(f"the column-label name {columns.name!r}")
        if columns.dtype != pd.StringDtype(na_value=np.nan):
            bad = [c for c in columns if type(c) is not str]
            if bad:
                lost.append(f"the non-text column label {_label(bad[0])}")
            else:
                lost.append(f"the {columns.dtype} dtype of the column labels")
        if columns.has_duplicates:
            lost.append(f"the duplicate column {_label(columns[columns.duplicated()][0])}")
        odd = [c for c in columns if isinstance(c, str) and (c == "" or c.startswith("Unnamed:"))]
        if odd:
            lost.append(f"the column label {odd[0]!r}")
    if frame.shape[0] == 0 and frame.shape[1]:
        lost.append("the dtypes of an empty frame")
    default_str = pd.StringDtype(na_value=np.nan)
    text = []
    for i in range(frame.shape[1]):
        dtype = frame.dtypes.iloc[i]
        name = _label(columns[i])
        if dtype == default_str:
            text.append(i)
        elif isinstance(dtype, np.dtype) and dtype.name in ("int64", "float64", "bool"):
            continue
        elif isinstance(dtype, pd.CategoricalDtype):
            lost.append(f"the category dtype of {name}")
        else:
            lost.append(f"the {dtype} dtype of {name}")
    if not lost:  # the costlier look at text values only when all else is kept
        for i in text:
            column = frame.iloc[:, i]
            problem = _csv_text_problem(column)
            if problem:
                lost.append(problem.format(name=_label(columns[i])))
    return lost


# -- refusal ---------------------------------------------------------------------------

CAN_HOLD = {
    "frame": ("parquet", "feather", "json", "pickle"),
    "series": ("parquet", "feather", "json", "pickle"),
    "array": ("npy", "pickle"),
    "other": ("json", "pickle"),
}


_HOLDS = {
    "parquet": ("frame", "series"),
    "feather": ("frame", "series"),
    "csv": ("frame",),
    "json": ("frame", "series", "other"),
    "npy": ("array",),
    "excel": ("frame",),
}


def holds(fmt: str, value: Any) -> bool:
    """True when format ``fmt`` holds values of ``value``'s kind (pickle, memory: all)."""
    kinds = _HOLDS.get(fmt)
    return kinds is None or kind_of(value) in kinds


def formats_for(value: Any) -> tuple[str, ...]:
    """The persistent formats that hold values of ``value``'s kind, for advice."""
    return CAN_HOLD[kind_of(value)]


def check(fmt: str, value: Any) -> None:
    """Raise ``Refused`` when format ``fmt`` cannot hold ``value`` exactly."""
    kind = kind_of(value)
    if not holds(fmt, value):
        others = [f for f in CAN_HOLD[kind] if f != fmt]
        what = {"frame": "a DataFrame", "series": "a Series", "array": "a NumPy array"}.get(
            kind, f"a {type(value).__name__}"
        )
        raise Refused(f"format {fmt} cannot hold {what}; use {' or '.join(others)}")
    if fmt == "csv":
        lost = csv_losses(value)
        if lost:
            keeper = "pickle" if arrow_losses(value) else "parquet or feather"
            raise Refused(
                f"csv cannot keep {_join(lost)}; use {keeper}"
                + (", or reset the index" if any("index" in x for x in lost) else "")
            )
    elif fmt in ("parquet", "feather"):
        lost = arrow_losses(value)
        if lost:
            raise Refused(f"{fmt} cannot keep {_join(lost)}; use pickle")
    elif fmt == "npy":
        if value.dtype.kind == "O":
            raise Refused("npy cannot hold an array of Python objects; use pickle")
    elif fmt == "json":
        try:
            jsoncodec.check(value)
        except jsoncodec.Unrepresentable as exc:
            raise Refused(f"json cannot keep {exc}; use pickle") from None


def arrow_losses(value: Any) -> list[str]:
    lost: list[str] = []
    if kind_of(value) == "series":
        try:
            jsoncodec.encode_name(value.name, "the series name")
        except jsoncodec.Unrepresentable as exc:
            lost.append(str(exc))
        value = value.to_frame(name=0)
    frame = value
    for i in range(frame.shape[1]):
        problem = _arrow_column_problem(frame.iloc[:, i])
        if problem:
            lost.append(f"{problem} of {_label(frame.columns[i])}")
    index = frame.index
    for level in range(index.nlevels):
        values = index.get_level_values(level) if index.nlevels > 1 else index
        problem = _arrow_column_problem(values)
        if problem:
            lost.append(f"{problem} of the index")
    try:
        jsoncodec.encode_index(frame.columns, "the column labels")
    except jsoncodec.Unrepresentable as exc:
        lost.append(str(exc))
    if index.nlevels > 1 and len(set(index.names)) < index.nlevels:
        lost.append(f"the repeated index names {list(index.names)!r}")
    return lost


# -- parquet and feather through Arrow ---------------------------------------------------


def to_arrow(value: Any) -> Any:
    """An Arrow table of a frame or series whose metadata restores it exactly."""
    import pandas as pd
    import pyarrow as pa

    series = kind_of(value) == "series"
    frame = value.to_frame(name=0) if series else value
    meta: dict[str, Any] = {"kind": "series" if series else "frame"}
    if series:
        meta["name"] = jsoncodec.encode_name(value.name, "the series name")
    columns = frame.columns
    index_names = {n for n in frame.index.names if n is not None}
    simple = (
        not isinstance(columns, pd.MultiIndex)
        and all(type(c) is str for c in columns)
        and not columns.has_duplicates
        and not index_names & set(columns)
    )
    meta["columns"] = jsoncodec.encode_index(columns, "the column labels")
    if not simple:
        frame = frame.set_axis([f"column {i}" for i in range(frame.shape[1])], axis=1)
    restore: dict[str, str] = {}
    categories: dict[str, Any] = {}
    for i in range(frame.shape[1]):
        dtype = frame.dtypes.iloc[i]
        if isinstance(dtype, pd.CategoricalDtype):  # Arrow drops the unused ones
            categories[str(i)] = {
                "categories": jsoncodec.encode_array(dtype.categories, "categories"),
                "ordered": bool(dtype.ordered),
            }
        elif _needs_restore(dtype):
            restore[str(i)] = str(dtype)
    if categories:
        meta["categories"] = categories
    if restore:
        meta["dtypes"] = restore
    index = frame.index
    levels = [index.get_level_values(i) for i in range(index.nlevels)]
    index_restore = {str(i): str(v.dtype) for i, v in enumerate(levels) if _needs_restore(v.dtype)}
    if index_restore and not isinstance(index, pd.RangeIndex):
        meta["index_dtypes"] = index_restore
    if isinstance(index, pd.RangeIndex):  # Arrow keeps no rows without columns
        meta["range"] = jsoncodec.encode_index(index, "the index")
    table = pa.Table.from_pandas(frame)
    metadata = dict(table.schema.metadata or {})
    metadata[META_KEY] = json.dumps(meta).encode()
    return table.replace_schema_metadata(metadata)


def _needs_restore(dtype: Any) -> bool:
    import pandas as pd

    if isinstance(dtype, pd.DatetimeTZDtype):
        return True
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return False
    return bool(dtype.kind in "OmM")


def from_arrow(table: Any) -> Any:
    """The frame or series ``to_arrow`` stored (any other table: pandas' own reading)."""
    import pandas as pd

    raw = (table.schema.metadata or {}).get(META_KEY)
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    if raw is None:
        return frame
    meta = json.loads(raw)
    if "range" in meta and frame.shape[1] == 0:
        frame = pd.DataFrame(index=jsoncodec.decode_index(meta["range"]))
    for pos, dtype in meta.get("dtypes", {}).items():
        column = frame.iloc[:, int(pos)]
        if str(column.dtype) != dtype:
            frame.isetitem(int(pos), column.astype(dtype))
    for pos, spec in meta.get("categories", {}).items():
        categories = pd.Index(jsoncodec.decode_array(spec["categories"]))
        dtype = pd.CategoricalDtype(categories, ordered=spec["ordered"])
        column = frame.iloc[:, int(pos)]
        if column.dtype != dtype:
            frame.isetitem(int(pos), column.astype(dtype))
    if "index_dtypes" in meta:
        index = frame.index
        levels = [index.get_level_values(i) for i in range(index.nlevels)]
        for pos, dtype in meta["index_dtypes"].items():
            level = levels[int(pos)]
            if str(level.dtype) != dtype:
                levels[int(pos)] = level.astype(dtype)
        if index.nlevels > 1:
            frame.index = pd.MultiIndex.from_arrays(levels, names=index.names)
        else:
            frame.index = levels[0].rename(index.name)
    frame.columns = jsoncodec.decode_index(meta["columns"])
    if meta["kind"] == "series":
        return frame.iloc[:, 0].rename(meta["name"])
    return frame
