"""Data science of the station-load workload: split, fit and evaluate a linear model
(``_processing`` is a copy of benchmarks/workload/processing.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from datareplay import BasePlugin, Param

from ._processing import FEATURES, evaluate_model, split_data, train_model

if TYPE_CHECKING:
    from datareplay import DataHub


class SplitData(BasePlugin):
    """Split the model-input table into seeded random train and test rows."""

    inputs: ClassVar[dict[str, str]] = {"model_input": "One row per valid reading."}
    outputs: ClassVar[dict[str, str]] = {"train": "Training rows.", "test": "Test rows."}

    test_fraction = Param(0.2, "Share of the rows held out for testing.")
    seed = Param(7, "Seed of the random split.")

    def run(self, hub: DataHub) -> None:
        hub["train"], hub["test"] = split_data(hub["model_input"], self.test_fraction, self.seed)


class TrainModel(BasePlugin):
    """Fit a linear model of the load by least squares."""

    inputs: ClassVar[dict[str, str]] = {"train": "Training rows."}
    outputs: ClassVar[dict[str, str]] = {"model": "feature, coefficient (intercept first)."}

    features = Param(list(FEATURES), "Columns the model uses.")
    target = Param("load_kw", "Column the model predicts.")

    def run(self, hub: DataHub) -> None:
        hub["model"] = train_model(hub["train"], self.features, self.target)


class EvaluateModel(BasePlugin):
    """R², mean absolute and root-mean-square error of the model on the test rows."""

    inputs: ClassVar[dict[str, str]] = {"model": "The fitted model.", "test": "Test rows."}
    outputs: ClassVar[dict[str, str]] = {"metrics": "test_rows, r2, mae_kw, rmse_kw."}

    target = Param("load_kw", "Column the model predicts.")

    def run(self, hub: DataHub) -> None:
        hub["metrics"] = evaluate_model(hub["model"], hub["test"], self.target)
