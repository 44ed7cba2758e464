"""Temporaries are swept only when their writer is gone; data paths never lead outside.

Writers are stopped at known points — a pickled value that blocks on a FIFO while its
temporary is open, or a helper process that creates a temporary and waits on its
stdin — and killed there, so every case below happens on every run, not by chance.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_mini_project, tree_hash
from datareplay.data.atomic import (
    TMP_MARKER,
    atomic_target,
    atomic_write_bytes,
    parse_temp_name,
    probe_writable,
    process_running,
    process_start,
    sweep_temporaries,
    temp_path_for,
    writer_gone,
)
from datareplay.data.catalog import DataCatalog
from datareplay.data.formats import FORMATS
from datareplay.data.source import DataSource
from datareplay.errors import PersistenceError, UnsafeNameError
from datareplay.project.paths import Project
from datareplay.session import Session

GONE_PID = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # never a running process
WAIT_S = 60.0  # how long a helper may take to reach its stop point (not a timing assertion)

PLUGINS = '''
"""Plugins for the path and temporary tests."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from datareplay import BasePlugin, Param


class Blocker:
    """Pickling it announces that the temporary is open, then waits for the gate."""

    def __init__(self, gate):
        self.gate = gate

    def __reduce__(self):
        Path(self.gate + ".ready").write_text(str(os.getpid()))
        with open(self.gate, "rb") as fifo:  # blocks until the test opens the gate
            fifo.read(1)
        return (dict, ((("writer", "held"),),))


class Hold(BasePlugin):
    """Write the shared output, stopping in the middle of the write until released."""

    outputs = {"shared": "any object"}
    gate = Param("", "FIFO to wait on while the temporary is open")

    def run(self, hub):
        hub["shared"] = Blocker(self.gate)


class Put(BasePlugin):
    """Write the shared output at once."""

    outputs = {"shared": "any object"}

    def run(self, hub):
        hub["shared"] = {"writer": "quick"}


class Reader(BasePlugin):
    """Copy the input into a one-row frame."""

    inputs = {"events": "anything"}
    outputs = {"out": "a frame"}

    def run(self, hub):
        value = hub["events"]
        hub["out"] = value if isinstance(value, pd.DataFrame) else pd.DataFrame([value])


class Plant(BasePlugin):
    """Replace a file with a symlink to another path in the middle of a run."""

    outputs = {"note": "memory"}
    link = Param("", "the path to replace")
    target = Param("", "where the link points")

    def run(self, hub):
        link = Path(self.link)
        link.unlink(missing_ok=True)
        link.symlink_to(self.target)
        hub["note"] = {"planted": self.link}
