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


def package_of(folder: str, root: str) -> str:
    return folder_package(Path(folder), root=Path(root))


# -- folder_package ---------------------------------------------------------------------------


def test_folder_package_is_stable_and_unique_per_path(tmp_path: Path) -> None:
    project = tmp_path / "project"
    a, b = project / "modules", tmp_path / "team" / "modules"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    # the project's own folder keeps its plain name; it does not depend on the path above
    assert folder_package(a, root=project) == f"{PACKAGE_PREFIX}modules"
    assert folder_package(project / "x" / ".." / "modules", root=project) == (
        f"{PACKAGE_PREFIX}modules"
    )
    assert folder_package(project / "plugins" / "core", root=project) == (
        f"{PACKAGE_PREFIX}plugins__core"
    )
    # a folder outside the project: readable, hashed, and not the project's `modules`
    outside = folder_package(b, root=project)
    assert outside.startswith(f"{PACKAGE_PREFIX}up__team__modules_") and outside.isidentifier()
    assert outside != folder_package(a, root=project)
    # the name follows the relative path, so a moved project keeps its names
    moved = tmp_path / "moved"
    assert folder_package(moved / "modules", root=moved) == folder_package(a, root=project)
    # a folder name that is no identifier still gives an importable, distinct package name
    odd = folder_package(project / "team-plugins 2", root=project)
    assert odd.startswith(f"{PACKAGE_PREFIX}team_plugins_2_") and odd.isidentifier()
    assert odd != folder_package(project / "team_plugins_2", root=project)


def test_mount_folder_makes_the_folder_a_package(tmp_path: Path) -> None:
    a, _ = same_named_folders(tmp_path)
    package = mount_folder(a, folder_package(a, root=tmp_path))
    assert package == folder_package(a, root=tmp_path)
    assert sys.modules[package].__path__ == [str(a.resolve())]
    helpers = __import__(f"{package}.helpers", fromlist=["VALUE"])
    assert helpers.VALUE == "from a"
    assert mount_folder(a, package) == package and sys.modules[f"{package}.helpers"] is helpers
    # fresh: forget what was imported from the folder, so files are read again
    write(a / "helpers.py", "VALUE = 'changed'\n")
    mount_folder(a, package, fresh=True)
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
    assert alpha.__module__ == f"{folder_package(a, root=tmp_path)}.plugin"
    assert beta.__module__ == f"{folder_package(b, root=tmp_path)}.plugin"
    assert sys.modules[f"{folder_package(a, root=tmp_path)}.helpers"].__file__ == str(
        a.resolve() / "helpers.py"
    )
    assert sys.modules[f"{folder_package(b, root=tmp_path)}.helpers"].__file__ == str(
        b.resolve() / "helpers.py"
    )

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
        packages = [
            pool.submit(package_of, str(folder), str(tmp_path)).result() for folder in (a, b)
        ]
        loaded = [pool.submit(loaded_value, ref).result() for ref in refs]

    # same names in every process
    assert packages == [folder_package(a, root=tmp_path), folder_package(b, root=tmp_path)]
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
def test_folder_package_does_not_depend_on_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stem: str
) -> None:
    folder = tmp_path / "proj" / stem
    folder.mkdir(parents=True)
    absolute = folder_package(folder, root=tmp_path / "proj")
    monkeypatch.chdir(tmp_path / "proj")
    assert folder_package(Path(stem), root=Path(".")) == absolute
    monkeypatch.chdir(tmp_path)
    assert folder_package(Path("proj") / stem, root=Path("proj")) == absolute


def test_another_project_with_the_same_folder_name_gets_its_own_package(tmp_path: Path) -> None:
    first, second = tmp_path / "one" / "modules", tmp_path / "two" / "modules"
    for folder, value in [(first, "one"), (second, "two")]:
        write(folder / "helpers.py", f"VALUE = {value!r}\n")
    name_one = mount_folder(first, folder_package(first, root=tmp_path / "one"))
    name_two = mount_folder(second, folder_package(second, root=tmp_path / "two"))
    assert name_one == f"{PACKAGE_PREFIX}modules" and name_two != name_one
    assert __import__(f"{name_one}.helpers", fromlist=["VALUE"]).VALUE == "one"
    assert __import__(f"{name_two}.helpers", fromlist=["VALUE"]).VALUE == "two"


def test_a_folder_listed_twice_is_scanned_once(tmp_path: Path) -> None:
    a, _ = same_named_folders(tmp_path)
    registry = PluginRegistry([a, a / ".." / "modules"], project_root=tmp_path, entry_points=())
    assert registry.names() == ["AlphaPlugin"]
    assert registry.get("AlphaPlugin").value == "from a"
