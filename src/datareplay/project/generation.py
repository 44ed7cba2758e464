"""The project's raw-data generator: ``scripts/generation.py`` with a ``generate`` function.

``generate(root, *, rows, seed) -> list[Path]`` writes the project's raw recordings below
``root/data/raw/`` deterministically and returns the files it wrote. Extra keyword options
(``faults=True``: also write the recording with injected faults) are passed only when the
generator accepts them.

The engine never lets the generator write over the recordings in use: it hands it an
empty staging folder inside the raw root and then replaces each recording it wrote as one
atomic step (``rawdata.RawRecordings.publish``), holding the raw-data lock exclusively,
so no run reads a recording while it changes and an interrupted replacement is finished
by the next command. ``generate-data`` records the size and seed it was asked for, and
the recordings it wrote, in ``data/raw/.generated.json``; a run whose recording is wholly
absent generates it again at that size and seed (and adds it to that list).

``generate-data`` replaces everything it generates: a recording the previous manifest
lists that this generation does not write (``drive_faulty`` after ``--faults``, then a
generation without) is removed in the same atomic step, so no recording is left behind
at another size or seed. Recordings no manifest lists (copied in by hand, or from a
manifest too old to list them) are never removed.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from datareplay.errors import RunError, UsageError, describe_exception
from datareplay.project.locking import RawDataLock
from datareplay.project.oserrors import os_error
from datareplay.project.paths import Project
from datareplay.project.rawdata import JOURNAL, Manifest, RawRecordings

GENERATOR = Path("scripts") / "generation.py"
DEFAULT_ROWS = 100_000
DEFAULT_SEED = 42
DEFAULT_RAW_ROOT = "data/raw"
KEPT = "nothing was replaced, the previous recordings are kept"

log = logging.getLogger("datareplay")


def generator_path(project: Project) -> Path:
    return project.root / GENERATOR


def load_generator(project: Project) -> Callable[..., list[Path]]:
    """Import ``scripts/generation.py`` of the project and return its ``generate``."""
    path = generator_path(project)
    if not path.is_file():
        raise UsageError(
            f"this project has no {GENERATOR}; add one with a generate(root, *, rows, seed) "
            "function to use generate-data"
        )
    spec = importlib.util.spec_from_file_location("datareplay_project_generation", path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{GENERATOR} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UsageError(f"{GENERATOR} failed to import: {describe_exception(exc)}") from exc
    generate: Any = getattr(module, "generate", None)
    if not callable(generate):
        raise UsageError(f"{GENERATOR} has no generate(root, *, rows, seed) function")
    return generate  # type: ignore[no-any-return]


def raw_folder(project: Project, raw_root: str | Path) -> Path:
    """``data.raw_root`` as a folder of the project (lexically inside it), for generation."""
    path = Path(os.path.normpath(project.root / raw_root))
    if path == project.root or not path.is_relative_to(project.root):
        raise UsageError(
            f"data.raw_root {str(raw_root)!r} is not a folder inside the project; generated "
            "recordings are written below the project, e.g. data/raw"
        )
    return path


def raw_lock(
    project: Project,
    folder: Path,
    *,
    roots: Sequence[Path] = (),
    wait: bool = False,
    hint: str = " or pass --wait",
) -> RawDataLock:
    """The lock of the raw recordings in ``folder`` (created if needed)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = f"cannot create the raw-data folder {project.relative(folder)}"
        raise os_error(exc, what) from exc
    return RawDataLock(
        folder,
        roots=[project.root, *roots],
        shown=project.relative(folder),
        wait=wait,
        hint=hint,
    )


def generate_data(
    project: Project,
    *,
    rows: int = DEFAULT_ROWS,
    seed: int = DEFAULT_SEED,
    raw_root: str | Path = DEFAULT_RAW_ROOT,
    allowed_roots: Sequence[Path] = (),
    wait: bool = False,
    hint: str = " and run generate-data again",
    **options: Any,
) -> list[Path]:
    """Replace the project's raw recordings by freshly generated ones; return their files.

    Holds the raw-data lock exclusively: while a run reads the recordings it is refused
    (with ``wait``: queued). Each recording is swapped in as one atomic step; ``rows``
    and ``seed`` are recorded for later automatic generation.
    """
    generate = load_generator(project)
    folder = raw_folder(project, raw_root)
    lock = raw_lock(project, folder, roots=allowed_roots, wait=wait, hint=hint)
    recordings = RawRecordings(folder, project_root=project.root)
    with lock.holding(exclusive=True, activity="generated by generate-data"):
        recordings.recover()
        return write_recordings(
            project, generate, recordings, rows=rows, seed=seed, options=options
        )


