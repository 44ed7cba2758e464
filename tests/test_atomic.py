"""Unit tests of datareplay.data.atomic: whole-file replacement that never leaves a half file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datareplay.data.atomic import (
    TMP_MARKER,
    atomic_target,
    atomic_write_bytes,
    glob_escape,
    probe_writable,
    sweep_temporaries,
    temp_path_for,
)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# a PID above the kernel's limit is never a running process
GONE_PID = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1


def left_behind(target: Path) -> Path:
    """A temporary of ``target`` named after a writer that is gone."""
    return target.with_name(f".{target.name}{TMP_MARKER}{GONE_PID}-1-{os.urandom(4).hex()}")


def test_atomic_write_bytes_creates_file_and_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.bin"
    atomic_write_bytes(target, b"hello")
    assert target.read_bytes() == b"hello"
    assert names(target.parent) == ["out.bin"]


def test_atomic_write_bytes_replaces_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_bytes(b"old content that is longer")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    atomic_write_bytes(target, b"")
    assert target.read_bytes() == b""
    assert names(tmp_path) == ["out.txt"]


def test_atomic_write_replaces_a_new_inode(tmp_path: Path) -> None:
    """A reader holding the old file keeps reading the complete old version."""
    target = tmp_path / "out.txt"
    target.write_bytes(b"old")
    with open(target, "rb") as reader:
        atomic_write_bytes(target, b"new")
        assert reader.read() == b"old"
    assert target.read_bytes() == b"new"


def test_atomic_write_with_uses_a_temporary_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "table.parquet"
    seen: list[Path] = []

    def writer(tmp: Path) -> None:
        seen.append(tmp)
        assert not target.exists()
        tmp.write_bytes(b"data")

    with atomic_target(target) as tmp:
        writer(tmp)
    assert target.read_bytes() == b"data"
    assert len(seen) == 1
    assert seen[0].parent == target.parent
    assert TMP_MARKER in seen[0].name
    assert seen[0].name.startswith(".table.parquet")
    assert not seen[0].exists()
    assert names(tmp_path) == ["table.parquet"]


def test_writer_raising_midway_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old,complete\n")

    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(b"half of the new")
            fh.flush()
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"), atomic_target(target) as tmp:
        writer(tmp)
    assert target.read_bytes() == b"old,complete\n"
    assert names(tmp_path) == ["out.csv"]


def test_keyboard_interrupt_in_writer_also_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")

    def writer(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), atomic_target(target) as tmp:
        writer(tmp)
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["out.csv"]


def test_failed_first_write_creates_no_target(tmp_path: Path) -> None:
    target = tmp_path / "new.bin"

    def writer(tmp: Path) -> None:
        tmp.write_bytes(b"x")
        raise ValueError("bad value")

    with pytest.raises(ValueError), atomic_target(target) as tmp:
        writer(tmp)
    assert names(tmp_path) == []


def test_writer_that_writes_nothing_fails_and_keeps_old(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(OSError), atomic_target(target):
        pass  # the writer wrote nothing: fsync of the missing temporary fails
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["out.bin"]


def test_atomic_target_exception_in_body_keeps_old(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(LookupError), atomic_target(target) as tmp:
        tmp.write_text("new")
        raise LookupError
    assert target.read_text() == "old"
    assert names(tmp_path) == ["t.txt"]


def test_temp_paths_are_unique_and_marked(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    paths = {temp_path_for(target) for _ in range(20)}
    assert len(paths) == 20
    for path in paths:
        assert path.parent == tmp_path
        assert TMP_MARKER in path.name
        assert path.name.startswith(".x.json")
    assert TMP_MARKER not in target.name


# -- sweeping leftovers ---------------------------------------------------------------------


def test_sweep_removes_only_temporaries_of_the_given_targets(tmp_path: Path) -> None:
    target = tmp_path / "data" / "a.parquet"
    other = tmp_path / "data" / "b.parquet"
    target.parent.mkdir()
    target.write_bytes(b"real")
    other.write_bytes(b"real")
    leftover1 = left_behind(target)
    leftover2 = left_behind(target)
    other_leftover = left_behind(other)
    for path in (leftover1, leftover2, other_leftover):
        path.write_bytes(b"half")
    plain = tmp_path / "data" / "notes.txt"
    plain.write_text("keep")
    hidden = tmp_path / "data" / ".a.parquet.bak"
    hidden.write_text("keep")

    removed = sweep_temporaries([target])

    assert sorted(removed) == sorted([leftover1, leftover2])
    assert not leftover1.exists() and not leftover2.exists()
    assert other_leftover.exists()
    assert target.read_bytes() == b"real"
    assert plain.exists() and hidden.exists()


def test_sweep_handles_several_targets_and_missing_folders(tmp_path: Path) -> None:
    a = tmp_path / "one" / "a.csv"
    b = tmp_path / "two" / "b.csv"
    a.parent.mkdir()
    b.parent.mkdir()
    ta, tb = left_behind(a), left_behind(b)
    ta.write_bytes(b"")
    tb.write_bytes(b"")
    removed = sweep_temporaries([a, tmp_path / "missing" / "c.csv", b])
    assert sorted(removed) == sorted([ta, tb])
    assert names(a.parent) == [] and names(b.parent) == []


def test_sweep_skips_directories_and_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    folder = left_behind(target)
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    link = left_behind(target)
    link.symlink_to(victim)
    assert sweep_temporaries([target]) == []
    assert folder.is_dir()
    assert link.is_symlink()
    assert victim.read_text() == "keep"


def test_sweep_target_names_with_glob_characters(tmp_path: Path) -> None:
    target = tmp_path / "a[1]*.csv"
    lookalike = tmp_path / "a1x.csv"
    mine, theirs = left_behind(target), left_behind(lookalike)
    mine.write_bytes(b"")
    theirs.write_bytes(b"")
    assert sweep_temporaries([target]) == [mine]
    assert theirs.exists()


def test_sweep_does_not_recurse(tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    nested = tmp_path / "sub" / left_behind(target).name
    nested.parent.mkdir()
    nested.write_bytes(b"")
    assert sweep_temporaries([target]) == []
    assert nested.exists()


def test_glob_escape() -> None:
    assert glob_escape("plain.csv") == "plain.csv"
    assert glob_escape("a*b?c[d]") == "a[*]b[?]c[[]d]"


def test_probe_writable_creates_folder_and_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "x" / "y"
    probe_writable(folder)
    assert folder.is_dir()
    assert names(folder) == []


def test_probe_writable_raises_when_folder_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        probe_writable(blocker / "sub")
