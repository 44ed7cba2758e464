"""The house rules that keep the engine small: one direction of imports, lazy heavy imports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_import_layers_contract_is_kept() -> None:
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(lint).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    proc = subprocess.run([lint], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout


def test_importing_the_public_api_imports_no_data_library() -> None:
    code = (
        "import sys, datareplay\n"
        "from datareplay import BasePlugin, DataHub, Param\n"
        "import datareplay.api\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'pandera') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_the_engine_never_imports_a_project_plugin() -> None:
    for path in (REPO / "src" / "datareplay").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "from modules" not in text and "import modules" not in text, path
