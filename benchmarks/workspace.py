"""The throwaway project every benchmark works on, and a description of the machine.

The repository's own ``cases/demo/data`` and ``data/`` are never touched: the project is
copied into a fresh folder under ``benchmarks/.work/`` (git-ignored) and its raw data
is generated there once per benchmark run.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from benchlib import PYTHON, REPO, run_quiet, timed

PROJECT_PARTS = ("config", "templates", "modules", "scripts", "run.py")
LIBRARIES = ("datareplay", "pandas", "pyarrow", "numpy", "click", "pydantic", "PyYAML")
SEED = 42


def make_project(dest: Path) -> Path:
    """Copy the demo project (code, config, the demo case; no data) to ``dest``."""
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__")
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=ignore)
        else:
            shutil.copy2(source, dest / part)
    (dest / "cases" / "demo").mkdir(parents=True)
    shutil.copy2(REPO / "cases" / "demo" / "case.yaml", dest / "cases" / "demo" / "case.yaml")
    return dest


def snapshot_engine(dest: Path) -> str:
    """Copy ``src/datareplay`` to ``dest`` and put the copy first on every import path.

    Others may edit the engine while a full run takes its minutes; with a snapshot every
    figure measures the same code. Child processes get it through PYTHONPATH, this
    process through ``sys.path``. Returns the snapshot's git description.
    """
    revision = _git_revision()
    shutil.copytree(
        REPO / "src" / "datareplay",
        dest / "datareplay",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    if any(name == "datareplay" or name.startswith("datareplay.") for name in sys.modules):
        raise RuntimeError("datareplay was imported before the snapshot was put on sys.path")
    sys.path.insert(0, str(dest))
    paths = [str(dest), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    found = run_quiet([PYTHON, "-c", "import datareplay; print(datareplay.__file__)"], cwd=dest)
    if not Path(found.strip()).is_relative_to(dest):
        raise RuntimeError(f"children import datareplay from {found.strip()}, not {dest}")
    return revision


def generate_raw(project: Path, rows: int) -> float:
    """Write the demo recording with ``rows`` wheel-speed samples; return the seconds taken."""
    script = project / "scripts" / "generation.py"
    cmd = [PYTHON, script, "--rows", str(rows), "--seed", str(SEED), "--root", project]
    return timed(lambda: run_quiet(cmd, cwd=project))


def raw_bytes(project: Path) -> int:
    return sum(p.stat().st_size for p in (project / "data" / "raw").rglob("*") if p.is_file())


# -- the machine -----------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024**2:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _filesystem(path: Path) -> str:
    """Device and type of the file system holding ``path`` (from /proc/mounts)."""
    best = ("", "unknown", "")
    try:
        resolved = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind, *_ = line.split()
            inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best[0]):
                best = (mount, kind, device)
    except OSError:
        pass
    return f"{best[1]} on {best[2]} (mounted at {best[0]})" if best[0] else "unknown"


def _git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--"], cwd=REPO, timeout=30, check=False
        ).returncode
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev} (with uncommitted changes)" if dirty else rev


def machine(work: Path) -> list[tuple[str, str]]:
    """What the figures depend on, as (label, value) pairs."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()} logical" + (f" ({usable} usable)" if usable else "")
    return [
        ("date", time.strftime("%Y-%m-%d %H:%M %Z")),
        ("CPU", _cpu_model()),
        ("cores", cores),
        ("memory", _memory()),
        ("OS", platform.platform()),
        ("work folder file system", _filesystem(work)),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        *((name, _version(name)) for name in LIBRARIES),
        ("git revision", _git_revision()),
    ]
