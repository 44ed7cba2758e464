"""Exact JSON encoding of pandas values: every dtype, index and label is kept.

A DataFrame becomes ``{"__datareplay__": "frame", "index": ..., "columns": ...,
"dtypes": [...], "data": [row, ...]}`` — each row a record ``{"label": value}`` when the
column labels are unique text, else a list — and a Series ``{"__datareplay__": "series",
...}``. Index levels and the column labels are *arrays* ``{"dtype": ..., "values": [...]}``;
in every column, level and label set

- integers are JSON integers of any size (uint64 max and int64 min are exact);
- floats are written with the shortest repr that reads back to the same bits;
  ``NaN``, ``Infinity`` and ``-Infinity`` are strings, ``-0.0`` keeps its sign;
- datetimes and timedeltas are their int64 ticks at their own resolution (s to ns),
  tz-aware ones with their zone in the dtype;
- categoricals are their codes, with categories and order in the dtype;
- missing values of nullable and string dtypes are ``null``.

Any other JSON value is written as is (a dict that itself has the ``__datareplay__`` key
is wrapped). What cannot be encoded exactly raises ``Unrepresentable`` naming the part.
"""

from __future__ import annotations

import math
from typing import Any

MARK = "__datareplay__"


class Unrepresentable(ValueError):
    """A value json cannot hold exactly; the message says which part and why."""


# -- plain JSON values -------------------------------------------------------------------


def check_plain(value: Any, where: str = "the value") -> None:
    """Raise Unrepresentable when ``value`` would not read back equal from JSON."""
    kind = type(value)
    if value is None or kind in (str, bool, int):
        return
    if kind is float:
        if not math.isfinite(value):
            raise Unrepresentable(f"{where}: {value!r}, which JSON has no number for")
        return
    if kind is list:
        for i, item in enumerate(value):
            check_plain(item, f"{where}[{i}]")
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise Unrepresentable(f"{where}: the key {key!r} (JSON keys are text)")
            check_plain(item, f"{where}[{key!r}]")
        return
    raise Unrepresentable(f"{where}: a {kind.__name__}, which JSON has no type for")


def encode_name(value: Any, where: str) -> Any:
    """A label or index name as JSON (text, integer, finite float, bool or None)."""
    if value is None or type(value) in (str, int, bool):
        return value
    if type(value) is float and math.isfinite(value):
        return value
    raise Unrepresentable(f"{where} {value!r} (names are text, integers or floats)")


# -- arrays ------------------------------------------------------------------------------


