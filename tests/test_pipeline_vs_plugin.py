"""The same step gives the same outputs in ``pipeline`` and in ``plugin`` alone.

In a pipeline a step reads what earlier steps left in memory; run alone it reads what
they stored. Both must give byte-identical outputs: what is stored is what was computed,
and no step changed what a later one reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import CliResult
from datareplay.api import run_pipeline, run_plugin
from datareplay.data.storage import hash_file
from datareplay.run.step import StepOutcome


def hashes(steps: list[StepOutcome]) -> dict[str, dict[str, str | None]]:
    return {
        step.name: {name: ref.content_hash for name, ref in step.outputs.items()} for step in steps
    }


def test_every_demo_step_alone_writes_what_it_wrote_in_the_pipeline(
    project: Path, cli: Callable[..., CliResult]
) -> None:
    pipeline = run_pipeline("demo", project=project)
    expected = hashes(pipeline.steps)
    assert all(ref for outputs in expected.values() for ref in outputs.values())
    alone: dict[str, dict[str, str | None]] = {}
    for step in pipeline.steps:  # each from disk, in a fresh catalog
        alone.update(hashes(run_plugin("demo", step.name, project=project).steps))
    assert alone == expected
    # the csv outputs, where a round trip is easiest to lose
    assert alone["EventDetector"]["events"] == expected["EventDetector"]["events"]
    assert alone["DataProfiler"]["profile"] == expected["DataProfiler"]["profile"]
    # and through the command line, as a user runs it
    for step in pipeline.steps:
        result = cli(project, "plugin", step.name, "--case", "demo")
        assert result.code == 0, result.err
        for ref in step.outputs.values():
            assert ref.location is not None
            assert hash_file(Path(ref.location))[0] == ref.content_hash, (step.name, ref.source)


def test_a_step_that_changes_its_input_in_place_changes_no_later_step(project: Path) -> None:
    module = project / "modules" / "centering.py"
    module.write_text(
        '''"""A plugin that changes the frame it read, in place."""

from __future__ import annotations

from datareplay import BasePlugin, DataHub


class Centering(BasePlugin):
    """Subtract the mean speed from the features it read, in place."""

    inputs = {"features": "Features."}
    outputs = {"centered": "Mean speed, after centering in place."}

    def run(self, hub: DataHub) -> None:
        frame = hub["features"]
        frame["speed_mps"] -= frame["speed_mps"].mean()
        frame.loc[frame.index[0], "jerk_mps3"] = 1e9
        frame.fillna(0.0, inplace=True)
        hub["centered"] = frame.reset_index(drop=True)
''',
        encoding="utf-8",
    )
    case = project / "cases" / "demo" / "case.yaml"
    text = case.read_text(encoding="utf-8")
    text = text.replace(
        "  - plugin: EventDetector\n",
        "  - plugin: Centering\n  - plugin: EventDetector\n",
    ).replace("data_sources:\n", "data_sources:\n  centered: {format: memory}\n", 1)
    case.write_text(text, encoding="utf-8")
    pipeline = run_pipeline("demo", project=project)
    expected = hashes(pipeline.steps)
    for name in ("EventDetector", "ReportWriter"):
        alone = hashes(run_plugin("demo", name, project=project).steps)
        assert alone[name] == expected[name]