'''


class Evil:
    """Unpickling it creates ``marker``: proof that a pickle's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    return make_mini_project(tmp_path / "mini", PLUGINS)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A folder outside the project, holding a secret file."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "secret.csv").write_text("secret\n42\n")
    return folder


def write_case(root: Path, case: str, text: str) -> Path:
    folder = root / "cases" / case
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.yaml").write_text(textwrap.dedent(text))
    return folder


def temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if TMP_MARKER in p.name)


def left_behind(target: Path) -> Path:
    """The name of a temporary of ``target`` whose writer is gone."""
    return target.with_name(f".{target.name}{TMP_MARKER}{GONE_PID}-1-{os.urandom(4).hex()}")


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    """Wait until ``path`` exists (the helper reached its stop point) or ``proc`` died."""
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"helper exited early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"helper never reached its stop point ({path})")
        time.sleep(0.01)


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL ``proc`` and reap it, so its PID no longer names a process."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=WAIT_S)


@pytest.fixture
def helpers() -> Iterator[list[subprocess.Popen[str]]]:
    """Helper processes of a test; whatever still runs at its end is killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        kill(proc)


HOLD_TEMPORARY = """
import sys
from pathlib import Path
from datareplay.data.atomic import atomic_target

with atomic_target(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"half written")
    print(tmp, flush=True)
    sys.stdin.read()  # the stop point: a temporary open, its writer alive
"""


def hold_temporary(target: Path, helpers: list[subprocess.Popen[str]]) -> Path:
    """Start a process that creates a temporary of ``target`` and stops; return the temporary."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_TEMPORARY, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    helpers.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line, proc.communicate()
    tmp = Path(line)
    assert tmp.is_file() and parse_temp_name(tmp.name) is not None
    return tmp


# -- who is a temporary's writer ------------------------------------------------------


def test_a_temporary_names_its_writer_by_pid_and_start_time(tmp_path: Path) -> None:
    tmp = temp_path_for(tmp_path / "a.csv")
    assert parse_temp_name(tmp.name) == ("a.csv", os.getpid(), process_start())
    assert process_start() > 0
    # names written by earlier versions carry no start time
    assert parse_temp_name(".a.csv.dr-tmp-123-0badc0de") == ("a.csv", 123, 0)
    assert parse_temp_name(".proj.dr-tmp-123") == ("proj", 123, 0)
    assert parse_temp_name(".a.csv.dr-tmp-123-4567-0badc0de") == ("a.csv", 123, 4567)
    assert parse_temp_name("a.csv") is None
    assert parse_temp_name(".a.csv.dr-tmp-x") is None


def test_a_live_writer_keeps_its_temporary_and_a_reused_pid_does_not(tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    mine = temp_path_for(target)
    reused = target.with_name(f".a.csv{TMP_MARKER}{os.getpid()}-{process_start() + 1}-00ff00ff")
    gone = left_behind(target)
    for path in (mine, reused, gone):
        path.write_bytes(b"half")
    assert process_running(os.getpid(), process_start())
    assert not process_running(os.getpid(), process_start() + 1)
    assert sorted(sweep_temporaries([target])) == sorted([reused, gone])
    assert mine.exists()


def test_a_locked_temporary_is_kept_even_when_its_pid_is_not_seen(tmp_path: Path) -> None:
    """A writer in another PID namespace on a shared folder: its lock still counts."""
    import fcntl

    target = tmp_path / "a.csv"
    foreign = left_behind(target)
    foreign.write_bytes(b"half")
    fd = os.open(foreign, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert not writer_gone(foreign)
        assert sweep_temporaries([target]) == []
    finally:
        os.close(fd)
    assert writer_gone(foreign)
    assert sweep_temporaries([target]) == [foreign]


def test_a_zombie_writer_counts_as_gone(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = Path(f"/proc/{proc.pid}/stat")
        deadline = time.monotonic() + WAIT_S
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)
        start = int(stat.read_text().rsplit(")", 1)[1].split()[19])
        tmp = tmp_path / f".a.csv{TMP_MARKER}{proc.pid}-{start}-0badc0de"
        tmp.write_bytes(b"half")
        assert not process_running(proc.pid, start)
        assert sweep_temporaries([tmp_path / "a.csv"]) == [tmp]
    finally:
        proc.wait()


def test_a_helper_holding_a_temporary_keeps_it_until_killed(
    tmp_path: Path, helpers: list[subprocess.Popen[str]]
) -> None:
    target = tmp_path / "out.bin"
    tmp = hold_temporary(target, helpers)
    assert not writer_gone(tmp)
    assert sweep_temporaries([target]) == []
    kill(helpers[0])
    assert writer_gone(tmp)
    assert sweep_temporaries([target]) == [tmp]
    assert not target.exists()


# -- two cases writing one file outside their folders ---------------------------------

SHARED_CASE = """
data_sources:
  shared: {{path: data/shared/out.pkl, format: pickle}}
pipeline:
  - plugin: {plugin}
    params: {params}
"""


def start_holding_writer(mini: Path, helpers: list[subprocess.Popen[str]]) -> tuple[Path, Path]:
    """Run case ``a`` until its write of data/shared/out.pkl stops mid-write.

    Returns the FIFO that releases the write and the temporary being written.
    """
    gate = mini / "gate"
    os.mkfifo(gate)
    write_case(mini, "a", SHARED_CASE.format(plugin="Hold", params=f"{{gate: '{gate}'}}"))
    write_case(mini, "b", SHARED_CASE.format(plugin="Put", params="{}"))
    proc = subprocess.Popen(
        [sys.executable, "run.py", "pipeline", "--case", "a"],
        cwd=mini,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    helpers.append(proc)
    wait_for(gate.with_name("gate.ready"), proc)
    (tmp,) = temporaries(mini / "data" / "shared")
    assert parse_temp_name(tmp.name)[1] == proc.pid  # type: ignore[index]
    return gate, tmp


def test_a_live_writers_temporary_survives_another_case_writing_the_same_file(
    mini: Path, cli, helpers: list[subprocess.Popen[str]]
) -> None:
    gate, tmp = start_holding_writer(mini, helpers)
    first = helpers[0]

    other = cli(mini, "pipeline", "--case", "b")

    # case a holds the file's lock: b is refused before it touches anything
    assert other.code == 2, other.err
    assert f"being written by case 'a' (PID {first.pid}" in other.err
    assert tmp.is_file()  # case a's write in progress was left alone
    target = mini / "data" / "shared" / "out.pkl"
    with open(gate, "wb") as release:
        release.write(b"x")
    _, err = first.communicate(timeout=WAIT_S)
    assert first.returncode == 0, err
    assert pickle.loads(target.read_bytes()) == {"writer": "held"}
    assert temporaries(target.parent) == []
    assert cli(mini, "pipeline", "--case", "b").code == 0
    assert pickle.loads(target.read_bytes()) == {"writer": "quick"}


def test_a_temporary_of_a_writer_outside_any_run_survives_a_case_writing_the_file(
    mini: Path, cli, helpers: list[subprocess.Popen[str]]
) -> None:
    # a writer that takes no file lock (another tool using the engine's atomic writes)
    write_case(mini, "b", SHARED_CASE.format(plugin="Put", params="{}"))
    target = mini / "data" / "shared" / "out.pkl"
    tmp = hold_temporary(target, helpers)

    other = cli(mini, "pipeline", "--case", "b")

    assert other.code == 0, other.err
    assert "temporary" not in other.err
    assert tmp.is_file()
    assert pickle.loads(target.read_bytes()) == {"writer": "quick"}


def test_a_killed_writers_temporary_is_swept_by_the_next_case_writing_the_file(
    mini: Path, cli, helpers: list[subprocess.Popen[str]]
) -> None:
    _, tmp = start_holding_writer(mini, helpers)
    kill(helpers[0])
    assert tmp.is_file()

    other = cli(mini, "pipeline", "--case", "b")

    assert other.code == 0, other.err
    assert "removed 1 temporary file(s) left by an interrupted run" in other.err
    assert temporaries(tmp.parent) == []


# -- every writer's leftovers are swept by a later command ----------------------------

READ_CASE = """
data_sources:
  events: {format: csv}
  out: {}
pipeline:
  - plugin: Reader
"""


def test_dead_dataset_and_probe_temporaries_are_swept_by_the_next_run(mini: Path, cli) -> None:
    data = write_case(mini, "r", READ_CASE) / "data"
    data.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_csv(data / "events.csv", index=False)
    leftovers = [
        left_behind(data / "out.parquet"),
        left_behind(data / "probe"),  # a probe named by this version
        data / f".probe{TMP_MARKER}{GONE_PID}-0badc0de",  # ... and by an earlier one
        data / f".out.parquet{TMP_MARKER}{GONE_PID}-0badc0de",
    ]
    for path in leftovers:
        path.write_bytes(b"half")
    live = temp_path_for(data / "out.parquet")  # its writer (this process) is running
    live.write_bytes(b"half")

    result = cli(mini, "pipeline", "--case", "r")

    assert result.code == 0, result.err
    assert not any(path.exists() for path in leftovers)
    assert temporaries(data) == [live]


def test_the_probe_leaves_nothing_without_o_tmpfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    gone = left_behind(tmp_path / "probe")
    gone.write_bytes(b"")
    probe_writable(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_generate_docs_sweeps_plugins_md_temporaries_of_writers_that_are_gone(
    mini: Path, cli, helpers: list[subprocess.Popen[str]]
) -> None:
    target = mini / "PLUGINS.md"
    held = hold_temporary(target, helpers)

    while_held = cli(mini, "generate-docs")

    assert while_held.code == 0, while_held.err
    assert held.is_file()  # its writer still runs
    kill(helpers[0])
    again = cli(mini, "generate-docs")
    assert again.code == 0, again.err
    assert temporaries(mini) == []
    assert "## Hold" in target.read_text()


def test_template_creation_sweeps_the_case_yaml_temporary_of_a_killed_creation(
    mini: Path, cli, helpers: list[subprocess.Popen[str]]
) -> None:
    (mini / "templates").mkdir()
    (mini / "templates" / "read_case.yaml").write_text(textwrap.dedent(READ_CASE))
    held = hold_temporary(mini / "cases" / "new" / "case.yaml", helpers)
    kill(helpers[0])
    data = mini / "cases" / "new" / "data"
    data.mkdir()
    pd.DataFrame({"x": [1]}).to_csv(data / "events.csv", index=False)

    result = cli(mini, "pipeline", "--case", "new", "--template", "read")

    assert result.code == 0, result.err
    assert not held.exists()
    assert temporaries(held.parent) == []
    assert (held.parent / "case.yaml").read_text() == textwrap.dedent(READ_CASE)


def test_init_sweeps_the_staging_folder_of_a_killed_init(tmp_path: Path) -> None:
    staging = left_behind(tmp_path / "proj")
    (staging / "config").mkdir(parents=True)
    (staging / "config" / "global.yaml").write_text("half: a project\n")
    from datareplay.cli.main import main

    assert main(["init", str(tmp_path / "proj")], prog_name="datareplay") == 0
    assert not staging.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


def test_atomic_write_bytes_sweeps_its_targets_leftovers_only(tmp_path: Path) -> None:
    target = tmp_path / "PLUGINS.md"
    gone, other = left_behind(target), left_behind(tmp_path / "README.md")
    gone.write_bytes(b"half")
    other.write_bytes(b"half")
    atomic_write_bytes(target, b"docs")
    assert not gone.exists() and other.exists()


# -- temporaries are never followed through a symlink ---------------------------------


def test_a_symlink_planted_at_the_temporary_name_is_never_written_through(
    tmp_path: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "urandom", lambda n: b"\x00" * n)
    target = tmp_path / "project" / "out.csv"
    target.parent.mkdir()
    planted = temp_path_for(target)
    planted.symlink_to(elsewhere / "secret.csv")
    before = (elsewhere / "secret.csv").read_bytes()
    with pytest.raises(PersistenceError, match=r"could not write .*out\.csv: File exists") as info:
        atomic_write_bytes(target, b"new")
    assert isinstance(info.value.__cause__, FileExistsError)
    assert (elsewhere / "secret.csv").read_bytes() == before
    assert planted.is_symlink() and not target.exists()


def test_a_temporary_swapped_during_the_write_is_not_renamed(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(OSError, match="replaced by someone else"), atomic_target(target) as tmp:
        tmp.unlink()
        tmp.write_bytes(b"someone else's")
    assert target.read_bytes() == b"old"


# -- symlinks out of the project ------------------------------------------------------

PICKLE_CASE = """
data_sources:
  events: {format: pickle}
  out: {}
pipeline:
  - plugin: Reader
"""


def test_a_csv_symlinked_outside_is_refused_by_pipeline_and_validate(
    mini: Path, cli, elsewhere: Path
) -> None:
    data = write_case(mini, "s", READ_CASE) / "data"
    data.mkdir()
    (data / "events.csv").symlink_to(elsewhere / "secret.csv")
    before = tree_hash(mini)

    for command in ("pipeline", "validate"):
        result = cli(mini, command, "--case", "s")
        assert result.code == 2, (command, result.err)
        lines = result.err.strip().splitlines()
        assert len(lines) == 1, result.err
        assert "data source 'events'" in lines[0]
        assert f"cases/s/data/events.csv is a symlink to {elsewhere / 'secret.csv'}" in lines[0]
        assert "data.allowed_roots" in lines[0]
        assert "42" not in result.out
    assert tree_hash(mini) == before


def test_a_pickle_symlinked_outside_is_never_unpickled(mini: Path, cli, elsewhere: Path) -> None:
    marker = elsewhere / "code-ran"
    (elsewhere / "evil.pkl").write_bytes(pickle.dumps(Evil(marker)))
    data = write_case(mini, "s", PICKLE_CASE) / "data"
    data.mkdir()
    (data / "events.pkl").symlink_to(elsewhere / "evil.pkl")

    for command in ("pipeline", "validate", "plugin"):
        args = ("Reader",) if command == "plugin" else ()
        result = cli(mini, command, *args, "--case", "s")
        assert result.code == 2, (command, result.err)
        assert f"events.pkl is a symlink to {elsewhere / 'evil.pkl'}" in result.err
    assert not marker.exists()


def test_a_pickle_linked_from_elsewhere_in_the_project_is_not_the_cases_own(
    mini: Path, cli
) -> None:
    """Inside the project, so the path is allowed; but not the case's store: not trusted."""
    marker = mini / "code-ran"
    planted = mini / "data" / "evil.pkl"
    planted.parent.mkdir()
    planted.write_bytes(pickle.dumps(Evil(marker)))
    data = write_case(mini, "s", PICKLE_CASE) / "data"
    data.mkdir()
    (data / "events.pkl").symlink_to(planted)

    result = cli(mini, "pipeline", "--case", "s")

    assert result.code == 1
    assert (
        f"refusing to unpickle cases/s/data/events.pkl (a link to {planted.resolve()})"
        in result.err
    )
    assert not marker.exists()


def test_a_symlink_planted_during_a_run_fails_the_step_that_reads_it(
    mini: Path, cli, elsewhere: Path
) -> None:
    marker = elsewhere / "code-ran"
    (elsewhere / "evil.pkl").write_bytes(pickle.dumps(Evil(marker)))
    case = write_case(
        mini,
        "s",
        f"""
        data_sources:
          events: {{format: pickle}}
          note: {{format: memory}}
          out: {{}}
        pipeline:
          - plugin: Plant
            params: {{link: '{mini}/cases/s/data/events.pkl', target: '{elsewhere}/evil.pkl'}}
          - plugin: Reader
        """,
    )
    data = case / "data"
    data.mkdir()
    (data / "events.pkl").write_bytes(pickle.dumps({"x": 1}))

    result = cli(mini, "pipeline", "--case", "s")

    assert result.code == 1
    assert "step 2 'Reader'" in result.err
    assert "refusing to read cases/s/data/events.pkl" in result.err
    assert f"is a symlink to {elsewhere / 'evil.pkl'}" in result.err
    assert not marker.exists()


def test_reads_are_checked_when_the_file_is_opened(mini: Path, elsewhere: Path) -> None:
    """A link that appears after the case was opened is refused by the catalog itself."""
    data = write_case(mini, "s", READ_CASE) / "data"
    data.mkdir()
    pd.DataFrame({"x": [1]}).to_csv(data / "events.csv", index=False)
    opened = Session(Project.at(mini)).open_case("s")
    (data / "events.csv").unlink()
    (data / "events.csv").symlink_to(elsewhere / "secret.csv")
    with pytest.raises(PersistenceError) as info:
        opened.hub["events"]
    message = str(info.value)
    assert message.startswith("data source 'events': refusing to read cases/s/data/events.csv")
    assert f"a symlink to {elsewhere / 'secret.csv'}" in message
    assert "\n" not in message


def test_a_write_over_a_symlink_replaces_the_link_and_leaves_the_target_untouched(
    mini: Path, elsewhere: Path
) -> None:
    data = write_case(mini, "s", READ_CASE) / "data"
    data.mkdir()
    pd.DataFrame({"x": [1]}).to_csv(data / "events.csv", index=False)
    opened = Session(Project.at(mini)).open_case("s")
    outside = elsewhere / "secret.csv"
    before = outside.read_bytes()
    (data / "events.csv").unlink()
    (data / "events.csv").symlink_to(outside)

    opened.hub.put("events", pd.DataFrame({"x": [7, 8]}))

    assert not (data / "events.csv").is_symlink()
    assert pd.read_csv(data / "events.csv")["x"].tolist() == [7, 8]
    assert outside.read_bytes() == before
    assert sorted(p.name for p in elsewhere.iterdir()) == ["secret.csv"]


def test_a_write_into_a_folder_symlinked_outside_is_refused(
    tmp_path: Path, elsewhere: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "data").symlink_to(elsewhere)
    source = DataSource("x", FORMATS["csv"], root / "data" / "x.csv", roots=(root.resolve(),))
    catalog = DataCatalog({"x": source}, project_root=root)
    with pytest.raises(PersistenceError) as info:
        catalog.put("x", pd.DataFrame({"a": [1]}))
    assert "refusing to write data/x.csv" in str(info.value)
    assert f"data is a symlink to {elsewhere}, outside the project" in str(info.value)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["secret.csv"]


def test_a_case_folder_symlinked_outside_is_not_created_from_a_template(
    mini: Path, cli, elsewhere: Path
) -> None:
    (mini / "templates").mkdir()
    (mini / "templates" / "read_case.yaml").write_text(textwrap.dedent(READ_CASE))
    (mini / "cases" / "new").symlink_to(elsewhere)

    result = cli(mini, "pipeline", "--case", "new", "--template", "read")

    assert result.code == 2
    assert "resolves outside the project" in result.err
    with pytest.raises(UnsafeNameError, match=f"cases/new is a symlink to {elsewhere}, outside"):
        Project.at(mini).create_case("new", "read")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["secret.csv"]


def test_links_inside_the_project_still_work(mini: Path, cli) -> None:
    shared = mini / "data" / "events.csv"
    shared.parent.mkdir()
    pd.DataFrame({"x": [1, 2, 3]}).to_csv(shared, index=False)
    data = write_case(mini, "s", READ_CASE) / "data"
    data.mkdir()
    (data / "events.csv").symlink_to(shared)

    result = cli(mini, "pipeline", "--case", "s")

    assert result.code == 0, result.err
    assert pd.read_parquet(data / "out.parquet")["x"].tolist() == [1, 2, 3]
