"""``datareplay init DIR``: a new project that runs straight away, and nothing on failure."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import pandas as pd
import pytest

from conftest import tree_hash

EXPECTED_FILES = {
    ".gitignore",
    "README.md",
    "cases/example/case.yaml",
    "config/global.yaml",
    "config/logging.yaml",
    "data/raw/example.csv",
    "modules/moving_average.py",
    "templates/example_case.yaml",
    "tests/test_moving_average.py",
}


def shipped_files(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    """The files of the package's scaffold folder, by relative path."""
    found: dict[str, bytes] = {}
    for item in folder.iterdir():
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            found.update(shipped_files(item, f"{prefix}{item.name}/"))
        else:
            found[f"{prefix}{item.name}"] = item.read_bytes()
    return found


def project_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture
def new_project(tmp_path: Path, cli) -> Path:
    """A project made by ``datareplay init`` in a fresh folder."""
    result = cli(tmp_path, "init", "myproj")
    assert result.code == 0, result.err
    return tmp_path / "myproj"


def test_init_creates_the_scaffold_files(tmp_path: Path, cli) -> None:
    result = cli(tmp_path, "init", "myproj")
    assert result.code == 0, result.err
    target = tmp_path / "myproj"
    created = project_files(target)
    assert set(created) >= EXPECTED_FILES
    shipped = shipped_files(files("datareplay.project") / "skeleton")
    shipped[".gitignore"] = shipped.pop("gitignore")  # shipped without the dot
    assert created == shipped  # byte for byte
    assert result.out.splitlines() == [
        f"created a Data Replay project in myproj ({len(created)} files); try:",
        "  cd myproj && datareplay pipeline --case example",
    ]
    assert os.listdir(tmp_path) == ["myproj"]  # no staging folder left beside it


def test_example_case_runs_in_the_new_project(new_project: Path, cli) -> None:
    listed = cli(new_project, "plugins")
    assert listed.code == 0, listed.err
    (line,) = [line for line in listed.out.splitlines() if line.startswith("MovingAverage ")]
    assert line.split()[1:3] == ["modules/moving_average.py", "ok"]

    result = cli(new_project, "pipeline", "--case", "example")
    assert result.code == 0, result.err
    assert "run " in result.out and "of case 'example' finished: 1 step in" in result.out
    smoothed = pd.read_parquet(new_project / "cases" / "example" / "data" / "smoothed.parquet")
    raw = pd.read_csv(new_project / "data" / "raw" / "example.csv")
    assert list(smoothed.columns) == ["t_s", "value", "value_smooth"]
    expected = raw["value"].rolling(5, center=True, min_periods=1).mean()
    assert smoothed["value_smooth"].tolist() == pytest.approx(expected.tolist())
    assert smoothed["value"].tolist() == raw["value"].tolist()


def test_the_scaffold_tests_pass(new_project: Path) -> None:
    env = dict(os.environ)
    env.pop("DATAREPLAY_PROJECT", None)
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(new_project / "tests"),
        ],
        cwd=new_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_init_into_a_non_empty_folder_exits_2_and_changes_nothing(tmp_path: Path, cli) -> None:
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "notes.txt").write_text("keep me\n")
    before = tree_hash(tmp_path)
    result = cli(tmp_path, "init", "occupied")
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == [
        f"error: {target} already exists and is not empty; choose a new folder for the project"
    ]
    assert tree_hash(tmp_path) == before


def test_init_onto_a_file_exits_2_and_changes_nothing(tmp_path: Path, cli) -> None:
    (tmp_path / "afile").write_text("not a folder\n")
    before = tree_hash(tmp_path)
    result = cli(tmp_path, "init", "afile")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert line.startswith("error: ") and "afile" in line
    assert tree_hash(tmp_path) == before


def test_init_into_an_existing_empty_folder(tmp_path: Path, cli) -> None:
    (tmp_path / "empty").mkdir()
    result = cli(tmp_path, "init", "empty")
    assert result.code == 0, result.err
    assert set(project_files(tmp_path / "empty")) >= EXPECTED_FILES
    assert os.listdir(tmp_path) == ["empty"]


def test_init_dot_fills_the_current_empty_folder_in_place(tmp_path: Path, cli) -> None:
    """`mkdir p && cd p && datareplay init .`: the shell's folder must be the project.

    The folder has to stay the same folder (same inode, same permissions): replacing it
    leaves the caller's working directory pointing at a deleted folder, so the suggested
    next command fails.
    """
    here = tmp_path / "here"
    here.mkdir()
    here.chmod(0o750)
    inode = here.stat().st_ino
    result = cli(here, "init", ".")  # the fixture runs it with here as working directory
    assert result.code == 0, result.err
    assert set(project_files(here)) >= EXPECTED_FILES
    assert here.stat().st_ino == inode
    assert here.stat().st_mode & 0o777 == 0o750
    assert set(project_files(Path("."))) >= EXPECTED_FILES  # what the caller sees
    assert sorted(os.listdir(tmp_path)) == ["here"]


def test_init_hint_is_a_command_that_works_for_any_folder_name(tmp_path: Path, cli) -> None:
    result = cli(tmp_path, "init", "my project")
    assert result.code == 0, result.err
    assert (tmp_path / "my project" / "config" / "global.yaml").is_file()
    hint = result.out.splitlines()[-1].strip()
    assert hint == f"cd {shlex.quote('my project')} && datareplay pipeline --case example"
    assert shlex.split(hint)[:2] == ["cd", "my project"]


def test_init_where_the_parent_does_not_exist_exits_2(tmp_path: Path, cli) -> None:
    result = cli(tmp_path, "init", "missing/myproj")
    assert result.code == 2
    assert result.err.splitlines() == [
        f"error: {tmp_path / 'missing'} does not exist; create it first"
    ]
    assert os.listdir(tmp_path) == []


def test_failed_init_leaves_nothing_behind(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datareplay.project import scaffold

    real_copy = scaffold._copy

    def copy_then_fail(source: Traversable, destination: Path) -> list[Path]:
        real_copy(source, destination)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(scaffold, "_copy", copy_then_fail)
    result = cli(tmp_path, "init", "myproj")
    assert result.code == 1
    assert "No space left on device" in result.err
    assert os.listdir(tmp_path) == []


def test_new_case_from_the_template(new_project: Path, cli) -> None:
    result = cli(new_project, "pipeline", "--case", "mine", "--template", "example")
    assert result.code == 0, result.err
    assert "created case 'mine' in cases/mine/ from template 'example'" in result.err
    case = new_project / "cases" / "mine" / "case.yaml"
    assert case.read_bytes() == (new_project / "templates" / "example_case.yaml").read_bytes()
    smoothed = pd.read_parquet(new_project / "cases" / "mine" / "data" / "smoothed.parquet")
    assert "value_smooth" in smoothed.columns


def test_project_is_found_from_a_subfolder(new_project: Path, cli) -> None:
    result = cli(new_project / "cases", "pipeline", "--case", "example")
    assert result.code == 0, result.err
    assert (new_project / "cases" / "example" / "data" / "smoothed.parquet").is_file()
    valid = cli(new_project / "modules", "validate", "--case", "example")
    assert valid.code == 0, valid.err
    assert "case 'example' is valid: 1 steps, 2 data sources" in valid.out
