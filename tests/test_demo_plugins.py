"""Tests of the demo plugins in modules/ on a small generated drive (20,000 wheel rows)."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import DEMO_PLUGINS as PLUGINS
from conftest import REPO
from datareplay import BasePlugin
from datareplay.plugins.base import check_plugin_class

pytestmark = pytest.mark.filterwarnings("error")

ROWS = 20_000


def load_module(path: Path, name: str) -> ModuleType:
    """Import a file that is not part of a package (modules/, scripts/)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plugin(class_name: str) -> type[BasePlugin]:
    """The plugin class ``class_name`` from its module file in modules/."""
    stem = PLUGINS[class_name]
    cls = getattr(load_module(REPO / "modules" / f"{stem}.py", f"demo_{stem}"), class_name)
    assert issubclass(cls, BasePlugin)
    return cls


def run(class_name: str, hub: dict[str, Any], **params: Any) -> dict[str, Any]:
    """Run one plugin on a plain dict standing in for the hub; returns the hub."""
    plugin(class_name)(params=params).run(hub)  # type: ignore[arg-type]
    return hub


gen = load_module(REPO / "scripts" / "generation.py", "demo_generation")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    root = tmp_path_factory.mktemp("project")
    gen.generate(root, rows=ROWS, seed=42)
    folder = root / gen.RAW_DIR
    return {
        f"{name}_raw": pd.read_parquet(folder / f"{name}.parquet")
        for name in ("wheel_speed", "imu", "gps")
    }


@pytest.fixture(scope="module")
def truth() -> dict[str, np.ndarray]:
    return gen.simulate_drive(ROWS, 42).truth


