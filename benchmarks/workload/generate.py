"""The raw data of the station-load workload, generated from a seed (same seed, same data).

* ``measurements.csv``: meter readings every 15 minutes over one year at random stations,
  as loggers write them: station ids in mixed case with stray blanks, ISO timestamps as
  text, a few missing values, ``-999.0`` where a sensor failed, repeated readings (the same
  ``reading_id`` twice) and a status in several spellings.
* ``stations.xlsx``: two sheets, ``stations`` (capacity as text such as ``"1,250 kW"``,
  grid connection as ``t``/``f``, commissioning date) and ``sites`` (region, climate
  zone, elevation).

The load depends on capacity, weather, hour of day, weekend, station age and site, so the
linear model of the workload has something to find.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

REGIONS = ("central", "east", "north", "south", "west")
CLIMATES = ("arid", "coastal", "cold", "temperate")
CAPACITIES = (50, 100, 250, 500, 1_000, 1_250, 2_500)
SLOTS_PER_DAY = 96  # one reading every 15 minutes
DAYS = 365


def write_raw(folder: Path, *, rows: int, stations: int, seed: int) -> None:
    """Write ``measurements.csv`` (``rows`` lines) and ``stations.xlsx`` (``stations``
    stations on about a tenth as many sites) into ``folder``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_sites = max(stations // 10, 5)

    site_codes = np.array([f"S{i:04d}" for i in range(1, n_sites + 1)], dtype=object)
    site_region = rng.integers(0, len(REGIONS), n_sites)
    site_climate = rng.integers(0, len(CLIMATES), n_sites)
    elevation = rng.integers(0, 2_000, n_sites)
    sites = pd.DataFrame(
        {
            "site_code": _messy(rng, site_codes, lower=0.1, blank=0.05),
            "site_name": [f"Site {i}" for i in range(1, n_sites + 1)],
            "region": [REGIONS[r].title() for r in site_region],
            "climate_zone": [CLIMATES[c] for c in site_climate],
            "elevation_m": elevation,
        }
    )

    station_ids = np.array([f"ST{i:05d}" for i in range(1, stations + 1)], dtype=object)
    station_site = rng.integers(0, n_sites, stations)
    capacity = rng.choice(np.array(CAPACITIES), stations)
    connected = rng.random(stations) >= 0.05
    commissioned = np.datetime64("2005-01-01") + rng.integers(0, 18 * 365, stations).astype(
        "timedelta64[D]"
    )
    station_table = pd.DataFrame(
        {
            "station_id": _messy(rng, station_ids, lower=0.05, blank=0.05),
            "site_code": site_codes[station_site],
            "capacity": [f"{c:,} kW" for c in capacity],
            "grid_connected": np.where(connected, "t", "f"),
            "commissioned": pd.to_datetime(commissioned),
        }
    )
    with pd.ExcelWriter(folder / "stations.xlsx", engine="openpyxl") as book:
        station_table.to_excel(book, sheet_name="stations", index=False)
        sites.to_excel(book, sheet_name="sites", index=False)

    unique = rows - rows // 200  # half a percent of the lines repeat an earlier reading
    station = rng.integers(0, stations, unique)
    slot = rng.integers(0, DAYS * SLOTS_PER_DAY, unique)
    day, hour = slot // SLOTS_PER_DAY, (slot % SLOTS_PER_DAY) / 4
    site = station_site[station]
    season = -np.cos(2 * np.pi * day / DAYS)  # -1 in winter, 1 in summer
    climate_offset = np.array([8.0, 2.0, -6.0, 0.0])[site_climate[site]]
    temperature = 11 + 9 * season + climate_offset + 4 * np.sin(2 * np.pi * (hour - 9) / 24)
    temperature += rng.normal(0, 2.5, unique) - elevation[site] / 300
    humidity = np.clip(65 - 1.2 * (temperature - 11) + rng.normal(0, 10, unique), 5, 100)
    wind = rng.gamma(2.0, 2.0, unique)
    weekend = (day + 6) % 7 >= 5  # 2023-01-01 was a Sunday
    age = (np.datetime64("2023-01-01") - commissioned[station]).astype("int64") / 365.25 + (
        day / 365.25
    )
    load = capacity[station] * (
        0.45
        + 0.012 * temperature
        - 0.0015 * humidity
        + 0.01 * wind
        + 0.12 * np.sin(2 * np.pi * (hour - 7) / 24)
        - 0.08 * weekend
        - 0.006 * age
    ) + rng.normal(0, 20, unique)
    temperature = temperature.round(2)
    temperature[rng.random(unique) < 0.01] = np.nan
    temperature[rng.random(unique) < 0.005] = -999.0
    load = load.round(3)
    load[rng.random(unique) < 0.003] = np.nan
    status = rng.choice(
        np.array(["ok", "OK", " ok ", "fault", "maintenance"], dtype=object),
        unique,
        p=[0.75, 0.12, 0.06, 0.05, 0.02],
    )
    timestamps = np.datetime64("2023-01-01T00:00:00") + (slot * 15).astype("timedelta64[m]")
    readings = pd.DataFrame(
        {
            "reading_id": np.arange(1, unique + 1),
            "station_id": _messy(rng, station_ids[station], lower=0.1, blank=0.05),
            "timestamp": np.datetime_as_string(timestamps, unit="s"),
            "temperature_c": temperature,
            "humidity_pct": humidity.round(1),
            "wind_ms": wind.round(2),
            "load_kw": load,
            "status": status,
        }
    )
    repeated = rng.integers(0, unique, rows - unique)
    order = rng.permutation(np.concatenate([np.arange(unique), repeated]))
    readings.iloc[order].to_csv(folder / "measurements.csv", index=False)


def _messy(rng: np.random.Generator, ids: np.ndarray, *, lower: float, blank: float) -> np.ndarray:
    """``ids`` (text) with a share written in lower case and a share padded with blanks,
    as people and loggers write them."""
    import numpy as np

    values = np.array(ids, dtype=object)
    low = rng.random(len(values)) < lower
    values[low] = np.array([v.lower() for v in values[low]], dtype=object)
    pad = rng.random(len(values)) < blank
    values[pad] = np.array([f" {v} " for v in values[pad]], dtype=object)
    return values


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="lines of measurements.csv")
    parser.add_argument("--stations", type=int, required=True, help="stations in the register")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    args = parser.parse_args(argv)
    write_raw(args.out, rows=args.rows, stations=args.stations, seed=args.seed)


if __name__ == "__main__":
    main()
