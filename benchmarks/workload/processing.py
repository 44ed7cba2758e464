"""The processing of the station-load workload: pure functions, frames in, frames out.

Both sides of the Kedro comparison run exactly this code: the Data Replay project gets a
copy as ``modules/_processing.py`` (its plugins call it), the Kedro project as
``src/station_load/processing.py`` (its nodes are these functions). Nothing here knows
either framework; every function returns new frames with a default index, so the
parquet files in between hold the same tables on both sides.

The shape is Kedro's "spaceflights" tutorial: clean a csv and two Excel sheets, join them
into a model-input table, split it, fit a linear model (NumPy least squares), evaluate
it and write a few reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SENSOR_ERROR = -999.0  # what the loggers write when a sensor fails
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
FEATURES = (  # the model's inputs, in the order of its coefficients
    "temperature_c",
    "humidity_pct",
    "wind_ms",
    "capacity_kw",
    "age_years",
    "elevation_m",
    "hour_sin",
    "hour_cos",
    "weekend",
)
MODEL_COLUMNS = (
    "reading_id",
    "station_id",
    "site_code",
    "region",
    "climate_zone",
    "timestamp",
    "date",
    *FEATURES,
    "load_kw",
)


# -- data processing -------------------------------------------------------------------


def preprocess_measurements(raw: pd.DataFrame) -> pd.DataFrame:
    """Typed, de-duplicated meter readings: ids normalised, timestamps parsed, sensor-error
    values as NaN, readings without a load dropped."""
    table = pd.DataFrame(
        {
            "reading_id": raw["reading_id"].astype("int64"),
            "station_id": raw["station_id"].str.strip().str.upper(),
            "timestamp": pd.to_datetime(raw["timestamp"], format=TIMESTAMP_FORMAT),
            "temperature_c": raw["temperature_c"].astype("float64"),
            "humidity_pct": raw["humidity_pct"].astype("float64"),
            "wind_ms": raw["wind_ms"].astype("float64"),
            "load_kw": raw["load_kw"].astype("float64"),
            "status": raw["status"].str.strip().str.lower(),
        }
    )
    table["temperature_c"] = table["temperature_c"].mask(table["temperature_c"] == SENSOR_ERROR)
    table = table.drop_duplicates("reading_id", keep="first")
    table = table.dropna(subset=["load_kw"])
    return table.reset_index(drop=True)


def preprocess_stations(raw: pd.DataFrame) -> pd.DataFrame:
    """Stations with their capacity as a number ("1,250 kW" → 1250.0), the grid flag as a
    boolean ("t"/"f") and the commissioning date as a timestamp."""
    capacity = raw["capacity"].str.replace(" kW", "", regex=False).str.replace(",", "", regex=False)
    return pd.DataFrame(
        {
            "station_id": raw["station_id"].str.strip().str.upper(),
            "site_code": raw["site_code"].str.strip().str.upper(),
            "capacity_kw": capacity.astype("float64"),
            "grid_connected": raw["grid_connected"].str.strip() == "t",
            "commissioned": pd.to_datetime(raw["commissioned"]).astype("datetime64[ns]"),
        }
    )


def preprocess_sites(raw: pd.DataFrame) -> pd.DataFrame:
    """Sites with normalised codes and names of region and climate zone."""
    return pd.DataFrame(
        {
            "site_code": raw["site_code"].str.strip().str.upper(),
            "region": raw["region"].str.strip().str.lower(),
            "climate_zone": raw["climate_zone"].str.strip().str.lower(),
            "elevation_m": raw["elevation_m"].astype("float64"),
        }
    )


def create_model_input_table(
    measurements: pd.DataFrame, stations: pd.DataFrame, sites: pd.DataFrame
) -> pd.DataFrame:
    """Valid readings of grid-connected stations joined with their station and site, with
    the model's features: hour of day as sine and cosine, weekend, station age."""
    readings = measurements.loc[measurements["status"] == "ok"].drop(columns="status")
    connected = stations.loc[stations["grid_connected"]].drop(columns="grid_connected")
    table = readings.merge(connected, on="station_id", how="inner", validate="many_to_one")
    table = table.merge(sites, on="site_code", how="inner", validate="many_to_one")
    hour = table["timestamp"].dt.hour.to_numpy() + table["timestamp"].dt.minute.to_numpy() / 60
    table["hour_sin"] = np.sin(2 * np.pi * hour / 24)
    table["hour_cos"] = np.cos(2 * np.pi * hour / 24)
    table["weekend"] = (table["timestamp"].dt.dayofweek >= 5).astype("float64")
    table["age_years"] = (table["timestamp"] - table["commissioned"]).dt.days / 365.25
    table["date"] = table["timestamp"].dt.normalize()
    table = table.dropna(subset=["temperature_c", "humidity_pct", "wind_ms"])
    return table.loc[:, list(MODEL_COLUMNS)].reset_index(drop=True)


