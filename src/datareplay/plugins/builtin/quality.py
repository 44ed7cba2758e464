"""Built-in data-quality plugins, found through the ``datareplay.plugins`` entry point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from datareplay.errors import QualityError
from datareplay.plugins.base import BasePlugin, Param

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from datareplay.data.hub import DataHub

# Distinct counts (DataProfiler's `unique`): below DIRECT_ROWS pandas' one hash table stays
# in the CPU's caches; above, a column with many distinct values (judged on a sample of
# SAMPLE_ROWS) is split by hash into partitions of about PARTITION_ROWS rows.
DIRECT_ROWS = 1 << 17
PARTITION_ROWS = 1 << 16
SAMPLE_ROWS = 1 << 14
MOSTLY_DISTINCT = 0.9  # share of distinct values in the sample that calls for partitions
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: the top bits of key * _GOLDEN


def _valid_checks(value: Any) -> None:
    from datareplay.quality.specs import checks_by_source

    checks_by_source(value, where="checks", known_sources=())


class QualityGate(BasePlugin):
    """Check named data sources and stop the run when a check of severity error fails.

    `checks` maps data-source names to lists of checks. Each check is a mapping with
    `check` (schema, not_null, unique, range, allowed_values, regex, row_count,
    monotonic, stuck, compare, constant, referential, drift), its parameters,
    `severity` (`error` stops the run after every check has been evaluated and
    recorded; `warn` only logs), `tolerance` (share of rows allowed to fail) and
    `where`, a declarative condition on the rows the check applies to, e.g.
    `{column: weather, "==": sun}`, `{column: gear, in: [D, R]}`,
    `{column: x, is: null}`, combined with `all`/`any`. Durations take units
    (`max_gap: 500ms`, `2s`, `1h`; a bare number is seconds). Every result goes to the
    run's `quality_results` dataset. A failure message names the source, the check, how
    many rows fail (and of how many rows the check applied to) and a few of them.
    Sources named as `reference` of a referential or drift check are read too. See
    README, "Data quality", for every check's parameters and failing count.
    """

    checks = Param(
        type=dict,
        required=True,
        description="Data-source name -> list of checks to run on it.",
        check=_valid_checks,
    )

    @classmethod
    def input_ports(cls, params: Mapping[str, Any]) -> Mapping[str, str]:
        from datareplay.quality.specs import checks_by_source

        specs = checks_by_source(params["checks"], where="checks", known_sources=())
        ports = {name: "checked by this gate" for name in specs}
        for items in specs.values():
            for spec in items:
                for reference in spec.references:
                    ports.setdefault(reference, "reference of a check")
        return ports

    def run(self, hub: DataHub) -> None:
        from datareplay.quality.evaluate import evaluate
        from datareplay.quality.specs import checks_by_source

        specs = checks_by_source(self.checks, where="checks", known_sources=())
        results = [
            evaluate(spec, hub[source], source=source, lookup=hub.__getitem__, step=self.step)
            for source, items in specs.items()
            for spec in items
        ]
        hub.report_quality(results)
        failed = [result.line() for result in results if result.blocking]
        if failed:
            raise QualityError("\n".join(failed))


class DataProfiler(BasePlugin):
    """Profile a dataset column by column: types, missing values, ranges and spread.

    One row per column with `column`, `dtype`, `rows`, `missing`, `missing_pct`,
    `unique`, and for numeric columns `min`, `p01`, `mean`, `p50`, `p99`, `max` and
    `std`. It is a quick look at what a recording really contains before trusting it.
    """

    inputs: ClassVar[Mapping[str, str]] = {"data": "The table to profile."}
    outputs: ClassVar[Mapping[str, str]] = {
        "profile": "One row per column of the input, with its statistics."
    }

    columns = Param(type=list, default=[], description="Columns to profile (empty: all).")

    def run(self, hub: DataHub) -> None:
        import numpy as np
        import pandas as pd

        frame = hub["data"]
        names = self.columns or list(frame.columns)
        rows = []
        for name in names:
            series = frame[name]
            missing = int(series.isna().sum())
            row: dict[str, Any] = {
                "column": str(name),
                "dtype": str(series.dtype),
                "rows": len(series),
                "missing": missing,
                "missing_pct": 100.0 * missing / len(series) if len(series) else 0.0,
                "unique": distinct(series),
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
        stats = ["min", "p01", "mean", "p50", "p99", "max", "std"]
        columns = ["column", "dtype", "rows", "missing", "missing_pct", "unique", *stats]
        hub["profile"] = pd.DataFrame(rows, columns=columns)


def distinct(series: pd.Series) -> int:
    """``series.nunique(dropna=True)``, in time proportional to the rows.

    pandas counts with one hash table sized to the column; once it outgrows the CPU's
    caches every row costs a cache miss, and the time per row of a column of distinct
    floats grew about threefold from 200,000 to 2,000,000 rows. Large integer and float
    columns are counted here instead: an ordered one by comparing neighbours; one with
    mostly distinct values by grouping its values by hash (a radix sort on 16-bit
    partition numbers) and counting each partition with its own small hash table.
    Other dtypes and small columns go to pandas.
    """
    if len(series) < DIRECT_ROWS:
        return int(series.nunique(dropna=True))
    present = _present(series)
    if present is None:
        return int(series.nunique(dropna=True))
    values, nan = present
    return _count(values) + nan


def _count(values: np.ndarray) -> int:
    """The number of distinct values of an integer or float array without NaN."""
    import numpy as np
    import pandas as pd

    if len(values) < 2:
        return len(values)
    ahead, behind = values[1:], values[:-1]
    if bool(np.all(ahead >= behind)) or bool(np.all(ahead <= behind)):
        return int(np.count_nonzero(ahead != behind)) + 1
    keys = _keys(values)
    sample = keys[:: max(1, len(keys) // SAMPLE_ROWS)]
    if len(pd.unique(sample)) < MOSTLY_DISTINCT * len(sample):
        return len(pd.unique(keys))
    return _partitioned(keys)


def _present(series: pd.Series) -> tuple[np.ndarray, int] | None:
    """The non-missing values of a NumPy or nullable integer or float column as a NumPy
    array without NaN, and 1 if pandas counts NaN among them, else 0; None for other
    dtypes (pyarrow-backed floats are counted by pyarrow, which tells -0.0 from 0.0)."""
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, np.dtype):  # NumPy floats: NaN is the missing value
        values = series.to_numpy()
        if dtype.kind == "f":
            return values[~np.isnan(values)], 0
        return (values, 0) if dtype.kind in "iu" else None
    if not isinstance(series.array, pd.arrays.IntegerArray | pd.arrays.FloatingArray):
        return None
    values = series.dropna().to_numpy(dtype=dtype.numpy_dtype)
    if values.dtype.kind != "f":
        return values, 0
    nan = np.isnan(values)  # NaN kept apart from the missing values, if ever
    return (values[~nan], 1) if nan.any() else (values, 0)


def _keys(values: np.ndarray) -> np.ndarray:
    """64-bit keys that are equal exactly when the values are (0.0 and -0.0 alike)."""
    import numpy as np

    if values.dtype.kind == "f":
        floats = values.astype(np.float64)  # a copy, exact for every float width
        floats += 0.0  # -0.0 becomes 0.0
        return floats.view(np.uint64)
    if values.dtype.kind == "u":
        return values.astype(np.uint64)
    return values.astype(np.int64).view(np.uint64)


def _partitioned(keys: np.ndarray) -> int:
    """The number of distinct ``keys``, counted per partition of equal hash prefixes."""
    import math

    import numpy as np
    import pandas as pd

    bits = min(16, max(1, math.ceil(math.log2(len(keys) / PARTITION_ROWS))))
    prefix = keys * np.uint64(_GOLDEN)  # wraps around, as Fibonacci hashing wants
    prefix >>= np.uint64(64 - bits)
    partition = prefix.astype(np.uint16)
    del prefix
    grouped = keys[np.argsort(partition, kind="stable")]  # radix sort: linear
    ends = np.cumsum(np.bincount(partition, minlength=1 << bits)).tolist()
    count, start = 0, 0
    for end in ends:
        count += len(pd.unique(grouped[start:end]))
        start = end
    return count
