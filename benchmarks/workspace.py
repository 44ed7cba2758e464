"""The throwaway project every benchmark works on, and a description of the machine.

The repository's own ``cases/demo/data`` and ``data/`` are never touched: the project is
copied into a fresh folder under ``benchmarks/.work/`` (git-ignored) and its raw data
is generated there once per benchmark run.
"""

from __future__ import annotations

import compileall
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchlib import PYTHON, REPO, clean_env, run_quiet, timed

PROJECT_PARTS = ("config", "templates", "modules", "scripts", "run.py")
ENGINE = "src/datareplay"
_INHERITED_PATH = list(filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)))
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
    compileall.compile_dir(dest, quiet=1)
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
    compileall.compile_dir(dest, quiet=1)
    if any(name == "datareplay" or name.startswith("datareplay.") for name in sys.modules):
        raise RuntimeError("datareplay was imported before the snapshot was put on sys.path")
    sys.path.insert(0, str(dest))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(dest), *_INHERITED_PATH])
    _check_import(dest, clean_env())
    return revision


def engine_env(engine: Path) -> dict[str, str]:
    """The child environment that imports ``datareplay`` from ``engine`` instead."""
    return clean_env({"PYTHONPATH": os.pathsep.join([str(engine), *_INHERITED_PATH])})


def _check_import(engine: Path, env: dict[str, str]) -> None:
    found = subprocess.run(
        [PYTHON, "-c", "import datareplay; print(datareplay.__file__)"],
        cwd=engine,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout.strip()
    if not found or not Path(found).is_relative_to(engine):
        raise RuntimeError(f"children import datareplay from {found or '?'}, not {engine}")


def previous_revision() -> str:
    """The engine before its latest commit: the parent of the last commit that changed
    src/datareplay ("" when git cannot tell)."""
    try:
        last = subprocess.run(
            ["git", "log", "-1", "--format=%H", "--", ENGINE],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        return _short(f"{last}^") if last else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _short(rev: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", rev],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()


def snapshot_revision(rev: str, dest: Path) -> tuple[str, str]:
    """Extract src/datareplay of git revision ``rev`` to ``dest/datareplay`` (compiled);
    return the short revision and its subject line."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, ENGINE],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    dest.mkdir(parents=True)
    prefix = ENGINE.rsplit("/", 1)[0] + "/"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = []
        for member in tar.getmembers():
            if member.name.startswith(prefix):
                member.name = member.name[len(prefix) :]
                members.append(member)
        tar.extractall(dest, members=members, filter="data")
    compileall.compile_dir(dest, quiet=1)
    _check_import(dest, engine_env(dest))
    subject = subprocess.run(
        ["git", "log", "-1", "--format=%s", rev],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    return _short(rev), subject


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


# what a full run writes into benchmarks/ itself (the results and the committed profiles)
OUTPUTS = ("RESULTS.md", "profile.txt", "profile-steps.txt")


@dataclass(frozen=True)
class GitState:
    """The commit checked out and the files that differ from it."""

    commit: str  # the full hash; "" when git cannot tell
    dirty: tuple[str, ...]  # changed, staged or untracked files (a run's own outputs excepted)

    @property
    def clean(self) -> bool:
        return bool(self.commit) and not self.dirty

    def describe(self) -> str:
        if not self.commit:
            return "unknown (git could not tell)"
        return f"{self.commit} (with uncommitted changes)" if self.dirty else self.commit


def git_state() -> GitState:
    """HEAD's full hash and every file ``git status`` reports (untracked ones too, since
    a new module changes what runs), except the files a benchmark run writes itself."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        own = [f":!benchmarks/{name}" for name in OUTPUTS]
        status = subprocess.run(
            ["git", "status", "--porcelain", "-z", "--untracked-files=all", "--", ".", *own],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return GitState("", ())
    dirty, entries = [], iter(status.split("\0"))
    for entry in entries:
        if entry:
            dirty.append(entry[3:])
            if entry[0] in "RC":  # a rename or copy: the original path follows
                next(entries, None)
    return GitState(commit, tuple(dirty))


def _git_revision() -> str:
    return git_state().describe()


def machine(work: Path, git: GitState | None = None) -> list[tuple[str, str]]:
    """What the figures depend on, as (label, value) pairs (``git``: the state measured,
    by default the state now)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()} logical" + (f" ({usable} usable)" if usable else "")
    return [
        ("date", time.strftime("%Y-%m-%d %H:%M %Z")),
        ("CPU", _cpu_model()),
        ("cores", cores),
        ("memory", _memory()),
        ("OS", platform.platform()),
        ("work folder file system", _filesystem(work)),
        ("scheduling priority of the benchmark", f"nice {os.nice(0)}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        *((name, _version(name)) for name in LIBRARIES),
        ("git commit", (git or git_state()).describe()),
    ]
