"""Incremental runs: a step whose code, params and inputs are unchanged is restored from
an earlier run instead of run, says why when it runs, and a failed run resumes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from conftest import CliResult

PLUGINS = '''"""Plugins for the incremental-run tests; each counts its runs in $COUNTS."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar

import pandas as pd

from datareplay import BasePlugin, DataHub, Param

from .helper import twice


def _count(name: str) -> None:
    with open(os.environ["COUNTS"], "a", encoding="utf-8") as fh:
        fh.write(name + "\\n")


class Scale(BasePlugin):
    """Multiply the raw values."""

    inputs: ClassVar[dict[str, str]] = {"raw": "Raw values."}
    outputs: ClassVar[dict[str, str]] = {"scaled": "Scaled values."}
    factor = Param(2.0, "Factor.")

    def run(self, hub: DataHub) -> None:
        _count("Scale")
        frame = hub["raw"]
        hub["scaled"] = pd.DataFrame({"v": frame["v"] * self.factor})


class Clip(BasePlugin):
    """Clip the values to at most ``top`` (often a no-op: early cutoff)."""

    inputs: ClassVar[dict[str, str]] = {"values": "Values."}
    outputs: ClassVar[dict[str, str]] = {"clipped": "Clipped values."}
    top = Param(1000.0, "Upper bound.")

    def run(self, hub: DataHub) -> None:
        _count("Clip")
        hub["clipped"] = pd.DataFrame({"v": hub["values"]["v"].clip(upper=self.top)})


class Double(BasePlugin):
    """Double the values through a helper module."""

    inputs: ClassVar[dict[str, str]] = {"values": "Values."}
    outputs: ClassVar[dict[str, str]] = {"doubled": "Doubled values."}

    def run(self, hub: DataHub) -> None:
        _count("Double")
        if Path(os.environ["COUNTS"]).with_name("fail").exists():
            raise RuntimeError("injected failure")
        hub["doubled"] = pd.DataFrame({"v": twice(hub["values"]["v"])})


class Total(BasePlugin):
    """Sum the values."""

    inputs: ClassVar[dict[str, str]] = {"values": "Values."}
    outputs: ClassVar[dict[str, str]] = {"total": "One row: the sum."}

    def run(self, hub: DataHub) -> None:
        _count("Total")
        hub["total"] = pd.DataFrame({"sum": [float(hub["values"]["v"].sum())]})


class Stamp(BasePlugin):
    """Write the time: not cacheable."""

    cacheable = False
    inputs: ClassVar[dict[str, str]] = {"values": "Values."}
    outputs: ClassVar[dict[str, str]] = {"stamp": "The time."}

    def run(self, hub: DataHub) -> None:
        _count("Stamp")
        hub["stamp"] = pd.DataFrame({"t": [time.time_ns()], "n": [len(hub["values"])]})


class Noise(BasePlugin):
    """Write random numbers while claiming to be cacheable (not deterministic)."""

    inputs: ClassVar[dict[str, str]] = {"values": "Values."}
    outputs: ClassVar[dict[str, str]] = {"noise": "Random."}

    def run(self, hub: DataHub) -> None:
        _count("Noise")
        hub["noise"] = pd.DataFrame({"r": [os.urandom(8).hex()]})
'''

HELPER = '''"""A helper module the Double plugin imports."""


def twice(values):
    return values * 2
