"""EventDetector: hard braking, harsh acceleration and stops as time intervals."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from datareplay import BasePlugin, Param

if TYPE_CHECKING:
    from datareplay import DataHub

log = logging.getLogger(__name__)

EVENT_KINDS = ("hard_brake", "harsh_accel", "stop")
EVENT_DTYPES = {
    "kind": "str",
    "t_start_s": "float64",
    "t_end_s": "float64",
    "duration_s": "float64",
    "peak_mps2": "float64",
    "speed_at_start_kmh": "float64",
}


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of every run of True in `mask`."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _peaks(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """`ufunc.reduce` of `values` over every run [start, end), vectorised."""
    if len(starts) == 0:
        return np.empty(0)
    padded = np.append(values, np.nan)  # so that an end index equal to len(values) is valid
    bounds = np.column_stack((starts, ends)).ravel()
    return ufunc.reduceat(padded, bounds)[::2]


def empty_events() -> pd.DataFrame:
    """An event table without rows but with every column and dtype."""
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in EVENT_DTYPES.items()})


class EventDetector(BasePlugin):
    """Find hard braking, harsh acceleration and stops in the feature table.

    An event is a contiguous run of samples that meets a condition for long enough:

    * `hard_brake`: `accel_mps2 <= -hard_brake_mps2` for at least `min_duration_s`;
      `peak_mps2` is the strongest (most negative) acceleration in the run.
    * `harsh_accel`: `accel_mps2 >= harsh_accel_mps2` for at least
      `min_duration_s`; `peak_mps2` is the largest acceleration.
    * `stop`: the vehicle is not moving (`moving` False, speed known) for at least
      `min_stop_s`; `peak_mps2` is NaN.

    Each sample stands for the interval up to the next one, so `t_end_s` is the time of
    the last sample of the run plus one sample period and `duration_s` = `t_end_s` -
    `t_start_s` (all three rounded to 1 µs). `speed_at_start_kmh` is the speed at the
    first sample. Samples with unknown acceleration or speed end a run. Runs are found
    with vectorised run-length detection; the events come sorted by start time.
    """

    inputs: ClassVar[dict[str, str]] = {
        "features": "Per-sample t_s, speed_kmh, accel_mps2 (m/s²) and moving on a uniform grid.",
    }
    outputs: ClassVar[dict[str, str]] = {
        "events": "One row per event: kind, t_start_s, t_end_s, duration_s, peak_mps2, "
        "speed_at_start_kmh.",
    }

    hard_brake_mps2 = Param(
        4.0, "Deceleration in m/s² (positive number) at or beyond which braking is hard."
    )
    harsh_accel_mps2 = Param(3.0, "Acceleration in m/s² at or above which it is harsh.")
    min_duration_s = Param(
        0.3, "Shortest hard-braking or harsh-acceleration run that counts, in seconds."
    )
    min_stop_s = Param(2.0, "Shortest standstill that counts as a stop, in seconds.")

    def run(self, hub: DataHub) -> None:
        features = hub["features"]
        t = features["t_s"].to_numpy(dtype="float64")
        accel = features["accel_mps2"].to_numpy(dtype="float64", na_value=np.nan)
        speed_kmh = features["speed_kmh"].to_numpy(dtype="float64", na_value=np.nan)
        moving = features["moving"].to_numpy(dtype=bool)
        step_s = float(np.median(np.diff(t))) if len(t) > 1 else 0.0

        rules = {
            "hard_brake": (accel <= -self.hard_brake_mps2, self.min_duration_s, np.minimum),
            "harsh_accel": (accel >= self.harsh_accel_mps2, self.min_duration_s, np.maximum),
            "stop": (~moving & np.isfinite(speed_kmh), self.min_stop_s, None),
        }
        parts: list[pd.DataFrame] = []
        for kind, (mask, min_s, peak) in rules.items():
            starts, ends = _runs(mask)
            t_start = t[starts]
            t_end = t[ends - 1] + step_s
            long_enough = t_end - t_start >= min_s - 1e-9
            starts, ends = starts[long_enough], ends[long_enough]
            peaks = _peaks(accel, starts, ends, peak) if peak else np.full(len(starts), np.nan)
            parts.append(
                pd.DataFrame(
                    {
                        "kind": kind,
                        "t_start_s": np.round(t_start[long_enough], 6),
                        "t_end_s": np.round(t_end[long_enough], 6),
                        "duration_s": np.round((t_end - t_start)[long_enough], 6),
                        "peak_mps2": peaks,
                        "speed_at_start_kmh": speed_kmh[starts],
                    }
                ).astype(EVENT_DTYPES)
            )
        # Empty parts are left out of the concatenation (pandas warns about them).
        parts = [p for p in parts if len(p)] or [empty_events()]
        events = pd.concat(parts, ignore_index=True).astype(EVENT_DTYPES)
        events = events.sort_values(["t_start_s", "kind"], kind="stable", ignore_index=True)
        counts = events["kind"].value_counts()
        log.info(
            "%d events: %s",
            len(events),
            ", ".join(f"{k}={int(counts.get(k, 0))}" for k in EVENT_KINDS),
        )
        hub["events"] = events
