"""SignalAligner: put wheel, IMU and GPS on one common, uniform time base."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from datareplay import BasePlugin, Param

if TYPE_CHECKING:
    from datareplay import DataHub

log = logging.getLogger(__name__)


def _nearest(
    grid: pd.DataFrame, frame: pd.DataFrame, columns: dict[str, str], tolerance: float
) -> pd.DataFrame:
    """Attach the `frame` sample nearest in time to every grid row (NaN if too far).

    When the stream is faster than the grid, every grid row normally has a sample of its
    own; a sample that is the nearest to several rows (at the edge of a dropout) is kept
    only for the row closest to it, so the other rows become NaN instead of repeating it.
    """
    t_src = frame["t_s"].to_numpy(dtype="float64")
    right = frame[["t_s", *columns]].rename(columns=columns).assign(_t_src=t_src)
    if not right["t_s"].is_monotonic_increasing:
        right = right.sort_values("t_s", kind="stable")
    merged = pd.merge_asof(grid, right, on="t_s", direction="nearest", tolerance=tolerance)
    grid_step = float(np.median(np.diff(grid["t_s"]))) if len(grid) > 1 else np.inf
    stream_step = float(np.median(np.diff(np.sort(t_src)))) if len(t_src) > 1 else np.inf
    if stream_step < grid_step:
        source = merged["_t_src"].to_numpy()
        distance = np.abs(source - merged["t_s"].to_numpy())
        order = np.lexsort((distance, source))  # by sample, nearest grid row first
        repeat = np.zeros(len(merged), dtype=bool)
        repeat[order[1:]] = source[order[1:]] == source[order[:-1]]
        merged.loc[repeat, list(columns.values())] = np.nan
    return merged.drop(columns="_t_src")


class SignalAligner(BasePlugin):
    """Resample wheel, IMU and GPS onto one uniform time grid at `rate_hz`.

    The grid spans the time all three streams cover: from the latest first sample to
    the earliest last sample, at whole multiples of 1 / `rate_hz` seconds (so at 20 Hz
    the timestamps are 0.35, 0.40, 0.45, ... s). Each grid row takes the sample of each
    stream that is nearest in time (`pandas.merge_asof`, direction "nearest"), without
    any interpolation or averaging.

    A sample further away than `max_staleness_s` (`gps_max_staleness_s` for the 1 Hz
    GPS, whose nearest fix is normally up to 0.5 s away) is not used, and a sample of a
    stream faster than the grid (wheels, IMU) serves only the grid row nearest to it:
    inside a sensor dropout the grid rows become NaN instead of repeating a stale value,
    and the cleaner decides what to do with them. Output columns: `t_s`, `speed_mps` (wheels),
    `ax`, `ay`, `az`, `yaw_rate` (IMU), `lat`, `lon`, `gps_speed_mps` (GPS).
    """

    inputs: ClassVar[dict[str, str]] = {
        "wheel": "Wheel stream with t_s and speed_mps (m/s).",
        "imu": "IMU stream with t_s, ax, ay, az (m/s²) and yaw_rate (rad/s).",
        "gps": "GPS stream with t_s, lat, lon (degrees) and speed_mps (m/s).",
    }
    outputs: ClassVar[dict[str, str]] = {
        "aligned": "All signals on one uniform grid: t_s, speed_mps, ax, ay, az, yaw_rate, "
        "lat, lon, gps_speed_mps; NaN where a sensor had no sample close enough.",
    }

    rate_hz = Param(20.0, "Rate of the common time grid in Hz (samples per second).")
    max_staleness_s = Param(
        0.25,
        "Largest time distance in seconds between a grid row and the wheel or IMU sample "
        "used for it; further away gives NaN.",
    )
    gps_max_staleness_s = Param(
        0.6,
        "The same limit for the 1 Hz GPS, in seconds; keep it above 0.5 s, as a fix "
        "comes only once per second.",
    )

    def run(self, hub: DataHub) -> None:
        if self.rate_hz <= 0:
            raise ValueError(f"rate_hz must be positive, got {self.rate_hz}")
        streams = {name: hub[name] for name in ("wheel", "imu", "gps")}
        for name, frame in streams.items():
            if frame.empty:
                raise ValueError(f"input '{name}' has no rows; nothing to align")
        start = max(float(f["t_s"].min()) for f in streams.values())
        end = min(float(f["t_s"].max()) for f in streams.values())
        # Whole ticks of 1/rate: t = k / rate keeps the step exact and the times round.
        first = math.ceil(start * self.rate_hz - 1e-9)
        last = math.floor(end * self.rate_hz + 1e-9)
        if last < first:
            raise ValueError(
                f"no common time span of at least one grid step: the latest stream starts "
                f"at {start:.3f} s, the earliest ends at {end:.3f} s"
            )
        grid = pd.DataFrame({"t_s": np.arange(first, last + 1) / self.rate_hz})

        aligned = _nearest(grid, streams["wheel"], {"speed_mps": "speed_mps"}, self.max_staleness_s)
        imu_columns = {c: c for c in ("ax", "ay", "az", "yaw_rate")}
        aligned = _nearest(aligned, streams["imu"], imu_columns, self.max_staleness_s)
        gps_columns = {"lat": "lat", "lon": "lon", "speed_mps": "gps_speed_mps"}
        aligned = _nearest(aligned, streams["gps"], gps_columns, self.gps_max_staleness_s)

        missing = aligned.drop(columns="t_s").isna().sum()
        log.info(
            "aligned %s rows at %g Hz from %.2f s to %.2f s; rows without a sample: %s",
            f"{len(aligned):,}",
            self.rate_hz,
            aligned["t_s"].iloc[0],
            aligned["t_s"].iloc[-1],
            ", ".join(f"{c}={n:,}" for c, n in missing.items() if n) or "none",
        )
        hub["aligned"] = aligned
