"""Unit tests of datareplay.plugins.registry: lazy plugin discovery that isolates broken modules."""

from __future__ import annotations

import secrets
import sys
import textwrap
from pathlib import Path

import pytest

from datareplay.errors import PluginDefinitionError, UnknownNameError
from datareplay.plugins.base import BasePlugin
from datareplay.plugins.registry import PluginInfo, PluginRegistry

PREFIX = "datareplay_plugins"


def imported(stem: str) -> bool:
    """Whether a plugin module with this file stem is in sys.modules."""
    return any(n.startswith(PREFIX) and n.endswith("." + stem) for n in sys.modules)


def unique(stem: str) -> str:
    """A module stem no other test uses, so sys.modules tells what this test imported."""
    return f"{stem}_{secrets.token_hex(4)}"


def write_module(folder: Path, stem: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def plugin_source(*names: str, marker: Path | None = None) -> str:
    lines = ["from datareplay import BasePlugin", ""]
    if marker is not None:
        lines += [
            "import pathlib",
            f"_marker = pathlib.Path({str(marker)!r})",
            "_marker.write_text(_marker.read_text() + 'imported\\n' if _marker.exists() "
            "else 'imported\\n')",
            "",
        ]
    for name in names:
        lines += [
            f"class {name}(BasePlugin):",
            f'    """Plugin {name}."""',
            "",
            f"    outputs = {{'{name.lower()}_out': 'out'}}",
            "",
            "    def run(self, hub):",
            "        pass",
            "",
        ]
    return "\n".join(lines)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path


def registry(root: Path, *folders: str) -> PluginRegistry:
    return PluginRegistry(
        [root / f for f in (folders or ("modules",))], project_root=root, entry_points=()
    )


def test_discovers_plugins_in_folder(root: Path) -> None:
    a, b = unique("alpha"), unique("beta")
    write_module(root / "modules", a, plugin_source("Alpha", "Gamma"))
    write_module(root / "modules", b, plugin_source("Beta"))
    reg = registry(root)
    assert reg.names() == ["Alpha", "Beta", "Gamma"]
    alpha = reg.get("Alpha")
    assert issubclass(alpha, BasePlugin)
    assert alpha.__name__ == "Alpha"
    assert alpha.__module__.startswith(PREFIX) and alpha.__module__.endswith("." + a)
    assert reg.get("Alpha") is alpha
    infos = reg.infos()
    assert [i.name for i in infos] == ["Alpha", "Beta", "Gamma"]
    assert all(i.ok for i in infos)
    assert infos[0].origin == f"modules/{a}.py"
    assert infos[1].origin == f"modules/{b}.py"


def test_several_folders_and_missing_folders(root: Path) -> None:
    write_module(root / "modules", unique("one"), plugin_source("One"))
    write_module(root / "more", unique("two"), plugin_source("Two"))
    reg = registry(root, "modules", "nowhere", "more")
    assert reg.names() == ["One", "Two"]


def test_folder_outside_project_root_is_shown_in_full(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    stem = unique("ext")
    write_module(outside, stem, plugin_source("External"))
    reg = PluginRegistry([outside], project_root=tmp_path / "project", entry_points=())
    assert reg.infos()[0].origin == str(outside / f"{stem}.py")


def test_imported_base_classes_and_helpers_are_not_plugins(root: Path) -> None:
    stem = unique("helpers")
    write_module(
        root / "modules",
        stem,
        '''
        from datareplay import BasePlugin, DataHub, Param

        class NotAPlugin:
            """Just a class."""

        class Real(BasePlugin):
            """A real plugin."""

            def run(self, hub):
                pass
        ''',
    )
    assert registry(root).names() == ["Real"]


def test_unknown_plugin_suggests_a_name(root: Path) -> None:
    write_module(root / "modules", unique("m"), plugin_source("EventDetector"))
    reg = registry(root)
    with pytest.raises(UnknownNameError) as info:
        reg.get("EventDetektor", where="cases/demo/case.yaml:5")
    message = str(info.value)
    assert message.startswith("cases/demo/case.yaml:5: unknown plugin 'EventDetektor'")
    assert "did you mean 'EventDetector'?" in message


def test_unknown_plugin_without_suggestion_lists_known(root: Path) -> None:
    write_module(root / "modules", unique("m"), plugin_source("Alpha", "Beta"))
    with pytest.raises(UnknownNameError, match=r"known plugins: Alpha, Beta"):
        registry(root).get("Zzz")
    with pytest.raises(UnknownNameError, match=r"known plugins: none"):
        registry(root, "empty").get("Zzz")


# -- broken modules and plugins ---------------------------------------------------------------


def test_module_that_fails_to_import_is_reported_and_isolated(root: Path) -> None:
    good, bad = unique("good"), unique("bad")
    write_module(root / "modules", good, plugin_source("Good"))
    write_module(
        root / "modules",
        bad,
        plugin_source("Victim") + "\nraise RuntimeError('sensor table missing')\n",
    )
    reg = registry(root)
    assert reg.get("Good").__name__ == "Good"
    assert reg.names() == ["Good"]
    broken = [i for i in reg.infos() if not i.ok]
    assert len(broken) == 1
    assert broken[0].name == f"modules/{bad}.py"
    assert broken[0].origin == f"modules/{bad}.py"
    assert broken[0].plugin is None
    assert broken[0].error == (
        f"modules/{bad}.py failed to import: RuntimeError: sensor table missing"
    )
    # the module defines Victim: its import failure is the cause, not a misspelt name
    with pytest.raises(PluginDefinitionError) as info:
        reg.get("Victim")
    assert str(info.value) == (
        f"plugin 'Victim' could not be imported: modules/{bad}.py:11: "
        "RuntimeError: sensor table missing"
    )
    assert not imported(bad)


def test_syntax_error_module_is_reported(root: Path) -> None:
    stem = unique("syntax")
    write_module(root / "modules", stem, "def broken(:\n")
    write_module(root / "modules", unique("fine"), plugin_source("Fine"))
    reg = registry(root)
    assert reg.get("Fine").__name__ == "Fine"
    [info] = [i for i in reg.infos() if not i.ok]
    assert "SyntaxError" in (info.error or "")


def test_module_with_invalid_param_declaration_is_broken(root: Path) -> None:
    stem = unique("badparam")
    write_module(
        root / "modules",
        stem,
        '''
        from datareplay import BasePlugin, Param

        class Bad(BasePlugin):
            """Bad param."""

            rate = Param(None, "no type")

            def run(self, hub):
                pass
        ''',
    )
    [info] = registry(root).infos()
    assert info.name == f"modules/{stem}.py"
    assert "PluginDefinitionError" in (info.error or "")


def test_plugin_without_run_is_reported_invalid(root: Path) -> None:
    stem = unique("norun")
    write_module(
        root / "modules",
        stem,
        '''
        from datareplay import BasePlugin

        class Lazy(BasePlugin):
            """Never runs."""

        class Works(BasePlugin):
            """Runs."""

            def run(self, hub):
                pass
        ''',
    )
    reg = registry(root)
    assert reg.names() == ["Works"]
    info = {i.name: i for i in reg.infos()}["Lazy"]
    assert not info.ok
    assert info.error == f"modules/{stem}.py: plugin Lazy does not implement run(self, hub)"
    with pytest.raises(PluginDefinitionError, match=r"plugin 'Lazy' is broken: .*run"):
        reg.get("Lazy")
    assert reg.get("Works").__name__ == "Works"


def test_plugin_without_docstring_is_reported_invalid(root: Path) -> None:
    stem = unique("nodoc")
    write_module(
        root / "modules",
        stem,
        """
        from datareplay import BasePlugin

        class Undocumented(BasePlugin):
            def run(self, hub):
                pass
        """,
    )
    reg = registry(root)
    info = {i.name: i for i in reg.infos()}["Undocumented"]
    assert not info.ok
    assert "has no docstring" in (info.error or "")
    with pytest.raises(PluginDefinitionError, match="plugin 'Undocumented' is broken"):
        reg.get("Undocumented")


def test_duplicate_plugin_names_name_both_files(root: Path) -> None:
    first, second = "a_" + unique("first"), "b_" + unique("second")
    write_module(root / "modules", first, plugin_source("Twin", "Single"))
    write_module(root / "modules", second, plugin_source("Twin"))
    reg = registry(root)
    with pytest.raises(PluginDefinitionError) as info:
        reg.get("Twin")
    message = str(info.value)
    assert "offered twice" in message
    assert f"modules/{first}.py" in message
    assert f"modules/{second}.py" in message
    assert reg.names() == ["Single"]
    assert reg.get("Single").__name__ == "Single"


def test_duplicate_names_across_folders(root: Path) -> None:
    one, two = unique("one"), unique("two")
    write_module(root / "modules", one, plugin_source("Same"))
    write_module(root / "extra", two, plugin_source("Same"))
    with pytest.raises(PluginDefinitionError) as info:
        registry(root, "modules", "extra").get("Same")
    assert f"modules/{one}.py" in str(info.value)
    assert f"extra/{two}.py" in str(info.value)


def test_underscore_files_are_skipped(root: Path) -> None:
    private = "_" + unique("helpers")
    marker = root / "imported.txt"
    write_module(
        root / "modules",
        private,
        plugin_source("Hidden", marker=marker) + "\nraise RuntimeError('must not import')\n",
    )
    write_module(root / "modules", "__init__", "raise RuntimeError('must not import')\n")
    write_module(root / "modules", unique("public"), plugin_source("Public"))
    reg = registry(root)
    assert reg.names() == ["Public"]
    assert [i.name for i in reg.infos()] == ["Public"]
    assert not marker.exists()
    assert not imported(private)
    with pytest.raises(UnknownNameError):
        reg.get("Hidden")


def test_non_python_files_are_ignored(root: Path) -> None:
    (root / "modules").mkdir()
    (root / "modules" / "notes.txt").write_text("class X: pass\n")
    (root / "modules" / "data.pyc").write_bytes(b"\x00")
    assert registry(root).infos() == []


# -- laziness ----------------------------------------------------------------------------------


def test_discovery_is_lazy(root: Path) -> None:
    stem = unique("lazy")
    marker = root / "imported.txt"
    write_module(root / "modules", stem, plugin_source("Lazy", marker=marker))
    reg = registry(root)
    assert not imported(stem)
    assert not marker.exists()
    assert reg.get("Lazy").__name__ == "Lazy"
    assert imported(stem)
    assert marker.read_text() == "imported\n"


def test_infos_triggers_discovery_once(root: Path) -> None:
    stem = unique("once")
    marker = root / "imported.txt"
    write_module(root / "modules", stem, plugin_source("Once", marker=marker))
    reg = registry(root)
    assert not marker.exists()
    first = reg.infos()
    assert isinstance(first[0], PluginInfo)
    reg.infos()
    reg.names()
    reg.get("Once")
    assert marker.read_text() == "imported\n"


def test_broken_modules_are_reported_once(root: Path) -> None:
    stem = unique("broken")
    write_module(root / "modules", stem, "raise ImportError('no numpy here')\n")
    reg = registry(root)
    assert len(reg.infos()) == 1
    assert len(reg.infos()) == 1
    with pytest.raises(UnknownNameError):
        reg.get("Anything")
    assert len(reg.infos()) == 1
    assert reg.infos()[0].error == f"modules/{stem}.py failed to import: ImportError: no numpy here"
