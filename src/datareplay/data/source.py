"""A data source: one named dataset of a case, as declared under ``data_sources``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datareplay.data.formats import Format


@dataclass(frozen=True)
class DataSource:
    """A named dataset: its format, its file (if persisted) and how it may be used.

    Plain, picklable data: a step sent to another process carries the sources it touches.
    ``checks`` are quality ``CheckSpec`` values evaluated every time the source is written.
    """

    name: str
    format: Format
    path: Path | None
    read_only: bool = False
    description: str = ""
    trusted: bool = True
    checks: tuple[Any, ...] = ()

    @property
    def persisted(self) -> bool:
        """True when a write goes to a file (a persistent format with a path)."""
        return self.path is not None and self.format.persistent
