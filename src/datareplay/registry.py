"""Finding plugins: every ``BasePlugin`` subclass defined in the project's plugin folders.

Discovery is lazy: nothing is imported until a plugin is asked for. Each module is
imported under its own name, its plugin classes are checked against the contract, and
a module that fails to import or defines an invalid plugin is recorded as broken with
the reason, so it breaks only the cases that use it.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from datareplay.base_plugin import BasePlugin, check_plugin_class
from datareplay.errors import (
    PluginDefinitionError,
    UnknownNameError,
    describe_exception,
    did_you_mean,
)

_MODULE_PREFIX = "datareplay_plugins"


@dataclass(frozen=True)
class PluginInfo:
    """A discovered plugin, or a broken module/plugin with the reason."""

    name: str
    origin: str
    plugin: type[BasePlugin] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.plugin is not None and self.error is None


class PluginRegistry:
    """Plugins by name, discovered from folders on first use."""

    def __init__(self, folders: list[Path], *, project_root: Path) -> None:
        self.folders = folders
        self.project_root = project_root
        self._plugins: dict[str, PluginInfo] | None = None
        self._broken: list[PluginInfo] = []

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.project_root))
        except ValueError:
            return str(path)

    def _discover(self) -> dict[str, PluginInfo]:
        if self._plugins is not None:
            return self._plugins
        found: dict[str, PluginInfo] = {}
        for folder in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.py")):
                if path.name.startswith("_"):
                    continue
                infos, broken = self._load_module(path)
                if broken is not None:
                    self._broken.append(broken)
                for info in infos:
                    other = found.get(info.name)
                    if other is not None:
                        info = PluginInfo(
                            info.name,
                            info.origin,
                            None,
                            f"plugin name '{info.name}' is defined twice: in {other.origin} "
                            f"and {info.origin}; rename one of them",
                        )
                    found[info.name] = info
        self._plugins = found
        return found

    def _load_module(self, path: Path) -> tuple[list[PluginInfo], PluginInfo | None]:
        """The plugins of one module file, or the reason the module is broken."""
        origin = self._display(path)
        module_name = f"{_MODULE_PREFIX}.{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            return [], PluginInfo(path.stem, origin, error=f"{origin}: cannot be imported")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(module_name, None)
            reason = f"{origin} failed to import: {describe_exception(exc)}"
            return [], PluginInfo(path.stem, origin, error=reason)
        infos = []
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BasePlugin)
                and value is not BasePlugin
                and value.__module__ == module_name
            ):
                try:
                    check_plugin_class(value, origin=origin)
                except PluginDefinitionError as exc:
                    infos.append(PluginInfo(value.__name__, origin, None, str(exc)))
                else:
                    infos.append(PluginInfo(value.__name__, origin, value))
        return infos, None

    def infos(self) -> list[PluginInfo]:
        """All plugins and broken modules, sorted by name."""
        plugins = self._discover()
        return sorted([*plugins.values(), *self._broken], key=lambda i: (i.name, i.origin))

    def names(self) -> list[str]:
        return sorted(name for name, info in self._discover().items() if info.ok)

    def get(self, name: str, *, where: str = "") -> type[BasePlugin]:
        """The plugin class called ``name``; errors name ``where`` it was asked for."""
        plugins = self._discover()
        prefix = f"{where}: " if where else ""
        info = plugins.get(name)
        if info is None:
            hint = did_you_mean(name, plugins)
            broken = "; ".join(b.error or "" for b in self._broken)
            if broken:
                hint += f" (note: {broken})"
            elif not hint:
                hint = f" (known plugins: {', '.join(self.names()) or 'none'})"
            raise UnknownNameError(f"{prefix}unknown plugin '{name}'{hint}")
        if info.plugin is None or info.error:
            raise PluginDefinitionError(f"{prefix}plugin '{name}' is broken: {info.error}")
        return info.plugin
