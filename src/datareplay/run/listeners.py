"""Listeners of the runner's events that every run has: log lines and quality results.

``LogListener`` writes the run's progress to the ``datareplay`` loggers;
``QualityResultsWriter`` stores every data-quality result of the run as the
``quality_results`` dataset. Both only react to events, so the runner knows neither.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datareplay.run import events

if TYPE_CHECKING:
    from datareplay.data.catalog import DataCatalog

QUALITY_RESULTS = "quality_results"

run_log = logging.getLogger("datareplay.runner")
session_log = logging.getLogger("datareplay")
quality_log = logging.getLogger("datareplay.quality")


def _label(name: str, plugin: str) -> str:
    return name if name == plugin else f"{name} ({plugin})"


class LogListener:
    """Turns events into the run's log lines (stderr through config/logging.yaml)."""

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.RunStarted):
            steps = event.steps
            what = f"{len(steps)} steps" if len(steps) != 1 else f"step {steps[0]}"
            session_log.info("run %s of case '%s': %s", event.run_id, event.case, what)
            for key, value, origin in event.overrides:
                session_log.info("override %s = %r (%s)", key, value, origin)
        elif isinstance(event, events.StepStarted):
            if event.cached:
                return  # said by StepFinished, in one line
            label = _label(event.name, event.plugin)
            if event.reason:
                run_log.info(
                    "step %d/%d %s runs: %s", event.position, event.total, label, event.reason
                )
            else:
                run_log.info("step %d/%d %s", event.position, event.total, label)
        elif isinstance(event, events.StepFinished | events.StepFailed):
            outcome = event.outcome
            failed = isinstance(event, events.StepFailed)
            for result in outcome.quality:
                if failed and result.blocking:
                    continue  # named by the step's error and listed by the run's summary
                level = logging.INFO if result.passed else logging.WARNING
                quality_log.log(level, "quality %s", result.line())
            for name, ref in outcome.outputs.items():
                run_log.debug(
                    "step %s wrote %s: %s, %s bytes, %s",
                    outcome.name,
                    name,
                    ref.location or "memory",
                    f"{ref.size_bytes:,}" if ref.size_bytes is not None else "-",
                    ref.content_hash or "no hash",
                )
            if isinstance(event, events.StepFinished) and outcome.cached:
                run_log.info(
                    "step %d/%d %s cached: code, params and inputs as in run %s",
                    event.position,
                    event.total,
                    _label(outcome.name, outcome.plugin),
                    outcome.cached_from,
                )
            elif isinstance(event, events.StepFinished):
                outputs = ", ".join(f"{k} ({v.kind})" for k, v in outcome.outputs.items())
                run_log.info(
                    "step %d/%d %s done in %.2f s -> %s",
                    event.position,
                    event.total,
                    _label(outcome.name, outcome.plugin),
                    outcome.seconds,
                    outputs or "no outputs",
                )


class QualityResultsWriter:
    """Keeps the run's ``quality_results`` dataset up to date after every step.

    The results go to the case's ``quality_results`` data source when it declares one,
    else to ``quality_path`` (parquet); they are written as soon as a step reports
    them, so a failed run keeps the results that explain the failure. With
    ``keep_others`` (a step run alone) the stored results of the other steps stay.
    """

    def __init__(
        self, catalog: DataCatalog, quality_path: Path | None, *, keep_others: bool = False
    ) -> None:
        self.catalog = catalog
        self.quality_path = quality_path
        self.keep_others = keep_others
        self.steps: tuple[str, ...] = ()
        self.results: list[Any] = []
        self.kept: Any = None  # earlier rows of steps this run does not run

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.RunStarted):
            self.steps = event.steps
            return
        if not isinstance(event, events.StepFinished | events.StepFailed):
            return
        if not event.outcome.quality:
            return
        self.results.extend(event.outcome.quality)
        self._write()

    def _write(self) -> None:
        from datareplay.quality.evaluate import results_frame

        catalog = self.catalog
        if QUALITY_RESULTS not in catalog.sources:
            if self.quality_path is None:
                return
            from datareplay.data.formats import FORMATS
            from datareplay.data.source import DataSource

            catalog.add_source(
                DataSource(
                    QUALITY_RESULTS,
                    FORMATS["parquet"],
                    self.quality_path,
                    description="Every data-quality check result of the latest run.",
                )
            )
        frame = results_frame(self.results)
        if self.keep_others:
            if self.kept is None:
                self.kept = self._earlier_rows()
            if len(self.kept):
                import pandas as pd

                frame = pd.concat([self.kept, frame], ignore_index=True)
        catalog.put(QUALITY_RESULTS, frame)

    def _earlier_rows(self) -> Any:
        """The stored results of every step this run does not run (a step run alone
        replaces its own results and keeps the rest of the latest full run's)."""
        import pandas as pd

        from datareplay.errors import DataReplayError

        try:
            earlier = self.catalog.load(QUALITY_RESULTS)
        except DataReplayError:
            return pd.DataFrame()
        if not isinstance(earlier, pd.DataFrame) or "step" not in earlier.columns:
            return pd.DataFrame()
        return earlier[~earlier["step"].isin(self.steps)].reset_index(drop=True)
