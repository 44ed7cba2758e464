"""An example plugin: replace it with your own processing steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datareplay import BasePlugin, Param

if TYPE_CHECKING:
    from datareplay import DataHub


class MovingAverage(BasePlugin):
    """Add a centred moving average of a signal's `value` column.

    The average spans `window` samples, centred on each sample; at the ends it uses the
    samples there are. The result keeps every input column and adds `value_smooth`.
    """

    inputs = {"signal": "A table with a numeric `value` column."}  # noqa: RUF012
    outputs = {"smoothed": "The input table plus `value_smooth`."}  # noqa: RUF012

    window = Param(5, "Number of samples averaged, centred on each sample.")

    def run(self, hub: DataHub) -> None:
        signal = hub["signal"]
        smooth = signal["value"].rolling(self.window, center=True, min_periods=1).mean()
        hub["smoothed"] = signal.assign(value_smooth=smooth)
