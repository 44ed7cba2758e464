"""FeatureDeriver: speed, acceleration, jerk, distance and standstill per sample."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from datareplay import BasePlugin, Param

if TYPE_CHECKING:
    from datareplay import DataHub

log = logging.getLogger(__name__)


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling mean over `window` samples; NaN only where most of it is missing."""
    series = pd.Series(x, dtype="float64")
    return series.rolling(window, center=True, min_periods=window // 2 + 1).mean().to_numpy()


def _derivative(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Central-difference derivative dx/dt (NaN next to missing samples)."""
    if len(x) < 2:
        return np.full(len(x), np.nan)
    return np.gradient(x, t)


def _distance(t: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """Cumulative trapezoid integral of speed over time, in metres.

    Missing samples are skipped: the trapezoid runs from the last valid sample before a
    gap to the first one after it (speed assumed linear across the gap), and the rows
    inside the gap carry the distance reached before it. Negative speeds count as 0.
    """
    ok = np.isfinite(speed)
    distance = np.full(len(t), np.nan)
    if not ok.any():
        return np.zeros(len(t))
    tv, vv = t[ok], np.clip(speed[ok], 0.0, None)
    steps = 0.5 * (vv[1:] + vv[:-1]) * np.diff(tv)
    distance[ok] = np.concatenate(([0.0], np.cumsum(steps)))
    return pd.Series(distance).ffill().fillna(0.0).to_numpy()


class FeatureDeriver(BasePlugin):
    """Derive speed in km/h, acceleration, jerk, distance and a moving flag per sample.

    `accel_mps2` is the time derivative of the wheel speed after a centred rolling mean
    over `smoothing_s` seconds; the wheels measure the motion along the road directly
    and without drift. With `fuse_imu` on, the IMU longitudinal acceleration `ax`
    (smoothed the same way) is used where the wheel speed is missing: its constant
    offset is first estimated as the median difference to the wheel-based acceleration
    and subtracted, so the filled values match the rest of the signal. `jerk_mps3` is
    the derivative of the acceleration, smoothed over the same window.

    `distance_m` is the cumulative trapezoid integral of the cleaned (unsmoothed)
    speed; gaps are bridged linearly, so the distance never decreases. `moving` is
    True where the speed exceeds `stop_speed_mps` (False where it is unknown);
    `valid` is taken over from the cleaner (or True where the speed is known).
    """

    inputs: ClassVar[dict[str, str]] = {
        "clean": "Cleaned signals on a uniform grid: t_s, speed_mps (m/s), optionally ax "
        "(m/s²) and valid.",
    }
    outputs: ClassVar[dict[str, str]] = {
        "features": "t_s, speed_mps, speed_kmh, accel_mps2, jerk_mps3, distance_m, moving, valid.",
    }

    smoothing_s = Param(
        0.5, "Length of the centred rolling mean applied before differentiating, in seconds."
    )
    stop_speed_mps = Param(0.5, "The vehicle counts as moving above this speed, in m/s.")
    fuse_imu = Param(
        True, "Fill acceleration where the wheel speed is missing from the bias-corrected IMU ax."
    )

    def run(self, hub: DataHub) -> None:
        clean = hub["clean"]
        t = clean["t_s"].to_numpy(dtype="float64")
        speed = clean["speed_mps"].to_numpy(dtype="float64", na_value=np.nan)
        step_s = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
        window = max(1, round(self.smoothing_s / step_s)) | 1  # odd, so it is centred

        accel = _derivative(_smooth(speed, window), t)
        if self.fuse_imu and "ax" in clean.columns:
            ax = _smooth(clean["ax"].to_numpy(dtype="float64", na_value=np.nan), window)
            both = np.isfinite(accel) & np.isfinite(ax)
            gaps = ~np.isfinite(accel) & np.isfinite(ax)
            if both.any() and gaps.any():
                bias = float(np.median(ax[both] - accel[both]))
                accel[gaps] = ax[gaps] - bias
                log.info(
                    "filled %d acceleration samples from IMU ax (bias %.3f m/s²)",
                    int(gaps.sum()),
                    bias,
                )
        jerk = _derivative(_smooth(accel, window), t)

        moving = np.nan_to_num(speed, nan=0.0) > self.stop_speed_mps
        if "valid" in clean.columns:
            valid = clean["valid"].to_numpy(dtype=bool)
        else:
            valid = np.isfinite(speed)
        features = pd.DataFrame(
            {
                "t_s": t,
                "speed_mps": speed,
                "speed_kmh": speed * 3.6,
                "accel_mps2": accel,
                "jerk_mps3": jerk,
                "distance_m": _distance(t, speed),
                "moving": moving,
                "valid": valid,
            }
        )
        log.info(
            "features for %d rows: %.2f km, moving %.0f %% of the time",
            len(features),
            features["distance_m"].iloc[-1] / 1000.0 if len(features) else 0.0,
            100.0 * moving.mean() if len(moving) else 0.0,
        )
        hub["features"] = features
