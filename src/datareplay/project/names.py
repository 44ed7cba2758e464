"""Names and paths that come from configuration or the command line.

Case, template, data-source and step names must match a strict ASCII pattern, so they
cannot contain separators, ``..``, NUL bytes or look-alike unicode. Paths are resolved
(symlinks included) and must stay inside the project folder or inside a data root that
``config/global.yaml`` allows explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from datareplay.data.source import FIX_ESCAPE, describe_escape, outside
from datareplay.errors import UnsafeNameError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_RULE = "use 1-64 ASCII letters, digits, '_', '-' or '.', starting with a letter or digit"


def check_name(value: object, *, kind: str) -> str:
    """Return ``value`` if it is a safe name, else raise UnsafeNameError naming ``kind``."""
    if not isinstance(value, str):
        raise UnsafeNameError(f"{kind} name must be text, got {type(value).__name__} {value!r}")
    if not NAME_PATTERN.fullmatch(value) or ".." in value:
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise UnsafeNameError(f"invalid {kind} name {shown!r}: {_RULE}")
    return value


def inside(path: Path, roots: Iterable[Path]) -> bool:
    """True when ``path`` (resolved) lies in one of the resolved ``roots``."""
    resolved = path.resolve()
    return any(resolved == r or resolved.is_relative_to(r) for r in (x.resolve() for x in roots))


def contained_path(value: str, *, base: Path, roots: Iterable[Path], what: str) -> Path:
    """Resolve ``value`` against ``base``; refuse it unless it stays inside ``roots``."""
    if not value or "\x00" in value:
        raise UnsafeNameError(f"{what}: path {value!r} is empty or contains a NUL byte")
    candidate = Path(value)
    path = candidate if candidate.is_absolute() else base / candidate
    roots = list(roots)
    if not inside(path, roots):
        allowed = ", ".join(str(r) for r in roots)
        raise UnsafeNameError(
            f"{what}: path {value!r} resolves outside the project ({path.resolve()}); "
            f"keep data inside {allowed} or add its folder to data.allowed_roots in "
            "config/global.yaml"
        )
    return path.resolve()


def check_location(path: Path, *, roots: Iterable[Path], what: str, shown: str) -> Path:
    """Return ``path`` unchanged if it resolves inside ``roots``, else raise UnsafeNameError.

    For paths the engine derives itself (a source's default file in the case's data
    folder), where a symlink planted at that name must not lead outside. ``shown`` names
    ``path`` in the message.
    """
    escaped = outside(path, [root.resolve() for root in roots])
    if escaped is not None:
        raise UnsafeNameError(f"{what}: {describe_escape(path, escaped, shown)}; {FIX_ESCAPE}")
    return path
