"""The project's pipelines: data processing, data science and reporting, as in Kedro's
spaceflights tutorial; the default runs all three."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from station_load.processing import (
    create_model_input_table,
    daily_load,
    evaluate_model,
    preprocess_measurements,
    preprocess_sites,
    preprocess_stations,
    region_summary,
    site_errors,
    split_data,
    train_model,
)


def data_processing() -> Pipeline:
    return Pipeline(
        [
            node(
                preprocess_measurements,
                "measurements_raw",
                "measurements",
                name="preprocess_measurements",
            ),
            node(preprocess_stations, "stations_raw", "stations", name="preprocess_stations"),
            node(preprocess_sites, "sites_raw", "sites", name="preprocess_sites"),
            node(
                create_model_input_table,
                ["measurements", "stations", "sites"],
                "model_input",
                name="create_model_input_table",
            ),
        ]
    )


def data_science() -> Pipeline:
    return Pipeline(
        [
            node(
                split_data,
                ["model_input", "params:test_fraction", "params:seed"],
                ["train", "test"],
                name="split_data",
            ),
            node(
                train_model,
                ["train", "params:features", "params:target"],
                "model",
                name="train_model",
            ),
            node(
                evaluate_model,
                ["model", "test", "params:target"],
                "metrics",
                name="evaluate_model",
            ),
        ]
    )


def reporting() -> Pipeline:
    return Pipeline(
        [
            node(region_summary, "model_input", "region_summary", name="region_summary"),
            node(daily_load, "model_input", "daily_load", name="daily_load"),
            node(
                site_errors,
                ["model", "test", "params:target"],
                "site_errors",
                name="site_errors",
            ),
        ]
    )


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines."""
    pipelines = {
        "data_processing": data_processing(),
        "data_science": data_science(),
        "reporting": reporting(),
    }
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