def _floats(values: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            out.append(None)
        elif math.isnan(v):
            out.append("NaN")
        elif math.isinf(v):
            out.append("Infinity" if v > 0 else "-Infinity")
        else:
            out.append(v)
    return out


def _unfloat(values: list[Any]) -> list[Any]:
    table = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    return [table[v] if isinstance(v, str) else v for v in values]


def encode_array(values: Any, where: str) -> dict[str, Any]:
    """One column, index level or label set (anything array-like with a dtype)."""
    import numpy as np
    import pandas as pd

    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cat = pd.Categorical(values)
        return {
            "dtype": {
                "category": encode_array(cat.categories, f"the categories of {where}"),
                "ordered": bool(dtype.ordered),
            },
            "values": np.asarray(cat.codes).tolist(),
        }
    if isinstance(dtype, pd.DatetimeTZDtype):
        naive = np.asarray(pd.DatetimeIndex(values).tz_convert("UTC").tz_localize(None))
        return {"dtype": str(dtype), "values": naive.view("i8").tolist()}
    if isinstance(dtype, pd.StringDtype):
        na = "nan" if dtype.na_value is not pd.NA else "NA"
        items = [None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
                 for v in pd.array(values).tolist()]  # fmt: skip
        return {"dtype": {"string": dtype.storage, "na": na}, "values": items}
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        kind = dtype.pyarrow_dtype
        if not (pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_string(kind)
                or pa.types.is_large_string(kind) or pa.types.is_floating(kind)):  # fmt: skip
            raise Unrepresentable(f"the {dtype} dtype of {where}")
        items = pd.array(values).__arrow_array__().to_pylist()
        if pa.types.is_floating(kind):
            items = _floats(items)
        return {"dtype": str(dtype), "values": items}
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        name = str(dtype)
        if name not in {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32",
                        "UInt64", "boolean", "Float32", "Float64"}:  # fmt: skip
            raise Unrepresentable(f"the {dtype} dtype of {where}")
        array = pd.array(values)
        mask = np.asarray(array.isna())
        data = array._data if hasattr(array, "_data") else np.asarray(array)
        items = data.tolist()
        if name.startswith("Float"):
            items = _floats(items)
            # NaN (a value) and NA (missing) differ in Float64
        for i in np.flatnonzero(mask).tolist():
            items[i] = None
        return {"dtype": name, "values": items}
    dtype = np.dtype(dtype)
    array = np.asarray(values)
    if dtype.kind in "iub":
        return {"dtype": dtype.name, "values": array.tolist()}
    if dtype.kind == "f":
        if dtype.itemsize < 4:
            raise Unrepresentable(f"the {dtype} dtype of {where}")
        return {"dtype": dtype.name, "values": _floats(array.tolist())}
    if dtype.kind in "mM":
        return {"dtype": dtype.name, "values": array.view("i8").tolist()}
    if dtype.kind == "O":
        items = array.tolist()
        for item in items:
            if item is None or type(item) in (str, int, bool):
                continue
            if type(item) is float and math.isfinite(item):
                continue
            raise Unrepresentable(
                f"{item!r} ({type(item).__name__}) in the object values of {where} "
                "(JSON keeps text, integers, finite floats, booleans and None there)"
            )
        return {"dtype": "object", "values": items}
    raise Unrepresentable(f"the {dtype} dtype of {where}")


def decode_array(spec: dict[str, Any]) -> Any:
    """The pandas array (ExtensionArray or ndarray) of ``encode_array``'s output."""
    import numpy as np
    import pandas as pd

    dtype, values = spec["dtype"], spec["values"]
    if isinstance(dtype, dict) and "category" in dtype:
        categories = pd.Index(decode_array(dtype["category"]))
        return pd.Categorical.from_codes(
            np.asarray(values, dtype="int64"), dtype=pd.CategoricalDtype(categories, dtype["ordered"])
        )
    if isinstance(dtype, dict) and "string" in dtype:
        na_value = np.nan if dtype["na"] == "nan" else pd.NA
        return pd.array(values, dtype=pd.StringDtype(dtype["string"], na_value=na_value))
    if dtype.endswith("[pyarrow]"):
        import pyarrow as pa

        arrow_dtype = pd.api.types.pandas_dtype(dtype)
        if pa.types.is_floating(arrow_dtype.pyarrow_dtype):
            values = _unfloat(values)
        return pd.array(pa.array(values, type=arrow_dtype.pyarrow_dtype), dtype=arrow_dtype)
    if dtype.startswith("datetime64[") and "," in dtype:
        target = pd.api.types.pandas_dtype(dtype)
        naive = np.asarray(values, dtype="int64").view(f"datetime64[{target.unit}]")
        return pd.DatetimeIndex(naive).tz_localize("UTC").tz_convert(target.tz).array
    if dtype[:1] in "IUbF" and dtype != "bool":
        mask = np.array([v is None for v in values], dtype=bool)
        raw = _unfloat([0 if v is None else v for v in values])
        target = pd.api.types.pandas_dtype(dtype)
        data = np.asarray(raw, dtype=target.numpy_dtype)
        return target.construct_array_type()(data, mask)
    if dtype == "object":
        return np.array(values, dtype=object) if values else np.empty(0, dtype=object)
    np_dtype = np.dtype(dtype)
    if np_dtype.kind in "mM":
        return np.asarray(values, dtype="int64").view(np_dtype)
    if np_dtype.kind == "f":
        return np.asarray(_unfloat(values), dtype=np_dtype)
    return np.asarray(values, dtype=np_dtype)


# -- indexes, frames and series ----------------------------------------------------------


def encode_index(index: Any, where: str) -> dict[str, Any]:
    import pandas as pd

    if isinstance(index, pd.RangeIndex):
        return {
            "range": [index.start, index.stop, index.step],
            "name": encode_name(index.name, f"the name of {where}"),
        }
    if isinstance(index, pd.MultiIndex):
        return {
            "levels": [
                encode_array(index.get_level_values(i), f"level {i} of {where}")
                for i in range(index.nlevels)
            ],
            "names": [encode_name(n, f"a level name of {where}") for n in index.names],
        }
    if type(index) not in {pd.Index, pd.DatetimeIndex, pd.TimedeltaIndex, pd.CategoricalIndex}:
        raise Unrepresentable(f"{where}, a {type(index).__name__}")
    return {"values": encode_array(index, where), "name": encode_name(index.name, f"the name of {where}")}


def decode_index(spec: dict[str, Any]) -> Any:
    import pandas as pd

    if "range" in spec:
        return pd.RangeIndex(*spec["range"], name=spec["name"])
    if "levels" in spec:
        arrays = [decode_array(level) for level in spec["levels"]]
        return pd.MultiIndex.from_arrays(arrays, names=spec["names"])
    array = decode_array(spec["values"])
    return pd.Index(array, dtype=array.dtype, name=spec["name"], copy=False)


def encode_frame(frame: Any) -> dict[str, Any]:
    """The frame's labels and dtypes, then its rows: records when labels are unique text."""
    columns = [
        encode_array(frame.iloc[:, i], f"column {frame.columns[i]!r}")
        for i in range(frame.shape[1])
    ]
    labels = list(frame.columns)
    values = [c.pop("values") for c in columns]
    records = all(type(c) is str for c in labels) and len(set(labels)) == len(labels)
    rows: list[Any] = (
        [dict(zip(labels, row, strict=True)) for row in zip(*values, strict=True)]
        if records
        else [list(row) for row in zip(*values, strict=True)]
    )
    return {
        MARK: "frame",
        "index": encode_index(frame.index, "the index"),
        "columns": encode_index(frame.columns, "the column labels"),
        "dtypes": [c["dtype"] for c in columns],
        "rows": len(frame),
        "data": rows,
    }


def encode_series(series: Any) -> dict[str, Any]:
    return {
        MARK: "series",
        "index": encode_index(series.index, "the index"),
        "name": encode_name(series.name, "the series name"),
        "data": encode_array(series, "the series"),
    }


def encode(value: Any) -> Any:
    """The JSON document of a DataFrame, Series or plain JSON value."""
    kind = type(value)
    if kind.__module__.startswith("pandas"):
        if kind.__name__ == "DataFrame":
            return encode_frame(value)
        if kind.__name__ == "Series":
            return encode_series(value)
    check_plain(value)
    if isinstance(value, dict) and MARK in value:
        return {MARK: "value", "value": value}
    return value


def check(value: Any) -> None:
    """Raise Unrepresentable when ``encode(value)`` would; cheap for large frames.

    dtypes, labels and index types are checked on an empty slice; only object columns
    and object index levels, whose values decide, are looked at in full.
    """
    kind = type(value)
    if not (kind.__module__.startswith("pandas") and kind.__name__ in ("DataFrame", "Series")):
        encode(value)
        return
    encode(value.iloc[:0])
    frame = value.to_frame(name=0) if kind.__name__ == "Series" else value
    for i in range(frame.shape[1]):
        if frame.dtypes.iloc[i] == object:
            encode_array(frame.iloc[:, i], f"column {frame.columns[i]!r}")
    index = frame.index
    for level in range(index.nlevels):
        values = index.get_level_values(level)
        if values.dtype == object:
            encode_array(values, "the index")


def decode(document: Any) -> Any:
    import pandas as pd

    if not (isinstance(document, dict) and MARK in document):
        return document
    kind = document[MARK]
    if kind == "value":
        return document["value"]
    index = decode_index(document["index"])
    if kind == "series":
        return pd.Series(decode_array(document["data"]), index=index, name=document["name"], copy=False)
    columns = decode_index(document["columns"])
    dtypes = document["dtypes"]
    rows = document["data"]
    if rows and isinstance(rows[0], dict):
        labels = list(columns)
        rows = [[row[label] for label in labels] for row in rows]
    values = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in dtypes]
    arrays = [decode_array({"dtype": d, "values": v}) for d, v in zip(dtypes, values, strict=True)]
    frame = pd.DataFrame(dict(enumerate(arrays)), index=index, copy=False)
    if not arrays:
        frame = pd.DataFrame(index=index)
    frame.columns = columns
    return frame
