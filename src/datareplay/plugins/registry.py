"""Finding plugins: every ``BasePlugin`` subclass offered by a plugin source.

Sources, searched in this order:

1. plugin folders (``plugins.paths`` in config/global.yaml, default ``modules``), at any
   depth: a folder is imported as a package, so a plugin package with several modules and
   relative imports works; files named ``_*.py``, ``test_*.py`` and ``conftest.py`` are
   skipped;
2. installed distributions that declare an entry point in the group ``datareplay.plugins``
   (the framework's own built-in plugins are registered the same way). An entry point
   names a module (every plugin defined in it) or one plugin class.

Discovery is lazy: nothing is imported until a plugin is asked for. Every plugin is
checked against the contract when it is found; a module that fails to import, an invalid
plugin or a name offered twice is recorded as broken with the reason, so it breaks only
the cases that use it.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from datareplay.errors import (
    PluginDefinitionError,
    UnknownNameError,
    describe_exception,
    did_you_mean,
)
from datareplay.plugins.base import BasePlugin, check_plugin_class
from datareplay.plugins.loader import (
    PluginRef,
    folder_package,
    import_failure,
    mount_folder,
    reference,
)

ENTRY_POINT_GROUP = "datareplay.plugins"
_SKIP = ("_", "test_")
SHORT_ERROR_CHARS = 60  # of the reason shown in the plugins table, before the pointer
_CLASS_LINE = re.compile(r"^class\s+([A-Za-z_]\w*)", re.MULTILINE)


@dataclass(frozen=True)
class PluginInfo:
    """A discovered plugin, or a broken module/plugin with the reason."""

    name: str
    origin: str
    source: str
    plugin: type[BasePlugin] | None = None
    error: str | None = None
    broken_module: bool = False  # a module or entry point that offered nothing usable
    ref: PluginRef | None = None  # how any process imports the plugin again
    # a broken module: where it failed (file:line), why, and the classes its source defines
    location: str | None = None
    cause: str | None = None
    defines: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.plugin is not None and self.error is None

    @property
    def short_error(self) -> str | None:
        """The broken reason in one short line, for the ``plugins`` table.

        The first line of ``error`` without the origin it starts with (the table shows
        the origin in its own column), cut to about ``SHORT_ERROR_CHARS`` characters;
        a cut reason ends with ``… (plugins --json)``, where the whole text is (and in
        ``describe NAME``). None when the plugin is not broken.
        """
        if self.error is None and self.plugin is not None:
            return None
        text = self.error or "broken"
        for prefix in (f"{self.origin}: ", f"{self.origin} "):
            if text.startswith(prefix) and len(text) > len(prefix):
                text = text[len(prefix) :]
                break
        lines = text.strip().splitlines() or [""]
        first = " ".join(lines[0].split())
        if len(first) <= SHORT_ERROR_CHARS and len(lines) == 1:
            return first
        cut = first[:SHORT_ERROR_CHARS]
        if len(first) > SHORT_ERROR_CHARS and " " in cut:
            cut = cut.rsplit(" ", 1)[0]
        cut = cut.rstrip(" ;:,.(")
        return f"{cut}… (plugins --json)"


class PluginRegistry:
    """Plugins by name from folders and entry points, discovered on first use."""

    def __init__(
        self,
        folders: list[Path],
        *,
        project_root: Path,
        entry_points: Iterable[EntryPoint] | None = None,
    ) -> None:
        self.folders = list(dict.fromkeys(folder.resolve() for folder in folders))
        self.project_root = project_root
        self._entry_points = entry_points
        self._plugins: dict[str, PluginInfo] | None = None
        self._broken: list[PluginInfo] = []
        self._signature: tuple[tuple[str, int, int], ...] | None = None

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.project_root))
        except ValueError:
            return str(path)

    # -- discovery ---------------------------------------------------------------------

    def files_signature(self) -> tuple[tuple[str, int, int], ...]:
        """(path, mtime in ns, size) of every ``.py`` file in the plugin folders."""
        entries = []
        for folder in self.folders:
            if folder.is_dir():
                for path in folder.rglob("*.py"):
                    try:
                        stat = path.stat()
                    except OSError:
                        continue
                    entries.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(entries))

    def stale(self) -> bool:
        """True when a plugin file was added, removed or changed since discovery."""
        return self._plugins is not None and self.files_signature() != self._signature

    def _discover(self) -> dict[str, PluginInfo]:
        if self._plugins is not None:
            return self._plugins
        self._signature = self.files_signature()
        found: dict[str, PluginInfo] = {}
        for info in self._scan():
            if info.broken_module:
                self._broken.append(info)
                continue
            other = found.get(info.name)
            if other is not None:
                info = PluginInfo(
                    info.name,
                    info.origin,
                    info.source,
                    None,
                    f"plugin name '{info.name}' is offered twice: by {other.origin} and by "
                    f"{info.origin}; rename one of them or remove one source",
                )
            found[info.name] = info
        self._plugins = found
        return found

    def _scan(self) -> Iterator[PluginInfo]:
        for folder in self.folders:
            if folder.is_dir():
                yield from self._scan_folder(folder)
        eps = self._entry_points
        if eps is None:
            eps = entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(eps, key=lambda e: (_dist_label(e), e.name)):
            yield from self._scan_entry_point(ep)

    def _scan_folder(self, folder: Path) -> Iterator[PluginInfo]:
        folder = folder.resolve()
        label = self._display(folder)
        package = folder_package(folder, root=self.project_root)
        package = mount_folder(folder, package, fresh=True)  # files may have changed since
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder)
            if any(part.startswith(_SKIP) for part in relative.parts[:-1]):
                continue
            if path.name.startswith(_SKIP) or path.name == "conftest.py":
                continue
            dotted = ".".join((package, *relative.parts[:-1], path.stem))
            origin = self._display(path)
            try:
                module = importlib.import_module(dotted)
            except Exception as exc:
                location, cause = import_failure(exc, folder=folder, root=self.project_root)
                yield PluginInfo(
                    origin,
                    origin,
                    label,
                    error=f"{origin} failed to import: {cause}",
                    broken_module=True,
                    location=location,
                    cause=cause,
                    defines=_classes_defined(path),
                )
                continue
            yield from _plugins_in(
                module, origin=origin, source=label, own=dotted, folder=folder, package=package
            )

    def _scan_entry_point(self, ep: EntryPoint) -> Iterator[PluginInfo]:
        source = _dist_label(ep)
        origin = f"{source}: {ep.value}"
        try:
            loaded = ep.load()
        except Exception as exc:
            reason = (
                f"entry point '{ep.name}' of {source} ({ep.value}) failed to load: "
                f"{describe_exception(exc)}"
            )
            _, _, attribute = ep.value.partition(":")
            yield PluginInfo(
                origin,
                origin,
                source,
                error=reason,
                broken_module=True,
                cause=describe_exception(exc),
                defines=(attribute.strip().rsplit(".", 1)[-1],) if attribute.strip() else (),
            )
            return
        if isinstance(loaded, types.ModuleType):
            yield from _plugins_in(loaded, origin=origin, source=source, own=loaded.__name__)
        elif isinstance(loaded, type):
            yield _checked(loaded, origin=origin, source=source)
        else:
            reason = (
                f"entry point '{ep.name}' of {source} ({ep.value}) is a "
                f"{type(loaded).__name__}; point it at a module or a BasePlugin subclass"
            )
            yield PluginInfo(origin, origin, source, error=reason, broken_module=True)

    # -- queries -----------------------------------------------------------------------

    def infos(self) -> list[PluginInfo]:
        """All plugins and broken modules, sorted by source, then name."""
        plugins = self._discover()
        everything = [*plugins.values(), *self._broken]
        return sorted(everything, key=lambda i: (i.source, i.name, i.origin))

    def names(self) -> list[str]:
        return sorted(name for name, info in self._discover().items() if info.ok)

    def reference(self, name: str) -> PluginRef:
        """The plain-data reference of plugin ``name`` (see ``get`` for the errors)."""
        self.get(name)
        ref = self._discover()[name].ref
        assert ref is not None
        return ref

    def get(self, name: str, *, where: str = "") -> type[BasePlugin]:
        """The plugin class called ``name``; errors name ``where`` it was asked for."""
        plugins = self._discover()
        prefix = f"{where}: " if where else ""
        info = plugins.get(name)
        if info is None:
            # a module that failed to import and whose source defines the class: its
            # failure is the real cause, not a misspelt name
            for failed in self._broken:
                if name in failed.defines:
                    where = failed.location or failed.origin
                    also = (
                        ""
                        if where.startswith(f"{failed.origin}:")
                        else f" (while importing {failed.origin})"
                    )
                    raise PluginDefinitionError(
                        f"{prefix}plugin '{name}' could not be imported: {where}: "
                        f"{failed.cause or failed.error}{also}"
                    )
                if name in (failed.name, failed.origin):  # describe modules/x.py
                    raise PluginDefinitionError(f"{prefix}{failed.error}")
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


def _classes_defined(path: Path) -> tuple[str, ...]:
    """Names of the classes defined at the top level of the Python file ``path``.

    Read from the text (the module could not be imported), so that a case naming one
    of them is told why the import failed rather than that the name is unknown.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return tuple(dict.fromkeys(_CLASS_LINE.findall(text)))


def _dist_label(ep: EntryPoint) -> str:
    dist = ep.dist
    if dist is None:
        return f"entry point {ep.name}"
    return f"{dist.name} {dist.version}"


def _plugins_in(
    module: Any,
    *,
    origin: str,
    source: str,
    own: str,
    folder: Path | None = None,
    package: str | None = None,
) -> Iterator[PluginInfo]:
    """Every plugin class defined in ``module`` itself (not the ones it imports)."""
    for value in vars(module).values():
        if (
            inspect.isclass(value)
            and issubclass(value, BasePlugin)
            and value is not BasePlugin
            and value.__module__ == own
        ):
            yield _checked(value, origin=origin, source=source, folder=folder, package=package)


def _checked(
    cls: type,
    *,
    origin: str,
    source: str,
    folder: Path | None = None,
    package: str | None = None,
) -> PluginInfo:
    try:
        check_plugin_class(cls, origin=origin)
    except PluginDefinitionError as exc:
        return PluginInfo(cls.__name__, origin, source, None, str(exc))
    assert issubclass(cls, BasePlugin)
    ref = reference(cls, folder=folder, package=package)
    return PluginInfo(cls.__name__, origin, source, cls, ref=ref)
