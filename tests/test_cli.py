"""End-to-end tests: the real commands on a throwaway copy of the project."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import DEMO_PLUGINS, REPO, run_subprocess, tree_hash

DEMO_SOURCES = [
    "wheel_speed_raw",
    "imu_raw",
    "gps_raw",
    "wheel",
    "imu",
    "gps",
    "aligned",
    "clean",
    "features",
    "events",
    "report",
    "profile",
    "quality_results",
]


def test_help_imports_no_data_library_and_no_plugin() -> None:
    code = (
        "import sys\n"
        "from datareplay.cli.main import main\n"
        "rc = main(['--help'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pandas', 'pyarrow', 'numpy', 'pydantic') or m.startswith('datareplay_plugins'))\n"
        "print('HEAVY', heavy, rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY [] 0" in proc.stdout
    assert "pipeline" in proc.stdout and "generate-docs" in proc.stdout


def test_version_and_console_script_are_the_same_program(project: Path) -> None:
    script = Path(sys.executable).with_name("datareplay")
    via_script = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    via_run_py = run_subprocess(project, "--version")
    assert via_script.returncode == 0 and via_run_py.code == 0
    assert via_script.stdout == via_run_py.out
    assert via_run_py.out.startswith("datareplay, version ")


def test_pipeline_demo_runs_and_prints_the_hub_summary(project: Path) -> None:
    result = run_subprocess(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    for name in DEMO_SOURCES:
        assert name in result.out
    assert "step 8/8 ReportWriter" in result.err
    data = project / "cases" / "demo" / "data"
    for name, ext in [("aligned", "parquet"), ("events", "csv"), ("report", "json")]:
        assert (data / f"{name}.{ext}").is_file()
    from datareplay.data.formats import FORMATS

    report = FORMATS["json"].read(data / "report.json", {})  # type: ignore[misc]
    metrics = dict(zip(report["metric"], report["value"], strict=True))
    assert any("distance" in key for key in metrics)


def test_summary_reports_status_shape_size_and_path(project: Path, cli) -> None:
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    table = result.out.split("\n\n")[1].splitlines()[2:]  # the hub summary, not quality
    lines = {line.split()[0]: line for line in table}
    assert "in memory" in lines["report"] and "DataFrame" in lines["report"]
    assert "cases/demo/data/report.json" in lines["report"]
    # raw sources are read early and released once nothing later needs them
    assert "on disk" in lines["wheel_speed_raw"]
    assert "data/raw/drive/wheel_speed.parquet" in lines["wheel_speed_raw"]


def test_template_creates_case_byte_for_byte_and_shares_raw_data(project: Path, cli) -> None:
    result = cli(project, "pipeline", "--case", "my_new_case", "--template", "demo")
    assert result.code == 0, result.err
    case_file = project / "cases" / "my_new_case" / "case.yaml"
    assert case_file.read_bytes() == (project / "templates" / "demo_case.yaml").read_bytes()
    outputs = sorted(p.name for p in (project / "cases" / "my_new_case" / "data").iterdir())
    assert "report.json" in outputs
    assert not any(name.startswith(("wheel_speed_raw", "imu_raw", "gps_raw")) for name in outputs)
    # running again with the same template is fine: the case.yaml is identical
    assert cli(project, "pipeline", "--case", "my_new_case", "--template", "demo").code == 0


def test_template_never_overwrites_a_different_case(project: Path, cli) -> None:
    case_file = project / "cases" / "demo" / "case.yaml"
    case_file.write_text(case_file.read_text() + "# edited by hand\n")
    before = tree_hash(project / "cases")
    result = cli(project, "pipeline", "--case", "demo", "--template", "demo")
    assert result.code == 2
    assert "already exists with a different cases/demo/case.yaml" in result.err
    assert tree_hash(project / "cases") == before


def test_plugin_runs_alone_from_raw_data(project: Path, cli) -> None:
    result = cli(project, "plugin", "InitialDataReader", "--case", "demo")
    assert result.code == 0, result.err
    data = project / "cases" / "demo" / "data"
    assert sorted(p.name for p in data.iterdir()) == [
        "gps.feather",
        "imu.feather",
        "quality_results.parquet",  # `wheel` has checks, evaluated when it is written
        "wheel.feather",
    ]
    # the next step now finds its inputs on disk
    assert cli(project, "plugin", "SignalAligner", "--case", "demo").code == 0
    assert (data / "aligned.parquet").is_file()


def test_plugin_with_missing_input_names_the_producer(project: Path, cli) -> None:
    result = cli(project, "plugin", "SignalCleaner", "--case", "demo")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "needs input 'aligned'" in result.err
    assert "written by step 'SignalAligner'" in result.err
    assert "plugin SignalAligner --case demo" in result.err
    assert not (project / "cases" / "demo" / "data" / "clean.parquet").exists()


def test_unknown_plugin_suggests_the_closest_name(project: Path, cli) -> None:
    result = cli(project, "plugin", "InitialDataReadr", "--case", "demo")
    assert result.code == 2
    assert "did you mean 'InitialDataReader'?" in result.err


def test_generate_data_is_deterministic_and_scales(bare_project: Path, cli) -> None:
    raw = bare_project / "data" / "raw" / "drive"
    assert cli(bare_project, "generate-data", "--rows", "5000", "--seed", "7").code == 0
    first = {p.name: p.read_bytes() for p in raw.iterdir()}
    assert cli(bare_project, "generate-data", "--rows", "5000", "--seed", "7").code == 0
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == first
    assert cli(bare_project, "generate-data", "--rows", "5000", "--seed", "8").code == 0
    assert {p.name: p.read_bytes() for p in raw.iterdir()} != first
    assert len(pd.read_parquet(raw / "wheel_speed.parquet")) == 5000


def test_pipeline_generates_missing_raw_data_first(bare_project: Path, cli) -> None:
    result = cli(bare_project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    assert "raw data missing (data/raw/drive/" in result.err
    assert (bare_project / "data" / "raw" / "drive" / "wheel_speed.parquet").is_file()


def test_generate_docs_check_detects_stale_docs(project: Path, cli) -> None:
    assert cli(project, "generate-docs").code == 0
    fresh = (project / "PLUGINS.md").read_bytes()
    assert cli(project, "generate-docs", "--check").code == 0
    (project / "PLUGINS.md").write_text("# stale\n")
    stale = cli(project, "generate-docs", "--check")
    assert stale.code == 1 and "PLUGINS.md is stale" in stale.err
    assert cli(project, "generate-docs").code == 0
    assert (project / "PLUGINS.md").read_bytes() == fresh


def test_committed_plugins_md_is_current(bare_project: Path) -> None:
    """The committed PLUGINS.md documents every shipped plugin as it is now.

    The docs are generated on the shipped demo project and each shipped plugin's section
    must appear verbatim in the repository's PLUGINS.md. Sections a user added for their
    own plugins (after `generate-docs`, as the README says) are allowed beside them.
    """
    generated = bare_project / "generated.md"
    proc = run_subprocess(bare_project, "generate-docs", "--output", str(generated))
    assert proc.code == 0, proc.err
    committed = (REPO / "PLUGINS.md").read_text(encoding="utf-8")
    pieces = re.split(r"\n(?=##+ )", generated.read_text(encoding="utf-8"))
    sections = {p.split("\n", 1)[0][4:]: p.rstrip() for p in pieces if p.startswith("### ")}
    assert set(DEMO_PLUGINS) | {"QualityGate", "DataProfiler"} == set(sections)
    stale = [name for name, text in sections.items() if text not in committed]
    assert not stale, f"PLUGINS.md is stale for {stale}; run 'python run.py generate-docs'"


def test_failing_step_keeps_earlier_outputs_and_names_the_step(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    data = project / "cases" / "demo" / "data"
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    case_file = project / "cases" / "demo" / "case.yaml"
    (project / "modules" / "boom.py").write_text(
        '"""A plugin that fails."""\n'
        "from datareplay import BasePlugin\n\n\n"
        "class Boom(BasePlugin):\n"
        '    """Raise on purpose."""\n\n'
        '    inputs = {"features": "anything"}\n'
        '    outputs = {"boom": "never written"}\n\n'
        "    def run(self, hub):\n"
        '        hub["features"]\n'
        '        raise ValueError("sensor table is empty")\n'
    )
    case_file.write_text(
        case_file.read_text().replace("  report:\n", "  boom: {}\n  report:\n")
        + "  - plugin: Boom\n"
    )
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 1
    assert "step 9 'Boom' of case 'demo' failed in run " in result.err
    assert "ValueError: sensor table is empty" in result.err
    assert "Traceback" not in result.err
    after = {p.name: p.read_bytes() for p in data.iterdir()}
    assert set(after) == set(before)
    assert not (data / "boom.parquet").exists()


def test_debug_shows_the_traceback(project: Path, cli) -> None:
    result = cli(project, "--debug", "pipeline", "--case", "nope")
    assert result.code == 2
    assert "Traceback" in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["pipeline", "--case", "dmeo"],
            "unknown case 'dmeo' (no cases/dmeo/case.yaml); did you mean 'demo'?",
        ),
        (["pipeline", "--case", "../x"], "invalid case name '../x'"),
        (["pipeline", "--case", "/abs"], "invalid case name '/abs'"),
        (["pipeline", "--case", "x", "--template", "../demo"], "invalid template name"),
        (["pipeline", "--case", "ok", "--template", "dmeo"], "unknown template 'dmeo'"),
        (["pipeline", "--case", "ok", "--template", "../../etc"], "invalid template name"),
        (["pipeline", "--cas", "demo"], "No such option '--cas'"),
        (["pipeline"], "Missing option '--case'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["generate-data", "--rows", "ten"], "'ten' is not a valid integer"),
    ],
)
def test_bad_command_lines_exit_2_with_one_line(
    project: Path, cli, args: list[str], message: str
) -> None:
    before = tree_hash(project)
    result = cli(project, *args)
    assert result.code == 2
    assert message in result.err
    assert result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    assert tree_hash(project) == before
    assert not (project.parent / "x").exists() and not Path("/abs").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_sources: [\n", "cases/demo/case.yaml:2:1: YAML syntax error"),
        ("pipeline: []\npipeline: []\n", "duplicate key 'pipeline'"),
        ("pipline: []\n", "unknown key 'pipline'; did you mean 'pipeline'?"),
        ("- 1\n- 2\n", "the top level must be a mapping"),
        ("x: !!python/object/apply:os.system [echo hi]\n", "is not allowed in configuration"),
        (
            "data_sources: {a: {}}\npipeline:\n  - plugin: Nope\n",
            "cases/demo/case.yaml:3 (pipeline[0]): unknown plugin 'Nope'",
        ),
    ],
)
def test_bad_case_files_exit_2_and_change_nothing(
    project: Path, cli, text: str, message: str
) -> None:
    (project / "cases" / "demo" / "case.yaml").write_text(text)
    before = tree_hash(project)
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 2, result.err
    assert message in result.err
    assert result.err.count("\n") == 1, result.err
    assert tree_hash(project) == before


def test_no_project_found_is_a_usage_error(tmp_path: Path, cli) -> None:
    result = cli(tmp_path, "pipeline", "--case", "demo")
    assert result.code == 2
    assert "no Data Replay project" in result.err


def test_report_numbers_make_sense(project: Path, cli) -> None:
    assert cli(project, "pipeline", "--case", "demo").code == 0
    report = json.loads((project / "cases" / "demo" / "data" / "report.json").read_text())
    rows = {row["metric"]: row["value"] for row in report["data"]}
    distance = next(v for k, v in rows.items() if "distance" in k)
    duration = next(v for k, v in rows.items() if "duration" in k)
    assert distance > 0 and duration > 0


def test_no_command_shows_the_help(project: Path, cli) -> None:
    result = cli(project)
    assert result.code == 0
    assert result.out.startswith("Usage: datareplay [OPTIONS] COMMAND [ARGS]...")
    assert "pipeline" in result.out and result.err == ""


def test_generate_data_without_a_generator_says_what_to_add(bare_project: Path, cli) -> None:
    (bare_project / "scripts" / "generation.py").unlink()
    result = cli(bare_project, "generate-data")
    assert result.code == 2
    assert "this project has no scripts/generation.py" in result.err
    (bare_project / "scripts" / "generation.py").write_text("def make():\n    pass\n")
    result = cli(bare_project, "generate-data")
    assert result.code == 2
    assert "has no generate(root, *, rows, seed) function" in result.err
    (bare_project / "scripts" / "generation.py").write_text("import no_such_module\n")
    result = cli(bare_project, "generate-data")
    assert result.code == 2
    assert "scripts/generation.py failed to import: ModuleNotFoundError" in result.err
    assert not (bare_project / "data").exists()
