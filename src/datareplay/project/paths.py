"""A project folder: ``config/``, ``cases/``, ``templates/``, ``modules/``.

Every path the engine touches is derived here from the project root and a checked name.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from datareplay.data.atomic import atomic_write_bytes, sweep_temporaries
from datareplay.errors import (
    ConfigError,
    UnknownNameError,
    UnsafeNameError,
    UsageError,
    did_you_mean,
)
from datareplay.project.names import check_name, inside

CASE_FILE = "case.yaml"
TEMPLATE_SUFFIX = "_case.yaml"


@dataclass(frozen=True)
class Project:
    """Paths of one project, all below ``root``."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """The project containing ``start`` (default: the current folder), searching upward."""
        try:
            here = (start or Path.cwd()).resolve()
        except FileNotFoundError:
            raise UsageError(
                "the current folder no longer exists; cd into a project or pass --project DIR"
            ) from None
        for folder in (here, *here.parents):
            if (folder / "config").is_dir() and (folder / "cases").is_dir():
                return cls(folder)
        raise UsageError(
            f"no Data Replay project in {here} or above (a project has config/ and cases/); "
            "cd into one or pass --project DIR"
        )

    @classmethod
    def at(cls, root: Path) -> Project:
        root = root.resolve()
        if not (root / "config").is_dir() or not (root / "cases").is_dir():
            raise UsageError(
                f"{root} is not a Data Replay project (it needs config/ and cases/ folders)"
            )
        return cls(root)

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def cases_dir(self) -> Path:
        return self.root / "cases"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    def relative(self, path: Path) -> str:
        """``path`` relative to the root when inside it, for messages.

        A path written below the root is shown as written, so a symlink is named by its
        own name rather than by where it leads.
        """
        if path.is_absolute() and path.is_relative_to(self.root) and ".." not in path.parts:
            return str(path.relative_to(self.root))
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def case_names(self) -> list[str]:
        if not self.cases_dir.is_dir():
            return []
        return sorted(p.parent.name for p in self.cases_dir.glob(f"*/{CASE_FILE}"))

    def template_names(self) -> list[str]:
        if not self.templates_dir.is_dir():
            return []
        return sorted(
            p.name[: -len(TEMPLATE_SUFFIX)] for p in self.templates_dir.glob(f"*{TEMPLATE_SUFFIX}")
        )

    def case_dir(self, case: str) -> Path:
        return self.cases_dir / check_name(case, kind="case")

    def case_file(self, case: str) -> Path:
        """The case.yaml of an existing case, or UnknownNameError with a suggestion."""
        path = self.case_dir(case) / CASE_FILE
        if path.exists() and not path.is_file():
            raise ConfigError(
                f"{self.relative(path)} is not a regular file ({_kind(path)}); make it a YAML file"
            )
        if path.is_file() and not path.resolve().is_relative_to(self.root.resolve()):
            raise UnsafeNameError(
                f"{self.relative(path)} leads outside the project (to {path.resolve()}); "
                "keep a case's files inside the project"
            )
        if not path.is_file():
            known = self.case_names()
            hint = did_you_mean(case, known)
            if not hint:
                listing = ", ".join(known) if known else "none yet"
                hint = f"; known cases: {listing}; create a case with --template NAME"
            raise UnknownNameError(f"unknown case '{case}' (no {self.relative(path)}){hint}")
        return path

    def template_file(self, template: str) -> Path:
        path = self.templates_dir / f"{check_name(template, kind='template')}{TEMPLATE_SUFFIX}"
        if not path.is_file():
            known = self.template_names()
            hint = did_you_mean(template, known) or f" (known templates: {', '.join(known)})"
            raise UnknownNameError(f"unknown template '{template}': no {self.relative(path)}{hint}")
        return path

    def create_case(self, case: str, template: str) -> bool:
        """Copy a template to ``cases/<case>/case.yaml``; return False if already identical.

        An existing case with a different case.yaml is never overwritten.
        """
        source = self.template_file(template)
        target_dir = self.case_dir(case)
        target = target_dir / CASE_FILE
        content = source.read_bytes()
        if not inside(target_dir, [self.cases_dir]):
            raise UnsafeNameError(
                f"{self.relative(target_dir)} is a symlink to {target_dir.resolve()}, outside "
                f"{self.relative(self.cases_dir)}/; remove the link or pick another case name"
            )
        with contextlib.suppress(OSError):  # leftovers of a creation that was killed
            sweep_temporaries([target])
        if target.exists():
            if target.read_bytes() == content:
                return False
            raise UsageError(
                f"case '{case}' already exists with a different {self.relative(target)}; "
                f"run it without --template, or pick a new case name"
            )
        if target_dir.exists() and not target_dir.is_dir():
            raise UsageError(f"{self.relative(target_dir)} exists and is not a folder")
        created_dir = not target_dir.exists()
        try:
            target_dir.mkdir(parents=False, exist_ok=True)
            atomic_write_bytes(target, content)
        except BaseException:
            if created_dir:
                shutil.rmtree(target_dir, ignore_errors=True)
            raise
        return True


def default_project(explicit: str | None) -> Project:
    """The project named by ``--project`` (or DATAREPLAY_PROJECT), else found upward."""
    return Project.at(Path(explicit)) if explicit else Project.find()


def _kind(path: Path) -> str:
    """What is at ``path`` when it is not a regular file, for messages."""
    import stat

    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
