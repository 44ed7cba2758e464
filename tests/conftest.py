"""Shared fixtures: a throwaway copy of the shipped demo project, and a way to run the CLI on it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SMALL_ROWS = 20_000

# The shipped demo project the tests are about, named file by file. Fixture projects are
# built from this manifest and nothing else, never by copying whole folders of the working
# tree: a plugin, env layer, template, case or script a user adds to this checkout must not
# reach the tests (plugin counts, PLUGINS.md, env listings would change under them).
# A file shipped with the demo project that the tests should see is added here by name.
DEMO_PLUGINS = {  # plugin class -> its module in modules/, in pipeline order
    "InitialDataReader": "initial_data_reader",
    "SignalAligner": "signal_aligner",
    "SignalCleaner": "signal_cleaner",
    "FeatureDeriver": "feature_deriver",
    "EventDetector": "event_detector",
    "ReportWriter": "report_writer",
}
DEMO_TEMPLATES = ("demo", "demo_faulty")  # templates/<name>_case.yaml
PROJECT_FILES = (
    "run.py",
    "config/global.yaml",
    "config/logging.yaml",
    *(f"modules/{module}.py" for module in DEMO_PLUGINS.values()),
    *(f"templates/{name}_case.yaml" for name in DEMO_TEMPLATES),
    "scripts/generation.py",
    "cases/demo/case.yaml",
)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True, scope="session")
def no_user_environment() -> Iterator[None]:
    """Forget the DATAREPLAY_* variables of the user's shell (project, env layer).

    Without this, DATAREPLAY_PROJECT could point a test's subprocess at the user's own
    project, and DATAREPLAY_ENV would add a layer the fixture projects do not have.
    """
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("DATAREPLAY_")}
    yield
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def forget_plugin_modules() -> Iterator[None]:
    """Drop the plugin modules a test imported (in-process runs), so tests stay independent."""
    before = {name for name in sys.modules if name.startswith("datareplay_plugins")}
    yield
    for name in [n for n in sys.modules if n.startswith("datareplay_plugins")]:
        if name not in before:
            del sys.modules[name]


@pytest.fixture(scope="session")
def small_raw_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Raw demo data at small scale, generated once per test session."""
    root = tmp_path_factory.mktemp("raw")
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import generation
    finally:
        sys.path.pop(0)
    generation.generate(root, rows=SMALL_ROWS, seed=42)
    return root / "data" / "raw"


def make_project(root: Path, raw: Path | None, *, source: Path = REPO) -> Path:
    """Build a demo project at ``root`` from the files of ``PROJECT_FILES`` in ``source``.

    Only the listed files are copied (a missing one is an error), so whatever else lies in
    ``source`` stays out. ``raw`` is copied to ``data/raw`` when given.
    """
    for name in PROJECT_FILES:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)
    if raw is not None:
        shutil.copytree(raw, root / "data" / "raw")
    return root


def make_mini_project(root: Path, plugins: str) -> Path:
    """A bare project at ``root``: config/, cases/, run.py and ``plugins`` as modules/steps.py."""
    (root / "config").mkdir(parents=True)
    (root / "cases").mkdir()
    (root / "modules").mkdir()
    (root / "modules" / "steps.py").write_text(plugins)
    (root / "run.py").write_text((REPO / "run.py").read_text())
    return root


@pytest.fixture
def project(tmp_path: Path, small_raw_data: Path) -> Path:
    """The shipped demo project (``PROJECT_FILES``) with small raw data already generated."""
    return make_project(tmp_path / "project", small_raw_data)


@pytest.fixture
def bare_project(tmp_path: Path) -> Path:
    """The shipped demo project (``PROJECT_FILES``) without any raw data."""
    return make_project(tmp_path / "project", None)


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run the CLI in-process on a project folder and capture what it prints."""
    from datareplay.cli.main import main

    def run(project_dir: Path, *args: str) -> CliResult:
        monkeypatch.chdir(project_dir)
        monkeypatch.delenv("DATAREPLAY_PROJECT", raising=False)
        capsys.readouterr()
        code = main(list(args), prog_name="datareplay")
        captured = capsys.readouterr()
        return CliResult(int(code), captured.out, captured.err)

    return run


def run_subprocess(project_dir: Path, *args: str, timeout: float = 120) -> CliResult:
    """Run ``python run.py ARGS`` in ``project_dir`` as a real process."""
    proc = subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def tree_hash(root: Path) -> str:
    """A hash of every file name and content below ``root`` (for "nothing changed").

    Case lock files (``cases/<case>/.lock``, runtime state holding only a PID) are left out.
    """
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or path.name == ".lock":
            continue
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()
