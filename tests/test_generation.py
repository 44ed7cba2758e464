"""Tests of scripts/generation.py: the synthetic drive recording of the demo."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.filterwarnings("error")

GENERATION = Path(__file__).resolve().parents[1] / "scripts" / "generation.py"
ROWS = 20_000
WHEELS = ["fl", "fr", "rl", "rr"]


def load_generation() -> ModuleType:
    """Import scripts/generation.py from its path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("demo_generation", GENERATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = load_generation()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    gen.generate(root, rows=ROWS, seed=42)
    return root


@pytest.fixture(scope="module")
def frames(root: Path) -> dict[str, pd.DataFrame]:
    raw = root / gen.RAW_DIR
    return {
        name: pd.read_parquet(raw / f"{name}.parquet") for name in ("wheel_speed", "imu", "gps")
    }


@pytest.fixture(scope="module")
def truth() -> dict[str, np.ndarray]:
    return gen.simulate_drive(ROWS, 42).truth


def test_generate_returns_the_three_files(tmp_path: Path) -> None:
    paths = gen.generate(tmp_path, rows=10_000, seed=1)
    raw = tmp_path / "data" / "raw" / "drive"
    assert gen.RAW_DIR == "data/raw/drive"
    assert sorted(paths) == sorted(
        raw / n for n in ("wheel_speed.parquet", "imu.parquet", "gps.parquet")
    )
    assert sorted(p.name for p in raw.iterdir()) == sorted(p.name for p in paths)


def test_columns_dtypes_and_row_counts(frames: dict[str, pd.DataFrame]) -> None:
    wheel, imu, gps = frames["wheel_speed"], frames["imu"], frames["gps"]
    assert list(wheel.columns) == ["t_s", *WHEELS]
    assert list(imu.columns) == ["t_s", "ax", "ay", "az", "yaw_rate"]
    assert list(gps.columns) == ["t_s", "lat", "lon", "speed_mps", "hdop"]
    for frame in frames.values():
        assert frame["t_s"].dtype == np.float64
        assert all(np.issubdtype(d, np.floating) for d in frame.dtypes)
    assert (len(wheel), len(imu), len(gps)) == (ROWS, ROWS // 2, ROWS // 100)


def test_parquet_is_zstd_compressed(root: Path) -> None:
    import pyarrow.parquet as pq

    for path in (root / gen.RAW_DIR).iterdir():
        meta = pq.ParquetFile(path).metadata
        assert meta.row_group(0).column(1).compression == "ZSTD"


@pytest.mark.parametrize(
    ("name", "rate", "jitter_s"),
    [
        ("wheel_speed", gen.WHEEL_RATE_HZ, 2e-3),
        ("imu", gen.IMU_RATE_HZ, 4e-3),
        ("gps", gen.GPS_RATE_HZ, 2e-2),
    ],
)
def test_rates_and_jitter(
    frames: dict[str, pd.DataFrame], name: str, rate: float, jitter_s: float
) -> None:
    t = frames[name]["t_s"].to_numpy()
    assert t[0] >= 0.0
    assert np.all(np.diff(t) >= 0.0), "timestamps are in order (only repeats allowed)"
    step = np.diff(t)
    regular = step[(step > 0) & (step < 1.5 / rate)]
    assert np.median(regular) == pytest.approx(1.0 / rate, rel=0.02)
    # Jitter exists but stays within a few ms of the nominal grid.
    assert regular.std() > 1e-5
    assert np.abs(regular - 1.0 / rate).max() <= 2 * jitter_s + 1e-6
    # Streams run a little longer than rows/100 s: their gaps are made up for at the end.
    assert ROWS / 100 - 1 < t[-1] < ROWS / 100 + 25


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = gen.generate(tmp_path / "a", rows=12_000, seed=7)
    second = gen.generate(tmp_path / "b", rows=12_000, seed=7)
    other = gen.generate(tmp_path / "c", rows=12_000, seed=8)
    for p, q, r in zip(first, second, other, strict=True):
        assert p.read_bytes() == q.read_bytes(), p.name
        assert p.read_bytes() != r.read_bytes(), p.name


def test_regenerating_replaces_the_folder_and_leaves_nothing_behind(tmp_path: Path) -> None:
    gen.generate(tmp_path, rows=10_000, seed=1)
    drive = tmp_path / gen.RAW_DIR
    (drive / "stale.csv").write_text("old")
    stale_tmp = drive.parent / ".drive.tmp-999999999"  # left by a process that is gone
    stale_tmp.mkdir()
    before = (drive / "imu.parquet").read_bytes()
    gen.generate(tmp_path, rows=10_000, seed=2)
    assert not (drive / "stale.csv").exists()
    assert (drive / "imu.parquet").read_bytes() != before
    assert sorted(p.name for p in drive.parent.iterdir()) == ["drive"]


def test_interrupted_generation_keeps_the_previous_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen.generate(tmp_path, rows=10_000, seed=1)
    drive = tmp_path / gen.RAW_DIR
    before = {p.name: p.read_bytes() for p in drive.iterdir()}
    calls = []

    def fsync_then_fail(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the second file is half written
            raise KeyboardInterrupt

    monkeypatch.setattr(gen.os, "fsync", fsync_then_fail)
    with pytest.raises(KeyboardInterrupt):
        gen.generate(tmp_path, rows=10_000, seed=2)
    monkeypatch.setattr(gen.os, "fsync", os.fsync)
    assert {p.name: p.read_bytes() for p in drive.iterdir()} == before
    assert sorted(p.name for p in drive.parent.iterdir()) == ["drive"]


def test_too_few_rows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        gen.generate(tmp_path, rows=gen.MIN_ROWS - 1)
    assert not (tmp_path / gen.RAW_DIR).exists()


@pytest.mark.parametrize("rows", [100, 1_999, 5_000])
def test_small_recordings(rows: int) -> None:
    drive = gen.simulate_drive(rows, 3)
    counts = [drive.tables[n].num_rows for n in ("wheel_speed", "imu", "gps")]
    assert counts == [rows, rows // 2, rows // 100]
    has_gaps = rows >= 2_000  # dropouts and GPS gaps need 20 s
    assert (len(drive.truth["wheel_dropouts"]) > 0) == has_gaps
    assert (len(drive.truth["gps_gaps"]) > 0) == has_gaps
    assert len(drive.truth["wheel_spikes"]) >= 3


def test_main_writes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--rows", "10000", "--seed", "3", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "10,000 rows" in out and "5,000 rows" in out and "100 rows" in out
    assert (tmp_path / gen.RAW_DIR / "gps.parquet").is_file()
    with pytest.raises(SystemExit) as exc:
        gen.main(["--rows", "10", "--root", str(tmp_path)])
    assert exc.value.code == 2


# --- realism and defects ---------------------------------------------------------------


def vehicle_speed(wheel: pd.DataFrame) -> np.ndarray:
    """Speed in m/s from the wheels; the median ignores a spike on one wheel."""
    return np.median(wheel[WHEELS].to_numpy(dtype=np.float64), axis=1) * gen.WHEEL_RADIUS_M


def test_speed_profile_is_a_plausible_drive(frames: dict[str, pd.DataFrame]) -> None:
    wheel = frames["wheel_speed"].drop_duplicates("t_s")
    v = vehicle_speed(wheel)
    assert v.min() >= 0.0 and 8.0 < v.max() < 34.0
    standing = v < 0.1
    assert 0.05 < standing.mean() < 0.6, "there are stops, but the car mostly drives"
    # Accelerations over 0.1 s stay within what the phases allow (hard brakes up to 7).
    t = wheel["t_s"].to_numpy()
    coarse = slice(None, None, 10)
    accel = np.diff(v[coarse]) / np.diff(t[coarse])
    ok = np.diff(t[coarse]) < 0.15  # skip dropouts
    assert np.percentile(np.abs(accel[ok]), 99.9) < 7.5
    assert accel[ok].min() < -4.0, "hard braking is present"


def test_imu_and_gps_agree_with_the_wheels(frames: dict[str, pd.DataFrame]) -> None:
    wheel, imu, gps = frames["wheel_speed"].drop_duplicates("t_s"), frames["imu"], frames["gps"]
    az = imu["az"].to_numpy(dtype=np.float64)
    assert np.median(az) == pytest.approx(9.81, abs=0.1)
    v_at_gps = np.interp(gps["t_s"], wheel["t_s"], vehicle_speed(wheel))
    assert np.median(np.abs(gps["speed_mps"] - v_at_gps)) < 0.3
    assert gps["lat"].iloc[0] == pytest.approx(48.137, abs=1e-3)
    assert gps["lon"].iloc[0] == pytest.approx(11.575, abs=1e-3)
    assert gps["hdop"].between(0.5, 10.0).all()
    # Lateral acceleration follows yaw rate x speed (median is robust to the spikes).
    v_at_imu = np.interp(imu["t_s"], wheel["t_s"], vehicle_speed(wheel))
    ay_model = imu["yaw_rate"].to_numpy(dtype=np.float64) * v_at_imu
    assert np.median(np.abs(imu["ay"] - ay_model)) < 0.2


def test_defects_duplicates_and_dropouts(
    frames: dict[str, pd.DataFrame], truth: dict[str, np.ndarray]
) -> None:
    wheel, imu, gps = frames["wheel_speed"], frames["imu"], frames["gps"]
    dup = wheel["t_s"].duplicated(keep=False)
    assert dup.sum() == 2 * len(truth["wheel_duplicates"]) >= 4
    np.testing.assert_array_equal(np.unique(wheel.loc[dup, "t_s"]), truth["wheel_duplicates"])

    for frame, key in ((wheel, "wheel_dropouts"), (imu, "imu_dropouts")):
        step = np.diff(frame["t_s"].to_numpy())
        gaps = step[step > 0.15]
        assert len(gaps) == len(truth[key]) >= 2
        assert ((gaps > 0.2) & (gaps < 3.1)).all()
        assert gaps.min() < 1.0 < gaps.max(), "one short (bridgeable) and one long gap"
    gps_step = np.diff(gps["t_s"].to_numpy())
    assert ((gps_step > 1.5) == (gps_step > 2.5)).all()
    assert (gps_step > 2.5).sum() == len(truth["gps_gaps"]) >= 2


def test_defects_impossible_spikes(
    frames: dict[str, pd.DataFrame], truth: dict[str, np.ndarray]
) -> None:
    wheel, imu = frames["wheel_speed"], frames["imu"]
    omega = wheel[WHEELS].to_numpy(dtype=np.float64)
    spiky = (np.abs(omega) > 300.0).any(axis=1)
    assert spiky.sum() == len(truth["wheel_spikes"]) >= 3
    assert ((np.abs(omega) > 300.0).sum(axis=1) <= 1).all(), "one wheel at a time"
    np.testing.assert_allclose(wheel.loc[spiky, "t_s"], truth["wheel_spikes"])

    values = imu[["ax", "ay", "az", "yaw_rate"]].to_numpy(dtype=np.float64)
    impossible = (
        (np.abs(values[:, :2]) > 25.0).any(axis=1)
        | (np.abs(values[:, 2] - 9.81) > 25.0)
        | (np.abs(values[:, 3]) > 2.5)
    )
    assert np.abs(values[~impossible, :2]).max() < 8.0
    assert np.abs(values[~impossible, 3]).max() < 0.5
    assert impossible.sum() == len(truth["imu_spikes"]) >= 3
    np.testing.assert_allclose(imu.loc[impossible, "t_s"], truth["imu_spikes"])


def test_truth_hard_brakes_are_in_the_data(
    frames: dict[str, pd.DataFrame], truth: dict[str, np.ndarray]
) -> None:
    wheel = frames["wheel_speed"].drop_duplicates("t_s")
    t, v = wheel["t_s"].to_numpy(), vehicle_speed(wheel)
    assert len(truth["hard_brakes"]) >= 1, "the first cycle always ends with a hard brake"
    for start, end, decel in truth["hard_brakes"]:
        assert 4.0 <= decel <= 7.0
        inner = (t > start + 0.6) & (t < end - 0.6)  # away from the jerk-limited ramps
        slope = np.polyfit(t[inner], v[inner], 1)[0]
        assert slope == pytest.approx(-decel, abs=0.2)


def test_larger_recordings_scale_the_defects() -> None:
    truth = gen.simulate_drive(100_000, 42).truth
    assert len(truth["wheel_dropouts"]) >= 3
    assert len(truth["wheel_spikes"]) >= 8
    assert len(truth["hard_brakes"]) >= 2


# --- faulty recording (generate(..., faults=True)) -------------------------------------


@pytest.fixture(scope="module")
def faulty_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faulty")
    gen.generate(root, rows=ROWS, seed=42, faults=True)
    return root


@pytest.fixture(scope="module")
def faulty(faulty_root: Path) -> dict[str, pd.DataFrame]:
    raw = faulty_root / gen.FAULTY_DIR
    return {
        name: pd.read_parquet(raw / f"{name}.parquet") for name in ("wheel_speed", "imu", "gps")
    }


@pytest.fixture(scope="module")
def fault_truth() -> dict[str, np.ndarray]:
    return gen.faulty_drive(ROWS, 42).truth


def longest_constant_run(x: np.ndarray) -> tuple[int, int]:
    """(start index, length) of the longest run of identical consecutive values."""
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(x) != 0) + 1, [len(x)]))
    i = int(np.argmax(np.diff(bounds)))
    return int(bounds[i]), int(bounds[i + 1] - bounds[i])


def test_faults_write_a_second_folder_and_leave_the_normal_one_alone(
    root: Path, faulty_root: Path, faulty: dict[str, pd.DataFrame], frames: dict[str, pd.DataFrame]
) -> None:
    assert ROWS >= gen.FAULT_FULL_ROWS, "the test size gets the full-size faults"
    assert gen.FAULTY_DIR == "data/raw/drive_faulty"
    raw = faulty_root / "data" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == ["drive", "drive_faulty"]
    names = ["gps.parquet", "imu.parquet", "wheel_speed.parquet"]
    assert sorted(p.name for p in (raw / "drive_faulty").iterdir()) == names
    for name in names:  # faults=True does not touch the normal recording
        normal = (root / gen.RAW_DIR / name).read_bytes()
        assert (faulty_root / gen.RAW_DIR / name).read_bytes() == normal, name
    for name, frame in faulty.items():
        assert list(frame.columns) == list(frames[name].columns)
        assert list(frame.dtypes) == list(frames[name].dtypes)
    assert faulty["gps"].equals(frames["gps"])


def test_faulty_files_are_deterministic(tmp_path: Path) -> None:
    first = gen.generate(tmp_path / "a", rows=12_000, seed=7, faults=True)
    second = gen.generate(tmp_path / "b", rows=12_000, seed=7, faults=True)
    other = gen.generate(tmp_path / "c", rows=12_000, seed=8, faults=True)
    assert len(first) == 6
    assert [p.parent.name for p in first] == ["drive"] * 3 + ["drive_faulty"] * 3
    for p, q, r in zip(first[3:], second[3:], other[3:], strict=True):
        assert p.read_bytes() == q.read_bytes(), p.name
        assert p.read_bytes() != r.read_bytes(), p.name
    # ... and regenerating without faults leaves both folders consistent / in place
    gen.generate(tmp_path / "a", rows=12_000, seed=7)
    assert sorted(p.name for p in (tmp_path / "a" / "data" / "raw").iterdir()) == [
        "drive",
        "drive_faulty",
    ]


def test_fault_long_dropouts_in_wheel_and_imu(
    faulty: dict[str, pd.DataFrame],
    frames: dict[str, pd.DataFrame],
    fault_truth: dict[str, np.ndarray],
) -> None:
    spans = fault_truth["fault_dropouts"]
    assert spans.shape == (2, 2)
    lengths = spans[:, 1] - spans[:, 0]
    assert ((lengths >= 15.0 - 1e-3) & (lengths <= 25.0 + 1e-3)).all()
    assert spans[0, 1] < spans[1, 0], "in order, not overlapping"
    duration = ROWS / 100
    assert spans.min() > 0.1 * duration and spans.max() < 0.9 * duration
    for name in ("wheel_speed", "imu"):
        t = faulty[name]["t_s"].to_numpy()
        step = np.diff(t)
        long_gaps = np.sort(step[step > 10.0])
        assert len(long_gaps) == 2, name
        assert np.abs(np.diff(frames[name]["t_s"].to_numpy())).max() < 3.1, "normal gaps"
        for start, end in spans:
            assert not ((t >= start) & (t < end)).any(), name
            before, after = t[t < start][-1], t[t >= end][0]
            assert end - start < after - before < end - start + 0.05, name


def test_fault_stuck_ax(
    faulty: dict[str, pd.DataFrame],
    frames: dict[str, pd.DataFrame],
    fault_truth: dict[str, np.ndarray],
) -> None:
    imu = faulty["imu"]
    start, length = longest_constant_run(imu["ax"].to_numpy())
    assert length == int(fault_truth["stuck_ax_samples"]) == 1_500
    window = imu.iloc[start : start + length]
    assert window["t_s"].iloc[[0, -1]].tolist() == fault_truth["stuck_ax"].tolist()
    assert window["t_s"].iloc[-1] - window["t_s"].iloc[0] == pytest.approx(30.0, abs=0.5)
    assert window["ax"].iloc[0] == fault_truth["stuck_ax_value"]
    assert window["ay"].nunique() > 1_000, "ay keeps moving"
    # Before the freeze ax is the normal signal; nothing else in the normal data is stuck.
    normal = frames["imu"].set_index("t_s")
    assert normal.loc[window["t_s"].iloc[0], "ax"] == window["ax"].iloc[0]
    assert longest_constant_run(normal["ax"].to_numpy())[1] < 10


def test_fault_out_of_range_wheel_speeds(
    faulty: dict[str, pd.DataFrame],
    frames: dict[str, pd.DataFrame],
    fault_truth: dict[str, np.ndarray],
) -> None:
    omega = faulty["wheel_speed"][WHEELS].to_numpy(dtype=np.float64)
    at_400 = (omega == 400.0).all(axis=1)
    assert at_400.sum() == 60 == len(fault_truth["overspeed_spikes"])
    assert ((omega == 400.0).any(axis=1) == at_400).all(), "all four wheels of the row"
    t_s = faulty["wheel_speed"]["t_s"].to_numpy()
    np.testing.assert_array_equal(t_s[at_400], fault_truth["overspeed_spikes"])
    assert gen.FAULT_SPIKE_RAD_S * gen.WHEEL_RADIUS_M > 120.0, "impossible for a car"
    t = fault_truth["overspeed_spikes"]
    assert np.diff(t).min() > 0.5 and t[0] < 0.2 * ROWS / 100 and t[-1] > 0.8 * ROWS / 100
    # The normal single-wheel spikes are still there as well.
    single = ((np.abs(omega) > 300.0).sum(axis=1) == 1).sum()
    normal = (np.abs(frames["wheel_speed"][WHEELS].to_numpy()) > 300.0).any(axis=1).sum()
    assert 1 <= single <= normal


def test_fault_duplicated_timestamps(
    faulty: dict[str, pd.DataFrame],
    frames: dict[str, pd.DataFrame],
    fault_truth: dict[str, np.ndarray],
) -> None:
    wheel, normal = faulty["wheel_speed"], frames["wheel_speed"]
    n_fault = ROWS // 100
    assert len(fault_truth["fault_duplicates"]) == n_fault
    assert not wheel["t_s"].is_unique
    t = normal["t_s"].to_numpy()
    lost = np.zeros(len(t), dtype=bool)  # rows lost in the long dropouts
    for start, end in fault_truth["fault_dropouts"]:
        lost |= (t >= start) & (t < end)
    n_normal = (normal["t_s"].duplicated() & ~lost).sum()
    assert wheel["t_s"].duplicated().sum() == n_normal + n_fault
    # rows*1.01 minus the rows lost in the long dropouts
    dropped = lost.sum()
    assert len(wheel) == ROWS - dropped + n_fault
    # each copy immediately follows its original, with the same values
    copy = wheel["t_s"].duplicated().to_numpy()
    idx = np.flatnonzero(copy)
    np.testing.assert_array_equal(wheel.iloc[idx].to_numpy(), wheel.iloc[idx - 1].to_numpy())
    assert np.isin(fault_truth["fault_duplicates"], wheel["t_s"][copy]).all()


def test_faulty_drive_is_the_same_drive(
    faulty: dict[str, pd.DataFrame],
    frames: dict[str, pd.DataFrame],
    fault_truth: dict[str, np.ndarray],
) -> None:
    normal = frames["imu"]
    t = normal["t_s"].to_numpy()
    kept = np.ones(len(t), dtype=bool)
    for a, b in fault_truth["fault_dropouts"]:
        kept &= (t < a) | (t >= b)
    expected = normal[kept].reset_index(drop=True)
    stuck = expected["t_s"].between(*fault_truth["stuck_ax"])
    expected.loc[stuck, "ax"] = fault_truth["stuck_ax_value"]
    pd.testing.assert_frame_equal(faulty["imu"], expected)


@pytest.mark.parametrize("rows", [gen.MIN_ROWS, 1_999, 5_000, 14_999, 15_000])
def test_faults_scale_down_for_short_recordings(rows: int) -> None:
    scale = min(1.0, rows / 15_000)
    assert gen.fault_scale(rows) == scale
    drive = gen.faulty_drive(rows, 3)
    truth = drive.truth
    lengths = np.diff(truth["fault_dropouts"], axis=1).ravel()
    assert ((lengths >= 15 * scale - 1e-3) & (lengths <= 25 * scale + 1e-3)).all()
    assert truth["fault_dropouts"][0, 1] < truth["stuck_ax"][0] <= truth["stuck_ax"][1]
    assert truth["stuck_ax"][1] < truth["fault_dropouts"][1, 0]
    assert 2 <= int(truth["stuck_ax_samples"]) <= round(1_500 * scale)
    assert len(truth["overspeed_spikes"]) == max(1, round(60 * scale))
    assert len(truth["fault_duplicates"]) == rows // 100
    wheel = drive.tables["wheel_speed"].to_pandas()
    imu = drive.tables["imu"].to_pandas()
    assert ((wheel[WHEELS] == 400.0).all(axis=1)).sum() == len(truth["overspeed_spikes"])
    assert longest_constant_run(imu["ax"].to_numpy())[1] >= int(truth["stuck_ax_samples"])
    for frame in (wheel, imu):
        assert np.diff(frame["t_s"].to_numpy()).max() > lengths.min()


def test_main_faults_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--rows", "2000", "--seed", "3", "--root", str(tmp_path), "--faults"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum("drive_faulty" in line for line in lines) == 3
    assert (tmp_path / gen.FAULTY_DIR / "wheel_speed.parquet").is_file()
    assert (tmp_path / gen.RAW_DIR / "wheel_speed.parquet").is_file()


def test_a_previous_recording_renamed_away_by_a_killed_run_is_put_back(tmp_path: Path) -> None:
    gen.generate(tmp_path, rows=10_000, seed=1)
    drive = tmp_path / gen.RAW_DIR
    before = {p.name: p.read_bytes() for p in drive.iterdir()}
    gone = 999_999_999  # a PID that is not running
    drive.rename(drive.parent / f".drive.old-{gone}")  # killed between its two renames
    gen._remove_stale(drive.parent, "drive")
    assert {p.name: p.read_bytes() for p in drive.iterdir()} == before
    assert sorted(p.name for p in drive.parent.iterdir()) == ["drive"]


def test_a_failed_write_names_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gen.os, "fsync", full)
    with pytest.raises(OSError, match="No space left") as info:
        gen.generate(tmp_path, rows=10_000, seed=1)
    assert info.value.filename == str(tmp_path / gen.RAW_DIR / "wheel_speed.parquet")
    monkeypatch.setattr(gen.os, "fsync", os.fsync)
    assert list((tmp_path / "data" / "raw").iterdir()) == []
