"""SignalCleaner: remove impossible values and spikes, bridge short gaps."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from datareplay import BasePlugin, Param

if TYPE_CHECKING:
    from datareplay import DataHub

log = logging.getLogger(__name__)

GRAVITY_MPS2 = 9.81
# Columns checked for spikes. GPS is not: at 1 Hz it reaches the grid as a staircase.
SPIKE_COLUMNS = ("speed_mps", "ax", "ay", "az", "yaw_rate")
MAD_TO_SIGMA = 1.4826  # MAD × this = standard deviation for normally distributed noise


def _noise_scale(t: np.ndarray, x: np.ndarray, roll: dict[str, Any]) -> np.ndarray:
    """Robust noise level of `x` around each sample, in the unit of `x`.

    It is 1.4826 × the rolling median distance of a sample from the straight line (in
    time) through its two neighbours: trends do not enter this distance, noise does.
    Zero distances are left out (runs of
    identical values, like wheels at standstill, say nothing about the noise) and the
    result is at least the same median taken over the whole column.
    """
    line = np.full(len(x), np.nan)
    weight = (t[1:-1] - t[:-2]) / (t[2:] - t[:-2])
    line[1:-1] = np.abs(x[1:-1] - (x[:-2] + weight * (x[2:] - x[:-2])))
    line[line == 0] = np.nan
    informative = line[np.isfinite(line)]
    floor = float(np.median(informative)) if len(informative) else 0.0
    local = pd.Series(line).rolling(**roll).median().to_numpy()
    return MAD_TO_SIGMA * np.fmax(local, floor)


def _spikes(t: np.ndarray, x: np.ndarray, window: int, sigma: float) -> np.ndarray:
    """Single samples that stick out from the rolling median and from both neighbours.

    Hampel test: the distance from the centred rolling median over `window` samples
    must exceed `sigma` × 1.4826 × the rolling median absolute deviation (MAD). On a
    smooth, almost noise-free signal the MAD is tiny and every bend would pass, so the
    sample must also be a peak or dip that differs from both neighbours by more than
    `sigma` × the local noise level (and the MAD is never taken below that level).
    """
    if len(x) < 3:
        return np.zeros(len(x), dtype=bool)
    roll: dict[str, Any] = {"window": window, "center": True, "min_periods": window // 2 + 1}
    noise = _noise_scale(t, x, roll)
    median = pd.Series(x).rolling(**roll).median()
    deviation = (pd.Series(x) - median).abs()
    mad = MAD_TO_SIGMA * deviation.rolling(**roll).median().to_numpy()
    hampel = deviation.to_numpy() > sigma * np.fmax(mad, noise)

    step_prev = np.full(len(x), np.nan)
    step_next = np.full(len(x), np.nan)
    step_prev[1:] = x[1:] - x[:-1]
    step_next[:-1] = x[:-1] - x[1:]
    peak = (step_prev * step_next > 0) & (
        np.minimum(np.abs(step_prev), np.abs(step_next)) > sigma * noise
    )
    return hampel & peak & (noise > 0)


def _bridge(t: np.ndarray, x: np.ndarray, max_gap_s: float, step_s: float) -> np.ndarray:
    """Mask of NaN samples inside gaps of at most `max_gap_s` seconds (with data both sides).

    The length of a gap is the time it spans without data: the distance between the valid
    samples around it minus one sample period `step_s`.
    """
    ok = np.isfinite(x)
    idx = np.arange(len(x))
    before = np.maximum.accumulate(np.where(ok, idx, -1))
    after = np.minimum.accumulate(np.where(ok, idx, len(x))[::-1])[::-1]
    inner = ~ok & (before >= 0) & (after < len(x))
    span = np.full(len(x), np.inf)
    span[inner] = t[after[inner]] - t[before[inner]] - step_s
    return inner & (span <= max_gap_s + 1e-9)


class SignalCleaner(BasePlugin):
    """Blank out impossible values and spikes, interpolate short gaps, flag valid rows.

    Works on the uniform grid from the aligner, column by column, in three passes:

    1. Physical limits: vehicle and GPS speed outside 0 .. `max_speed_mps`, `ax`,
       `ay` or `az` - 9.81 beyond ±`max_accel_mps2`, `yaw_rate` beyond
       ±`max_yaw_rate_rps` and coordinates off the globe become NaN.
    2. Spikes (vehicle speed, ax, ay, az, yaw rate): a sample becomes NaN when it is more
       than `spike_sigma` robust standard deviations away from the rolling median over
       `spike_window_s` (Hampel test, 1.4826 × rolling MAD) and is a single-sample
       peak or dip that differs from both neighbours by more than `spike_sigma` × the
       local noise level. The noise level comes from the distance of each sample to the
       line through its neighbours, so ramps, bends and kinks of a smooth, low-noise
       signal are not taken for spikes. Samples next to a gap are not tested.
    3. Gaps: NaN stretches of at most `max_gap_s` seconds with valid data on both sides
       (sensor dropouts, the removed spikes) are filled by linear interpolation in time.
       Longer gaps, and gaps at the start or end, stay NaN.

    The output has the input columns plus `valid`: True where every signal column is
    finite after cleaning. The number of values removed and filled per column is logged.
    """

    inputs: ClassVar[dict[str, str]] = {
        "aligned": "Signals on a uniform time grid (t_s plus signal columns, NaN = no data).",
    }
    outputs: ClassVar[dict[str, str]] = {
        "clean": "The same columns with impossible values and spikes removed, short gaps "
        "interpolated, plus the boolean column valid.",
    }

    max_speed_mps = Param(70.0, "Highest plausible vehicle or GPS speed in m/s (252 km/h).")
    max_accel_mps2 = Param(
        15.0, "Highest plausible acceleration magnitude in m/s² (az is checked against 9.81)."
    )
    max_yaw_rate_rps = Param(2.0, "Highest plausible yaw rate magnitude in rad/s.")
    spike_sigma = Param(
        6.0, "Spike threshold: distance from the rolling median in robust standard deviations."
    )
    spike_window_s = Param(
        1.0, "Length of the rolling median and noise windows of the spike test, in seconds."
    )
    max_gap_s = Param(
        1.0, "Longest gap in seconds that is interpolated; longer gaps stay NaN (invalid)."
    )

    def _limits(self, frame: pd.DataFrame) -> dict[str, tuple[float, float]]:
        """Plausible (low, high) range of every known signal column."""
        accel = self.max_accel_mps2
        ranges = {
            "speed_mps": (0.0, self.max_speed_mps),
            "gps_speed_mps": (0.0, self.max_speed_mps),
            "ax": (-accel, accel),
            "ay": (-accel, accel),
            "az": (GRAVITY_MPS2 - accel, GRAVITY_MPS2 + accel),
            "yaw_rate": (-self.max_yaw_rate_rps, self.max_yaw_rate_rps),
            "lat": (-90.0, 90.0),
            "lon": (-180.0, 180.0),
        }
        return {c: r for c, r in ranges.items() if c in frame.columns}

    def run(self, hub: DataHub) -> None:
        aligned = hub["aligned"]
        t = aligned["t_s"].to_numpy(dtype="float64")
        step_s = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
        window = max(3, round(self.spike_window_s / step_s) | 1) if step_s > 0 else 3
        limits = self._limits(aligned)

        columns: dict[str, np.ndarray] = {"t_s": t}
        signals = [c for c in aligned.columns if c != "t_s"]
        report = []
        for name in signals:
            x = aligned[name].to_numpy(dtype="float64", na_value=np.nan).copy()
            low, high = limits.get(name, (-np.inf, np.inf))
            impossible = (x < low) | (x > high)
            x[impossible] = np.nan
            spikes = np.zeros(len(x), dtype=bool)
            if name in SPIKE_COLUMNS:
                spikes = _spikes(t, x, window, self.spike_sigma)
                x[spikes] = np.nan
            fill = _bridge(t, x, self.max_gap_s, step_s)
            if fill.any():
                ok = np.isfinite(x)
                x[fill] = np.interp(t[fill], t[ok], x[ok])
            columns[name] = x
            counts = [
                (int(impossible.sum()), "impossible"),
                (int(spikes.sum()), "spikes"),
                (int(fill.sum()), "filled"),
                (int(np.isnan(x).sum()), "still missing"),
            ]
            report.append((name, counts))

        clean = pd.DataFrame(columns)
        clean["valid"] = clean[signals].notna().all(axis=1) if signals else True
        hub["clean"] = clean
        log.info(
            "cleaned %s rows: %s; %.1f %% valid",
            f"{len(clean):,}",
            "; ".join(
                f"{name}: " + ", ".join(f"{n:,} {what}" for n, what in counts if n)
                for name, counts in report
                if any(n for n, _ in counts)
            )
            or "nothing to fix",
            100.0 * clean["valid"].mean() if len(clean) else 0.0,
        )
