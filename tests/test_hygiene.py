"""Data hygiene and the scaffold: generate-data leaves no stale recording behind, a step run
alone on outputs computed from an older recording is told so, and ``init`` writes a
``.gitignore`` and accepts a folder that holds only version-control files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SMALL_ROWS, tree_hash
from datareplay.project.paths import Project
from datareplay.project.rawdata import JOURNAL, KILL_HOOK, MANIFEST, PARKED, RawRecordings
from datareplay.records.staleness import stale_inputs, stale_step_inputs
from datareplay.session import Session

sys.path.insert(0, str(REPO / "scripts"))
import generation as demo_generator

ROWS = 2_000


def raw(root: Path) -> Path:
    return root / "data" / "raw"


def listing(root: Path) -> list[str]:
    return sorted(p.name for p in raw(root).iterdir())


def manifest(root: Path) -> dict:
    return json.loads((raw(root) / MANIFEST).read_text())


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def expected_faulty(tmp_path: Path, rows: int, seed: int) -> dict[str, bytes]:
    root = tmp_path / f"expected-{rows}-{seed}"
    demo_generator.generate(root, rows=rows, seed=seed, faults=True)
    return files_of(raw(root) / "drive_faulty")


@pytest.fixture
def generated(bare_project: Path, cli) -> Path:
    """The demo project after ``generate-data --rows 2000 --seed 5 --faults``."""
    result = cli(bare_project, "generate-data", "--rows", str(ROWS), "--seed", "5", "--faults")
    assert result.code == 0, result.err
    assert manifest(bare_project)["recordings"] == ["drive", "drive_faulty"]
    return bare_project


# -- 1. generate-data replaces everything it generates ------------------------------------


def test_generate_data_without_faults_removes_the_faulty_recording_it_wrote_before(
    generated: Path, cli
) -> None:
    result = cli(generated, "generate-data", "--rows", "3000", "--seed", "6")
    assert result.code == 0, result.err
    assert listing(generated) == [".generated.json", ".lock", "drive"]
    assert manifest(generated) == {"rows": 3000, "seed": 6, "recordings": ["drive"]}
    assert (
        "removed data/raw/drive_faulty: the previous generate-data wrote it (rows 2,000, "
        "seed 5) and this generation does not, so it would have been left behind at the old "
        "size and seed"
    ) in result.err
    wrote = [line.split(" (")[0] for line in result.out.splitlines()]
    assert wrote == [f"wrote data/raw/drive/{n}.parquet" for n in ("wheel_speed", "imu", "gps")]


def test_a_case_that_reads_the_removed_recording_gets_it_back_at_the_new_size(
    generated: Path, cli, tmp_path: Path
) -> None:
    assert cli(generated, "generate-data", "--rows", "3000", "--seed", "6").code == 0
    faulty_case = generated / "cases" / "faulty"
    faulty_case.mkdir()
    shutil.copy(generated / "templates" / "demo_faulty_case.yaml", faulty_case / "case.yaml")
    session = Session(Project.at(generated))
    written = session.ensure_raw_data(session.open_case("faulty"))
    assert {p.parent.name for p in written} == {"drive_faulty"}
    # generated at the size and seed of the last generate-data, not the old one
    assert files_of(raw(generated) / "drive_faulty") == expected_faulty(tmp_path, 3000, 6)
    # and listed, so the next generate-data without --faults removes it again
    assert manifest(generated)["recordings"] == ["drive", "drive_faulty"]
    again = cli(generated, "generate-data", "--rows", "2500", "--seed", "6")
    assert again.code == 0, again.err
    assert listing(generated) == [".generated.json", ".lock", "drive"]


def test_generate_data_with_faults_again_replaces_both(generated: Path, cli, tmp_path) -> None:
    result = cli(generated, "generate-data", "--rows", "3000", "--seed", "6", "--faults")
    assert result.code == 0, result.err
    assert "removed" not in result.err
    assert listing(generated) == [".generated.json", ".lock", "drive", "drive_faulty"]
    assert files_of(raw(generated) / "drive_faulty") == expected_faulty(tmp_path, 3000, 6)


def test_a_recording_no_generation_wrote_is_kept(generated: Path, cli) -> None:
    mine = raw(generated) / "mine"
    mine.mkdir()
    (mine / "lap.csv").write_text("t_s,v\n0,1\n")
    result = cli(generated, "generate-data", "--rows", "3000", "--seed", "6")
    assert result.code == 0, result.err
    assert listing(generated) == [".generated.json", ".lock", "drive", "mine"]
    assert (mine / "lap.csv").read_text() == "t_s,v\n0,1\n"


def test_a_damaged_manifest_does_not_stop_generate_data_and_removes_nothing(
    generated: Path, cli
) -> None:
    (raw(generated) / MANIFEST).write_text('{"rows": "many"}')
    before = files_of(raw(generated) / "drive_faulty")
    result = cli(generated, "generate-data", "--rows", "3000", "--seed", "6")
    assert result.code == 0, result.err
    assert (
        "data/raw/.generated.json (written by generate-data) cannot be read; it is written "
        "anew, and no recording it may have listed is removed"
    ) in result.err
    assert files_of(raw(generated) / "drive_faulty") == before
    assert manifest(generated) == {"rows": 3000, "seed": 6, "recordings": ["drive"]}


def test_a_manifest_naming_a_path_outside_the_raw_root_is_damaged(generated: Path) -> None:
    (raw(generated) / MANIFEST).write_text('{"rows": 1, "seed": 2, "recordings": ["../../x"]}')
    recordings = RawRecordings(raw(generated), project_root=generated)
    with pytest.raises(Exception, match="recordings must be names of folders in it"):
        recordings.read_manifest()


@pytest.mark.parametrize("point", ["journaled", "removed:drive_faulty"])
def test_a_kill_during_the_removal_is_finished_by_the_next_run(
    generated: Path, cli, point: str
) -> None:
    killed = subprocess.run(
        [sys.executable, "run.py", "generate-data", "--rows", "3000", "--seed", "6"],
        cwd=generated,
        env={**os.environ, KILL_HOOK: point},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr
    result = cli(generated, "plugin", "InitialDataReader", "--case", "demo")
    assert result.code == 0, result.err
    assert (
        "was interrupted while replacing data/raw/drive and removing data/raw/drive_faulty"
    ) in result.err
    if point == "journaled":
        assert (
            "finished it from the complete new copy it left (rows 3,000, seed 6): "
            "data/raw/drive put in place, data/raw/drive_faulty removed"
        ) in result.err
    assert listing(generated) == [".generated.json", ".lock", "drive"]
    assert manifest(generated) == {"rows": 3000, "seed": 6, "recordings": ["drive"]}


def test_a_removal_is_undone_when_a_new_copy_was_lost(tmp_path: Path) -> None:
    """The two-rename fallback killed between its renames, the new copy then lost: the
    previous recordings come back as a set, the removed one too, and the manifest stays."""
    recordings = RawRecordings(tmp_path / "raw", project_root=tmp_path)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / MANIFEST).write_text('{"rows": 1, "seed": 2, "recordings": []}')
    staging = recordings.stage()
    folder = staging / "root" / "drive"
    folder.mkdir(parents=True)
    info = folder.stat()
    (staging / "old" / "drive").mkdir(parents=True)
    (staging / "old" / "drive" / "a.bin").write_bytes(b"old")
    (staging / PARKED / "drive_faulty").mkdir(parents=True)
    (staging / PARKED / "drive_faulty" / "b.bin").write_bytes(b"old faulty")
    journal = {
        "recordings": [
            {"name": "drive", "staged": "root/drive", "dev": info.st_dev, "ino": info.st_ino}
        ],
        "removed": [{"name": "drive_faulty", "dev": info.st_dev, "ino": 1}],
    }
    (staging / JOURNAL).write_text(json.dumps(journal))
    shutil.rmtree(folder)
    (notes,) = recordings.recover()
    assert "while replacing raw/drive and removing raw/drive_faulty" in notes
    assert "so the previous raw/drive, raw/drive_faulty was put back" in notes
    assert (tmp_path / "raw" / "drive_faulty" / "b.bin").read_bytes() == b"old faulty"
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == [
        MANIFEST,
        "drive",
        "drive_faulty",
    ]


# -- 2. a step run alone on inputs computed from an older recording ----------------------


@pytest.fixture
def ran(project: Path, cli) -> Path:
    """The demo project (its recording at SMALL_ROWS, seed 42) after one pipeline run."""
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    return project


def stale(project: Path, *steps: str) -> list[str]:
    session = Session(Project.at(project))
    opened = session.open_case("demo")
    store = session.run_store()
    return [
        line for step in steps for line in stale_step_inputs(store, opened, opened.plan.step(step))
    ]


def last_run(project: Path) -> str:
    return Session(Project.at(project)).run_store().list_runs(case="demo")[0].run_id


RAW = (
    "data/raw/drive/gps.parquet, data/raw/drive/imu.parquet and data/raw/drive/wheel_speed.parquet"
)


def test_inputs_computed_from_the_replaced_recording_are_named(ran: Path, cli) -> None:
    run_id = last_run(ran)
    assert stale(ran, "SignalCleaner") == []  # nothing changed yet
    assert cli(ran, "generate-data", "--rows", str(SMALL_ROWS), "--seed", "9").code == 0
    assert stale(ran, "SignalCleaner") == [
        f"input 'aligned' (cases/demo/data/aligned.parquet) was computed by run {run_id} "
        f"from {RAW} as they were before they changed; rerun the pipeline ('datareplay "
        "pipeline --case demo') to use the new recording"
    ]
    assert stale(ran, "InitialDataReader") == []  # it reads the new recording itself


def test_the_same_recording_again_is_not_stale(ran: Path, cli) -> None:
    assert cli(ran, "generate-data", "--rows", str(SMALL_ROWS), "--seed", "42").code == 0
    steps = [s.name for s in Session(Project.at(ran)).open_case("demo").plan.steps]
    assert stale(ran, *steps) == []


def test_each_raw_file_is_hashed_once(ran: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(ran, "generate-data", "--rows", str(SMALL_ROWS), "--seed", "9").code == 0
    from datareplay.data import storage

    hashed: list[Path] = []
    real = storage.hash_file

    def counting(path: Path) -> tuple[str, int]:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(storage, "hash_file", counting)
    session = Session(Project.at(ran))
    opened = session.open_case("demo")
    sources = opened.hub.sources
    reads = {name: sources[name].path for name in ("aligned", "clean", "features", "events")}
    raw_paths = {name: sources[name].path for name in opened.hub.raw}
    lines = stale_inputs(session.run_store(), "demo", reads, raw_paths, project_root=ran)
    assert [line.split(" (")[0] for line in lines] == [
        "input 'aligned'",
        "input 'clean'",
        "input 'features'",
        "input 'events'",
    ]
    assert sorted(p.name for p in hashed) == ["gps.parquet", "imu.parquet", "wheel_speed.parquet"]


def test_an_input_whose_upstream_step_ran_again_is_named(ran: Path, cli) -> None:
    first = last_run(ran)
    assert cli(ran, "generate-data", "--rows", str(SMALL_ROWS), "--seed", "9").code == 0
    assert cli(ran, "plugin", "InitialDataReader", "--case", "demo").code == 0
    second = last_run(ran)
    (line,) = stale(ran, "SignalCleaner")
    assert line == (
        f"input 'aligned' (cases/demo/data/aligned.parquet) was computed by run {first} "
        f"from {RAW} as they were before they changed; and from cases/demo/data/gps.feather, "
        "cases/demo/data/imu.feather and cases/demo/data/wheel.feather as they were before "
        f"run {second} wrote new ones; rerun the pipeline ('datareplay pipeline --case "
        "demo') to use the new recording"
    )


def test_an_input_computed_from_a_removed_recording_says_it_is_gone(ran: Path, cli) -> None:
    run_id = last_run(ran)
    shutil.rmtree(raw(ran) / "drive")
    (line,) = stale(ran, "SignalCleaner")
    assert line.startswith(
        f"input 'aligned' (cases/demo/data/aligned.parquet) was computed by run {run_id} "
        f"from {RAW}, which are no longer there; "
    )


def test_no_records_or_a_file_changed_behind_them_say_nothing(project: Path, cli) -> None:
    session = Session(Project.at(project))
    opened = session.open_case("demo")
    aligned = opened.hub.sources["aligned"].path
    assert aligned is not None
    reads = {"aligned": aligned}
    assert stale_inputs(session.run_store(), "demo", reads, [], project_root=project) == []
    assert cli(project, "pipeline", "--case", "demo").code == 0
    assert cli(project, "generate-data", "--rows", str(SMALL_ROWS), "--seed", "9").code == 0
    aligned.write_bytes(aligned.read_bytes() + b"changed behind the records' back")
    assert stale(project, "SignalCleaner") == []  # the catalog reports that file on load


# -- 3. init: a .gitignore, and a folder with only version-control files -------------------


IGNORED = [
    "cases/example/data/smoothed.parquet",
    "cases/mine/data/x.csv",
    "cases/example/.lock",
    "data/raw/drive/wheel_speed.parquet",
    "data/raw/.lock",
    "data/raw/.generated.json",
    ".datareplay/runs.sqlite",
    ".datareplay/objects/ab/cd",
    "modules/__pycache__/moving_average.cpython-311.pyc",
]
KEPT = [
    "data/raw/example.csv",
    "cases/example/case.yaml",
    "modules/moving_average.py",
    "config/global.yaml",
    "templates/example_case.yaml",
    "tests/test_moving_average.py",
    "README.md",
    ".gitignore",
]


def git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, timeout=60, check=False
    )


def ignored(folder: Path, paths: list[str]) -> set[str]:
    proc = git(folder, "check-ignore", "--no-index", *paths)
    return set(proc.stdout.split())


def test_init_into_a_folder_holding_only_git(tmp_path: Path, cli) -> None:
    target = tmp_path / "repo"
    assert git(tmp_path, "init", "-q", "repo").returncode == 0
    (target / ".gitattributes").write_text("*.parquet binary\n")
    before = tree_hash(target / ".git")
    result = cli(tmp_path, "init", "repo")
    assert result.code == 0, result.err
    assert tree_hash(target / ".git") == before  # not touched
    assert (target / ".gitattributes").read_text() == "*.parquet binary\n"
    assert (target / "config" / "global.yaml").is_file()
    assert os.listdir(tmp_path) == ["repo"]
    assert ignored(target, IGNORED + KEPT) == set(IGNORED)
    untracked = git(target, "status", "--porcelain", "--untracked-files=all").stdout
    assert sorted(line[3:] for line in untracked.splitlines()) == sorted(
        str(p.relative_to(target))
        for p in target.rglob("*")
        if p.is_file() and ".git" not in p.parts[len(target.parts) :][:1]
    )
    assert cli(target, "pipeline", "--case", "example").code == 0
    after = git(target, "status", "--porcelain", "--untracked-files=all").stdout
    assert after == untracked  # outputs, locks and run records stay out of git status


def test_init_dot_in_a_fresh_clone_keeps_the_git_folder_in_place(tmp_path: Path, cli) -> None:
    here = tmp_path / "here"
    assert git(tmp_path, "init", "-q", "here").returncode == 0
    inode = (here / ".git").stat().st_ino
    result = cli(here, "init", ".")
    assert result.code == 0, result.err
    assert (here / ".git").stat().st_ino == inode
    assert (here / ".gitignore").is_file()


def test_the_gitignore_content(tmp_path: Path, cli) -> None:
    assert cli(tmp_path, "init", "p").code == 0
    lines = [
        line
        for line in (tmp_path / "p" / ".gitignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines == [
        "cases/*/data/",
        "cases/*/.lock",
        "/data/**",
        "!/data/**/",
        "!/data/raw/example.csv",
        ".datareplay/",
        "__pycache__/",
    ]


def test_an_existing_gitignore_keeps_its_lines_and_gets_the_missing_ones(
    tmp_path: Path, cli
) -> None:
    target = tmp_path / "p"
    target.mkdir()
    (target / ".git").mkdir()
    (target / ".gitignore").write_text("*.log\n__pycache__/\n.datareplay/")  # no final newline
    result = cli(tmp_path, "init", "p")
    assert result.code == 0, result.err
    text = (target / ".gitignore").read_text()
    assert text == (
        "*.log\n__pycache__/\n.datareplay/\n\n"
        "# added by datareplay init: what Data Replay writes while it runs\n"
        "cases/*/data/\ncases/*/.lock\n/data/**\n!/data/**/\n!/data/raw/example.csv\n"
    )
    # a second look: nothing is missing, nothing is appended (init refuses anyway now)
    complete = tmp_path / "q"
    complete.mkdir()
    (complete / ".gitignore").write_text(text)
    assert cli(tmp_path, "init", "q").code == 0
    assert (complete / ".gitignore").read_text() == text


def test_init_counts_the_gitignore_it_wrote(tmp_path: Path, cli) -> None:
    result = cli(tmp_path, "init", "p")
    files = [p for p in (tmp_path / "p").rglob("*") if p.is_file()]
    assert f"({len(files)} files)" in result.out
    assert (tmp_path / "p" / ".gitignore").is_file()
    assert not (tmp_path / "p" / "gitignore").exists()


@pytest.mark.parametrize("other", ["notes.txt", ".env", "src"])
def test_a_folder_with_other_files_beside_git_is_still_refused(
    tmp_path: Path, cli, other: str
) -> None:
    target = tmp_path / "occupied"
    assert git(tmp_path, "init", "-q", "occupied").returncode == 0
    if other == "src":
        (target / other).mkdir()
    else:
        (target / other).write_text("keep me\n")
    before = tree_hash(tmp_path)
    result = cli(tmp_path, "init", "occupied")
    assert result.code == 2
    assert result.err.splitlines() == [
        f"error: {target} already exists and is not empty; choose a new folder for the project"
    ]
    assert tree_hash(tmp_path) == before
