"""Reporting of the station-load workload: three summary tables
(``_processing`` is a copy of benchmarks/workload/processing.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from datareplay import BasePlugin, Param

from ._processing import daily_load, region_summary, site_errors

if TYPE_CHECKING:
    from datareplay import DataHub


class RegionSummary(BasePlugin):
    """Stations, readings, load and temperature per region and climate zone."""

    inputs: ClassVar[dict[str, str]] = {"model_input": "One row per valid reading."}
    outputs: ClassVar[dict[str, str]] = {"region_summary": "One row per region and zone."}

    def run(self, hub: DataHub) -> None:
        hub["region_summary"] = region_summary(hub["model_input"])


class DailyLoad(BasePlugin):
    """Readings and load per day and region."""

    inputs: ClassVar[dict[str, str]] = {"model_input": "One row per valid reading."}
    outputs: ClassVar[dict[str, str]] = {"daily_load": "One row per day and region."}

    def run(self, hub: DataHub) -> None:
        hub["daily_load"] = daily_load(hub["model_input"])


class SiteErrors(BasePlugin):
    """The model's mean absolute error and bias per site, worst first."""

    inputs: ClassVar[dict[str, str]] = {"model": "The fitted model.", "test": "Test rows."}
    outputs: ClassVar[dict[str, str]] = {"site_errors": "One row per site."}

    target = Param("load_kw", "Column the model predicts.")

    def run(self, hub: DataHub) -> None:
        hub["site_errors"] = site_errors(hub["model"], hub["test"], self.target)