# -- data science ----------------------------------------------------------------------


def split_data(
    table: pd.DataFrame, test_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded random split into train and test rows."""
    test = np.random.default_rng(seed).random(len(table)) < test_fraction
    return table.loc[~test].reset_index(drop=True), table.loc[test].reset_index(drop=True)


def _design(table: pd.DataFrame, features: list[str]) -> np.ndarray:
    columns = [np.ones(len(table))]
    columns += [table[f].to_numpy(dtype="float64") for f in features]
    return np.column_stack(columns)


def train_model(train: pd.DataFrame, features: list[str], target: str) -> pd.DataFrame:
    """A linear model of ``target`` fitted by least squares: one coefficient per feature,
    the first for the intercept."""
    coefficients, *_ = np.linalg.lstsq(
        _design(train, features), train[target].to_numpy(dtype="float64"), rcond=None
    )
    return pd.DataFrame({"feature": ["intercept", *features], "coefficient": coefficients})


def predict(model: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    features = model["feature"].tolist()[1:]
    return _design(table, features) @ model["coefficient"].to_numpy(dtype="float64")


def evaluate_model(model: pd.DataFrame, test: pd.DataFrame, target: str) -> dict[str, Any]:
    """R², mean absolute error and root-mean-square error on the test rows."""
    actual = test[target].to_numpy(dtype="float64")
    error = predict(model, test) - actual
    total = float(np.sum((actual - actual.mean()) ** 2))
    return {
        "test_rows": len(test),
        "r2": 1.0 - float(np.sum(error**2)) / total,
        "mae_kw": float(np.mean(np.abs(error))),
        "rmse_kw": float(np.sqrt(np.mean(error**2))),
    }


# -- reporting -------------------------------------------------------------------------


def region_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per region and climate zone: stations, readings, mean load and temperature."""
    grouped = table.groupby(["region", "climate_zone"], sort=True)
    summary = grouped.agg(
        stations=("station_id", "nunique"),
        readings=("reading_id", "size"),
        mean_load_kw=("load_kw", "mean"),
        max_load_kw=("load_kw", "max"),
        mean_temperature_c=("temperature_c", "mean"),
    )
    return summary.reset_index()


def daily_load(table: pd.DataFrame) -> pd.DataFrame:
    """Per day and region: readings and the mean and total of the load."""
    grouped = table.groupby(["date", "region"], sort=True)["load_kw"]
    daily = grouped.agg(readings="size", mean_load_kw="mean", total_load_kw="sum")
    return daily.reset_index()


def site_errors(model: pd.DataFrame, test: pd.DataFrame, target: str) -> pd.DataFrame:
    """Per site, the model's mean absolute error and bias on the test rows, worst first."""
    error = predict(model, test) - test[target].to_numpy(dtype="float64")
    frame = pd.DataFrame({"site_code": test["site_code"], "error": error})
    frame["abs_error"] = np.abs(error)
    grouped = frame.groupby("site_code", sort=True)
    errors = grouped.agg(
        readings=("error", "size"), mae_kw=("abs_error", "mean"), bias_kw=("error", "mean")
    ).reset_index()
    return errors.sort_values(["mae_kw", "site_code"], ascending=[False, True]).reset_index(
        drop=True
    )
