"""What a run record says about where it ran: versions, platform, the project's commit.

Nothing here reads an environment variable's value, and nothing imports a data library:
versions come from the installed distributions' metadata. Those versions, the project's
git commit and whether its tree had uncommitted changes are found in a background
thread started with the run, so a short run does not wait for them
(``Environment.result``).
"""

from __future__ import annotations

import platform
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("datareplay", "pandas", "numpy", "pyarrow", "pandera", "xxhash", "PyYAML")


_VERSIONS: dict[str, str | None] = {}  # per process: installed versions do not change


def versions() -> dict[str, str | None]:
    """Installed version of the framework and the key data libraries (None: absent)."""
    if _VERSIONS:
        return dict(_VERSIONS)
    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    _VERSIONS.update(found)
    return found


def git_state(root: Path, timeout_s: float = 5.0) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the project at ``root``."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


class Environment:
    """The environment of one run, with the git part computed in the background."""

    def __init__(self, root: Path) -> None:
        self.static: dict[str, Any] = {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "platform": platform.platform(),
            "machine": platform.machine(),
        }
        self._found: dict[str, Any] = {"versions": {}, "git": {"commit": None, "dirty": None}}
        self._thread = threading.Thread(target=self._ask_git, args=(root,), daemon=True)
        self._thread.start()

    def _ask_git(self, root: Path) -> None:
        # distribution metadata is a scan of sys.path: slow enough to keep off the run
        self._found = {"versions": versions(), "git": git_state(root)}

    def result(self, wait_s: float = 5.0) -> dict[str, Any]:
        """Everything, waiting at most ``wait_s`` for the background part."""
        self._thread.join(wait_s)
        return {**self.static, **self._found}
