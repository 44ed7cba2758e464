"""Built-in data-quality plugins, found through the ``datareplay.plugins`` entry point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from datareplay.errors import QualityError
from datareplay.plugins.base import BasePlugin, Param

if TYPE_CHECKING:
    from datareplay.data.hub import DataHub


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
        stats = ["min", "p01", "mean", "p50", "p99", "max", "std"]
        columns = ["column", "dtype", "rows", "missing", "missing_pct", "unique", *stats]
        hub["profile"] = pd.DataFrame(rows, columns=columns)
