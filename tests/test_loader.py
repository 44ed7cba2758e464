"""Plugin folders imported by path: datareplay.plugins.loader.

Two plugin folders with the same last name (``a/modules``, ``b/modules``) are two packages,
so a relative import in one never resolves to the other's module, in this process or in a
spawned one that only has the ``PluginRef``.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from datareplay.plugins.loader import (
    PACKAGE_PREFIX,
    PluginRef,
    folder_package,
    load_plugin,
    mount_folder,
)
from datareplay.plugins.registry import PluginRegistry
from datareplay.project.paths import Project
from datareplay.session import Session


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def plugin_module(name: str) -> str:
    """A plugin ``name`` whose value comes from its sibling ``helpers`` module.

    ``value`` is imported with the module; ``run`` and ``lazy_value`` import the helper
    again when called (a plugin keeps heavy imports out of import time), which is where
    two folders with the same last name used to resolve to the folder scanned last.
    """
    return f'''\
        """The {name} plugin: its value comes from the helpers module beside it."""

        from datareplay import BasePlugin

        from .helpers import VALUE


        class {name}(BasePlugin):
            """Write the VALUE of the helpers module of its own folder."""

            outputs = {{"value": "The helper value, as a JSON document."}}

            value = VALUE

            @staticmethod
            def lazy_value():
                from .helpers import VALUE as now

                return now

            def run(self, hub):
                from . import helpers

                hub["value"] = {{"plugin": "{name}", "value": helpers.VALUE}}
        '''


def same_named_folders(root: Path) -> tuple[Path, Path]:
    """``a/modules`` and ``b/modules``, each with ``helpers.py`` and ``plugin.py``."""
    a, b = root / "a" / "modules", root / "b" / "modules"
    for folder, name, value in [(a, "AlphaPlugin", "from a"), (b, "BetaPlugin", "from b")]:
        write(folder / "helpers.py", f"VALUE = {value!r}\n")
        write(folder / "plugin.py", plugin_module(name))
    return a, b


# -- helpers run in a spawned worker (module level, so the worker can import them) ----------


def loaded_value(ref: PluginRef) -> tuple[str, str, str, bool]:
    """Load ``ref`` in this (worker) process: its value, module, helper module and freshness."""
    fresh = ref.module not in sys.modules
    cls = load_plugin(ref)
    module = sys.modules[cls.__module__]
    helpers = sys.modules[cls.__module__.rsplit(".", 1)[0] + ".helpers"]
    assert module.VALUE is helpers.VALUE
    assert cls.lazy_value() == cls.value
    return cls.value, cls.__module__, helpers.__file__ or "", fresh


def package_of(folder: str) -> str:
    return folder_package(Path(folder))


# -- folder_package ---------------------------------------------------------------------------


def test_folder_package_is_stable_and_unique_per_path(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "modules", tmp_path / "b" / "modules"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    name_a = folder_package(a)
    assert name_a == folder_package(a)
    assert name_a == folder_package(tmp_path / "b" / ".." / "a" / "modules")  # resolved
    assert name_a != folder_package(b)
    for name in (name_a, folder_package(b)):
        assert name.startswith(f"{PACKAGE_PREFIX}modules_")
        assert name.isidentifier()
        assert len(name) == len(f"{PACKAGE_PREFIX}modules_") + 10
    # a folder name that is no identifier still gives an importable package name
    odd = tmp_path / "team-plugins 2"
    assert folder_package(odd).startswith(f"{PACKAGE_PREFIX}team_plugins_2_")
    assert folder_package(odd).isidentifier()


def test_mount_folder_makes_the_folder_a_package(tmp_path: Path) -> None:
    a, _ = same_named_folders(tmp_path)
    package = mount_folder(a)
    assert package == folder_package(a)
    assert sys.modules[package].__path__ == [str(a.resolve())]
    helpers = __import__(f"{package}.helpers", fromlist=["VALUE"])
    assert helpers.VALUE == "from a"
    assert mount_folder(a) == package and sys.modules[f"{package}.helpers"] is helpers
    # fresh: forget what was imported from the folder, so files are read again
    write(a / "helpers.py", "VALUE = 'changed'\n")
    mount_folder(a, fresh=True)
    assert f"{package}.helpers" not in sys.modules
    assert __import__(f"{package}.helpers", fromlist=["VALUE"]).VALUE == "changed"


# -- same last name, different folders ---------------------------------------------------------


def test_same_named_folders_each_get_their_own_helpers(tmp_path: Path) -> None:
    a, b = same_named_folders(tmp_path)
    registry = PluginRegistry([a, b], project_root=tmp_path, entry_points=())
    assert registry.names() == ["AlphaPlugin", "BetaPlugin"]
    alpha, beta = registry.get("AlphaPlugin"), registry.get("BetaPlugin")
    assert alpha.value == "from a"  # type: ignore[attr-defined]
    assert beta.value == "from b"  # type: ignore[attr-defined]
    # imported again at call time, after both folders were scanned: still its own folder's
    assert alpha.lazy_value() == "from a"  # type: ignore[attr-defined]
    assert beta.lazy_value() == "from b"  # type: ignore[attr-defined]
    assert alpha.__module__ == f"{folder_package(a)}.plugin"
    assert beta.__module__ == f"{folder_package(b)}.plugin"
    assert sys.modules[f"{folder_package(a)}.helpers"].__file__ == str(a.resolve() / "helpers.py")
    assert sys.modules[f"{folder_package(b)}.helpers"].__file__ == str(b.resolve() / "helpers.py")

    ref_a, ref_b = registry.reference("AlphaPlugin"), registry.reference("BetaPlugin")
    assert (ref_a.folder, ref_b.folder) == (str(a.resolve()), str(b.resolve()))
    assert ref_a.module != ref_b.module
    assert ref_a.fingerprint != ref_b.fingerprint
    assert load_plugin(ref_a) is alpha and load_plugin(ref_b) is beta


def test_load_plugin_in_a_spawned_process_from_the_ref_alone(tmp_path: Path) -> None:
    a, b = same_named_folders(tmp_path)
    registry = PluginRegistry([a, b], project_root=tmp_path, entry_points=())
    refs = [registry.reference("AlphaPlugin"), registry.reference("BetaPlugin")]

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        packages = [pool.submit(package_of, str(folder)).result() for folder in (a, b)]
        loaded = [pool.submit(loaded_value, ref).result() for ref in refs]

    assert packages == [folder_package(a), folder_package(b)]  # same names in every process
    assert loaded == [
        ("from a", refs[0].module, str(a.resolve() / "helpers.py"), True),
        ("from b", refs[1].module, str(b.resolve() / "helpers.py"), True),
    ]


def test_same_named_folders_through_the_session_and_the_cli(
    project: Path, tmp_path: Path, cli
) -> None:
    team = tmp_path / "team" / "modules"
    local = project / "modules"
    write(local / "helpers.py", "VALUE = 'local'\n")
    write(local / "local_plugin.py", plugin_module("LocalPlugin"))
    write(team / "helpers.py", "VALUE = 'team'\n")
    write(team / "team_plugin.py", plugin_module("TeamPlugin"))
    global_yaml = project / "config" / "global.yaml"
    text = global_yaml.read_text(encoding="utf-8")
    assert "paths: [modules]" in text
    global_yaml.write_text(
        text.replace("paths: [modules]", "paths: [modules, ../team/modules]"), encoding="utf-8"
    )
    write(
        project / "cases" / "helpers" / "case.yaml",
        """\
        description: Two plugins from two folders called modules
        data_sources:
          local_value: {format: json}
          team_value: {format: json}
        pipeline:
          - plugin: LocalPlugin
            outputs: {value: local_value}
          - plugin: TeamPlugin
            outputs: {value: team_value}
        """,
    )

    registry = Session(Project.at(project)).registry()
    assert registry.get("LocalPlugin").value == "local"  # type: ignore[attr-defined]
    assert registry.get("TeamPlugin").value == "team"  # type: ignore[attr-defined]
    assert registry.get("LocalPlugin").lazy_value() == "local"  # type: ignore[attr-defined]
    assert registry.get("TeamPlugin").lazy_value() == "team"  # type: ignore[attr-defined]

    result = cli(project, "pipeline", "--case", "helpers")
    assert result.code == 0, result.err
    data = project / "cases" / "helpers" / "data"
    assert json.loads((data / "local_value.json").read_text(encoding="utf-8")) == {
        "plugin": "LocalPlugin",
        "value": "local",
    }
    assert json.loads((data / "team_value.json").read_text(encoding="utf-8")) == {
        "plugin": "TeamPlugin",
        "value": "team",
    }


@pytest.mark.parametrize("stem", ["modules", "plugins"])
def test_folder_package_depends_on_the_full_path_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stem: str
) -> None:
    folder = tmp_path / "proj" / stem
    folder.mkdir(parents=True)
    absolute = folder_package(folder)
    monkeypatch.chdir(tmp_path / "proj")
    assert folder_package(Path(stem)) == absolute
    monkeypatch.chdir(tmp_path)
    assert folder_package(Path("proj") / stem) == absolute
