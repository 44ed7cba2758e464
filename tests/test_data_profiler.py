"""DataProfiler: its profile equals pandas' own statistics for every dtype, whichever way
the distinct values are counted (pandas' hash table, neighbours of an ordered column, or
hash partitions)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from datareplay.plugins.builtin import quality
from datareplay.plugins.builtin.quality import DataProfiler, distinct

ROWS = 3_000
STATS = ["min", "p01", "mean", "p50", "p99", "max", "std"]
COLUMNS = ["column", "dtype", "rows", "missing", "missing_pct", "unique", *STATS]


def reference(frame: pd.DataFrame) -> pd.DataFrame:
    """The profile as DataProfiler computed it with ``Series.nunique`` for every column."""
    rows = []
    for name in frame.columns:
        series = frame[name]
        missing = int(series.isna().sum())
        row: dict[str, Any] = {
            "column": str(name),
            "dtype": str(series.dtype),
            "rows": len(series),
            "missing": missing,
            "missing_pct": 100.0 * missing / len(series) if len(series) else 0.0,
            "unique": int(series.nunique(dropna=True)),
        }
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = series.to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if len(values):
                p01, p50, p99 = np.quantile(values, [0.01, 0.5, 0.99])
                row.update(
                    min=float(values.min()),
                    p01=float(p01),
                    mean=float(values.mean()),
                    p50=float(p50),
                    p99=float(p99),
                    max=float(values.max()),
                    std=float(values.std()),
                )
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def profile(frame: pd.DataFrame) -> pd.DataFrame:
    hub: dict[str, Any] = {"data": frame}
    DataProfiler(params={}, step="profile").run(hub)  # type: ignore[arg-type]
    result: pd.DataFrame = hub["profile"]
    return result


def with_nan_values(values: np.ndarray) -> pa.Array:
    """A pyarrow float array holding NaN values apart from its nulls."""
    mask = np.zeros(len(values), dtype=bool)
    mask[::7] = True
    values = values.copy()
    values[::11] = np.nan
    return pa.array(values, mask=mask, from_pandas=False)


def frame(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    floats = rng.normal(0, 1, rows)
    floats[::13] = np.nan
    floats[1::101] = np.inf
    floats[2::103] = -np.inf
    floats[3::17] = 0.0
    floats[4::19] = -0.0
    big = rng.integers(-(2**62), 2**62, rows) * 2  # beyond float64's exact integers
    big[::5] = big[1::5][: len(big[::5])] + 1  # equal as float64, not as int64
    big[::7] = big[3::7][: len(big[::7])]  # repeats
    return pd.DataFrame(
        {
            "increasing": np.where(np.arange(rows) % 9 == 0, np.nan, np.arange(rows) // 3 * 0.5),
            "decreasing": -np.arange(rows, dtype=np.int64) // 2,
            "distinct": floats,
            "few": np.round(rng.normal(0, 1, rows), 1),
            "float32": rng.normal(0, 1, rows).astype(np.float32),
            "int64": big,
            "uint64": rng.integers(0, 2**64 - 1, rows, dtype=np.uint64, endpoint=True),
            "int8": rng.integers(-128, 127, rows).astype(np.int8),
            "Int64": pd.array(np.where(np.arange(rows) % 4 == 0, None, big), dtype="Int64"),
            "Float64": pd.array(
                np.where(np.arange(rows) % 6 == 0, None, np.round(floats * 100)), dtype="Float64"
            ),
            "double[pyarrow]": pd.arrays.ArrowExtensionArray(with_nan_values(floats)),
            "int64[pyarrow]": pd.Series(big, dtype="int64[pyarrow]"),
            "bool": rng.integers(0, 2, rows).astype(bool),
            "str": pd.Series(rng.integers(0, 50, rows).astype(str), dtype="str"),
            "category": pd.Categorical(rng.integers(0, 9, rows)),
            "datetime": pd.to_datetime(rng.integers(0, 10**12, rows), unit="ms"),
            "all missing": np.full(rows, np.nan),
        }
    )


@pytest.fixture(params=["pandas", "keys hashed", "partitioned"])
def counting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Thresholds that send a few thousand rows each way of counting: pandas' nunique, or
    (ordered columns by neighbours and) the others' keys in one hash table or by partitions."""
    if request.param != "pandas":
        monkeypatch.setattr(quality, "DIRECT_ROWS", 2)
        monkeypatch.setattr(quality, "SAMPLE_ROWS", 64)
        monkeypatch.setattr(quality, "PARTITION_ROWS", 16)
        shared = 2.0 if request.param == "keys hashed" else 0.0
        monkeypatch.setattr(quality, "MOSTLY_DISTINCT", shared)
    return str(request.param)


def test_profile_equals_pandas_statistics(counting: str) -> None:
    data = frame()
    pd.testing.assert_frame_equal(profile(data), reference(data), check_exact=True)


def test_distinct_counts_equal_nunique_for_every_dtype(counting: str) -> None:
    data = frame()
    counts = {name: distinct(data[name]) for name in data.columns}
    assert counts == {name: int(data[name].nunique(dropna=True)) for name in data.columns}


def test_nan_in_a_pyarrow_float_column_counts_as_one_value(counting: str) -> None:
    values = pa.array([1.0, float("nan"), None, float("nan"), 2.0] * 3, from_pandas=False)
    series = pd.Series(pd.arrays.ArrowExtensionArray(values))
    assert distinct(series) == series.nunique(dropna=True) == 3


@pytest.mark.parametrize("size", [0, 1, 2])
def test_tiny_columns(size: int, counting: str) -> None:
    data = frame()[:size]
    pd.testing.assert_frame_equal(profile(data), reference(data), check_exact=True)


def test_a_large_column_takes_the_partitioned_count() -> None:
    rows = quality.DIRECT_ROWS + 1_000
    values = np.random.default_rng(1).normal(0, 1, rows)
    values[::3] = values[1::3][: len(values[::3])]  # repeats, but mostly distinct
    series = pd.Series(values)
    assert distinct(series) == series.nunique()
