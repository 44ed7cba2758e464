"""Generate a deterministic, synthetic vehicle-drive recording for the Data Replay demo.

The recording lands in ``<root>/data/raw/drive/`` as three Parquet files (zstd):

``wheel_speed.parquet`` (100 Hz, exactly ``rows`` rows)
    ``t_s`` float64, seconds since the start of the recording; ``fl``, ``fr``, ``rl``,
    ``rr`` float32, angular speed of the front-left, front-right, rear-left and
    rear-right wheel in rad/s (vehicle speed = angular speed x 0.31 m rolling radius).
``imu.parquet`` (50 Hz, ``rows // 2`` rows)
    ``t_s``; ``ax`` (longitudinal), ``ay`` (lateral, positive to the left), ``az``
    (vertical, gravity included) float32 in m/s²; ``yaw_rate`` float32 in rad/s,
    positive counter-clockwise (left turn).
``gps.parquet`` (1 Hz, ``rows // 100`` rows)
    ``t_s``; ``lat``, ``lon`` float64 in degrees (WGS84, start near 48.137 N, 11.575 E);
    ``speed_mps`` float32, GPS ground speed in m/s; ``hdop`` float32, horizontal
    dilution of precision (unitless, ~0.7 good .. >3 poor).

The drive is a chain of cycles: standing at a traffic light (4-45 s; the first one is a
short start-up), pulling away at 1.0-2.6 m/s² (about one cycle in eight is a sporty
launch at 3.3-4.0 m/s², enough to count as harsh acceleration), cruising at 8-33 m/s
with a slow speed wobble of a few tenths of a m/s, changing speed (accelerating at
0.8-2 m/s² or braking normally at 1-2.5 m/s²), cruising again and braking to a stop,
normally at 1-2.5 m/s² or - in about one cycle in five, and always in the first
cycle - hard at 4.5-7 m/s². The piecewise-constant acceleration is smoothed over
0.6 s (limited jerk) and integrated to the speed, clipped at 0. Curves (radius
40-600 m, lateral acceleration capped at 3.5 m/s²) give the yaw rate; heading and
position are integrated from speed and yaw rate.

Sensor models: wheels = speed / 0.31 m with a per-wheel tyre-radius error (±0.4 %),
inner/outer and front/rear differences in curves (track 1.6 m, wheelbase 2.8 m) and
noise (wheels read exactly 0 at standstill); IMU ax = true acceleration + small bias
+ noise, ay = yaw_rate x speed + noise, az = 9.81 + speed-dependent vibration;
GPS position has correlated noise of about hdop metres, GPS speed noise 0.15 m/s.

Defects, as found in real recordings:

* timestamp jitter: normal with σ 0.4 / 0.8 / 2 ms for wheel / IMU / GPS, clipped at
  ±2 / ±4 / ±20 ms; timestamps rounded to 1 µs; the streams start and end at slightly
  different times;
* dropouts: a few gaps of 0.2-3 s with missing rows in the wheel and in the IMU stream
  (one per ~5 min, at least two each; the first lasts 0.6-0.95 s, the second 1.5-3 s),
  placed outside hard brakes and sporty launches;
* GPS gaps of 2-10 s (tunnels; one per ~7 min, at least two), with poor hdop around;
  recordings shorter than 20 s (2,000 rows) get neither dropouts nor GPS gaps;
* single-sample spikes with physically impossible values: one wheel at 350-900 rad/s
  (sign random) and IMU values 30-80 m/s² (3-8 rad/s for the yaw rate) above or below
  their normal level (0, or 9.81 for az); one per ~2 min, at least three per stream;
* duplicated rows (same timestamp twice) in the wheel stream (at least two).

The same ``rows`` and ``seed`` give byte-identical files. ``simulate_drive`` returns
the tables together with the ground truth (hard brakes, dropouts, spikes) for tests.

Faulty recording (``--faults`` / ``generate(..., faults=True)``): for the data-quality
demo the same drive is also written to ``<root>/data/raw/drive_faulty/`` - the same
three files, columns and dtypes, with the defects above plus gross sensor faults:

* two long dropouts of 15-25 s each, in which the wheel AND the IMU rows are missing
  (the same time interval in both streams). The middle 80 % of the recording is cut
  into three equal slots; the first and the last slot hold one dropout each, placed
  off the normal dropouts where possible;
* a stuck IMU: ``ax`` frozen at its value at the freeze start for 1,500 consecutive
  samples (30 s), between the two long dropouts (at least the whole middle slot), off
  the normal dropouts and IMU spikes where possible (never frozen at a spike value);
  ``ay`` and the other columns are left alone;
* 60 out-of-range wheel rows: all four wheels at 400 rad/s (124 m/s), one per equal
  slot of the rows, never on a row that already carries a defect;
* duplicated timestamps: ``rows // 100`` (1 %) further wheel rows written twice (the
  copy follows the original, same ``t_s`` and values), so the wheel file has
  ``rows - dropped rows + rows // 100`` rows.

Recordings shorter than 150 s (15,000 rows) get the faults scaled down by
``s = min(1, rows / 15_000)`` (= duration / 150 s): dropouts ``s x 15-25 s``, stuck
``ax`` for ``max(2, round(s x 1500))`` samples (capped at the IMU rows between the two
dropouts, which never bites in practice), ``max(1, round(s x 60))`` wheel spikes; the
duplicates stay at ``rows // 100``. The layout (thirds of the middle 80 %) then always
has room, down to ``MIN_ROWS``. The IMU file only loses the dropped rows;
``gps.parquet`` is the normal one (GPS gets no faults). The faults come from their own
random stream (derived from the seed), so the normal recording is byte-identical with
and without ``faults``, and the faulty files are byte-identical for the same ``rows``
and ``seed``. Run standalone without ``faults``, an existing ``drive_faulty/`` is left
as it is; ``generate-data`` removes it (it replaces every recording it generated before).
``inject_faults`` (or ``faulty_drive``) returns the faulty tables with the fault
positions as truth.

Usage: ``python scripts/generation.py [--rows N] [--seed S] [--root DIR] [--faults]``.
``python run.py generate-data`` is the safer way in a project: the engine runs
``generate`` into a staging folder, takes the raw-data lock (so no pipeline reads a
recording while it is replaced), swaps each folder into place and records rows and seed.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

RAW_DIR = "data/raw/drive"
FAULTY_DIR = "data/raw/drive_faulty"
WHEEL_RATE_HZ = 100
IMU_RATE_HZ = 50
GPS_RATE_HZ = 1
MOTION_RATE_HZ = 20  # the vehicle motion is simulated at 20 Hz and interpolated
MIN_ROWS = 100  # 1 s; dropouts and GPS gaps need at least 20 s

WHEEL_RADIUS_M = 0.31
TRACK_M = 1.6
WHEELBASE_M = 2.8
GRAVITY_MPS2 = 9.81
START_LAT_DEG = 48.137
START_LON_DEG = 11.575
EARTH_RADIUS_M = 6_371_000.0

# Start offsets of the streams in seconds (the loggers do not start at the same instant).
_OFFSET_S = {"wheel_speed": 0.002, "imu": 0.007, "gps": 0.35}
_DT = 1.0 / MOTION_RATE_HZ

# Faults of the faulty recording, at full size (recordings of at least FAULT_FULL_ROWS).
FAULT_FULL_ROWS = 15_000  # 150 s; shorter recordings get the faults scaled down
FAULT_DROPOUT_S = (15.0, 25.0)  # length range of each of the two long dropouts
FAULT_STUCK_SAMPLES = 1_500  # IMU samples (30 s) with ax frozen
FAULT_SPIKES = 60  # wheel rows with all four wheels at FAULT_SPIKE_RAD_S
FAULT_SPIKE_RAD_S = 400.0
FAULT_DUPLICATE_SHARE = 100  # one wheel row in 100 written twice
_FAULT_STREAM = 0xFA17  # mixed into the seed: the faults' own random stream


class Drive(NamedTuple):
    """A simulated recording: the tables to write and the ground truth behind them."""

    tables: dict[str, pa.Table]
    truth: dict[str, np.ndarray]


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` samples (edges padded with edge values)."""
    if width <= 1:
        return x.astype(np.float64, copy=True)
    left = width // 2
    padded = np.pad(x.astype(np.float64), (left, width - 1 - left), mode="edge")
    csum = np.concatenate(([0.0], np.cumsum(padded)))
    return (csum[width:] - csum[:-width]) / width


