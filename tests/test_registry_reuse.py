"""One plugin registry per process: the Python API reuses it until a plugin file changes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from datareplay import api
from datareplay.plugins.loader import folder_package

COUNTER = '''\
"""A plugin module that counts how often it is imported."""

import pathlib

from datareplay import BasePlugin

_marker = pathlib.Path({marker!r})
with _marker.open("a", encoding="utf-8") as _fh:
    _fh.write("imported\\n")


class ImportCounter(BasePlugin):
    """Do nothing; its module records every import."""

    def run(self, hub):
        pass
'''


@pytest.fixture(autouse=True)
def no_cached_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without the sessions other tests left in this process."""
    monkeypatch.setattr(api, "_SESSIONS", {})


def imports(marker: Path) -> int:
    return marker.read_text(encoding="utf-8").count("imported") if marker.exists() else 0


def plugin_modules(project: Path) -> dict[str, object]:
    package = folder_package(project / "modules", root=project)
    return {name: module for name, module in sys.modules.items() if name.startswith(package)}


def duration_unit(result: api.RunResult) -> str:
    report = result.hub["report"]
    return str(report.loc[report["metric"] == "duration", "unit"].iloc[0])


def bump(path: Path, text: str) -> None:
    """Rewrite ``path`` with ``text`` and move its mtime forward (coarse file systems)."""
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    later = before + 5_000_000_000
    os.utime(path, ns=(later, later))


def test_consecutive_runs_reuse_the_plugin_modules(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "imports.txt"
    (project / "modules" / "import_counter.py").write_text(
        COUNTER.format(marker=str(marker)), encoding="utf-8"
    )

    first = api.run_pipeline("demo", project=project)
    registry = api.session(project).registry()
    writer = registry.get("ReportWriter")
    modules = plugin_modules(project)
    assert writer.__module__ in modules
    assert imports(marker) == 1

    second = api.run_pipeline("demo", project=project)
    assert second.run_id != first.run_id
    assert api.session(project).registry() is registry
    assert api.session(project).registry().get("ReportWriter") is writer
    assert plugin_modules(project) == modules
    assert all(plugin_modules(project)[name] is module for name, module in modules.items())
    assert imports(marker) == 1  # discovery ran once for both runs
    assert duration_unit(first) == duration_unit(second) == "min"


def test_a_changed_plugin_file_is_picked_up_by_the_next_run(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "imports.txt"
    (project / "modules" / "import_counter.py").write_text(
        COUNTER.format(marker=str(marker)), encoding="utf-8"
    )
    first = api.run_pipeline("demo", project=project)
    registry = api.session(project).registry()
    writer = registry.get("ReportWriter")
    module = sys.modules[writer.__module__]
    assert duration_unit(first) == "min"

    path = project / "modules" / "report_writer.py"
    text = path.read_text(encoding="utf-8")
    old = '("duration", duration_s / 60.0, "min")'
    assert old in text
    bump(path, text.replace(old, '("duration", duration_s, "s")'))

    changed = api.run_pipeline("demo", project=project)
    assert duration_unit(changed) == "s"
    fresh = api.session(project).registry()
    assert fresh is not registry
    new_writer = fresh.get("ReportWriter")
    assert new_writer is not writer
    assert new_writer.__module__ == writer.__module__  # same folder, same module name
    assert sys.modules[new_writer.__module__] is not module
    assert imports(marker) == 2  # the folder was imported afresh once

    # and from then on reused again
    again = api.run_pipeline("demo", project=project)
    assert duration_unit(again) == "s"
    assert api.session(project).registry() is fresh
    assert fresh.get("ReportWriter") is new_writer
    assert imports(marker) == 2


def test_a_new_plugin_file_is_found_by_the_next_call(project: Path, tmp_path: Path) -> None:
    api.run_pipeline("demo", project=project)
    registry = api.session(project).registry()
    assert "ImportCounter" not in registry.names()

    marker = tmp_path / "imports.txt"
    (project / "modules" / "import_counter.py").write_text(
        COUNTER.format(marker=str(marker)), encoding="utf-8"
    )
    fresh = api.session(project).registry()
    assert fresh is not registry
    assert "ImportCounter" in fresh.names()
    assert imports(marker) == 1
