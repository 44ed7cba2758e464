"""InitialDataReader: first step of the drive demo, from raw sensor tables to tidy ones."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from datareplay import BasePlugin, Param

if TYPE_CHECKING:
    from datareplay import DataHub

log = logging.getLogger(__name__)

WHEELS = ("fl", "fr", "rl", "rr")


def _tidy(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Sort by `t_s`, drop rows without a finite time and repeated timestamps."""
    if "t_s" not in frame.columns:
        raise ValueError(f"{name}: no 't_s' column (columns: {', '.join(map(str, frame.columns))})")
    t = pd.to_numeric(frame["t_s"], errors="coerce").astype("float64")
    finite = np.isfinite(t.to_numpy())
    # each step copies the table only when it has something to change (recordings are big)
    tidy = frame.assign(t_s=t) if finite.all() else frame.loc[finite].assign(t_s=t[finite])
    if not tidy["t_s"].is_monotonic_increasing:
        tidy = tidy.sort_values("t_s", kind="stable")
    duplicated = tidy["t_s"].duplicated(keep="first").to_numpy()
    if duplicated.any():
        tidy = tidy.loc[~duplicated]
    tidy = tidy.reset_index(drop=True)
    log.info(
        "%s: %s rows in, %s out (dropped %s with non-finite time, %s duplicate timestamps)",
        name,
        f"{len(frame):,}",
        f"{len(tidy):,}",
        f"{int((~finite).sum()):,}",
        f"{int(duplicated.sum()):,}",
    )
    return tidy


def _as_float(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    """Cast the measurement `columns` to float64 (raw files store float32)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(missing)}")
    return frame.astype(dict.fromkeys(columns, "float64"))


def _nanmean(columns: Iterable[np.ndarray]) -> np.ndarray:
    """Row-wise mean of equally long columns, skipping NaN, one column at a time."""
    total: np.ndarray | None = None
    count: np.ndarray | None = None
    for column in columns:
        present = ~np.isnan(column)
        if total is None or count is None:
            total, count = np.where(present, column, 0.0), present.astype("float64")
        else:
            total += np.where(present, column, 0.0)
            count += present
    assert total is not None and count is not None
    return np.divide(total, count, out=np.full(len(total), np.nan), where=count > 0)


class InitialDataReader(BasePlugin):
    """Tidy the raw wheel, IMU and GPS streams and convert wheel speeds to m/s.

    Each stream is sorted by its timestamp `t_s` (seconds since the start of the
    recording); rows whose time is NaN or infinite and rows that repeat an earlier
    timestamp (the logger sometimes writes a sample twice) are dropped, keeping the
    first. The number of dropped rows per stream is logged.

    The wheel angular speeds `fl`, `fr`, `rl`, `rr` (rad/s) become wheel
    ground speeds `fl_mps` .. `rr_mps` = angular speed × `wheel_radius_m`, and the
    vehicle speed `speed_mps` is their mean (wheels that are NaN are left out). No
    value is judged here: spikes and gaps pass through unchanged for the cleaner.
    All measurement columns are returned as float64.
    """

    inputs: ClassVar[dict[str, str]] = {
        "wheel_speed_raw": "Wheel angular speeds at 100 Hz: t_s, fl, fr, rl, rr in rad/s.",
        "imu_raw": "IMU at 50 Hz: t_s, ax, ay, az in m/s², yaw_rate in rad/s.",
        "gps_raw": "GPS at 1 Hz: t_s, lat, lon in degrees, speed_mps, hdop.",
    }
    outputs: ClassVar[dict[str, str]] = {
        "wheel": "t_s, fl_mps, fr_mps, rl_mps, rr_mps and their mean speed_mps, in m/s.",
        "imu": "t_s, ax, ay, az (m/s²), yaw_rate (rad/s), sorted and deduplicated.",
        "gps": "t_s, lat, lon (degrees), speed_mps (m/s), hdop, sorted and deduplicated.",
    }

    wheel_radius_m = Param(
        0.31, "Dynamic rolling radius of the tyres in metres: wheel m/s = rad/s × radius."
    )

    def run(self, hub: DataHub) -> None:
        wheel = _tidy(hub["wheel_speed_raw"], "wheel_speed_raw")
        _as_float(wheel.head(0), WHEELS, "wheel")  # checks the columns, copies nothing
        ground = {
            f"{w}_mps": wheel[w].to_numpy(dtype="float64") * self.wheel_radius_m for w in WHEELS
        }
        columns = {"t_s": wheel["t_s"].to_numpy(), **ground, "speed_mps": _nanmean(ground.values())}
        hub["wheel"] = pd.DataFrame(columns, copy=False)  # the arrays are ours: no second copy
        imu = _tidy(hub["imu_raw"], "imu_raw")
        hub["imu"] = _as_float(imu, ("ax", "ay", "az", "yaw_rate"), "imu")
        gps = _tidy(hub["gps_raw"], "gps_raw")
        hub["gps"] = _as_float(gps, ("lat", "lon", "speed_mps"), "gps")
