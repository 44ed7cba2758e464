"""Unit tests of datareplay.run.runner: step order, results, memory release, failures, run ids."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from datareplay import BasePlugin, DataHub, Param
from datareplay.data.catalog import DataCatalog, Status
from datareplay.data.formats import FORMATS
from datareplay.data.source import DataSource
from datareplay.errors import DataAccessError, StepFailed
from datareplay.plan.builder import Plan, Step
from datareplay.run.runner import PipelineRunner, RunResult, new_run_id
from datareplay.run.step import StepOutcome

CASE = "unit"
RUN_ID = "20260101-000000-abcdef"


def json_source(root: Path, name: str) -> DataSource:
    return DataSource(name, FORMATS["json"], root / "data" / f"{name}.json")


def memory_source(name: str) -> DataSource:
    return DataSource(name, FORMATS["memory"], None)


def step(
    index: int,
    plugin: type[BasePlugin],
    *,
    name: str | None = None,
    reads: Mapping[str, str] | None = None,
    writes: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Step:
    return Step(
        index=index,
        name=name or plugin.__name__,
        plugin=plugin,
        params=dict(params or {}),
        reads=dict(reads if reads is not None else {p: p for p in plugin.inputs}),
        writes=dict(writes if writes is not None else {p: p for p in plugin.outputs}),
        where=f"case.yaml (pipeline[{index}])",
    )


def make_hub(root: Path, *sources: DataSource) -> DataCatalog:
    (root / "data").mkdir(exist_ok=True)
    return DataCatalog({s.name: s for s in sources}, project_root=root)


def runner(steps: list[Step], hub: DataCatalog, **kwargs: Any) -> PipelineRunner:
    return PipelineRunner(Plan(case=CASE, steps=steps), hub, run_id=RUN_ID, **kwargs)


# -- order and results ----------------------------------------------------------------------


def test_steps_run_in_plan_order_and_are_listed(tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []

    class Source(BasePlugin):
        """Write a list."""

        outputs: ClassVar[dict[str, str]] = {"numbers": "Numbers."}
        count = Param(3, "How many.")

        def run(self, hub: DataHub) -> None:
            calls.append((self.step, self.count))
            hub["numbers"] = list(range(self.count))

    class Doubler(BasePlugin):
        """Double the numbers."""

        inputs: ClassVar[dict[str, str]] = {"numbers": "Numbers."}
        outputs: ClassVar[dict[str, str]] = {"doubled": "Twice the numbers."}

        def run(self, hub: DataHub) -> None:
            calls.append((self.step, 0))
            hub["doubled"] = {"values": [2 * n for n in hub["numbers"]]}

    hub = make_hub(tmp_path, json_source(tmp_path, "numbers"), memory_source("twice"))
    steps = [
        step(0, Source, name="make", params={"count": 4}),
        step(1, Doubler, writes={"doubled": "twice"}),
    ]
    result = runner(steps, hub).run()

    assert calls == [("make", 4), ("Doubler", 0)]
    assert isinstance(result, RunResult)
    assert result.run_id == RUN_ID
    assert result.case == CASE
    assert result.hub is hub
    assert [(s.name, s.plugin) for s in result.steps] == [
        ("make", "Source"),
        ("Doubler", "Doubler"),
    ]
    assert all(isinstance(s, StepOutcome) and s.seconds >= 0 for s in result.steps)
    assert {k: v.kind for k, v in result.steps[0].outputs.items()} == {"numbers": "list of 4"}
    assert {k: v.kind for k, v in result.steps[1].outputs.items()} == {"twice": "dict of 1"}
    assert result.seconds >= sum(s.seconds for s in result.steps) * 0.5
    assert hub["twice"] == {"values": [0, 2, 4, 6]}
    # the persisted output is on disk, written through the format
    assert json.loads((tmp_path / "data" / "numbers.json").read_text(encoding="utf-8")) == [
        0,
        1,
        2,
        3,
    ]


def test_plan_order_is_kept_even_against_index_order(tmp_path: Path) -> None:
    calls: list[str] = []

    class Note(BasePlugin):
        """Note the step."""

        def run(self, hub: DataHub) -> None:
            calls.append(self.step)

    steps = [step(2, Note, name="c"), step(0, Note, name="a"), step(1, Note, name="b")]
    result = runner(steps, make_hub(tmp_path)).run()
    assert calls == ["c", "a", "b"]
    assert [s.name for s in result.steps] == ["c", "a", "b"]
    assert [s.outputs for s in result.steps] == [{}, {}, {}]


def test_run_selected_steps_only(tmp_path: Path) -> None:
    calls: list[str] = []

    class Note(BasePlugin):
        """Note the step."""

        def run(self, hub: DataHub) -> None:
            calls.append(self.step)

    steps = [step(0, Note, name="a"), step(1, Note, name="b"), step(2, Note, name="c")]
    result = runner(steps, make_hub(tmp_path)).run([steps[1]])
    assert calls == ["b"]
    assert [s.name for s in result.steps] == ["b"]


def test_default_run_id_is_generated(tmp_path: Path) -> None:
    run = PipelineRunner(Plan(case=CASE, steps=[]), make_hub(tmp_path))
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", run.run_id)
    assert run.release_memory is True
    result = run.run()
    assert result.run_id == run.run_id
    assert result.steps == []


# -- memory release -------------------------------------------------------------------------


class Read(BasePlugin):
    """Read raw, write mid."""

    inputs: ClassVar[dict[str, str]] = {"raw": "Raw."}
    outputs: ClassVar[dict[str, str]] = {"mid": "Mid."}

    def run(self, hub: DataHub) -> None:
        hub["mid"] = {"n": len(hub["raw"])}


class Scratch(BasePlugin):
    """Read mid, write a memory-only scratch value."""

    inputs: ClassVar[dict[str, str]] = {"mid": "Mid."}
    outputs: ClassVar[dict[str, str]] = {"scratch": "Scratch."}

    def run(self, hub: DataHub) -> None:
        hub["scratch"] = [hub["mid"]["n"]]


def release_setup(tmp_path: Path) -> tuple[DataCatalog, list[Step], dict[str, bool]]:
    """raw (json, on disk) -> Read -> mid (json) -> Scratch -> scratch (memory); Final reads raw."""
    seen: dict[str, bool] = {}

    class Final(BasePlugin):
        """Read raw again, write out (the test peeks at the catalog the plugin cannot see)."""

        inputs: ClassVar[dict[str, str]] = {"raw": "Raw."}
        outputs: ClassVar[dict[str, str]] = {"out": "Out."}

        def run(self, hub: DataHub) -> None:
            seen["raw in memory before Final"] = catalog.in_memory("raw")
            seen["mid in memory before Final"] = catalog.in_memory("mid")
            hub["out"] = {"raw": len(hub["raw"])}

    catalog = make_hub(
        tmp_path,
        json_source(tmp_path, "raw"),
        json_source(tmp_path, "mid"),
        memory_source("scratch"),
        json_source(tmp_path, "out"),
    )
    (tmp_path / "data" / "raw.json").write_text("[1, 2, 3]", encoding="utf-8")
    steps = [step(0, Read), step(1, Scratch), step(2, Final)]
    return catalog, steps, seen


def test_persisted_source_is_released_after_its_last_reader(tmp_path: Path) -> None:
    hub, steps, seen = release_setup(tmp_path)
    runner(steps, hub).run()
    # raw is read again by the last step: kept in memory until then
    assert seen["raw in memory before Final"] is True
    # mid was last read by Scratch (step 2 of 3): released, still on disk
    assert seen["mid in memory before Final"] is False
    assert not hub.in_memory("mid")
    assert hub.status("mid") is Status.ON_DISK
    assert (tmp_path / "data" / "mid.json").is_file()
    assert hub["mid"] == {"n": 3}  # loaded again from disk on demand


def test_nothing_is_released_after_the_final_step(tmp_path: Path) -> None:
    hub, steps, _ = release_setup(tmp_path)
    runner(steps, hub).run()
    assert hub.in_memory("raw")
    assert hub.in_memory("out")
    assert hub.status("out") is Status.IN_MEMORY
    assert hub.status("raw") is Status.IN_MEMORY


def test_memory_source_without_later_reader_is_released(tmp_path: Path) -> None:
    hub, steps, _ = release_setup(tmp_path)
    result = runner(steps, hub).run()
    assert {k: v.kind for k, v in result.steps[1].outputs.items()} == {"scratch": "list of 1"}
    assert not hub.in_memory("scratch")
    assert hub.status("scratch") is Status.RELEASED
    assert hub.status("scratch") == "released"


def test_release_memory_false_keeps_everything(tmp_path: Path) -> None:
    hub, steps, seen = release_setup(tmp_path)
    runner(steps, hub, release_memory=False).run()
    assert seen["mid in memory before Final"] is True
    for name in ("raw", "mid", "scratch", "out"):
        assert hub.in_memory(name), name
        assert hub.status(name) is Status.IN_MEMORY


def test_single_step_run_releases_nothing(tmp_path: Path) -> None:
    hub, steps, _ = release_setup(tmp_path)
    runner(steps, hub).run([steps[0]])
    assert hub.in_memory("raw")
    assert hub.in_memory("mid")


# -- failures -------------------------------------------------------------------------------


def test_missing_declared_output_fails_naming_the_output(tmp_path: Path) -> None:
    class Lazy(BasePlugin):
        """Declares two outputs, writes one."""

        outputs: ClassVar[dict[str, str]] = {"written": "Written.", "forgotten": "Never written."}

        def run(self, hub: DataHub) -> None:
            hub["written"] = {"ok": True}

    hub = make_hub(tmp_path, memory_source("w"), memory_source("f"))
    steps = [step(0, Lazy, writes={"written": "w", "forgotten": "f"})]
    with pytest.raises(
        StepFailed,
        match=rf"^step 1 'Lazy' of case '{CASE}' failed in run {RUN_ID}: "
        r"it did not write its declared output 'forgotten'$",
    ) as info:
        runner(steps, hub).run()
    assert info.value.reason == "it did not write its declared output 'forgotten'"
    assert info.value.__cause__ is None


def test_exception_is_wrapped_with_step_plugin_case_and_run_id(tmp_path: Path) -> None:
    class First(BasePlugin):
        """Write a value."""

        outputs: ClassVar[dict[str, str]] = {"first": "First."}

        def run(self, hub: DataHub) -> None:
            hub["first"] = {"done": 1}

    class Boom(BasePlugin):
        """Always fails."""

        def run(self, hub: DataHub) -> None:
            raise ValueError("bad value\nwith details")

    class Never(BasePlugin):
        """Must not run."""

        def run(self, hub: DataHub) -> None:
            raise AssertionError("ran after a failure")

    hub = make_hub(tmp_path, json_source(tmp_path, "first"))
    steps = [step(0, First), step(1, Boom, name="explode"), step(2, Never)]
    with pytest.raises(
        StepFailed,
        match=rf"^step 2 'explode' \(plugin Boom\) of case '{CASE}' failed in run "
        rf"{RUN_ID}: ValueError: bad value \(.*test_runner\.py:\d+ in run; --debug shows the "
        r"traceback\)$",
    ) as info:
        runner(steps, hub).run()
    exc = info.value
    assert (exc.step, exc.index, exc.plugin, exc.case, exc.run_id) == (
        "explode",
        1,
        "Boom",
        CASE,
        RUN_ID,
    )
    assert isinstance(exc.__cause__, ValueError)
    assert str(exc.__cause__) == "bad value\nwith details"
    # the output of the step before the failure is complete on disk
    assert json.loads((tmp_path / "data" / "first.json").read_text(encoding="utf-8")) == {"done": 1}


def test_failure_uses_the_steps_own_index(tmp_path: Path) -> None:
    class Boom(BasePlugin):
        """Always fails."""

        def run(self, hub: DataHub) -> None:
            raise RuntimeError

    steps = [step(0, Boom, name="a"), step(4, Boom, name="e")]
    with pytest.raises(
        StepFailed, match=r"^step 5 'e' \(plugin Boom\) .*: RuntimeError \(.*:\d+ in run; --debug"
    ):
        runner(steps, make_hub(tmp_path)).run([steps[1]])


def test_bad_params_are_wrapped_too(tmp_path: Path) -> None:
    class Typed(BasePlugin):
        """Needs an int."""

        count = Param(1, "Count.")

        def run(self, hub: DataHub) -> None:
            pass

    steps = [step(0, Typed, params={"count": "many"})]
    with pytest.raises(StepFailed, match=r"param 'count' must be int, got str 'many'") as info:
        runner(steps, make_hub(tmp_path)).run()
    assert type(info.value.__cause__).__name__ == "ConfigError"


def test_undeclared_read_is_wrapped(tmp_path: Path) -> None:
    class Sneaky(BasePlugin):
        """Reads what it does not declare."""

        inputs: ClassVar[dict[str, str]] = {"allowed": "Allowed."}

        def run(self, hub: DataHub) -> None:
            hub["secret"]

    hub = make_hub(tmp_path, memory_source("allowed"), memory_source("secret"))
    steps = [step(0, Sneaky)]
    with pytest.raises(
        StepFailed,
        match=r"^step 1 'Sneaky' of case 'unit' failed in run .*: step 'Sneaky' read 'secret', "
        r"which it does not declare as an input \(declared inputs: allowed\)",
    ) as info:
        runner(steps, hub).run()
    assert isinstance(info.value.__cause__, DataAccessError)
    assert "DataAccessError" not in str(info.value)  # our own errors keep their message


def test_keyboard_interrupt_propagates_unwrapped(tmp_path: Path) -> None:
    class Interrupted(BasePlugin):
        """Interrupted by the user."""

        def run(self, hub: DataHub) -> None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner([step(0, Interrupted)], make_hub(tmp_path)).run()


# -- run ids --------------------------------------------------------------------------------


def test_new_run_id_format() -> None:
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", new_run_id())


def test_new_run_ids_are_unique() -> None:
    ids = [new_run_id() for _ in range(100)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", i) for i in ids)


def test_new_run_ids_sort_by_time() -> None:
    first = new_run_id()
    assert first[:15] <= new_run_id()[:15]
