"""Tests of the example plugin; run them with ``pytest``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

MODULE = Path(__file__).resolve().parent.parent / "modules" / "moving_average.py"


def load_plugin() -> type:
    spec = importlib.util.spec_from_file_location("moving_average", MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MovingAverage


def test_moving_average_smooths_a_step() -> None:
    plugin = load_plugin()(params={"window": 3})
    hub = {"signal": pd.DataFrame({"t_s": [0.0, 1.0, 2.0, 3.0], "value": [0.0, 0.0, 3.0, 3.0]})}
    plugin.run(hub)
    assert hub["smoothed"]["value_smooth"].tolist() == [0.0, 1.0, 2.0, 3.0]