@pytest.fixture(scope="module")
def hub(raw: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The whole demo pipeline, run once with default params."""
    hub: dict[str, Any] = dict(raw)
    for name in PLUGINS:
        run(name, hub)
    return hub


def speed_integral_km(wheel_raw: pd.DataFrame) -> float:
    """Distance from the raw wheel stream: trapezoid over mean wheel speed x 0.31 m."""
    wheel = wheel_raw.drop_duplicates("t_s").sort_values("t_s")
    speed = wheel[["fl", "fr", "rl", "rr"]].to_numpy(dtype=np.float64).mean(axis=1) * 0.31
    t = wheel["t_s"].to_numpy()
    return float(np.sum(0.5 * (speed[1:] + speed[:-1]) * np.diff(t))) / 1000.0


# --- the plugin contract ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PLUGINS))
def test_plugins_keep_the_contract(name: str) -> None:
    cls = plugin(name)
    check_plugin_class(cls, origin=f"modules/{PLUGINS[name]}.py")
    assert cls.summary().endswith(".") and len(cls.description()) > 100
    for param in cls.params.values():
        assert param.description, f"{name}.{param.name} has no description"


def test_declared_params_and_defaults() -> None:
    defaults = {name: plugin(name)().param_values for name in PLUGINS}
    assert defaults["InitialDataReader"] == {"wheel_radius_m": 0.31}
    assert defaults["SignalAligner"]["rate_hz"] == 20.0
    assert defaults["SignalAligner"]["max_staleness_s"] == 0.25
    assert {
        "max_speed_mps": 70.0,
        "max_accel_mps2": 15.0,
        "spike_sigma": 6.0,
        "max_gap_s": 1.0,
    }.items() <= defaults["SignalCleaner"].items()
    assert {"smoothing_s": 0.5, "stop_speed_mps": 0.5}.items() <= defaults["FeatureDeriver"].items()
    assert defaults["EventDetector"] == {
        "hard_brake_mps2": 4.0,
        "harsh_accel_mps2": 3.0,
        "min_duration_s": 0.3,
        "min_stop_s": 2.0,
    }


# --- InitialDataReader ---------------------------------------------------------------------


def test_reader_drops_duplicates_and_converts_to_mps(
    raw: dict[str, pd.DataFrame], hub: dict[str, Any], truth: dict[str, np.ndarray]
) -> None:
    wheel = hub["wheel"]
    assert list(wheel.columns) == ["t_s", "fl_mps", "fr_mps", "rl_mps", "rr_mps", "speed_mps"]
    assert len(wheel) == ROWS - len(truth["wheel_duplicates"])
    assert wheel["t_s"].is_monotonic_increasing and wheel["t_s"].is_unique
    assert (wheel.dtypes == np.float64).all()
    first = raw["wheel_speed_raw"].iloc[0]
    assert wheel["fl_mps"].iloc[0] == pytest.approx(first["fl"] * 0.31, rel=1e-6)
    per_wheel = wheel[["fl_mps", "fr_mps", "rl_mps", "rr_mps"]].mean(axis=1)
    np.testing.assert_allclose(wheel["speed_mps"], per_wheel)
    assert len(hub["imu"]) == len(raw["imu_raw"]) and len(hub["gps"]) == len(raw["gps_raw"])


def test_reader_sorts_drops_bad_times_and_logs(
    raw: dict[str, pd.DataFrame], caplog: pytest.LogCaptureFixture
) -> None:
    wheel = raw["wheel_speed_raw"].drop_duplicates("t_s").iloc[:1000]
    broken = pd.concat(
        [wheel.iloc[::-1], wheel.iloc[:3]], ignore_index=True
    )  # reversed + 3 repeats
    broken.loc[[10, 20], "t_s"] = [np.nan, np.inf]
    hub = {"wheel_speed_raw": broken, "imu_raw": raw["imu_raw"], "gps_raw": raw["gps_raw"]}
    with caplog.at_level(logging.INFO):
        run("InitialDataReader", hub, wheel_radius_m=0.3)
    out = hub["wheel"]
    assert out["t_s"].is_monotonic_increasing and out["t_s"].is_unique
    assert len(out) == 1000 - 2  # the two rows with a bad time; the repeats are gone
    expected = wheel.set_index("t_s").loc[out["t_s"], "rr"].to_numpy() * 0.3
    np.testing.assert_allclose(out["rr_mps"], expected, rtol=1e-6)
    assert "2 with non-finite time, 3 duplicate timestamps" in caplog.text


def test_reader_names_a_missing_column(raw: dict[str, pd.DataFrame]) -> None:
    hub = dict(raw)
    hub["imu_raw"] = raw["imu_raw"].drop(columns="az")
    with pytest.raises(ValueError, match="az"):
        run("InitialDataReader", hub)


# --- SignalAligner -------------------------------------------------------------------------


def test_aligned_grid_is_exactly_rate_hz(hub: dict[str, Any]) -> None:
    aligned = hub["aligned"]
    assert list(aligned.columns) == [
        "t_s", "speed_mps", "ax", "ay", "az", "yaw_rate", "lat", "lon", "gps_speed_mps",
    ]  # fmt: skip
    t = aligned["t_s"].to_numpy()
    np.testing.assert_allclose(np.diff(t), 1 / 20.0, atol=1e-9)
    np.testing.assert_allclose(t * 20.0, np.round(t * 20.0), atol=1e-6)  # whole ticks
    starts = [hub[n]["t_s"].iloc[0] for n in ("wheel", "imu", "gps")]
    ends = [hub[n]["t_s"].iloc[-1] for n in ("wheel", "imu", "gps")]
    assert max(starts) <= t[0] < max(starts) + 0.05
    assert min(ends) - 0.05 < t[-1] <= min(ends)


def test_aligner_takes_the_nearest_sample(hub: dict[str, Any]) -> None:
    aligned, imu = hub["aligned"], hub["imu"]
    row = aligned.iloc[1234]
    nearest = imu.iloc[(imu["t_s"] - row["t_s"]).abs().argmin()]
    assert row["ax"] == nearest["ax"] and row["yaw_rate"] == nearest["yaw_rate"]


def test_dropouts_become_nan_not_stale_values(
    hub: dict[str, Any], truth: dict[str, np.ndarray]
) -> None:
    aligned = hub["aligned"]
    t = aligned["t_s"]
    for first, last in truth["wheel_dropouts"]:  # times of the first and last missing row
        # A sample at the edge serves only the grid row nearest to it, not its neighbours.
        inside = (t > first + 0.05) & (t < last - 0.05)
        assert inside.any() and aligned.loc[inside, "speed_mps"].isna().all()
    for first, last in truth["gps_gaps"]:  # times of the first and last missing fix
        inside = (t > first - 0.35) & (t < last + 0.35)
        assert inside.any() and aligned.loc[inside, "lat"].isna().all()
    # Outside the dropouts every grid row has a wheel sample.
    near_gap = np.zeros(len(t), dtype=bool)
    for first, last in truth["wheel_dropouts"]:
        near_gap |= ((t > first - 0.3) & (t < last + 0.3)).to_numpy()
    assert aligned.loc[~near_gap, "speed_mps"].notna().all()
    # Wheels and IMU are faster than the grid: no sample is repeated on a second row.
    for column in ("speed_mps", "ax"):
        x = aligned[column]
        assert not ((x == x.shift()) & (x != 0)).any(), column


def test_aligner_rate_param(hub: dict[str, Any]) -> None:
    small = {name: hub[name] for name in ("wheel", "imu", "gps")}
    run("SignalAligner", small, rate_hz=10.0)
    np.testing.assert_allclose(np.diff(small["aligned"]["t_s"]), 0.1, atol=1e-9)
    assert len(small["aligned"]) == pytest.approx(len(hub["aligned"]) / 2, abs=2)


# --- SignalCleaner -------------------------------------------------------------------------


def test_clean_output_is_physical(hub: dict[str, Any]) -> None:
    clean = hub["clean"]
    assert list(clean.columns) == [*hub["aligned"].columns, "valid"]
    assert clean["valid"].dtype == bool
    assert clean["speed_mps"].dropna().between(0.0, 40.0).all()
    assert clean[["ax", "ay"]].abs().max().max() < 15.0
    assert clean["yaw_rate"].abs().max() < 2.0
    # No step between neighbouring rows beyond what a car can do in 0.05 s.
    step = clean["speed_mps"].diff().abs().dropna()
    assert step.max() < 0.5


def test_cleaner_removes_injected_spikes_and_interpolates(hub: dict[str, Any]) -> None:
    aligned = hub["aligned"].copy()
    reference = hub["clean"]
    # Four rows with data in every column, also in the rows around them.
    valid = reference["valid"].rolling(5, center=True).min().fillna(0).astype(bool)
    candidates = np.flatnonzero(valid & (reference["speed_mps"] > 1.0))
    rows = [int(candidates[i * len(candidates) // 4]) for i in range(4)]
    aligned.loc[rows[0], "speed_mps"] += 20.0  # within the limits: only the spike test
    aligned.loc[rows[1], "speed_mps"] = 250.0  # impossible
    aligned.loc[rows[2], "ax"] += 5.0
    aligned.loc[rows[3], "az"] = -30.0
    cleaned = run("SignalCleaner", {"aligned": aligned})["clean"]
    for row, column in zip(rows, ["speed_mps", "speed_mps", "ax", "az"], strict=True):
        neighbours = reference.loc[[row - 1, row + 1], column].mean()
        assert cleaned.loc[row, column] == pytest.approx(neighbours, abs=0.05)
    assert cleaned["valid"].sum() == reference["valid"].sum()


def test_cleaner_does_not_touch_normal_samples(hub: dict[str, Any]) -> None:
    aligned, clean = hub["aligned"], hub["clean"]
    for column in ("speed_mps", "ax", "ay", "az", "yaw_rate"):
        both = aligned[column].notna() & clean[column].notna()
        changed = (aligned.loc[both, column] - clean.loc[both, column]).abs() > 1e-12
        low, high = {
            "speed_mps": (0.0, 40.0),  # m/s
            "az": (-5.0, 25.0),  # m/s², around 9.81
            "yaw_rate": (-2.5, 2.5),  # rad/s
        }.get(column, (-15.0, 15.0))
        plausible = aligned.loc[both, column].between(low, high)
        assert not (changed & plausible).any(), f"{column}: a normal sample was changed"


def test_short_gaps_are_filled_long_ones_stay_invalid(
    hub: dict[str, Any], truth: dict[str, np.ndarray]
) -> None:
    aligned, clean = hub["aligned"], hub["clean"]
    t = clean["t_s"]
    for key, column in (("wheel_dropouts", "speed_mps"), ("imu_dropouts", "ax")):
        gaps = truth[key]
        short, long = (
            gaps[np.argmin(gaps[:, 1] - gaps[:, 0])],
            gaps[np.argmax(gaps[:, 1] - gaps[:, 0])],
        )
        in_short = (t > short[0]) & (t < short[1]) & aligned[column].isna()
        assert in_short.any() and clean.loc[in_short, column].notna().all()
        in_long = (t > long[0] + 0.3) & (t < long[1] - 0.3)
        assert in_long.any() and clean.loc[in_long, column].isna().all()
        assert not clean.loc[in_long, "valid"].any()
    assert 0.85 < clean["valid"].mean() < 1.0


def test_max_gap_param(hub: dict[str, Any]) -> None:
    strict = run("SignalCleaner", {"aligned": hub["aligned"]}, max_gap_s=0.0)["clean"]
    generous = run("SignalCleaner", {"aligned": hub["aligned"]}, max_gap_s=5.0)["clean"]
    missing = [frame["speed_mps"].isna().sum() for frame in (strict, hub["clean"], generous)]
    assert missing[0] > missing[1] > missing[2] == 0


# --- FeatureDeriver ------------------------------------------------------------------------


def test_features_columns_and_units(hub: dict[str, Any]) -> None:
    features = hub["features"]
    assert list(features.columns) == [
        "t_s", "speed_mps", "speed_kmh", "accel_mps2", "jerk_mps3", "distance_m", "moving", "valid",
    ]  # fmt: skip
    assert features["moving"].dtype == bool and features["valid"].dtype == bool
    np.testing.assert_allclose(features["speed_kmh"], features["speed_mps"] * 3.6)
    moving = features["speed_mps"] > 0.5
    assert (features["moving"] == moving).all()


def test_distance_is_monotonic_and_matches_the_raw_integral(
    hub: dict[str, Any], raw: dict[str, pd.DataFrame]
) -> None:
    distance = hub["features"]["distance_m"]
    assert distance.notna().all() and (distance.diff().dropna() >= 0).all()
    expected_km = speed_integral_km(raw["wheel_speed_raw"])
    assert distance.iloc[-1] / 1000.0 == pytest.approx(expected_km, rel=0.02)
    assert expected_km > 1.0


def test_acceleration_matches_the_hard_brakes(
    hub: dict[str, Any], truth: dict[str, np.ndarray]
) -> None:
    features = hub["features"]
    t = features["t_s"]
    for start, end, decel in truth["hard_brakes"]:
        inner = (t > start + 0.8) & (t < end - 0.8)
        assert features.loc[inner, "accel_mps2"].median() == pytest.approx(-decel, abs=0.2)
    # The wheel-based acceleration agrees with the independent IMU (up to its bias).
    ax = hub["clean"]["ax"]
    bias = (ax - features["accel_mps2"]).median()
    assert (features["accel_mps2"] - (ax - bias)).abs().median() < 0.1


def test_imu_fills_acceleration_only_when_fused(
    hub: dict[str, Any], truth: dict[str, np.ndarray]
) -> None:
    clean = hub["clean"]
    first, last = max(truth["wheel_dropouts"], key=lambda g: g[1] - g[0])
    gap = (clean["t_s"] > first + 0.5) & (clean["t_s"] < last - 0.5) & clean["ax"].notna()
    assert gap.sum() > 10 and clean.loc[gap, "speed_mps"].isna().all()
    fused = hub["features"]
    assert fused.loc[gap, "accel_mps2"].notna().all()
    assert fused.loc[gap, "accel_mps2"].abs().max() < 5.0
    plain = run("FeatureDeriver", {"clean": clean}, fuse_imu=False)["features"]
    assert plain.loc[gap, "accel_mps2"].isna().all()


# --- EventDetector -------------------------------------------------------------------------


def test_events_have_the_declared_columns(hub: dict[str, Any]) -> None:
    events = hub["events"]
    assert list(events.columns) == [
        "kind", "t_start_s", "t_end_s", "duration_s", "peak_mps2", "speed_at_start_kmh",
    ]  # fmt: skip
    assert pd.api.types.is_string_dtype(events["kind"])
    assert (events.dtypes.iloc[1:] == np.float64).all()
    assert set(events["kind"]) <= {"hard_brake", "harsh_accel", "stop"}
    assert events["t_start_s"].is_monotonic_increasing
    np.testing.assert_allclose(events["duration_s"], events["t_end_s"] - events["t_start_s"])


def test_generated_hard_brakes_are_found(hub: dict[str, Any], truth: dict[str, np.ndarray]) -> None:
    brakes = hub["events"].query("kind == 'hard_brake'").reset_index(drop=True)
    assert len(truth["hard_brakes"]) >= 1
    assert len(brakes) == len(truth["hard_brakes"])
    for (start, end, decel), (_, event) in zip(
        truth["hard_brakes"], brakes.iterrows(), strict=True
    ):
        assert event["t_start_s"] == pytest.approx(start, abs=0.6)
        assert event["t_end_s"] == pytest.approx(end, abs=0.6)
        assert event["peak_mps2"] == pytest.approx(-decel, abs=0.3)
        assert event["speed_at_start_kmh"] > 30.0


def test_sporty_launches_and_stops_are_found(
    hub: dict[str, Any], truth: dict[str, np.ndarray]
) -> None:
    events, features = hub["events"], hub["features"]
    harsh = events.query("kind == 'harsh_accel'")
    assert len(harsh) == len(truth["harsh_accels"])
    for start, _end, accel in truth["harsh_accels"]:
        match = harsh[(harsh["t_start_s"] < start + 2.0) & (harsh["t_end_s"] > start)]
        assert len(match) == 1 and match["peak_mps2"].iloc[0] == pytest.approx(accel, abs=0.3)
    stops = events.query("kind == 'stop'")
    assert len(stops) >= 2 and (stops["duration_s"] >= 2.0).all()
    assert stops["peak_mps2"].isna().all()
    for _, stop in stops.iterrows():
        during = features["t_s"].between(stop["t_start_s"], stop["t_end_s"] - 0.01)
        assert features.loc[during, "speed_mps"].max() <= 0.5
    # Every hard brake in this drive ends in a stop right after it.
    for _, brake in events.query("kind == 'hard_brake'").iterrows():
        after = stops[(stops["t_start_s"] - brake["t_end_s"]).abs() < 1.0]
        assert len(after) == 1


def test_event_params_and_empty_result(hub: dict[str, Any]) -> None:
    features = hub["features"]
    lenient = run("EventDetector", {"features": features}, hard_brake_mps2=0.8)["events"]
    strict = run("EventDetector", {"features": features}, hard_brake_mps2=9.0)["events"]
    brakes = [frame.query("kind == 'hard_brake'") for frame in (strict, hub["events"], lenient)]
    assert len(brakes[0]) == 0 and len(brakes[1]) <= len(brakes[2])
    assert brakes[1]["duration_s"].sum() < brakes[2]["duration_s"].sum()

    calm = features.assign(accel_mps2=0.0, speed_mps=10.0, speed_kmh=36.0, moving=True)
    empty = run("EventDetector", {"features": calm})["events"]
    assert empty.empty and list(empty.columns) == list(hub["events"].columns)
    assert pd.api.types.is_string_dtype(empty["kind"])
    assert (empty.dtypes.iloc[1:] == np.float64).all()


def test_min_duration_filters_short_runs() -> None:
    t = np.arange(200) / 20.0
    accel = np.zeros(200)
    accel[20:25] = -5.0  # 0.25 s: too short
    accel[100:110] = -6.0  # 0.5 s: a hard brake
    features = pd.DataFrame({"t_s": t, "speed_kmh": 50.0, "accel_mps2": accel, "moving": True})
    events = run("EventDetector", {"features": features})["events"]
    assert events["kind"].tolist() == ["hard_brake"]
    assert events["t_start_s"].iloc[0] == pytest.approx(5.0)
    assert events["duration_s"].iloc[0] == pytest.approx(0.5)
    assert events["peak_mps2"].iloc[0] == -6.0


# --- ReportWriter --------------------------------------------------------------------------


def test_report_is_consistent_with_features_and_events(hub: dict[str, Any]) -> None:
    report, features, events = hub["report"], hub["features"], hub["events"]
    assert list(report.columns) == ["metric", "value", "unit"]
    assert report["value"].dtype == np.float64 and report["metric"].is_unique
    value = dict(zip(report["metric"], report["value"], strict=True))
    unit = dict(zip(report["metric"], report["unit"], strict=True))

    assert (
        value["duration"] == pytest.approx(ROWS / 100 / 60, rel=0.02) and unit["duration"] == "min"
    )
    assert value["distance"] == pytest.approx(features["distance_m"].iloc[-1] / 1000.0)
    assert unit["distance"] == "km"
    moving = features["moving"]
    assert value["mean_moving_speed"] == pytest.approx(features.loc[moving, "speed_kmh"].mean())
    assert value["max_speed"] == pytest.approx(features["speed_kmh"].max())
    assert 20.0 < value["mean_moving_speed"] < value["max_speed"] < 125.0
    for kind in ("hard_brake", "harsh_accel", "stop"):
        assert value[f"events_{kind}"] == (events["kind"] == kind).sum()
    per_100km = value["events_hard_brake"] / value["distance"] * 100.0
    assert value["hard_brakes_per_100km"] == pytest.approx(per_100km)
    assert value["valid_samples"] == pytest.approx(100.0 * features["valid"].mean())
    assert value["max_deceleration"] == pytest.approx(-features["accel_mps2"].min())
    assert 4.0 <= value["max_deceleration"] <= 7.5 and unit["max_deceleration"] == "m/s²"
