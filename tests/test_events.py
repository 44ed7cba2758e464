"""The runner's events (datareplay.run.events): their order, pickling and the listeners.

A run emits ``RunStarted``, then ``StepStarted`` and ``StepFinished`` or ``StepFailed`` per
step that runs, ``StepSkipped`` per step that does not, and ``RunFinished`` or
``RunInterrupted``. Log lines and the end-of-run tables are listeners of these events.
"""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from datareplay import BasePlugin, DataHub
from datareplay.data.catalog import DataCatalog, SourceSummary, Status
from datareplay.data.formats import FORMATS
from datareplay.data.source import DataSource
from datareplay.errors import StepFailed
from datareplay.plan.builder import Plan, Step
from datareplay.quality.evaluate import CheckResult
from datareplay.run import events
from datareplay.run.listeners import LogListener
from datareplay.run.runner import PipelineRunner

CASE = "unit"
RUN_ID = "20260101-000000-abcdef"


class Recorder:
    """A listener that keeps every event."""

    def __init__(self) -> None:
        self.events: list[events.Event] = []

    def __call__(self, event: events.Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[tuple[str, str]]:
        """(event class, step name or status) for every event, in order."""
        rows = []
        for event in self.events:
            if isinstance(event, events.StepFinished | events.StepFailed):
                detail = event.outcome.name
            elif isinstance(event, events.StepStarted | events.StepSkipped):
                detail = event.name
            elif isinstance(event, events.RunFinished):
                detail = event.status
            elif isinstance(event, events.RunInterrupted):
                detail = event.step
            else:
                detail = ",".join(event.steps)
            rows.append((type(event).__name__, detail))
        return rows


class Make(BasePlugin):
    """Write a small table."""

    outputs: ClassVar[dict[str, str]] = {"table": "Three rows."}

    def run(self, hub: DataHub) -> None:
        hub["table"] = pd.DataFrame({"x": [1.0, 2.0, 3.0]})


class Double(BasePlugin):
    """Double the table."""

    inputs: ClassVar[dict[str, str]] = {"table": "A table with `x`."}
    outputs: ClassVar[dict[str, str]] = {"doubled": "Twice `x`."}

    def run(self, hub: DataHub) -> None:
        hub["doubled"] = hub["table"].assign(x=lambda f: f["x"] * 2)


class Note(BasePlugin):
    """Do nothing."""

    def run(self, hub: DataHub) -> None:
        pass


class Fail(BasePlugin):
    """Raise an error."""

    def run(self, hub: DataHub) -> None:
        raise ValueError("sensor table is empty")


class Interrupt(BasePlugin):
    """Act as if Ctrl-C was pressed."""

    def run(self, hub: DataHub) -> None:
        raise KeyboardInterrupt


def step(index: int, plugin: type[BasePlugin], *, name: str | None = None) -> Step:
    return Step(
        index=index,
        name=name or plugin.__name__,
        plugin=plugin,
        params={},
        reads={p: p for p in plugin.inputs},
        writes={p: p for p in plugin.outputs},
        where=f"case.yaml (pipeline[{index}])",
    )


def catalog(root: Path) -> DataCatalog:
    (root / "data").mkdir(parents=True, exist_ok=True)
    sources = [
        DataSource("table", FORMATS["parquet"], root / "data" / "table.parquet"),
        DataSource("doubled", FORMATS["memory"], None),
    ]
    return DataCatalog({s.name: s for s in sources}, project_root=root)


def run_recorded(root: Path, steps: list[Step]) -> tuple[Recorder, Any]:
    """Run ``steps``; return the recorder and what ``run`` returned or raised."""
    recorder = Recorder()
    runner = PipelineRunner(
        Plan(case=CASE, steps=steps), catalog(root), run_id=RUN_ID, bus=events.EventBus([recorder])
    )
    try:
        return recorder, runner.run()
    except (Exception, KeyboardInterrupt) as exc:
        return recorder, exc


# -- order ------------------------------------------------------------------------------------


def test_events_of_a_successful_run(tmp_path: Path) -> None:
    recorder, result = run_recorded(tmp_path, [step(0, Make), step(1, Double)])
    assert recorder.kinds() == [
        ("RunStarted", "Make,Double"),
        ("StepStarted", "Make"),
        ("StepFinished", "Make"),
        ("StepStarted", "Double"),
        ("StepFinished", "Double"),
        ("RunFinished", "succeeded"),
    ]
    started, *_, finished = recorder.events
    assert started == events.RunStarted(RUN_ID, CASE, ("Make", "Double"), ())
    assert recorder.events[1] == events.StepStarted(RUN_ID, "Make", "Make", 0, 1, 2)
    assert recorder.events[3] == events.StepStarted(RUN_ID, "Double", "Double", 1, 2, 2)
    make_done = recorder.events[2]
    assert isinstance(make_done, events.StepFinished)
    assert (make_done.run_id, make_done.position, make_done.total) == (RUN_ID, 1, 2)
    assert make_done.outcome is result.steps[0]
    assert make_done.outcome.outputs["table"].kind == "DataFrame 3×1"
    assert isinstance(finished, events.RunFinished)
    assert (finished.run_id, finished.case, finished.steps_run) == (RUN_ID, CASE, 2)
    assert finished.seconds == result.seconds
    summary = {row.name: row for row in finished.summary}
    assert isinstance(summary["table"], SourceSummary)
    assert summary["doubled"].status is Status.IN_MEMORY
    assert summary["table"].status in (Status.ON_DISK, Status.IN_MEMORY)


@pytest.mark.parametrize("k", [0, 1, 3])
def test_events_when_step_k_fails(tmp_path: Path, k: int) -> None:
    names = [f"s{i}" for i in range(4)]
    steps = [step(i, Fail if i == k else Note, name=names[i]) for i in range(4)]
    recorder, error = run_recorded(tmp_path, steps)

    assert isinstance(error, StepFailed)
    assert (error.step, error.index, error.plugin) == (names[k], k, "Fail")
    assert error.error_type == "ValueError"
    assert error.reason == (
        f"ValueError: sensor table is empty ({__file__}:91 in run; --debug shows the traceback)"
    )
    assert isinstance(error.__cause__, ValueError)
    expected = [("RunStarted", ",".join(names))]
    for name in names[:k]:
        expected += [("StepStarted", name), ("StepFinished", name)]
    expected += [("StepStarted", names[k]), ("StepFailed", names[k])]
    expected += [("StepSkipped", name) for name in names[k + 1 :]]
    expected += [("RunFinished", "failed")]
    assert recorder.kinds() == expected

    failed = next(e for e in recorder.events if isinstance(e, events.StepFailed))
    assert (failed.position, failed.total) == (k + 1, 4)
    assert failed.outcome.error is not None
    assert failed.outcome.error.type == "ValueError"
    assert "Traceback" in failed.outcome.error.traceback
    skipped = [e for e in recorder.events if isinstance(e, events.StepSkipped)]
    assert [(e.name, e.plugin, e.index) for e in skipped] == [
        (names[i], "Note", i) for i in range(k + 1, 4)
    ]
    assert all(e.reason == f"step '{names[k]}' failed" for e in skipped)
    finished = recorder.events[-1]
    assert isinstance(finished, events.RunFinished)
    assert finished.steps_run == k + 1


def test_events_when_a_step_is_interrupted(tmp_path: Path) -> None:
    steps = [step(0, Make), step(1, Interrupt, name="slow"), step(2, Note)]
    recorder, error = run_recorded(tmp_path, steps)

    assert isinstance(error, KeyboardInterrupt)
    assert recorder.kinds() == [
        ("RunStarted", "Make,slow,Note"),
        ("StepStarted", "Make"),
        ("StepFinished", "Make"),
        ("StepStarted", "slow"),
        ("RunInterrupted", "slow"),
    ]
    interrupted = recorder.events[-1]
    assert isinstance(interrupted, events.RunInterrupted)
    assert (interrupted.run_id, interrupted.case) == (RUN_ID, CASE)
    assert not any(isinstance(e, events.RunFinished) for e in recorder.events)
    # what finished before the interruption is on disk
    assert (tmp_path / "data" / "table.parquet").is_file()


def test_bus_hands_events_to_listeners_in_subscription_order() -> None:
    seen: list[str] = []
    bus = events.EventBus([lambda e: seen.append("first")])
    bus.subscribe(lambda e: seen.append("second"))
    bus.emit(events.RunStarted(RUN_ID, CASE, ()))
    assert seen == ["first", "second"]


# -- pickling ---------------------------------------------------------------------------------


def test_events_of_real_runs_pickle(tmp_path: Path) -> None:
    ok, _ = run_recorded(tmp_path / "ok", [step(0, Make), step(1, Double)])
    failed, _ = run_recorded(tmp_path / "failed", [step(0, Make), step(1, Fail), step(2, Note)])
    stopped, _ = run_recorded(tmp_path / "stopped", [step(0, Interrupt)])
    everything = [*ok.events, *failed.events, *stopped.events]
    kinds = {type(e) for e in everything}
    assert kinds == {
        events.RunStarted,
        events.StepStarted,
        events.StepFinished,
        events.StepFailed,
        events.StepSkipped,
        events.RunFinished,
        events.RunInterrupted,
    }
    for event in everything:
        copy = pickle.loads(pickle.dumps(event))
        assert type(copy) is type(event)
        assert copy == event


def test_events_with_overrides_and_quality_results_pickle() -> None:
    result = CheckResult("t", "unique(x)", "warn", False, 1, 3, "1 of 3 rows fail", [{"x": 1}])
    from datareplay.run.step import StepOutcome

    outcome = StepOutcome("s", 0, "S", 0.1, quality=(result,))
    for event in [
        events.RunStarted(RUN_ID, CASE, ("s",), (("pipeline.S.params.n", 3, "--set n=3"),)),
        events.StepFinished(RUN_ID, outcome, 1, 1),
        events.RunFinished(
            RUN_ID,
            CASE,
            "succeeded",
            1.5,
            1,
            (SourceSummary("t", Status.ON_DISK, "parquet", 10, Path("/p/t.parquet"), "parquet"),),
        ),
    ]:
        assert pickle.loads(pickle.dumps(event)) == event


# -- the log listener -------------------------------------------------------------------------


def test_log_listener_writes_the_step_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = PipelineRunner(
        Plan(case=CASE, steps=[step(0, Make, name="make"), step(1, Double), step(2, Note)]),
        catalog(tmp_path),
        run_id=RUN_ID,
        bus=events.EventBus([LogListener()]),
    )
    with caplog.at_level(logging.INFO, logger="datareplay"):
        runner.run()
    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert lines[0] == ("datareplay", "INFO", f"run {RUN_ID} of case '{CASE}': 3 steps")
    runner_lines = [message for name, _, message in lines if name == "datareplay.runner"]
    assert len(runner_lines) == 6
    assert runner_lines[0] == "step 1/3 make (Make)"
    assert re.fullmatch(
        r"step 1/3 make \(Make\) done in \d+\.\d\d s -> table \(DataFrame 3×1\)", runner_lines[1]
    )
    assert runner_lines[2] == "step 2/3 Double"
    assert re.fullmatch(
        r"step 2/3 Double done in \d+\.\d\d s -> doubled \(DataFrame 3×1\)", runner_lines[3]
    )
    assert runner_lines[4] == "step 3/3 Note"
    assert re.fullmatch(r"step 3/3 Note done in \d+\.\d\d s -> no outputs", runner_lines[5])


def test_log_listener_names_one_step_and_the_overrides(caplog: pytest.LogCaptureFixture) -> None:
    listener = LogListener()
    with caplog.at_level(logging.INFO, logger="datareplay"):
        listener(
            events.RunStarted(
                RUN_ID, CASE, ("detect",), (("pipeline.detect.params.n", 3, "--set"),)
            )
        )
    assert [r.getMessage() for r in caplog.records] == [
        f"run {RUN_ID} of case '{CASE}': step detect",
        "override pipeline.detect.params.n = 3 (--set)",
    ]


def test_log_listener_logs_quality_results_by_outcome(caplog: pytest.LogCaptureFixture) -> None:
    from datareplay.run.step import StepOutcome

    passed = CheckResult("t", "unique(x)", "error", True, 0, 3, "all 3 rows pass")
    failed = CheckResult("t", "not_null(y)", "warn", False, 1, 3, "1 of 3 rows fail")
    outcome = StepOutcome("s", 0, "S", 0.5, quality=(passed, failed))
    with caplog.at_level(logging.INFO, logger="datareplay"):
        LogListener()(events.StepFinished(RUN_ID, outcome, 1, 1))
    records = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert records[:2] == [
        ("datareplay.quality", "INFO", "quality t: unique(x) passed: all 3 rows pass"),
        ("datareplay.quality", "WARNING", "quality t: not_null(y) FAILED: 1 of 3 rows fail"),
    ]
    assert records[2][2] == "step 1/1 s (S) done in 0.50 s -> no outputs"


# -- the command line -------------------------------------------------------------------------


def test_pipeline_prints_the_closing_line_then_the_tables(project: Path, cli) -> None:
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert re.fullmatch(
        r"run \d{8}-\d{6}-[0-9a-f]{6} of case 'demo' finished: 8 steps in \d+\.\d\d s", lines[0]
    )
    run_id = lines[0].split()[1]
    assert lines[1].split() == [
        "#",
        "step",
        "status",
        "time",
        "rows",
        "in",
        "rows",
        "out",
        "quality",
    ]
    steps, summary, quality = result.out.split("\n\n", 2)
    assert len(steps.splitlines()) == 2 + 1 + 8  # closing line, header, rule, a row a step
    assert summary.splitlines()[0].split() == [
        "data",
        "source",
        "status",
        "shape",
        "/",
        "type",
        "size",
        "path",
    ]
    assert "report" in summary and "quality_results" in summary
    assert re.match(r"data quality: (\d+) checks: \1 passed\n", quality)
    assert quality.splitlines()[1].split() == [
        "source",
        "check",
        "severity",
        "result",
        "failing",
        "rows",
    ]
    # the log lines go to stderr, the tables to stdout
    assert f"run {run_id} of case 'demo': 8 steps" in result.err
    assert "step 1/8 InitialDataReader" in result.err
    assert "step 3/8 signal_quality (QualityGate) done in " in result.err
    assert "step 8/8 ReportWriter done in " in result.err
    assert "-> report (DataFrame " in result.err
    assert "step 1/8" not in result.out  # progress goes to the log, not to the tables


def test_plugin_prints_the_single_step_closing_line(project: Path, cli) -> None:
    result = cli(project, "plugin", "InitialDataReader", "--case", "demo")
    assert result.code == 0, result.err
    assert re.fullmatch(
        r"run \d{8}-\d{6}-[0-9a-f]{6}: step 'InitialDataReader' of case 'demo' finished "
        r"in \d+\.\d\d s",
        result.out.splitlines()[0],
    )
    assert "step 1/1 InitialDataReader done in " in result.err


def test_failed_pipeline_prints_its_summary_not_the_tables(project: Path, cli) -> None:
    (project / "modules" / "event_detector.py").write_text(
        (project / "modules" / "event_detector.py").read_text(encoding="utf-8")
        + "\n\ndef _broken_run(self, hub):\n    raise RuntimeError('detector exploded')\n\n\n"
        "EventDetector.run = _broken_run\n",
        encoding="utf-8",
    )
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 1
    lines = result.out.splitlines()
    assert re.match(r"run \S+ of case 'demo' FAILED at step 7/8 'EventDetector' after ", lines[0])
    assert "data source" not in result.out and "data quality" not in result.out
    assert any(re.match(r"7\s+EventDetector\s+failed", line) for line in lines)
    assert any(re.match(r"8\s+ReportWriter\s+skipped", line) for line in lines)
    # why it failed is said once, on stderr
    assert "detector exploded" not in result.out
    assert "RuntimeError: detector exploded" in result.err
    assert "finished:" not in result.out + result.err