def write_recordings(
    project: Project,
    generate: Callable[..., Iterable[Path]],
    recordings: RawRecordings,
    *,
    rows: int,
    seed: int,
    options: Mapping[str, Any],
    only: Collection[str] | None = None,
) -> list[Path]:
    """Run ``generate`` into a staging folder and swap what it wrote into place.

    Every recording it wrote is replaced, and every recording the previous manifest
    lists that it did not write is removed, in one atomic step; the manifest then lists
    what it wrote. With ``only``, just the recordings named there are put in place (the
    others are left as they are, nothing is removed) and added to the manifest when it
    was written with the same ``rows`` and ``seed`` (or there is none yet). Hold the
    raw-data lock exclusively. Returns the files now in place.
    """
    accepted = inspect.signature(generate).parameters
    extra = {k: v for k, v in options.items() if k in accepted}
    staging = recordings.stage()
    root = staging / "root"
    raw_part = recordings.folder.relative_to(project.root)
    try:
        try:
            written = [Path(p) for p in generate(root, rows=rows, seed=seed, **extra)]
        except OSError as exc:
            where = _failed_file(exc, root, project, recordings.folder)
            raise os_error(exc, f"generate-data could not write {where}", kept=KEPT) from exc
        except Exception as exc:
            raise RunError(f"{GENERATOR} failed: {describe_exception(exc)}; {KEPT}") from exc
        staged: dict[str, Path] = {}
        for path in written:
            try:
                inside = path.relative_to(root / raw_part).parts
            except ValueError:
                inside = ()
            if len(inside) < 1 or not path.is_file():
                shown = project.relative(path)
                raise UsageError(
                    f"{GENERATOR} reported {shown}, which is not a file it wrote below "
                    f"root/{raw_part.as_posix()} (root is the folder generate() is given); "
                    f"{KEPT}"
                )
            staged[inside[0]] = root / raw_part / inside[0]
        chosen = {n: p for n, p in staged.items() if only is None or n in only}
        previous = _previous_manifest(recordings)
        manifest = None
        remove: list[str] = []
        if only is None:
            manifest = RawRecordings.manifest_bytes(Manifest(rows, seed, tuple(sorted(staged))))
            if previous is not None:
                remove = [name for name in previous.recordings if name not in staged]
        elif previous is None or (previous.rows, previous.seed) == (rows, seed):
            listed = set(previous.recordings if previous is not None else ()) | set(chosen)
            manifest = RawRecordings.manifest_bytes(Manifest(rows, seed, tuple(sorted(listed))))
        try:
            removed = recordings.publish(staging, chosen, manifest, remove=remove)
        except OSError as exc:
            journaled = (staging / JOURNAL).exists()
            raise os_error(
                exc,
                f"generate-data could not replace the recordings in "
                f"{project.relative(recordings.folder)}",
                kept="the next command finishes the replacement" if journaled else KEPT,
            ) from exc
    except BaseException:
        recordings.discard(staging)
        raise
    if removed:
        assert previous is not None
        log.info(
            "removed %s: the previous generate-data wrote it (rows %s, seed %s) and this "
            "generation does not, so it would have been left behind at the old size and seed",
            ", ".join(project.relative(path) for path in removed),
            f"{previous.rows:,}",
            previous.seed,
        )
    return [
        recordings.folder / path.relative_to(root / raw_part)
        for path in written
        if path.relative_to(root / raw_part).parts[0] in chosen
    ]


def _previous_manifest(recordings: RawRecordings) -> Manifest | None:
    """The manifest in place, or None when there is none or it cannot be read."""
    if not recordings.manifest_path.exists() and not recordings.manifest_path.is_symlink():
        return None
    try:
        return recordings.read_manifest()
    except UsageError:
        log.warning(
            "%s (written by generate-data) cannot be read; it is written anew, and no "
            "recording it may have listed is removed",
            recordings.shown(recordings.manifest_path),
        )
        return None


def _failed_file(exc: OSError, root: Path, project: Project, folder: Path) -> str:
    """The file a generator failed to write, as it would appear in the project."""
    if exc.filename:
        path = Path(os.fsdecode(exc.filename))
        if path.is_relative_to(root):
            return project.relative(project.root / path.relative_to(root))
        return project.relative(path)
    return f"the new recordings in {project.relative(folder)}"
