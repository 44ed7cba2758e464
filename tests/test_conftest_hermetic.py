"""The fixture projects are hermetic: built from the shipped demo files only.

A user's own plugin in ``modules/``, an env layer in ``config/env/``, a template, a case or
a script added to this checkout must never reach the projects the tests run on.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import DEMO_PLUGINS, PROJECT_FILES, REPO, make_project

SPEED_LIMITER = '''"""modules/speed_limiter.py"""
from __future__ import annotations

from typing import TYPE_CHECKING

from datareplay import BasePlugin, Param

if TYPE_CHECKING:
    from datareplay import DataHub


class SpeedLimiter(BasePlugin):
    """Flag samples above a speed limit."""

    inputs = {"features": "Per-sample speed in m/s."}
    outputs = {"speeding": "Samples above the limit."}

    limit_kmh = Param(130.0, "Speed limit in km/h.")

    def run(self, hub: DataHub) -> None:
        features = hub["features"]
        hub["speeding"] = features[features["speed_kmh"] > self.limit_kmh]
'''

USER_ADDITIONS = {
    "modules/speed_limiter.py": SPEED_LIMITER,
    "modules/vision/__init__.py": '"""A user plugin package."""\n',
    "modules/vision/detect.py": SPEED_LIMITER.replace("SpeedLimiter", "VisionDetector"),
    "modules/__pycache__/speed_limiter.cpython-311.pyc": "not really bytecode\n",
    "config/env/dev.yaml": "data:\n  default_format: parquet\n",
    "config/env/ci.yaml": "run:\n  release_memory: false\n",
    "templates/user_case.yaml": "description: a user's own template\npipeline: []\n",
    "cases/mine/case.yaml": "description: a user's own case\npipeline: []\n",
    "scripts/my_tool.py": "print('a user script')\n",
}

# runtime state and generated data of a working tree; never part of a copy of the sources
SKIPPED_EVERYWHERE = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".lock"}
SKIPPED_AT_ROOT = {".git", "data", ".venv", "venv", "build", "dist"}


def copy_repository(dest: Path) -> Path:
    """Copy this checkout's sources (no .git, caches or generated data) to ``dest``."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).resolve()
        skipped = {name for name in names if name in SKIPPED_EVERYWHERE}
        if here == REPO:
            skipped |= SKIPPED_AT_ROOT & set(names)
        if here.parent == REPO / "cases":
            skipped |= {"data"} & set(names)
        return skipped

    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path below ``root``: file bytes, or None for a folder."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def files_of(tree: dict[str, bytes | None]) -> list[str]:
    return sorted(name for name, content in tree.items() if content is not None)


def test_fixture_project_is_exactly_the_manifest(bare_project: Path) -> None:
    built = snapshot(bare_project)
    assert files_of(built) == sorted(PROJECT_FILES)
    for name in PROJECT_FILES:
        assert built[name] == (REPO / name).read_bytes(), name


def test_manifest_names_the_demo_plugins_and_templates() -> None:
    assert len(set(PROJECT_FILES)) == len(PROJECT_FILES)
    plugin_files = sorted(name for name in PROJECT_FILES if name.startswith("modules/"))
    assert plugin_files == sorted(f"modules/{module}.py" for module in DEMO_PLUGINS.values())
    for cls, module in DEMO_PLUGINS.items():
        assert f"class {cls}(" in (REPO / "modules" / f"{module}.py").read_text(encoding="utf-8")
    assert "templates/demo_case.yaml" in PROJECT_FILES
    assert "templates/demo_faulty_case.yaml" in PROJECT_FILES


def test_user_additions_never_reach_the_fixture_project(tmp_path: Path) -> None:
    user_repo = copy_repository(tmp_path / "user_repo")
    for name, text in USER_ADDITIONS.items():
        path = user_repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    # the copy really does hold the shipped files and the user's extras side by side
    for name in [*PROJECT_FILES, *USER_ADDITIONS]:
        assert (user_repo / name).is_file(), name

    clean = snapshot(make_project(tmp_path / "from_clean", None))
    with_extras = snapshot(make_project(tmp_path / "from_user_repo", None, source=user_repo))

    assert sorted(with_extras) == sorted(clean)
    assert with_extras == clean
    assert files_of(with_extras) == sorted(PROJECT_FILES)
    for name in USER_ADDITIONS:
        assert name not in with_extras, name
    assert "config/env" not in with_extras
    assert "modules/vision" not in with_extras


def test_raw_data_is_the_only_other_thing_copied(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "drive").mkdir(parents=True)
    (raw / "drive" / "wheel_speed.parquet").write_bytes(b"not really parquet")
    built = snapshot(make_project(tmp_path / "project", raw))
    extra = sorted(set(files_of(built)) - set(PROJECT_FILES))
    assert extra == ["data/raw/drive/wheel_speed.parquet"]
    assert built["data/raw/drive/wheel_speed.parquet"] == b"not really parquet"


def test_missing_manifest_file_is_an_error(tmp_path: Path) -> None:
    source = copy_repository(tmp_path / "repo")
    (source / "modules" / f"{DEMO_PLUGINS['EventDetector']}.py").unlink()
    with pytest.raises(FileNotFoundError, match=r"event_detector\.py"):
        make_project(tmp_path / "project", None, source=source)


def tracked_files(folder: str) -> list[str] | None:
    """Files under ``folder`` that git tracks in this checkout, or None without git."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        proc = subprocess.run(
            [git, "ls-files", "-z", "--", folder],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return sorted(name for name in proc.stdout.split("\0") if name)


@pytest.mark.parametrize("folder", ["config", "modules", "templates", "cases"])
def test_manifest_lists_every_committed_demo_file(folder: str) -> None:
    """A demo file committed to one of these folders is part of the fixture project too."""
    tracked = tracked_files(folder)
    if not tracked:
        pytest.skip("not a git checkout: the committed files are unknown")
    assert tracked == sorted(name for name in PROJECT_FILES if name.startswith(f"{folder}/"))
