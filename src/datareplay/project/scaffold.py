"""``datareplay init DIR``: a new project that runs straight away.

The files come from the ``project/skeleton/`` folder shipped inside the package. They are copied
into a temporary folder beside the target (named like every temporary, after its writer)
and renamed into place at the end, so an interrupted ``init`` never leaves half a project
behind; the staging folder a killed ``init`` left is swept by the next ``init`` of that
folder.

The project gets a ``.gitignore`` (shipped as ``skeleton/gitignore``, so that it does not
apply to the package's own files) that ignores what runs write: the case outputs
``cases/*/data/``, the lock files ``cases/*/.lock``, the raw recordings below ``data/``
(except the example case's small input), the run store ``.datareplay/`` and
``__pycache__/``.

The target must not exist, or be a folder that is empty or holds only version-control
files (``.git``, ``.gitignore``, ``.gitattributes``, ``.hg``): ``git init p && datareplay
init p`` works. Those files are never replaced: ``.git``, ``.gitattributes`` and ``.hg``
are not touched, and an existing ``.gitignore`` keeps every line it has; the lines of the
scaffold's ``.gitignore`` it lacks are appended below a comment (nothing is written when
it has them all, and a ``.gitignore`` that is a link or not a file is left alone).
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
_RENAMED = {"gitignore": ".gitignore"}  # shipped name -> name in the project
GITIGNORE = ".gitignore"
VERSION_CONTROL = frozenset({".git", ".gitignore", ".gitattributes", ".hg"})
APPENDED = "# added by datareplay init: what Data Replay writes while it runs"


def init_project(target: Path) -> list[Path]:
    """Create a project in ``target`` (which must not exist, or hold at most
    version-control files); return the files written, an extended ``.gitignore`` too."""
    target = target.absolute()
    if target.exists() and (
        not target.is_dir() or any(item.name not in VERSION_CONTROL for item in target.iterdir())
    ):
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
            # an existing folder (perhaps the current one), empty or holding only
            # version-control files, is filled in place
            if not _merge_gitignore(staging / GITIGNORE, target / GITIGNORE):
                written.remove(staging / GITIGNORE)
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
            path = destination / _RENAMED.get(item.name, item.name)
            path.write_bytes(item.read_bytes())
            written.append(path)
    return written


def _merge_gitignore(staged: Path, existing: Path) -> bool:
    """Make ``staged`` what ``existing`` should become; False: leave ``existing`` as it is.

    No ``existing``: the scaffold's file as it is. Otherwise every line of ``existing``
    and then the scaffold's lines it lacks (compared without surrounding blanks); False
    when it lacks none, or is a link or not a file (then ``staged`` is deleted).
    """
    if not existing.exists() and not existing.is_symlink():
        return True
    ours = staged.read_text(encoding="utf-8")
    if existing.is_symlink() or not existing.is_file():
        staged.unlink()
        return False
    theirs = existing.read_bytes().decode("utf-8", errors="surrogateescape")
    present = {line.strip() for line in theirs.splitlines()}
    missing = [
        line
        for line in ours.splitlines()
        if line.strip() and not line.startswith("#") and line.strip() not in present
    ]
    if not missing:
        staged.unlink()
        return False
    if theirs and not theirs.endswith("\n"):
        theirs += "\n"
    merged = theirs + ("\n" if theirs.strip() else "") + "\n".join([APPENDED, *missing]) + "\n"
    staged.write_bytes(merged.encode("utf-8", errors="surrogateescape"))
    shutil.copymode(existing, staged)
    return True