def _slot_starts(
    rng: np.random.Generator,
    lengths: np.ndarray,
    n_samples: int,
    rate: float,
    forbidden: np.ndarray,
    margin: int,
) -> np.ndarray:
    """Start indices of len(lengths) gaps, one per equal slot of the stream.

    Each gap gets 16 random candidate positions inside its slot; the first one whose
    time span does not touch a ``forbidden`` interval (sorted (start, end) seconds) wins.
    """
    n = len(lengths)
    edges = np.linspace(margin, n_samples - margin, n + 1).astype(np.int64)
    room = np.maximum(edges[1:] - edges[:-1] - lengths, 1)
    cand = edges[:-1, None] + (rng.random((n, 16)) * room[:, None]).astype(np.int64)
    t0 = cand / rate
    t1 = (cand + lengths[:, None]) / rate
    if len(forbidden):
        k = np.searchsorted(forbidden[:, 1], t0, side="right")
        hits = (k < len(forbidden)) & (forbidden[np.minimum(k, len(forbidden) - 1), 0] < t1)
    else:
        hits = np.zeros(cand.shape, dtype=bool)
    best = np.argmax(~hits, axis=1)  # 0 when every candidate hits: accept it anyway
    return cand[np.arange(n), best]


def _spike_rows(rng: np.random.Generator, count: int, n_rows: int) -> np.ndarray:
    """``count`` well separated row indices (one random row per equal slot)."""
    margin = min(50, n_rows // 10)
    edges = np.linspace(margin, n_rows - margin, count + 1).astype(np.int64)
    return edges[:-1] + (rng.random(count) * (edges[1:] - edges[:-1])).astype(np.int64)


def _noise(rng: np.random.Generator, n: int, sigma: float | np.ndarray = 1.0) -> np.ndarray:
    """Gaussian noise (float32 draws: half the cost, plenty for sensor noise)."""
    return rng.standard_normal(n, dtype=np.float32) * sigma


def _jittered_times(
    rng: np.random.Generator, n: int, rate: float, offset: float, sigma: float, limit: float
) -> np.ndarray:
    """Nominal sample times plus clipped normal jitter, rounded to microseconds."""
    jitter = np.clip(_noise(rng, n, sigma), -limit, limit)
    return np.round(offset + np.arange(n) / rate + jitter, 6)


def _simulate_motion(rng: np.random.Generator, duration_s: float) -> dict[str, np.ndarray]:
    """Vehicle motion on the MOTION_RATE_HZ grid and the intervals of the driving events."""
    n = int(np.ceil(duration_s * MOTION_RATE_HZ)) + 1
    t = np.arange(n) * _DT

    # --- speed profile: cycles of stop / pull away / cruise / change / cruise / brake.
    # A cycle lasts at least 17 s (~80 s on average), so k cycles always cover the drive.
    k = int(duration_s // 15) + 2
    stop = rng.uniform(4.0, 45.0, k)
    stop[0] = rng.uniform(3.0, 6.0)
    v1 = rng.uniform(8.0, 33.0, k)
    v2 = rng.uniform(8.0, 33.0, k)
    sporty = rng.random(k) < 0.12
    launch = np.where(sporty, rng.uniform(3.3, 4.0, k), rng.uniform(1.0, 2.6, k))
    v1 = np.where(sporty, np.minimum(v1, rng.uniform(14.0, 20.0, k)), v1)
    cruise1 = rng.uniform(5.0, 40.0, k)
    cruise2 = rng.uniform(5.0, 40.0, k)
    change = np.where(v2 > v1, rng.uniform(0.8, 2.0, k), rng.uniform(1.0, 2.5, k))
    hard = rng.random(k) < 0.2
    hard[0] = True
    v2 = np.where(hard, np.maximum(v2, rng.uniform(14.0, 30.0, k)), v2)
    brake = np.where(hard, rng.uniform(4.5, 7.0, k), rng.uniform(1.0, 2.5, k))

    durations = np.stack(
        [stop, v1 / launch, cruise1, np.abs(v2 - v1) / change, cruise2, v2 / brake], axis=1
    )
    zeros = np.zeros(k)
    speeds = np.stack([zeros, zeros, v1, v1, v2, v2], axis=1)
    knot_t = np.concatenate(([0.0], np.cumsum(durations.ravel())))
    knot_v = np.concatenate((speeds.ravel(), [0.0]))
    v_lin = np.interp(t, knot_t, knot_v)

    # Slow speed wobble while cruising (phases 2 and 4 of a cycle), faded in and out.
    phase = (np.searchsorted(knot_t, t, side="right") - 1) % 6
    cruising = _moving_average((phase == 2) | (phase == 4), 3 * MOTION_RATE_HZ)
    periods = rng.uniform(7.0, 40.0, 3)
    shifts = rng.uniform(0.0, 2 * np.pi, 3)
    wobble = sum(0.15 * np.sin(2 * np.pi * t / p + s) for p, s in zip(periods, shifts, strict=True))
    v_profile = v_lin + cruising * wobble

    # Speed = integral of the jerk-limited (smoothed) acceleration, clipped at 0.
    accel_steps = np.diff(v_profile, prepend=0.0) / _DT
    accel = _moving_average(accel_steps, round(0.6 * MOTION_RATE_HZ) + 1)
    speed = np.cumsum(accel) * _DT
    speed[speed < 1e-6] = 0.0  # also the rounding residue of the sum while standing
    accel = np.gradient(speed, _DT)

    # --- curves: straights and arcs of random radius, eased in over 3 s.
    m = int(duration_s // 4) + 2
    bounds = np.concatenate(([0.0], np.cumsum(rng.uniform(4.0, 30.0, m))))
    radius = rng.uniform(40.0, 600.0, m) * rng.choice([-1.0, 1.0], m)
    curvature = np.where(rng.random(m) < 0.45, 1.0 / radius, 0.0)
    kappa = _moving_average(
        curvature[np.searchsorted(bounds, t, side="right") - 1], 3 * MOTION_RATE_HZ
    )
    kappa_max = 3.5 / np.maximum(speed, 1.0) ** 2  # keep |ay| below 3.5 m/s²
    yaw_rate = np.clip(kappa, -kappa_max, kappa_max) * speed

    heading = rng.uniform(0.0, 2 * np.pi) + np.cumsum(yaw_rate) * _DT
    north = np.cumsum(speed * np.cos(heading)) * _DT
    east = np.cumsum(speed * np.sin(heading)) * _DT

    # Ground truth: (start s, end s, acceleration magnitude m/s²) of the events.
    brake_end = knot_t[6::6][:k]
    inside = hard & (brake_end <= duration_s)
    hard_brakes = np.stack([brake_end - durations[:, 5], brake_end, brake], axis=1)[inside]
    launch_start = knot_t[1::6][:k]
    inside = sporty & (launch_start + durations[:, 1] <= duration_s)
    launches = np.stack([launch_start, launch_start + durations[:, 1], launch], axis=1)[inside]
    return {
        "t": t,
        "speed": speed,
        "accel": accel,
        "yaw_rate": yaw_rate,
        "north": north,
        "east": east,
        "hard_brakes": hard_brakes,
        "harsh_accels": launches,
    }


def _gap_mask(n: int, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Boolean mask of length ``n``: False inside the gaps [start, start + length)."""
    keep = np.ones(n, dtype=bool)
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = np.repeat(starts, lengths) + offsets
    keep[rows[rows < n]] = False
    return keep


def simulate_drive(rows: int = 100_000, seed: int = 42) -> Drive:
    """Simulate the drive and its three sensor streams (nothing is written)."""
    if rows < MIN_ROWS:
        raise ValueError(f"rows must be at least {MIN_ROWS}, got {rows}")
    rng = np.random.default_rng(seed)
    nominal_s = rows / WHEEL_RATE_HZ

    # --- defect budget first: it decides how long each stream has to run.
    # Dropouts and GPS gaps only where they fit: recordings of at least 20 s.
    n_drop = max(2, round(nominal_s / 300)) if nominal_s >= 20 else 0
    longest = max(min(3.0, nominal_s / 8), 0.2)
    wheel_gap = rng.uniform(0.2, longest, n_drop)
    imu_gap = rng.uniform(0.2, longest, n_drop)
    for gaps in (wheel_gap, imu_gap) if n_drop else ():
        gaps[0] = rng.uniform(0.6, 0.95)  # one gap that can be bridged, one that cannot
        gaps[1] = rng.uniform(1.5, longest)
    wheel_gap_n = np.round(wheel_gap * WHEEL_RATE_HZ).astype(np.int64)
    imu_gap_n = np.round(imu_gap * IMU_RATE_HZ).astype(np.int64)
    n_fixes = rows // 100
    n_gps_gaps = max(2, round(nominal_s / 400)) if n_fixes >= 20 else 0
    gps_gap_n = rng.integers(2, max(3, min(11, n_fixes // 5 + 1)), n_gps_gaps)
    n_dup = max(2, round(nominal_s / 500))
    n_spikes = max(3, round(nominal_s / 120))

    # Each stream runs long enough that it keeps its row count after the gaps.
    n_wheel = rows + int(wheel_gap_n.sum()) - n_dup
    n_imu = rows // 2 + int(imu_gap_n.sum())
    n_gps = n_fixes + int(gps_gap_n.sum())
    end_s = max(
        _OFFSET_S["wheel_speed"] + n_wheel / WHEEL_RATE_HZ,
        _OFFSET_S["imu"] + n_imu / IMU_RATE_HZ,
        _OFFSET_S["gps"] + n_gps / GPS_RATE_HZ,
    )
    motion = _simulate_motion(rng, end_s + 1.0)
    # Keep dropouts off the hard brakes and launches, so the ground truth stays checkable.
    events = np.concatenate([motion["hard_brakes"], motion["harsh_accels"]])
    avoid = events[np.argsort(events[:, 0]), :2] + np.array([-2.0, 2.0])

    def sample(name: str, times: np.ndarray) -> np.ndarray:
        return np.interp(times, motion["t"], motion[name])

    # --- wheel speeds -------------------------------------------------------------
    t_w = _jittered_times(rng, n_wheel, WHEEL_RATE_HZ, _OFFSET_S["wheel_speed"], 4e-4, 2e-3)
    v = sample("speed", t_w).astype(np.float32)
    yaw = sample("yaw_rate", t_w).astype(np.float32)
    half_track = 0.5 * TRACK_M * yaw  # left wheels are the inner ones in a left turn
    front = np.hypot(v, yaw * WHEELBASE_M)  # the front axle runs on a larger radius
    noise_on = (v > 0.05).astype(np.float32)  # encoders read exactly 0 at standstill
    scale = WHEEL_RADIUS_M * (1.0 + rng.uniform(-0.004, 0.004, 4))  # tyre radius errors
    wheels: dict[str, np.ndarray] = {}
    for i, (name, base, side) in enumerate(
        (("fl", front, -1), ("fr", front, 1), ("rl", v, -1), ("rr", v, 1))
    ):
        omega = (base + side * half_track) / np.float32(scale[i])
        omega += _noise(rng, n_wheel, 0.03) * noise_on
        wheels[name] = np.maximum(omega, 0.0, out=omega)

    starts = _slot_starts(rng, wheel_gap_n, n_wheel, WHEEL_RATE_HZ, avoid, 200)
    wheel_drop = np.stack([t_w[starts], t_w[starts + wheel_gap_n - 1]], axis=1)
    keep = _gap_mask(n_wheel, starts, wheel_gap_n)
    t_w = t_w[keep]
    wheels = {name: w[keep] for name, w in wheels.items()}

    rows_hit = _spike_rows(rng, n_spikes, len(t_w))
    wheel_hit = rng.integers(0, 4, n_spikes)
    values = rng.uniform(350.0, 900.0, n_spikes) * rng.choice([-1.0, 1.0], n_spikes)
    for i, w in enumerate(wheels.values()):
        w[rows_hit[wheel_hit == i]] = values[wheel_hit == i]
    wheel_spikes = t_w[rows_hit]

    # A few rows written twice by the logger (same timestamp), never a spike row.
    dup_rows = _spike_rows(rng, n_dup, len(t_w))
    dup_rows += np.isin(dup_rows, rows_hit)
    repeat = np.ones(len(t_w), dtype=np.int64)
    repeat[dup_rows] = 2
    duplicates = t_w[dup_rows]
    wheel_table = pa.table(
        {"t_s": np.repeat(t_w, repeat), **{k: np.repeat(w, repeat) for k, w in wheels.items()}}
    )

    # --- IMU ----------------------------------------------------------------------
    t_i = _jittered_times(rng, n_imu, IMU_RATE_HZ, _OFFSET_S["imu"], 8e-4, 4e-3)
    v = sample("speed", t_i).astype(np.float32)
    yaw = sample("yaw_rate", t_i).astype(np.float32)
    bias = rng.uniform(-0.08, 0.08, 4) * np.array([1.0, 1.0, 1.0, 0.025])
    sigma = 0.06 + 0.002 * v  # noise grows with speed (vibration)
    imu = {
        "ax": sample("accel", t_i).astype(np.float32) + _noise(rng, n_imu, sigma),
        "ay": yaw * v + _noise(rng, n_imu, sigma),
        "az": GRAVITY_MPS2 + _noise(rng, n_imu, 0.04 + 0.004 * v),
        "yaw_rate": yaw + _noise(rng, n_imu, 0.003),
    }
    for b, x in zip(bias, imu.values(), strict=True):
        x += np.float32(b)

    starts = _slot_starts(rng, imu_gap_n, n_imu, IMU_RATE_HZ, avoid, 100)
    imu_drop = np.stack([t_i[starts], t_i[starts + imu_gap_n - 1]], axis=1)
    keep = _gap_mask(n_imu, starts, imu_gap_n)
    t_i = t_i[keep]
    imu = {name: x[keep] for name, x in imu.items()}

    rows_hit = _spike_rows(rng, n_spikes, len(t_i))
    column_hit = rng.integers(0, 4, n_spikes)
    sign = rng.choice([-1.0, 1.0], n_spikes)
    accel_spike = rng.uniform(30.0, 80.0, n_spikes) * sign  # m/s², far beyond any car
    yaw_spike = rng.uniform(3.0, 8.0, n_spikes) * sign  # rad/s
    normal_level = {"ax": 0.0, "ay": 0.0, "az": GRAVITY_MPS2, "yaw_rate": 0.0}
    for i, (name, x) in enumerate(imu.items()):
        hit = column_hit == i
        spike = yaw_spike if name == "yaw_rate" else accel_spike
        x[rows_hit[hit]] = normal_level[name] + spike[hit]
    imu_spikes = t_i[rows_hit]
    imu_table = pa.table({"t_s": t_i, **imu})

    # --- GPS ----------------------------------------------------------------------
    t_g = _jittered_times(rng, n_gps, GPS_RATE_HZ, _OFFSET_S["gps"], 2e-3, 2e-2)
    hdop = 0.8 + 2.5 * np.abs(_moving_average(rng.normal(0.0, 1.0, n_gps), 30))
    starts = _slot_starts(rng, gps_gap_n, n_gps, GPS_RATE_HZ, np.empty((0, 2)), 5)
    gps_gap = np.stack([t_g[starts], t_g[starts + gps_gap_n - 1]], axis=1)
    keep = _gap_mask(n_gps, starts, gps_gap_n)
    # Poor satellite geometry for a few seconds around each gap (tunnel portals).
    near_gap = ~_gap_mask(n_gps, np.maximum(starts - 3, 0), gps_gap_n + 6)
    hdop = np.where(near_gap, hdop + rng.uniform(1.5, 3.0, n_gps), hdop)

    # Position error: correlated over ~5 s, about hdop metres.
    north = sample("north", t_g) + _moving_average(rng.normal(0.0, 2.2, n_gps), 5) * hdop
    east = sample("east", t_g) + _moving_average(rng.normal(0.0, 2.2, n_gps), 5) * hdop
    lat = START_LAT_DEG + np.degrees(north / EARTH_RADIUS_M)
    lon = START_LON_DEG + np.degrees(east / (EARTH_RADIUS_M * np.cos(np.radians(START_LAT_DEG))))
    gps_speed = np.maximum(sample("speed", t_g) + rng.normal(0.0, 0.15, n_gps), 0.0)
    gps_table = pa.table(
        {
            "t_s": t_g[keep],
            "lat": np.round(lat[keep], 7),
            "lon": np.round(lon[keep], 7),
            "speed_mps": gps_speed[keep].astype(np.float32),
            "hdop": np.round(hdop[keep], 1).astype(np.float32),
        }
    )

    # Only events that start at least a second before the earliest end of a stream.
    last_s = min(float(t_w[-1]), float(t_i[-1]), float(t_g[keep][-1])) - 1.0
    hard_brakes, launches = (motion[k] for k in ("hard_brakes", "harsh_accels"))
    truth = {
        # (start s, end s, deceleration m/s²) of the hard brakes, the same for the
        # sporty launches (acceleration m/s²).
        "hard_brakes": hard_brakes[hard_brakes[:, 0] <= last_s],
        "harsh_accels": launches[launches[:, 0] <= last_s],
        "wheel_dropouts": wheel_drop,  # (t_s of the first and of the last missing row)
        "imu_dropouts": imu_drop,
        "gps_gaps": gps_gap,
        "wheel_spikes": wheel_spikes,  # t_s of rows with a spike
        "imu_spikes": imu_spikes,
        "wheel_duplicates": duplicates,  # t_s written twice
    }
    tables = {"wheel_speed": wheel_table, "imu": imu_table, "gps": gps_table}
    return Drive(tables=tables, truth=truth)


def fault_scale(rows: int) -> float:
    """Size factor of the faults: 1 from 150 s on, duration / 150 s below."""
    return min(1.0, rows / FAULT_FULL_ROWS)


def fault_rng(seed: int) -> np.random.Generator:
    """The faults' random stream: independent of the one of ``simulate_drive``."""
    return np.random.default_rng([seed, _FAULT_STREAM])


def _overlaps(
    starts: np.ndarray, ends: np.ndarray, forbidden: list[tuple[np.ndarray, float]]
) -> np.ndarray:
    """Weighted count of forbidden intervals touching each candidate [start, end].

    ``forbidden`` holds pairs of an (n, 2) array of (start, end) seconds and a weight.
    """
    score = np.zeros(len(starts))
    for spans, weight in forbidden:
        if len(spans):
            hit = (spans[None, :, 0] <= ends[:, None]) & (spans[None, :, 1] >= starts[:, None])
            score += weight * hit.sum(axis=1)
    return score


def _points(times: np.ndarray, pad: float) -> np.ndarray:
    """Single instants as (start, end) intervals widened by ``pad`` seconds."""
    return np.stack([times - pad, times + pad], axis=1).reshape(-1, 2)


def _padded(spans: np.ndarray, pad: float) -> np.ndarray:
    return spans.reshape(-1, 2) + np.array([-pad, pad])


def _arrays(table: pa.Table) -> dict[str, np.ndarray]:
    """The columns of ``table`` as numpy arrays, in column order."""
    return {name: table.column(name).to_numpy() for name in table.column_names}


def inject_faults(drive: Drive, rng: np.random.Generator) -> Drive:
    """Return the faulty variant of ``drive`` and the positions of its faults.

    ``drive`` is the result of ``simulate_drive`` (left unchanged). The truth holds:
    ``fault_dropouts`` (2, 2) - the [start, end) seconds in which the wheel and IMU rows
    were removed; ``stuck_ax`` (2,) - t_s of the first and last IMU row with ``ax`` frozen,
    ``stuck_ax_samples`` and ``stuck_ax_value`` (0-d); ``overspeed_spikes`` - t_s of the
    wheel rows at FAULT_SPIKE_RAD_S; ``fault_duplicates`` - t_s of the wheel rows written
    twice by the faults (the normal duplicates come on top).
    """
    rows = drive.tables["wheel_speed"].num_rows
    scale = fault_scale(rows)
    wheel = _arrays(drive.tables["wheel_speed"])
    imu = _arrays(drive.tables["imu"])
    wheel_names = [k for k in wheel if k != "t_s"]
    truth = drive.truth

    # --- layout: the middle 80 % in three equal slots: dropout | stuck ax | dropout.
    t_start = max(wheel["t_s"][0], imu["t_s"][0])
    t_end = min(wheel["t_s"][-1], imu["t_s"][-1])
    lo, hi = t_start + 0.1 * (t_end - t_start), t_start + 0.9 * (t_end - t_start)
    slot = (hi - lo) / 3
    tries = 128

    # --- 1. two long dropouts in both streams, off the normal dropouts if possible.
    lengths = rng.uniform(*FAULT_DROPOUT_S, 2) * scale
    avoid = [
        (_padded(np.concatenate([truth["wheel_dropouts"], truth["imu_dropouts"]]), 1.0), 100.0),
        (_points(np.concatenate([truth["wheel_spikes"], truth["imu_spikes"]]), 0.1), 1.0),
        (_points(truth["wheel_duplicates"], 0.1), 1.0),
    ]
    dropouts = np.empty((2, 2))
    for i, (slot_start, length) in enumerate(zip((lo, lo + 2 * slot), lengths, strict=True)):
        cand = slot_start + rng.random(tries) * max(slot - length, 0.0)
        best = np.argmin(_overlaps(cand, cand + length, avoid))
        dropouts[i] = np.round([cand[best], cand[best] + length], 3)

    def keep_mask(t: np.ndarray) -> np.ndarray:
        keep = np.ones(len(t), dtype=bool)
        for i0, i1 in np.searchsorted(t, dropouts):
            keep[i0:i1] = False
        return keep

    keep = keep_mask(wheel["t_s"])
    wheel = {k: x[keep] for k, x in wheel.items()}
    keep = keep_mask(imu["t_s"])
    imu = {k: x[keep] for k, x in imu.items()}

    # --- 2. stuck ax between the two dropouts (at least the whole middle slot), off the
    # normal IMU dropouts and spikes where possible, never frozen at a spike value.
    t_i = imu["t_s"]
    between = (dropouts[0, 1] + scale, dropouts[1, 0] - scale)  # 1 s apart at full size
    i_lo, i_hi = np.searchsorted(t_i, between)
    n_stuck = max(2, min(round(FAULT_STUCK_SAMPLES * scale), int(i_hi - i_lo)))
    cand = i_lo + (rng.random(tries) * max(i_hi - i_lo - n_stuck + 1, 1)).astype(np.int64)
    spikes = _points(truth["imu_spikes"], 0.1)
    avoid = [(_padded(truth["imu_dropouts"], 0.5), 100.0), (spikes, 1.0)]
    score = _overlaps(t_i[cand], t_i[cand + n_stuck - 1], avoid)
    score += _overlaps(t_i[cand], t_i[cand], [(spikes, 1000.0)])
    first = int(cand[np.argmin(score)])
    ax = imu["ax"]
    ax[first : first + n_stuck] = ax[first]

    # --- 3. out-of-range wheel rows and 4. duplicated rows, never on a defect row.
    t_w = wheel["t_s"]
    free = np.ones(len(t_w), dtype=bool)
    for k in wheel_names:
        free &= np.abs(wheel[k]) <= 300.0  # not a normal spike
    same = t_w[1:] == t_w[:-1]  # the normal duplicates (both rows of a pair)
    free[1:] &= ~same
    free[:-1] &= ~same
    eligible = np.flatnonzero(free)
    n_spikes = max(1, round(FAULT_SPIKES * scale))
    spike_rows = eligible[_spike_rows(rng, n_spikes, len(eligible))]
    for k in wheel_names:
        wheel[k][spike_rows] = FAULT_SPIKE_RAD_S
    free[spike_rows] = False
    eligible = np.flatnonzero(free)
    n_dup = min(rows // FAULT_DUPLICATE_SHARE, len(eligible))
    dup_rows = np.sort(rng.choice(eligible, n_dup, replace=False))
    repeat = np.ones(len(t_w), dtype=np.int64)
    repeat[dup_rows] = 2

    tables = {
        "wheel_speed": pa.table({k: np.repeat(x, repeat) for k, x in wheel.items()}),
        "imu": pa.table(imu),
        "gps": drive.tables["gps"],
    }
    fault_truth = {
        "fault_dropouts": dropouts,
        "stuck_ax": np.array([t_i[first], t_i[first + n_stuck - 1]]),
        "stuck_ax_samples": np.array(n_stuck),
        "stuck_ax_value": np.array(ax[first]),
        "overspeed_spikes": t_w[spike_rows],
        "fault_duplicates": t_w[dup_rows],
    }
    return Drive(tables=tables, truth=fault_truth)


def faulty_drive(rows: int = 100_000, seed: int = 42) -> Drive:
    """The faulty variant of ``simulate_drive(rows, seed)`` (nothing is written)."""
    return inject_faults(simulate_drive(rows, seed), fault_rng(seed))


def _fsync_dir(path: Path) -> None:
    """Flush a directory entry to disk (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux renameat2 RENAME_EXCHANGE).

    False where the system or file system cannot, so the caller falls back to renames.
    """
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    path, flag = ctypes.c_char_p, ctypes.c_uint
    renameat2.argtypes = [ctypes.c_int, path, ctypes.c_int, path, flag]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def _remove_stale(parent: Path, name: str) -> None:
    """Clean up after interrupted runs of dead processes: delete their temporary folders,
    and put a previous recording back if the run died with it renamed away."""
    for leftover in sorted(parent.glob(f".{name}.*-*")):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            target = parent / name
            if ".old-" in leftover.name and not target.exists():
                leftover.rename(target)
            else:
                shutil.rmtree(leftover, ignore_errors=True)


def _write_atomic(target: Path, tables: dict[str, pa.Table]) -> list[Path]:
    """Write ``tables`` as ``target/<name>.parquet``, swapping the folder into place.

    The files are built in a hidden sibling folder and fsynced; the folder then takes the
    place of ``target`` in one atomic exchange (two renames where the file system cannot
    exchange), so readers see either the previous recording or the complete new one.
    A write that fails names its file (``OSError.filename``).
    """
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(parent, target.name)
    tmp = parent / f".{target.name}.tmp-{os.getpid()}"
    old = parent / f".{target.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name, table in tables.items():
            try:
                with open(tmp / f"{name}.parquet", "wb") as fh:
                    pq.write_table(table, fh, compression="zstd", use_dictionary=False)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                if exc.filename is None:
                    exc.filename = str(target / f"{name}.parquet")
                raise
        _fsync_dir(tmp)
        if not target.exists():
            tmp.rename(target)
        elif _exchange(tmp, target):
            old = tmp  # the exchange left the previous recording at tmp
        else:
            target.rename(old)
            tmp.rename(target)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not target.exists():
            old.rename(target)  # put the previous recording back
        raise
    shutil.rmtree(old, ignore_errors=True)
    return [target / f"{name}.parquet" for name in tables]


def generate(
    root: Path, *, rows: int = 100_000, seed: int = 42, faults: bool = False
) -> list[Path]:
    """Write the recording to ``root/RAW_DIR`` atomically and return the file paths.

    With ``faults`` the faulty variant is written to ``root/FAULTY_DIR`` as well (its
    three paths follow the normal ones); without, an existing ``FAULTY_DIR`` is left
    alone (``generate-data`` runs this into an empty folder and then removes the
    ``FAULTY_DIR`` an earlier ``generate-data --faults`` wrote). Each folder is swapped
    into place as a whole, so readers see either the previous recording or the complete
    new one.
    """
    drive = simulate_drive(rows, seed)
    paths = _write_atomic(Path(root) / RAW_DIR, drive.tables)
    if faults:
        faulty = inject_faults(drive, fault_rng(seed))
        paths += _write_atomic(Path(root) / FAULTY_DIR, faulty.tables)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=100_000, help="wheel-speed rows at 100 Hz (default 100000)"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="project folder; files go to ROOT/" + RAW_DIR,
    )
    parser.add_argument(
        "--faults",
        action="store_true",
        help="also write the faulty variant (long dropouts, stuck IMU, out-of-range "
        "wheel speeds, duplicated timestamps) to ROOT/" + FAULTY_DIR,
    )
    args = parser.parse_args(argv)
    if args.rows < MIN_ROWS:
        parser.error(f"--rows must be at least {MIN_ROWS}")
    started = time.perf_counter()
    paths = generate(args.root, rows=args.rows, seed=args.seed, faults=args.faults)
    elapsed = time.perf_counter() - started
    for path in paths:
        print(f"{path}  {pq.ParquetFile(path).metadata.num_rows:>10,} rows")
    print(f"generated in {elapsed:.2f} s (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
