"""A data source: one named dataset of a case, as declared under ``data_sources``.

A source also carries where its file may be: ``roots`` are the folders (the project and
``data.allowed_roots``, resolved) its path must resolve into — symlinks included — every
time the file is opened, and ``store`` is the case's own data folder, the one place a
pickle is unpickled from without ``trusted: true``. Both are checked on the resolved path
at read and write time, so a symlink planted after the configuration was checked is
caught as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datareplay.data.formats import Format

FIX_ESCAPE = "remove the link, or add its folder to data.allowed_roots in config/global.yaml"


@dataclass(frozen=True)
class DataSource:
    """A named dataset: its format, its file (if persisted) and how it may be used.

    Plain, picklable data: a step sent to another process carries the sources it touches.
    ``options`` are the format's reader and writer options (``options:`` in case.yaml).
    ``checks`` are quality ``CheckSpec`` values evaluated every time the source is written.
    ``trusted`` allows unpickling from anywhere inside ``roots``; otherwise a pickle is
    read only when its file resolves inside ``store``. Empty ``roots`` means unchecked
    (sources built by hand in Python).
    """

    name: str
    format: Format
    path: Path | None
    read_only: bool = False
    description: str = ""
    trusted: bool = True
    checks: tuple[Any, ...] = ()
    roots: tuple[Path, ...] = ()
    store: Path | None = None
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def format_options(self) -> dict[str, Any]:
        """``options`` as the mapping the format's read and write take."""
        return dict(self.options)

    @property
    def options_args(self) -> tuple[dict[str, Any], ...]:
        """``(options,)`` when options are set, else ``()``: a format's read and write take
        options as an optional last argument (formats made by hand may take none)."""
        return (self.format_options,) if self.options else ()

    @property
    def persisted(self) -> bool:
        """True when a write goes to a file (a persistent format with a path)."""
        return self.path is not None and self.format.persistent

    def may_unpickle(self, resolved: Path) -> bool:
        """True when the file at ``resolved`` (a resolved path) may be unpickled."""
        return self.trusted or (self.store is not None and resolved.is_relative_to(self.store))


def outside(path: Path, roots: Iterable[Path]) -> Path | None:
    """The resolved ``path`` when it lies outside every one of the resolved ``roots``.

    Raises UnsafeNameError for a symbolic link loop.
    """
    from datareplay.errors import UnsafeNameError

    try:
        resolved = path.resolve()
    except RuntimeError:  # Python 3.11 reports a link loop this way
        raise UnsafeNameError(
            f"{path} is a symbolic link loop; remove the link or point it at a file"
        ) from None
    if any(resolved == root or resolved.is_relative_to(root) for root in roots):
        return None
    return resolved


def describe_escape(path: Path, resolved: Path, shown: str) -> str:
    """``<shown> is a symlink to <target>, outside ...`` for a path that escapes its roots.

    ``shown`` is how messages name ``path`` (relative to the project root).
    """
    if path.is_symlink():
        how = f"is a symlink to {resolved}"
    elif path.resolve() != path.absolute():
        how = f"resolves through a symlinked folder to {resolved}"
    else:
        how = f"is {resolved}"
    return f"{shown} {how}, outside the project and data.allowed_roots"
