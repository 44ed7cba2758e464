"""The shared raw recordings below ``data.raw_root``: their state, their atomic replacement,
and the repair of a replacement that was interrupted.

A *recording* is one entry directly below the raw root, usually a folder such as
``data/raw/drive``. It is replaced as a whole, never file by file:

1. the new version is written into a hidden staging folder ``.generating-<PID>`` inside
   the raw root (the same file system) and fsynced;
2. a journal (``journal.json``: the name of every recording to replace, where its new
   version lies and that folder's inode; and the name and inode of every recording to
   remove) and the manifest to publish are written there;
3. each recording is swapped into place by one ``renameat2(RENAME_EXCHANGE)``: the path
   ``data/raw/drive`` names the complete old folder until that call and the complete new
   one after it, and is never missing; the old folder is left in staging. Where the file
   system cannot exchange two paths, the old folder is renamed into staging and the new
   one into place, and the journal covers the moment in between;
4. each recording to remove (one a previous ``generate-data`` wrote and this one does
   not, e.g. ``drive_faulty`` without ``--faults``) is renamed into staging in one step:
   it is there, whole, or gone, never half deleted and never left at another size;
5. the manifest (which lists the recordings now in place) is renamed into place and the
   staging folder deleted.

All of it happens under the exclusive raw-data lock (``locking.RawDataLock``), so a
staging folder seen by a holder of that lock was left by a process that died.
``RawRecordings.recover`` then finishes the job from the journal: a recording whose path
does not hold the journalled inode gets its complete new version swapped in (or, if that
is gone, its old one put back), so nothing is regenerated and no recording stays
missing; a journalled removal is finished too (or, when an old version had to be put
back, undone, so the recordings stay the set the previous manifest lists). A staging
folder without a journal (killed while the generator wrote) is deleted. Leftovers of the
standalone generator script (``.drive.tmp-PID``, ``.drive.old-PID``) are swept once
their PID is gone, an old copy put back when its recording is missing.

A test hook makes the kill points deterministic: with ``DATAREPLAY_TEST_KILL_AT=<point>``
the process SIGKILLs itself at that point (``staged``, ``journaled``,
``swapped:<recording>``, ``renamed-away:<recording>``, ``removed:<recording>``,
``published``), and ``DATAREPLAY_TEST_NO_EXCHANGE=1`` forces the two-rename fallback.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import signal
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datareplay.data.atomic import atomic_write_bytes, fsync_dir, sweep_temporaries
from datareplay.errors import UsageError

log = logging.getLogger("datareplay")

MANIFEST = ".generated.json"  # rows, seed and recordings of the last generate-data
STAGING_PREFIX = ".generating-"
JOURNAL = "journal.json"
PARKED = "removed"  # in a staging folder: the recordings a generation removes
KILL_HOOK = "DATAREPLAY_TEST_KILL_AT"
NO_EXCHANGE_HOOK = "DATAREPLAY_TEST_NO_EXCHANGE"
_LEGACY = re.compile(r"\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def kill_point(name: str) -> None:
    """Test hook: SIGKILL this process when ``DATAREPLAY_TEST_KILL_AT`` names ``name``."""
    if os.environ.get(KILL_HOOK) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def exchange(a: Path, b: Path) -> bool:
    """Swap the two existing paths ``a`` and ``b`` atomically; False if not supported.

    Linux ``renameat2(RENAME_EXCHANGE)`` (3.15+, on ext4, xfs, btrfs, tmpfs and most
    local file systems); other errors raise OSError.
    """
    if os.environ.get(NO_EXCHANGE_HOOK):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    path, flag = ctypes.c_char_p, ctypes.c_uint
    renameat2.argtypes = [ctypes.c_int, path, ctypes.c_int, path, flag]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def has_files(path: Path) -> bool:
    """True when ``path`` is a file (or link) or a folder with a file somewhere below."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        return True
    return any(files for _, _, files in os.walk(path))