'''

CASE = """description: incremental-run tests
data_sources:
  raw: {path: data/raw/values.csv, format: csv, read_only: true}
  scaled: {format: parquet, checks: [{check: not_null, column: v}]}
  clipped: {format: parquet}
  doubled: {format: parquet}
  total: {format: csv}
pipeline:
  - {plugin: Scale, inputs: {raw: raw}, outputs: {scaled: scaled}}
  - {plugin: Clip, inputs: {values: scaled}, outputs: {clipped: clipped}}
  - {plugin: Double, inputs: {values: clipped}, outputs: {doubled: doubled}}
  - {plugin: Total, inputs: {values: doubled}, outputs: {total: total}}
"""

MEMORY_CASE = """description: a memory source between two steps
data_sources:
  raw: {path: data/raw/values.csv, format: csv, read_only: true}
  scaled: {format: memory}
  doubled: {format: parquet}
  total: {format: csv}
pipeline:
  - {plugin: Scale, inputs: {raw: raw}, outputs: {scaled: scaled}}
  - {plugin: Double, inputs: {values: scaled}, outputs: {doubled: doubled}}
  - {plugin: Total, inputs: {values: doubled}, outputs: {total: total}}
"""

STAMP_CASE = """description: a step that is not cacheable, and one that is not deterministic
data_sources:
  raw: {path: data/raw/values.csv, format: csv, read_only: true}
  scaled: {format: parquet}
  stamp: {format: csv}
  noise: {format: csv}
pipeline:
  - {plugin: Scale, inputs: {raw: raw}, outputs: {scaled: scaled}}
  - {plugin: Stamp, inputs: {values: scaled}, outputs: {stamp: stamp}}
  - {plugin: Noise, inputs: {values: scaled}, outputs: {noise: noise}}
"""


@pytest.fixture
def inc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "inc"
    (root / "config").mkdir(parents=True)
    (root / "config" / "global.yaml").write_text("plugins: {paths: [modules]}\n")
    (root / "modules").mkdir()
    (root / "modules" / "steps.py").write_text(PLUGINS)
    (root / "modules" / "helper.py").write_text(HELPER)
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / "values.csv").write_text("v\n1\n2\n3\n4\n")
    for name, text in (("c", CASE), ("mem", MEMORY_CASE), ("stamp", STAMP_CASE)):
        (root / "cases" / name).mkdir(parents=True)
        (root / "cases" / name / "case.yaml").write_text(text)
    monkeypatch.setenv("COUNTS", str(tmp_path / "counts"))
    monkeypatch.delenv("DATAREPLAY_NO_CACHE", raising=False)
    return root


def ran(tmp_path: Path) -> list[str]:
    """The plugins that ran since the last call (and forget them)."""
    counts = tmp_path / "counts"
    names = counts.read_text().split() if counts.exists() else []
    counts.unlink(missing_ok=True)
    return names


def steps_of(cli: Callable[..., CliResult], root: Path) -> list[tuple[str, str, str]]:
    """(name, status, reason) per step of the latest run's record."""
    record = json.loads(cli(root, "show", "last", "--json").out)
    return [(s["name"], s["status"], s["reason"]) for s in record["steps"]]


def run(cli: Callable[..., CliResult], root: Path, *args: str) -> CliResult:
    result = cli(root, "pipeline", "--case", "c", *args)
    assert result.code == 0, result.err
    return result


def test_a_rerun_with_nothing_changed_restores_every_step(inc: Path, cli, tmp_path) -> None:
    first = run(cli, inc)
    assert ran(tmp_path) == ["Scale", "Clip", "Double", "Total"]
    assert "no earlier run" in first.err
    before = {p.name: p.read_bytes() for p in (inc / "cases" / "c" / "data").iterdir()}
    second = run(cli, inc)
    assert ran(tmp_path) == []
    assert [s[1] for s in steps_of(cli, inc)] == ["cached"] * 4
    assert "(0 ran, 4 cached)" in second.out
    after = {p.name: p.read_bytes() for p in (inc / "cases" / "c" / "data").iterdir()}
    assert after == before
    # the cached step's quality results are in this run's results
    quality = pd.read_parquet(inc / "cases" / "c" / "data" / "quality_results.parquet")
    assert list(quality["check"]) == ["not_null(v)"]
    assert list(quality["passed"]) == [True]


def test_a_changed_param_reruns_that_step_and_names_the_change(inc: Path, cli, tmp_path) -> None:
    run(cli, inc)
    ran(tmp_path)
    run(cli, inc, "--set", "pipeline.Double.params={}", "--set", "pipeline.Scale.params.factor=3")
    assert ran(tmp_path) == ["Scale", "Clip", "Double", "Total"]
    reasons = dict((name, reason) for name, _, reason in steps_of(cli, inc))
    assert reasons["Scale"] == "params.factor 2.0 → 3.0"
    assert reasons["Clip"] == "input scaled changed"


def test_early_cutoff_keeps_later_steps_cached(inc: Path, cli, tmp_path) -> None:
    run(cli, inc)
    ran(tmp_path)
    # a bound above every value: Clip runs again but writes the same bytes
    run(cli, inc, "--set", "pipeline.Clip.params.top=5000")
    assert ran(tmp_path) == ["Clip"]
    statuses = [s[1] for s in steps_of(cli, inc)]
    assert statuses == ["cached", "succeeded", "cached", "cached"]


def test_a_changed_raw_input_reruns_its_readers(inc: Path, cli, tmp_path) -> None:
    run(cli, inc)
    ran(tmp_path)
    (inc / "data" / "raw" / "values.csv").write_text("v\n1\n2\n3\n5\n")
    run(cli, inc)
    assert ran(tmp_path) == ["Scale", "Clip", "Double", "Total"]
    assert steps_of(cli, inc)[0][2] == "input raw changed"


def test_a_changed_helper_module_reruns_the_plugins_that_import_it(
    inc: Path, cli, tmp_path
) -> None:
    run(cli, inc)
    ran(tmp_path)
    (inc / "modules" / "helper.py").write_text(HELPER + "\n# a comment changes the bytes\n")
    run(cli, inc)
    # every plugin of steps.py imports the helper module
    assert ran(tmp_path) == ["Scale", "Clip", "Double", "Total"]
    reason = steps_of(cli, inc)[0][2]
    assert "helper" in reason and "changed" in reason


def test_the_code_fingerprint_follows_imports_of_the_plugin_folder(inc: Path) -> None:
    from datareplay.project.paths import Project
    from datareplay.session import Session

    registry = Session(Project.at(inc)).registry(["modules"])
    code = __import__("datareplay.plugins.loader", fromlist=["code_modules"]).code_modules(
        registry.get("Double")
    )
    assert sorted(name.rsplit(".", 1)[-1] for name in code) == ["helper", "steps"]
    assert all(value.startswith("xxh3_128:") for value in code.values())


def test_force_force_step_and_no_cache(inc: Path, cli, tmp_path) -> None:
    run(cli, inc)
    ran(tmp_path)
    run(cli, inc, "--force")
    assert ran(tmp_path) == ["Scale", "Clip", "Double", "Total"]
    assert {s[2] for s in steps_of(cli, inc)} == {"forced (--force)"}
    run(cli, inc, "--force-step", "Clip")
    assert ran(tmp_path) == ["Clip", "Double", "Total"]  # and what depends on it
    reasons = dict((n, r) for n, _, r in steps_of(cli, inc))
    assert reasons["Clip"] == "forced (--force-step Clip)"
    assert reasons["Total"] == "forced: depends on Clip (--force-step Clip)"
    run(cli, inc, "--no-cache")
    assert ran(tmp_path) == ["Scale", "Clip", "Double", "Total"]
    bad = cli(inc, "pipeline", "--case", "c", "--force-step", "Clp")
    assert bad.code != 0 and "Clip" in bad.err


def test_a_plugin_that_is_not_cacheable_always_runs(inc: Path, cli, tmp_path) -> None:
    assert cli(inc, "pipeline", "--case", "stamp").code == 0
    ran(tmp_path)
    result = cli(inc, "pipeline", "--case", "stamp", "--force-step", "Noise")
    assert result.code == 0, result.err
    assert ran(tmp_path) == ["Stamp", "Noise"]
    steps = steps_of(cli, inc)
    assert steps[1][1:] == ("succeeded", "not cacheable (Stamp.cacheable = False)")
    # Noise reran with an unchanged key and wrote other bytes: said, not hidden
    assert "is not deterministic" in result.err
    assert "NOT deterministic" in result.out


def test_a_memory_source_makes_its_producer_run_when_a_consumer_runs(
    inc: Path, cli, tmp_path
) -> None:
    assert cli(inc, "pipeline", "--case", "mem").code == 0
    ran(tmp_path)
    assert cli(inc, "pipeline", "--case", "mem").code == 0
    assert ran(tmp_path) == []  # nothing needs the memory value
    result = cli(inc, "pipeline", "--case", "mem", "--force-step", "Double")
    assert result.code == 0, result.err
    assert ran(tmp_path) == ["Scale", "Double", "Total"]
    reasons = dict((n, r) for n, _, r in steps_of(cli, inc))
    assert reasons["Scale"] == "its memory output is needed by step 'Double', which runs"


def test_partial_runs_and_their_errors(inc: Path, cli, tmp_path) -> None:
    missing = cli(inc, "pipeline", "--case", "c", "--from", "Double")
    assert missing.code != 0
    assert "'Clip'" in missing.err and "--to Clip" in missing.err
    run(cli, inc, "--to", "Clip")
    assert ran(tmp_path) == ["Scale", "Clip"]
    run(cli, inc, "--only", "Double,Total", "--no-cache")
    assert ran(tmp_path) == ["Double", "Total"]
    backwards = cli(inc, "pipeline", "--case", "c", "--from", "Total", "--to", "Scale")
    assert backwards.code != 0 and "no step is selected" in backwards.err
    unknown = cli(inc, "pipeline", "--case", "c", "--only", "Dubble")
    assert unknown.code != 0 and "Double" in unknown.err
    for args in (
        ("--only", ""),
        ("--only", "Total", "--from", "Scale"),
        ("--resume", "--to", "Clip"),
    ):
        refused = cli(inc, "pipeline", "--case", "c", *args)
        assert refused.code == 2, (args, refused.err)
    memory = cli(inc, "pipeline", "--case", "mem", "--from", "Double")
    assert memory.code != 0 and "kept in memory" in memory.err


def test_resume_after_a_failure_continues_at_the_failed_step(inc: Path, cli, tmp_path) -> None:
    clean = tmp_path / "clean"
    run(cli, inc, "--no-cache")
    clean_total = (inc / "cases" / "c" / "data" / "total.csv").read_bytes()
    del clean
    (inc / "cases" / "c" / "data" / "total.csv").unlink()
    ran(tmp_path)
    (tmp_path / "fail").write_text("x")
    failed = cli(inc, "pipeline", "--case", "c", "--no-cache")
    assert failed.code != 0
    assert "pipeline --case c --resume" in failed.out
    assert ran(tmp_path) == ["Scale", "Clip", "Double"]
    (tmp_path / "fail").unlink()
    resumed = cli(inc, "pipeline", "--case", "c", "--resume", "--no-cache")
    assert resumed.code == 0, resumed.err
    assert ran(tmp_path) == ["Double", "Total"]  # nothing before the failed step
    assert (inc / "cases" / "c" / "data" / "total.csv").read_bytes() == clean_total
    nothing = cli(inc, "pipeline", "--case", "c", "--resume")
    assert nothing.code != 0 and "nothing to resume" in nothing.err


def test_restored_outputs_come_back_from_the_object_store(inc: Path, cli, tmp_path) -> None:
    run(cli, inc)
    ran(tmp_path)
    doubled = inc / "cases" / "c" / "data" / "doubled.parquet"
    original = doubled.read_bytes()
    doubled.unlink()
    run(cli, inc)
    assert ran(tmp_path) == []
    assert doubled.read_bytes() == original
    # after gc of every record but the last, the rerun still finds its versions
    assert cli(inc, "gc", "--keep-last", "1").code == 0
    run(cli, inc)
    assert ran(tmp_path) == []


def test_explain_says_what_a_run_would_do(inc: Path, cli, tmp_path) -> None:
    run(cli, inc)
    ran(tmp_path)
    result = cli(inc, "explain", "--case", "c", "--set", "pipeline.Clip.params.top=2")
    assert result.code == 0, result.err
    rows = [line.split(None, 3) for line in result.out.splitlines()[2:]]
    decisions = {row[1]: row[2] for row in rows}
    assert decisions["Scale"] == "cached"
    assert decisions["Clip"] == "runs"
    assert decisions["Double"] == "may"  # "may run": only if Clip writes other bytes
    assert "params.top 1000.0 → 2" in result.out
    assert ran(tmp_path) == []  # explain runs nothing
    assert not os.environ.get("DATAREPLAY_NO_CACHE")
