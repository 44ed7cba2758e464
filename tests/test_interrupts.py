"""Ctrl-C from the first instruction: one line, exit code 130, never a traceback.

Every test sends SIGINT at a named point of a real process, deterministically: the test
hook ``DATAREPLAY_TEST_SIGINT_AT=<point>`` makes the process signal itself there, and a
stand-in package on ``PYTHONPATH`` that signals while it is imported reaches the moments
when click or the engine are being imported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import REPO, CliResult
from datareplay.cli import interrupts

LINE = f"error: {interrupts.MESSAGE}\n"
POINTS = ["start", "imported", "main", "session", "exit"]
CONSOLE_SCRIPT = "import sys; from datareplay.__main__ import run; sys.exit(run())"
ENTRIES = {  # how the program is started: run.py, python -m, the console script's wrapper
    "run.py": ["run.py"],
    "python -m": ["-m", "datareplay"],
    "console script": ["-c", CONSOLE_SCRIPT],
}


def start(project: Path, entry: list[str], *args: str, **env: str) -> CliResult:
    proc = subprocess.run(
        [sys.executable, *entry, *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATAREPLAY_PROJECT": str(project), **env},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def signalling_package(tmp_path: Path, name: str) -> str:
    """A folder with a package ``name`` that sends SIGINT while it is imported."""
    folder = tmp_path / f"sigint-in-{name}"
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(
        "import signal\nsignal.raise_signal(signal.SIGINT)\nraise SystemExit('not reached')\n"
    )
    return os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])


@pytest.mark.parametrize("point", POINTS)
def test_ctrl_c_at_every_point_of_start_up_is_one_line_and_130(project: Path, point: str) -> None:
    result = start(project, ["run.py"], "config", "--case", "demo", DATAREPLAY_TEST_SIGINT_AT=point)
    assert result.code == 130, result.err
    assert result.err == LINE


@pytest.mark.parametrize("point", ["start", "exit"])
@pytest.mark.parametrize("entry", ["python -m", "console script"])
def test_every_entry_point_handles_ctrl_c_from_start_to_exit(
    project: Path, entry: str, point: str
) -> None:
    result = start(project, ENTRIES[entry], "--version", DATAREPLAY_TEST_SIGINT_AT=point)
    assert result.code == 130, result.err
    assert result.err == LINE


def test_ctrl_c_while_click_is_imported(project: Path, tmp_path: Path) -> None:
    path = signalling_package(tmp_path, "click")
    for entry in ENTRIES.values():
        result = start(project, entry, "--help", PYTHONPATH=path)
        assert result.code == 130, result.err
        assert result.err == LINE


def test_ctrl_c_in_run_py_before_the_engine_is_imported(project: Path, tmp_path: Path) -> None:
    result = start(
        project, ["run.py"], "--help", PYTHONPATH=signalling_package(tmp_path, "datareplay")
    )
    assert result.code == 130, result.err
    assert result.err == LINE  # run.py's own handler says exactly what the engine says


def test_without_the_hook_the_command_runs_normally(project: Path) -> None:
    result = start(project, ["run.py"], "--version", DATAREPLAY_TEST_SIGINT_AT="")
    assert result.code == 0
    assert result.out.startswith("datareplay, version ")


def test_main_restores_the_callers_sigint_handler(project: Path, cli) -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not called")

    previous = signal.signal(signal.SIGINT, mine)
    try:
        assert cli(project, "--version").code == 0
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)


def test_keyboard_interrupt_inside_a_command_is_130(project: Path, cli, monkeypatch) -> None:
    from datareplay.session import Session

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Session, "validate", interrupted)
    result = cli(project, "validate", "--case", "demo")
    assert result.code == 130
    assert result.err == LINE


def test_console_script_starts_at_the_light_entry_point() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["datareplay"] == "datareplay.__main__:run"


def test_the_entry_points_import_nothing_heavy_before_the_handler() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import datareplay.__main__\n"
        "new = sorted(set(sys.modules) - before)\n"
        "print([m for m in new if m.split('.')[0] in ('click', 'yaml', 'pydantic', 'pandas')])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