def fsync_tree(folder: Path) -> None:
    """fsync every file and folder below ``folder`` (bottom up) and ``folder`` itself."""
    for current, _, files in os.walk(folder, topdown=False):
        for name in files:
            path = os.path.join(current, name)
            if not os.path.islink(path):
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        fsync_dir(Path(current))


@dataclass
class RawState:
    """What the inputs of a run find below the raw root."""

    absent: dict[Path, Path] = field(default_factory=dict)  # recording -> first input
    partial: list[tuple[Path, Path]] = field(default_factory=list)  # (input, recording)
    leftovers: list[Path] = field(default_factory=list)  # to repair or sweep


@dataclass(frozen=True)
class Manifest:
    """Size and seed the recordings were last generated with (by generate-data), and the
    names of the recordings generated with them (empty in manifests of older versions)."""

    rows: int
    seed: int
    recordings: tuple[str, ...] = ()


class RawRecordings:
    """The recordings directly below one raw root; ``project_root`` is for messages."""

    def __init__(self, folder: Path, *, project_root: Path) -> None:
        self.folder = folder
        self.project_root = project_root

    def shown(self, path: Path) -> str:
        for base in (self.project_root, self.project_root.resolve()):
            try:
                return str(path.relative_to(base))
            except ValueError:
                continue
        return str(path)

    def recording_of(self, path: Path) -> Path | None:
        """The recording (entry directly below the raw root) that holds ``path``."""
        folder = self.folder.resolve()
        try:
            parts = path.resolve().relative_to(folder).parts
        except ValueError:
            return None
        return folder / parts[0] if parts else None

    # -- state --------------------------------------------------------------------------

    def survey(self, inputs: Iterable[Path]) -> RawState:
        """Sort ``inputs`` (files below the raw root) into present, absent and partial.

        A recording is absent when not one file of it exists; an input missing from a
        recording that has other files is partial. Leftovers of interrupted writers
        (any staging folder, standalone leftovers of dead PIDs) are listed too.
        """
        state = RawState(leftovers=self.leftovers())
        for path in inputs:
            recording = self.recording_of(path)
            if recording is None or path.is_file():
                continue
            if recording in state.absent:
                continue
            if not has_files(recording):
                state.absent[recording] = path
            else:
                state.partial.append((path, recording))
        return state

    def leftovers(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        found: list[Path] = []
        for entry in sorted(self.folder.iterdir()):
            if entry.name.startswith(STAGING_PREFIX) and not entry.is_symlink():
                found.append(entry)
                continue
            match = _LEGACY.fullmatch(entry.name)
            if match and entry.is_dir() and not entry.is_symlink():
                pid = int(match["pid"])
                if pid != os.getpid() and not pid_alive(pid):
                    found.append(entry)
        return found

    # -- the manifest ---------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST

    def read_manifest(self) -> Manifest | None:
        """The manifest of the last generate-data, None when there is none."""
        path = self.manifest_path
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_bytes()[:65536])
            manifest = Manifest(
                rows=_integer(data, "rows"),
                seed=_integer(data, "seed"),
                recordings=tuple(_recording_name(r) for r in data.get("recordings", [])),
            )
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise UsageError(
                f"{self.shown(path)} (written by generate-data) cannot be read ({exc}); "
                "run generate-data with the --rows and --seed you want"
            ) from None
        return manifest

    @staticmethod
    def manifest_bytes(manifest: Manifest) -> bytes:
        data = {"rows": manifest.rows, "seed": manifest.seed}
        data["recordings"] = list(manifest.recordings)  # type: ignore[assignment]
        return (json.dumps(data, indent=2) + "\n").encode()

    # -- replacing ------------------------------------------------------------------------

    def stage(self) -> Path:
        """A fresh, empty staging folder of this process (hold the exclusive lock)."""
        staging = self.folder / f"{STAGING_PREFIX}{os.getpid()}"
        if staging.exists() or staging.is_symlink():
            self._remove(staging)
        staging.mkdir()
        return staging

    def discard(self, staging: Path) -> None:
        """Delete a staging folder that holds no journal (nothing was replaced yet)."""
        if not (staging / JOURNAL).exists():
            self._remove(staging)

    def publish(
        self,
        staging: Path,
        recordings: Mapping[str, Path],
        manifest: bytes | None = None,
        *,
        remove: Iterable[str] = (),
    ) -> list[Path]:
        """Swap each staged recording (name -> its new version) into place, and take each
        recording named in ``remove`` away, as one step; return the recordings removed.

        Hold the exclusive raw-data lock. If this is interrupted once the journal is
        written, ``recover`` finishes it; a replaced recording is never missing. A name
        in ``remove`` that is also staged, or that is not there, is ignored.
        """
        removals: list[dict[str, Any]] = []
        for name in sorted(set(remove) - set(recordings)):
            present = _inode(self.folder / _recording_name(name))
            if present is not None:
                removals.append({"name": name, "dev": present[0], "ino": present[1]})
        entries: list[dict[str, Any]] = []
        for name, staged in sorted(recordings.items()):
            if staged.is_dir():
                fsync_tree(staged)
            info = staged.lstat()
            entries.append(
                {
                    "name": name,
                    "staged": str(staged.relative_to(staging)),
                    "dev": info.st_dev,
                    "ino": info.st_ino,
                }
            )
        fsync_dir(staging)
        kill_point("staged")
        if manifest is not None:
            atomic_write_bytes(staging / MANIFEST, manifest)
        journal: dict[str, Any] = {"pid": os.getpid(), "recordings": entries}
        if removals:
            journal["removed"] = removals
        atomic_write_bytes(staging / JOURNAL, json.dumps(journal).encode())
        kill_point("journaled")
        return self._complete(staging, journal).removed

    def _complete(self, staging: Path, journal: Mapping[str, Any]) -> _Completed:
        """Bring every journalled recording into place, take every journalled removal
        away; publish the manifest; clean up.

        When a new version was lost and the previous one put back, the manifest is not
        published and the removals are undone: the recordings stay the previous set.
        """
        swapped: list[Path] = []
        restored: list[Path] = []
        removed: list[Path] = []
        for entry in journal["recordings"]:
            name = str(entry["name"])
            target = self.folder / name
            staged = staging / str(entry["staged"])
            inode = (int(entry["dev"]), int(entry["ino"]))
            if _inode(target) == inode:
                continue  # the new version is in place
            old = staging / "old" / name
            if _inode(staged) == inode:
                self._swap_in(staged, target, old)
                swapped.append(target)
                kill_point(f"swapped:{name}")
            elif not _exists(target) and _exists(old):
                os.rename(old, target)
                restored.append(target)
        for entry in journal.get("removed", []):
            name = str(entry["name"])
            target = self.folder / name
            parked = staging / PARKED / name
            if restored:  # the previous set stays: put back what was already taken away
                if not _exists(target) and _exists(parked):
                    os.rename(parked, target)
                    restored.append(target)
            elif _inode(target) == (int(entry["dev"]), int(entry["ino"])):
                parked.parent.mkdir(exist_ok=True)
                os.rename(target, parked)
                removed.append(target)
                kill_point(f"removed:{name}")
        fsync_dir(self.folder)
        if not restored and (staging / MANIFEST).is_file():
            os.replace(staging / MANIFEST, self.manifest_path)
            fsync_dir(self.folder)
        kill_point("published")
        self._remove(staging)
        return _Completed(swapped, restored, removed)

    def _swap_in(self, staged: Path, target: Path, old: Path) -> None:
        """Put ``staged`` at ``target``; an existing ``target`` ends up in staging."""
        if not _exists(target):
            os.rename(staged, target)
            return
        if exchange(staged, target):
            return  # ``staged`` now names the old version
        old.parent.mkdir(exist_ok=True)
        os.rename(target, old)
        kill_point(f"renamed-away:{target.name}")
        try:
            os.rename(staged, target)
        except BaseException:
            os.rename(old, target)
            raise

    # -- repair ---------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Finish or undo what interrupted writers left; return (and log) what was done.

        Hold the exclusive raw-data lock: every staging folder is then abandoned.
        """
        notes: list[str] = []
        for leftover in self.leftovers():
            if leftover.name.startswith(STAGING_PREFIX):
                notes.append(self._recover_staging(leftover))
            else:
                notes.append(self._recover_legacy(leftover))
        sweep_temporaries([self.manifest_path])
        for note in notes:
            log.warning("%s", note)
        return notes

    def _recover_staging(self, staging: Path) -> str:
        pid = staging.name[len(STAGING_PREFIX) :]
        try:
            journal = json.loads((staging / JOURNAL).read_bytes())
        except (OSError, ValueError):
            journal = None
        if not isinstance(journal, dict) or not isinstance(journal.get("recordings"), list):
            self._remove(staging)
            return (
                f"removed {self.shown(staging)}: an unfinished new recording left by a "
                f"generation (PID {pid}) interrupted while writing it; the recordings in "
                f"{self.shown(self.folder)} are unchanged"
            )
        size = ""
        with suppress(OSError, ValueError, TypeError, KeyError):
            staged = json.loads((staging / MANIFEST).read_bytes())
            size = f" (rows {int(staged['rows']):,}, seed {int(staged['seed'])})"
        names = ", ".join(self.shown(self.folder / str(e["name"])) for e in journal["recordings"])
        gone = ", ".join(
            self.shown(self.folder / str(e["name"])) for e in journal.get("removed", [])
        )
        doing = " and ".join(
            part for part in (names and f"replacing {names}", gone and f"removing {gone}") if part
        )
        done = self._complete(staging, journal)
        note = f"a generation (PID {pid}) was interrupted while {doing}; "
        if done.restored:
            shown = ", ".join(self.shown(p) for p in done.restored)
            return note + f"its new copy is lost, so the previous {shown} was put back"
        if not done.swapped and not done.removed:
            return note + f"every recording was already in place{size}; nothing was left to do"
        finished = [f"{self.shown(p)} put in place" for p in done.swapped]
        finished += [f"{self.shown(p)} removed" for p in done.removed]
        return note + f"finished it from the complete new copy it left{size}: {', '.join(finished)}"

    def _recover_legacy(self, leftover: Path) -> str:
        match = _LEGACY.fullmatch(leftover.name)
        assert match is not None
        target = self.folder / match["name"]
        if match["kind"] == "old" and not _exists(target) and has_files(leftover):
            os.rename(leftover, target)
            fsync_dir(self.folder)
            return (
                f"put back {self.shown(target)} from {leftover.name}, left by a generation "
                f"(PID {match['pid']}) interrupted while replacing it"
            )
        self._remove(leftover)
        return (
            f"removed {self.shown(leftover)}, left by a generation (PID {match['pid']}) "
            "that is gone"
        )

    @staticmethod
    def _remove(path: Path) -> None:
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path)


@dataclass(frozen=True)
class _Completed:
    """What finishing a journalled replacement did (see ``RawRecordings._complete``)."""

    swapped: list[Path]
    restored: list[Path]
    removed: list[Path]


def _integer(data: Any, key: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} must be an integer, got {value!r}")
    return value


def _recording_name(value: Any) -> str:
    """A recording name of the manifest: an entry directly below the raw root."""
    if not isinstance(value, str) or value in ("", ".", "..") or Path(value).name != value:
        raise ValueError(f"recordings must be names of folders in it, got {value!r}")
    return value


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        info = path.lstat()
    except OSError:
        return None
    return info.st_dev, info.st_ino
