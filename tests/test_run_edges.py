"""Edges of running a step: sys.exit in a plugin, reported results, gc, memory inputs."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from datareplay import BasePlugin, CheckResult, DataHub
from datareplay.data.catalog import DataCatalog
from datareplay.data.formats import FORMATS
from datareplay.data.source import DataSource
from datareplay.errors import StepFailed
from datareplay.plan.builder import Plan, Step
from datareplay.run import events
from datareplay.run.execute import execute_step
from datareplay.run.runner import PipelineRunner


def make_step(plugin: type[BasePlugin], **ports: Any) -> Step:
    return Step(
        index=0,
        name=plugin.__name__,
        plugin=plugin,
        params={},
        reads=ports.get("reads", {}),
        writes=ports.get("writes", {}),
        where="case.yaml (pipeline[0])",
    )


def run_one(tmp_path: Path, plugin: type[BasePlugin], *sources: DataSource, **ports: Any):
    seen: list[Any] = []
    catalog = DataCatalog({s.name: s for s in sources}, project_root=tmp_path)
    runner = PipelineRunner(
        Plan(case="edge", steps=[make_step(plugin, **ports)]),
        catalog,
        run_id="r1",
        bus=events.EventBus([seen.append]),
    )
    return runner, seen


def result(passed: bool, severity: str) -> CheckResult:
    return CheckResult("d", "custom(x)", severity, passed, 0 if passed else 3, 10, "three bad")


def test_sys_exit_in_a_plugin_fails_its_step_and_the_run_finishes(tmp_path: Path) -> None:
    class Quitter(BasePlugin):
        """Calls sys.exit."""

        def run(self, hub: DataHub) -> None:
            sys.exit(3)

    runner, seen = run_one(tmp_path, Quitter)
    with pytest.raises(
        StepFailed,
        match=r"the plugin called sys.exit\(3\) \(.*test_run_edges\.py:57 in run; --debug shows the traceback\)$",
    ) as info:
        runner.run()
    assert info.value.exit_code == 1
    assert isinstance(seen[-1], events.RunFinished) and seen[-1].status == "failed"


def test_reporting_something_else_than_check_results_fails_naming_the_step(
    tmp_path: Path,
) -> None:
    class Junk(BasePlugin):
        """Reports a string as a quality result."""

        def run(self, hub: DataHub) -> None:
            hub.report_quality(["x"])  # type: ignore[list-item]

    runner, _ = run_one(tmp_path, Junk)
    with pytest.raises(
        StepFailed,
        match=r"step 'Junk' reported a str as a quality result; report datareplay.CheckResult",
    ):
        runner.run()


@pytest.mark.parametrize(("severity", "fails"), [("error", True), ("warn", False)])
def test_a_reported_failed_error_result_fails_the_step_without_raising(
    tmp_path: Path, severity: str, fails: bool
) -> None:
    class Checker(BasePlugin):
        """Reports results and returns."""

        def run(self, hub: DataHub) -> None:
            hub.report_quality([result(True, "error"), result(False, severity)])

    runner, seen = run_one(tmp_path, Checker)
    if fails:
        with pytest.raises(StepFailed, match=r"d: custom\(x\) FAILED: three bad$"):
            runner.run()
        failed = [e for e in seen if isinstance(e, events.StepFailed)]
        assert failed[0].outcome.error is not None
        assert failed[0].outcome.error.type == "QualityError"
    else:
        outcome = runner.run().steps[0]
        assert outcome.ok
    assert len(seen[2].outcome.quality) == 2  # StepFinished / StepFailed carries both


def test_a_host_programs_gc_freeze_is_left_alone(tmp_path: Path) -> None:
    class Nothing(BasePlugin):
        """Does nothing."""

        def run(self, hub: DataHub) -> None:
            pass

    runner, _ = run_one(tmp_path, Nothing)
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        runner.run()
        assert gc.get_freeze_count() >= frozen > 0
    finally:
        gc.unfreeze()
    runner.run()
    assert gc.get_freeze_count() == 0  # what the runner froze itself it unfreezes


def test_a_memory_only_input_cannot_reach_another_process(tmp_path: Path) -> None:
    class Reader(BasePlugin):
        """Reads a memory source."""

        inputs: ClassVar[dict[str, str]] = {"scratch": "Memory only."}

        def run(self, hub: DataHub) -> None:
            hub["scratch"]

    scratch = DataSource("scratch", FORMATS["memory"], None)
    runner, _ = run_one(tmp_path, Reader, scratch, reads={"scratch": "scratch"})
    runner.catalog.put("scratch", [1, 2])
    outcome = execute_step(runner.spec(runner.plan.steps[0]))  # a fresh catalog, as a worker
    assert outcome.error is not None
    assert outcome.error.message == (
        "input 'scratch' (data source 'scratch', format memory) is kept in memory only, so a "
        "step running in another process cannot read it; give the source a persistent "
        "format (parquet, feather, csv, json, pickle)"
    )


def test_run_py_files_importing_the_cli_package_keep_working() -> None:
    code = "from datareplay.cli import main; raise SystemExit(main(['--version']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("datareplay, version ")
