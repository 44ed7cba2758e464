"""Importing a plugin from its location alone, in this process or in a fresh one.

A plugin folder (``modules/``, ``../team_plugins/modules``) is imported as a package
whose name is derived from the folder's path relative to the project root, not from its
last component: ``modules`` becomes ``datareplay_plugins_modules`` and
``../team_plugins/modules`` becomes ``datareplay_plugins_up__team_plugins__modules_<hash>``,
so two folders called ``modules`` get two packages and a relative import in one never
resolves to the other's helper. The name does not depend on where the project lives, so
pickles of classes defined in plugin modules survive moving the project, and a worker
that mounts the project elsewhere imports the same names. The folder's own top-level
``__init__.py`` is not run (files named ``_*.py`` are never imported by discovery);
subfolders are ordinary packages.

A ``PluginRef`` is the plain-data name of a plugin class: its module, the folder and
package that module lives in (for folder plugins), and a fingerprint of the module's
source (the xxh3_128 hash of the file's bytes). ``load_plugin`` turns it back into the
class in any process and refuses code that changed after the reference was taken.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import types
from collections.abc import Sequence
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

    ``module`` is the importable module name; ``folder`` the resolved plugin folder and
    ``package`` the name it is mounted as (both ``None`` for installed packages);
    ``fingerprint`` is
    ``"xxh3_128:<32 hex digits>"`` of the module's source file (or of its qualified name
    when it has no file).
    """

    name: str
    module: str
    folder: str | None
    fingerprint: str
    package: str | None = None


def folder_package(folder: Path, *, root: Path) -> str:
    """The package name of plugin folder ``folder`` in the project at ``root``.

    ``modules`` → ``datareplay_plugins_modules``; a path that is not a plain dotted name
    (``../team_plugins/modules``, ``my-plugins``) gets its characters folded to ``_``,
    ``/`` to ``__``, ``..`` to ``up`` and a 6-digit hash of the relative path, so that
    two different paths never share a name.
    """
    import os

    relative = os.path.relpath(folder.resolve(), root.resolve()).replace(os.sep, "/")
    parts = ["up" if part == ".." else re.sub(r"\W", "_", part) for part in relative.split("/")]
    name = "__".join(parts)
    if all(part.isidentifier() for part in relative.split("/")):
        return PACKAGE_PREFIX + name
    return f"{PACKAGE_PREFIX}{name}_{_short_hash(relative)}"


def _short_hash(text: str) -> str:
    import xxhash

    return xxhash.xxh3_64_hexdigest(text.encode("utf-8"))[:6]


def mount_folder(folder: Path, package: str, *, fresh: bool = False) -> str:
    """Make ``folder`` importable as ``package``; return the name it was mounted as.

    With ``fresh`` every module already imported from the package is forgotten first, so
    that the next import reads the files as they are now. When another folder (of
    another project in this process) is already mounted under ``package``, this folder
    gets ``package`` plus a hash of its absolute path instead.
    """
    folder = folder.resolve()
    mounted = sys.modules.get(package)
    if mounted is not None and list(getattr(mounted, "__path__", [])) != [str(folder)]:
        package = f"{package}_{_short_hash(str(folder))}"
    if fresh:
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
    if package not in sys.modules:
        root = types.ModuleType(package)
        root.__path__ = [str(folder)]
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


def reference(
    cls: type[BasePlugin], *, folder: Path | None = None, package: str | None = None
) -> PluginRef:
    """The ``PluginRef`` of a plugin class imported from ``folder`` mounted as ``package``."""
    module = sys.modules.get(cls.__module__)
    return PluginRef(
        name=cls.__qualname__,
        module=cls.__module__,
        folder=str(folder.resolve()) if folder is not None else None,
        fingerprint=module_fingerprint(module, fallback=f"{cls.__module__}:{cls.__qualname__}"),
        package=package,
    )


def load_plugin(ref: PluginRef) -> type[BasePlugin]:
    """Import the class ``ref`` names, mounting its folder first if needed.

    Raises PluginDefinitionError when the module cannot be imported, does not define the
    class, or its source no longer matches ``ref.fingerprint``.
    """
    from datareplay.plugins.base import BasePlugin

    if ref.folder is not None and ref.package is not None:
        mount_folder(Path(ref.folder), ref.package)
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


