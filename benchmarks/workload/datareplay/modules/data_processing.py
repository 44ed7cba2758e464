"""Data processing of the station-load workload: the raw csv and Excel sheets cleaned and
joined (``_processing`` is a copy of benchmarks/workload/processing.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from datareplay import BasePlugin

from ._processing import (
    create_model_input_table,
    preprocess_measurements,
    preprocess_sites,
    preprocess_stations,
)

if TYPE_CHECKING:
    from datareplay import DataHub


class PreprocessMeasurements(BasePlugin):
    """Type, de-duplicate and clean the raw meter readings."""

    inputs: ClassVar[dict[str, str]] = {"measurements_raw": "Readings as the loggers write them."}
    outputs: ClassVar[dict[str, str]] = {"measurements": "Typed, de-duplicated readings."}

    def run(self, hub: DataHub) -> None:
        hub["measurements"] = preprocess_measurements(hub["measurements_raw"])


class PreprocessStations(BasePlugin):
    """Parse capacity, grid flag and commissioning date of the station register."""

    inputs: ClassVar[dict[str, str]] = {"stations_raw": "The stations sheet of the workbook."}
    outputs: ClassVar[dict[str, str]] = {"stations": "Stations with typed columns."}

    def run(self, hub: DataHub) -> None:
        hub["stations"] = preprocess_stations(hub["stations_raw"])


class PreprocessSites(BasePlugin):
    """Normalise the codes and names of the sites."""

    inputs: ClassVar[dict[str, str]] = {"sites_raw": "The sites sheet of the workbook."}
    outputs: ClassVar[dict[str, str]] = {"sites": "Sites with region and climate zone."}

    def run(self, hub: DataHub) -> None:
        hub["sites"] = preprocess_sites(hub["sites_raw"])


class CreateModelInputTable(BasePlugin):
    """Join valid readings with their station and site and derive the model's features."""

    inputs: ClassVar[dict[str, str]] = {
        "measurements": "Typed readings.",
        "stations": "Typed stations.",
        "sites": "Typed sites.",
    }
    outputs: ClassVar[dict[str, str]] = {"model_input": "One row per valid reading."}

    def run(self, hub: DataHub) -> None:
        hub["model_input"] = create_model_input_table(
            hub["measurements"], hub["stations"], hub["sites"]
        )
