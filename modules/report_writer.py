"""ReportWriter: a small table of drive metrics from the features and events."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from datareplay import BasePlugin

if TYPE_CHECKING:
    from datareplay import DataHub

log = logging.getLogger(__name__)

EVENT_KINDS = ("hard_brake", "harsh_accel", "stop")


def _finite_or_nan(values: np.ndarray, reduce: str) -> float:
    """max/min/mean of the finite `values`; NaN when there are none (and no warning)."""
    finite = values[np.isfinite(values)]
    return float(getattr(np, reduce)(finite)) if len(finite) else float("nan")


class ReportWriter(BasePlugin):
    """Summarise the drive in one table of metrics with units.

    One row per metric, columns `metric`, `value` (float) and `unit`:

    * `duration` (min): time covered by the feature grid;
    * `distance` (km): final value of `distance_m`;
    * `mean_moving_speed` (km/h): average speed over the samples where the vehicle
      moves (time-weighted, the grid is uniform); `max_speed` (km/h);
    * `events_<kind>` (count) for hard_brake, harsh_accel and stop (also when zero) and
      any other kind the events contain;
    * `hard_brakes_per_100km` (1/100 km): hard brakes normalised by distance, NaN for
      a drive of zero distance;
    * `valid_samples` (%): share of rows the cleaner marked valid;
    * `max_deceleration` (m/s²): the strongest braking, as a positive number, and
      `max_acceleration` (m/s²).
    """

    inputs: ClassVar[dict[str, str]] = {
        "features": "Per-sample t_s, speed_kmh, accel_mps2, distance_m, moving, valid.",
        "events": "One row per event with at least the column kind.",
    }
    outputs: ClassVar[dict[str, str]] = {
        "report": "Drive metrics: metric (name), value (float), unit.",
    }

    def run(self, hub: DataHub) -> None:
        features = hub["features"]
        events = hub["events"]
        t = features["t_s"].to_numpy(dtype="float64")
        speed_kmh = features["speed_kmh"].to_numpy(dtype="float64", na_value=np.nan)
        accel = features["accel_mps2"].to_numpy(dtype="float64", na_value=np.nan)
        distance = features["distance_m"].to_numpy(dtype="float64", na_value=np.nan)
        moving = features["moving"].to_numpy(dtype=bool)

        step_s = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
        duration_s = float(t[-1] - t[0] + step_s) if len(t) else 0.0
        distance_km = _finite_or_nan(distance, "max") / 1000.0 if len(t) else 0.0
        counts = events["kind"].value_counts()
        kinds = [*EVENT_KINDS, *sorted(k for k in counts.index if k not in EVENT_KINDS)]
        hard = int(counts.get("hard_brake", 0))

        rows: list[tuple[str, float, str]] = [
            ("duration", duration_s / 60.0, "min"),
            ("distance", distance_km, "km"),
            ("mean_moving_speed", _finite_or_nan(speed_kmh[moving], "mean"), "km/h"),
            ("max_speed", _finite_or_nan(speed_kmh, "max"), "km/h"),
            *((f"events_{k}", float(counts.get(k, 0)), "count") for k in kinds),
            (
                "hard_brakes_per_100km",
                hard / distance_km * 100.0 if distance_km > 0 else float("nan"),
                "1/100 km",
            ),
            (
                "valid_samples",
                100.0 * float(features["valid"].mean()) if len(features) else float("nan"),
                "%",
            ),
            ("max_deceleration", -_finite_or_nan(accel, "min"), "m/s²"),
            ("max_acceleration", _finite_or_nan(accel, "max"), "m/s²"),
        ]
        report = pd.DataFrame(rows, columns=["metric", "value", "unit"]).astype(
            {"metric": "str", "value": "float64", "unit": "str"}
        )
        for metric, value, unit in rows:
            log.info("%-22s %12.2f %s", metric, value, unit)
        hub["report"] = report
