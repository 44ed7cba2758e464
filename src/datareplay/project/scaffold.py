"""``datareplay init DIR``: a new project that runs straight away.

The files come from the ``project/skeleton/`` folder shipped inside the package. They are copied
into a temporary folder beside the target (named like every temporary, after its writer)
and renamed into place at the end, so an interrupted ``init`` never leaves half a project
behind; the staging folder a killed ``init`` left is swept by the next ``init`` of that
folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from datareplay.data.atomic import fsync_dir, sweep_temporaries, temp_path_for
from datareplay.errors import UsageError

_SKIP = {"__pycache__"}


def init_project(target: Path) -> list[Path]:
    """Create a project in ``target`` (which must not exist or be empty)."""
    target = target.absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(
            f"{target} already exists and is not empty; choose a new folder for the project"
        )
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent} does not exist; create it first")
    # stagings of an init that was killed are swept once their writer is gone
    with contextlib.suppress(OSError):
        sweep_temporaries([target], folders=True)
    staging = temp_path_for(target)
    try:
        written = _copy(files("datareplay.project") / "skeleton", staging)
        if target.exists():
            # an existing empty folder (perhaps the current one) is filled in place
            for item in sorted(staging.iterdir()):
                os.replace(item, target / item.name)
            staging.rmdir()
            fsync_dir(target)
        else:
            os.replace(staging, target)
            fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(target / path.relative_to(staging) for path in written)


def _copy(source: Traversable, destination: Path) -> list[Path]:
    destination.mkdir(parents=True)
    written: list[Path] = []
    for item in sorted(source.iterdir(), key=lambda t: t.name):
        if item.name in _SKIP:
            continue
        if item.is_dir():
            written += _copy(item, destination / item.name)
        else:
            path = destination / item.name
            path.write_bytes(item.read_bytes())
            written.append(path)
    return written