def display_path(path: Path | str, root: Path | str) -> str:
    """``path`` relative to the project ``root`` when it lies below it, else absolute."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, os.path.abspath(root))
    return absolute if relative.startswith("..") else relative.replace(os.sep, "/")


def _within(path: str, places: Sequence[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == place or real.startswith(place.rstrip(os.sep) + os.sep) for place in places)


def code_frame(
    exc: BaseException, places: Sequence[Path | str]
) -> tuple[str, int, str, str] | None:
    """``(file, line, function, source line)`` of the last frame of ``exc`` in ``places``.

    ``places`` are folders or files (a plugin folder, a plugin's module); frames of the
    engine, pandas or the standard library are passed over. A SyntaxError in one of
    ``places`` is located at its own file and line. None when no frame is inside.
    """
    import traceback

    wanted = [os.path.realpath(place) for place in places]
    found: tuple[str, int, str, str] | None = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and _within(frame.filename, wanted):
            found = (frame.filename, frame.lineno or 0, frame.name, (frame.line or "").strip())
    if isinstance(exc, SyntaxError) and exc.filename and _within(exc.filename, wanted):
        text = (exc.text or "").strip()
        found = (exc.filename, exc.lineno or 0, "<module>", text)
    return found


def plugin_places(cls: type, folder: str | None) -> list[str]:
    """Where the code of plugin ``cls`` lives: its plugin folder, else its module's file.

    A module inside a package counts its whole folder (helpers beside it are its own).
    """
    if folder is not None:
        return [folder]
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if not path:
        return []
    if "." in cls.__module__:
        return [os.path.dirname(path)]
    return [path]


def import_failure(exc: BaseException, *, folder: Path, root: Path) -> tuple[str | None, str]:
    """Why a module of plugin ``folder`` failed to import: ``(file:line, cause)``.

    ``file:line`` (relative to ``root``) is the last frame in the folder, None when the
    failure happened elsewhere; ``cause`` is the exception's type and first line, plus a
    hint when the module imports a sibling module as if it were top-level.
    """
    from datareplay.errors import describe_exception

    cause = describe_exception(exc)
    frame = code_frame(exc, [folder])
    if frame is None:
        return None, cause
    path, line, _, text = frame
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        statement = relative_import(exc.name, Path(path), folder=folder, text=text)
        if statement:
            cause += f"; write '{statement}' (plugin folders are packages)"
    return f"{display_path(path, root)}:{line}", cause


def relative_import(name: str, importer: Path, *, folder: Path, text: str) -> str | None:
    """``from .helpers import f`` for ``from helpers import f`` in ``importer``, or None.

    Only when ``name``'s first part is a module or package of ``folder`` (beside the
    importer, or further up the folder, which adds a dot per level).
    """
    top = name.split(".")[0]
    here = importer.resolve().parent
    base = folder.resolve()
    dots = "."
    while True:
        if (here / f"{top}.py").is_file() or (here / top).is_dir():
            break
        if here == base or base not in here.parents:
            return None
        here = here.parent
        dots += "."
    escaped = re.escape(top)
    matched = re.fullmatch(rf"from\s+{escaped}((?:\.\w+)*)\s+import\s+(.+)", text)
    if matched:
        return f"from {dots}{top}{matched.group(1)} import {matched.group(2).strip()}"
    matched = re.fullmatch(rf"import\s+{escaped}(\s+as\s+\w+)?", text)
    if matched:
        return f"from {dots} import {top}{matched.group(1) or ''}"
    return f"from {dots}{top} import ..."


def code_modules(cls: type[BasePlugin]) -> dict[str, str]:
    """The modules whose code decides what plugin ``cls`` computes, with their hashes.

    Returns ``{module name: "xxh3_128:<hex>"}`` for the plugin's own module and every
    module of the same top-level package (the mounted plugin folder, or the installed
    distribution's package) that it imports, directly or through each other: the
    ``import`` statements of each module's source are read (those inside functions too),
    relative imports resolved against its package. Modules of other packages (pandas,
    the standard library) are left out: their versions are recorded with each run.
    """
    import ast
    import importlib.util

    top = cls.__module__.split(".", 1)[0]
    found: dict[str, str] = {}
    todo = [cls.__module__]
    if top == "datareplay":  # a built-in plugin: its module and the engine's version
        from datareplay import __version__

        found["datareplay"] = __version__
        top = cls.__module__  # nothing else is followed
    while todo:
        name = todo.pop()
        if name in found:
            continue
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if path is None:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            path = spec.origin if spec is not None and spec.has_location else None
        if not path or not str(path).endswith(".py"):
            continue
        try:
            source = Path(path).read_bytes()
        except OSError:
            continue
        found[name] = _hash_bytes(source)
        package = name if Path(path).name == "__init__.py" else name.rpartition(".")[0]
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    anchor = ".".join(parts[: len(parts) - node.level + 1])
                    base = f"{anchor}.{base}" if base else anchor
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target and target.split(".", 1)[0] == top and target not in found:
                    todo.append(target)
    return dict(sorted(found.items()))


def _hash_bytes(data: bytes) -> str:
    import xxhash

    return "xxh3_128:" + xxhash.xxh3_128_hexdigest(data)
