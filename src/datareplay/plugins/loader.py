"""Importing a plugin from its location alone, in this process or in a fresh one.

A plugin folder (``modules/``, ``../team_plugins/modules``) is imported as a package
whose name is derived from the folder's full resolved path, not from its last component:
two folders both called ``modules`` get two packages, so a relative import in one never
resolves to the other's helper. The package is created on demand from the folder path,
so a spawned worker or a Dask worker that has never seen the registry imports the same
module under the same name.

A ``PluginRef`` is the plain-data name of a plugin class: its module, the folder that
module lives in (for folder plugins), and a fingerprint of the module's source (the
xxh3_128 hash of the file's bytes). ``load_plugin`` turns it back into the class and
refuses code that changed after the reference was taken.
"""

from __future__ import annotations

import importlib
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datareplay.errors import PluginDefinitionError, describe_exception

if TYPE_CHECKING:
    from datareplay.plugins.base import BasePlugin

PACKAGE_PREFIX = "datareplay_plugins_"


@dataclass(frozen=True)
class PluginRef:
    """Where a plugin class lives and what its code was, as plain data.

    ``module`` is the importable module name; ``folder`` the resolved plugin folder whose
    synthetic package holds it (``None`` for installed packages); ``fingerprint`` is
    ``"xxh3_128:<32 hex digits>"`` of the module's source file (or of its qualified name
    when it has no file).
    """

    name: str
    module: str
    folder: str | None
    fingerprint: str

    @property
    def qualname(self) -> str:
        return f"{self.module}:{self.name}"


def folder_package(folder: Path) -> str:
    """The package name a plugin folder is imported as: its last name plus a path hash.

    ``/work/proj/modules`` → ``datareplay_plugins_modules_3f9c0a1be2``. Stable across
    processes and machines that see the folder at the same path.
    """
    import xxhash

    resolved = str(folder.resolve())
    digest = xxhash.xxh3_64_hexdigest(resolved.encode("utf-8"))[:10]
    stem = re.sub(r"\W", "_", folder.name)
    return f"{PACKAGE_PREFIX}{stem}_{digest}"


def mount_folder(folder: Path, *, fresh: bool = False) -> str:
    """Make ``folder`` importable as its package; return the package name.

    With ``fresh`` every module already imported from it is forgotten first, so that the
    next import reads the files as they are now.
    """
    package = folder_package(folder)
    if fresh:
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
    if package not in sys.modules:
        root = types.ModuleType(package)
        root.__path__ = [str(folder.resolve())]
        root.__file__ = None
        sys.modules[package] = root
    return package


def module_fingerprint(module: types.ModuleType | None, *, fallback: str) -> str:
    """``xxh3_128:<hex>`` of the module's source file, else of ``fallback`` (a name)."""
    import xxhash

    path = getattr(module, "__file__", None)
    if path:
        try:
            data = Path(path).read_bytes()
        except OSError:
            data = fallback.encode("utf-8")
    else:
        data = fallback.encode("utf-8")
    return "xxh3_128:" + xxhash.xxh3_128_hexdigest(data)


def reference(cls: type[BasePlugin], *, folder: Path | None = None) -> PluginRef:
    """The ``PluginRef`` of a plugin class imported from ``folder`` (or a package)."""
    module = sys.modules.get(cls.__module__)
    return PluginRef(
        name=cls.__qualname__,
        module=cls.__module__,
        folder=str(folder.resolve()) if folder is not None else None,
        fingerprint=module_fingerprint(module, fallback=f"{cls.__module__}:{cls.__qualname__}"),
    )


def load_plugin(ref: PluginRef) -> type[BasePlugin]:
    """Import the class ``ref`` names, mounting its folder first if needed.

    Raises PluginDefinitionError when the module cannot be imported, does not define the
    class, or its source no longer matches ``ref.fingerprint``.
    """
    from datareplay.plugins.base import BasePlugin

    if ref.folder is not None:
        mount_folder(Path(ref.folder))
    try:
        module = importlib.import_module(ref.module)
    except Exception as exc:
        raise PluginDefinitionError(
            f"plugin {ref.name} cannot be imported from {ref.module}: {describe_exception(exc)}"
        ) from exc
    value: object = module
    for part in ref.name.split("."):
        value = getattr(value, part, None)
    if not (isinstance(value, type) and issubclass(value, BasePlugin)):
        raise PluginDefinitionError(
            f"module {ref.module} no longer defines plugin {ref.name}; "
            "run the pipeline again to pick up the change"
        )
    now = module_fingerprint(module, fallback=f"{ref.module}:{ref.name}")
    if now != ref.fingerprint:
        where = getattr(module, "__file__", None) or ref.module
        raise PluginDefinitionError(
            f"the code of plugin {ref.name} ({where}) changed after the run was planned; "
            "run the pipeline again to use the new code"
        )
    return value
