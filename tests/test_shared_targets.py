"""No silent overwrite: one file per data source, one writing case per shared file.

Two sources of one case that resolve to the same file are refused when the case is
opened. A file outside a case's own folder is locked (``.<file>.lock`` beside it) for
the whole run of a case that writes it; a second case is refused naming both cases, or
queues with ``--wait``. The first run is stopped at a known point — its plugin blocks on
a FIFO — so every contention below happens on every run, not by chance.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_mini_project
from datareplay.errors import CaseLockedError, ConfigError, UnsafeNameError
from datareplay.project.locking import OutputLock, holding_outputs

WAIT_S = 60.0  # how long a helper may take to reach its stop point (not a timing assertion)

PLUGINS = '''
"""Plugins for the shared-target tests."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from datareplay import BasePlugin, Param


class Fleet(BasePlugin):
    """Write a one-column frame, first waiting on a FIFO when given one."""

    outputs = {"fleet": "the fleet summary"}
    value = Param(1, "value written")
    gate = Param("", "FIFO to wait on before writing")

    def run(self, hub):
        if self.gate:
            Path(self.gate + ".ready").write_text(str(os.getpid()))
            with open(self.gate, "rb") as fifo:  # blocks until the test opens the gate
                fifo.read(1)
        hub["fleet"] = pd.DataFrame({"v": [self.value] * 10})
'''

CASE = """
data_sources:
  fleet: {{path: {path}}}
pipeline:
  - plugin: Fleet
    params: {{value: {value}, gate: '{gate}'}}
"""


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    return make_mini_project(tmp_path / "mini", PLUGINS)


def write_case(
    root: Path, case: str, *, path: str = "data/shared/fleet.parquet", value: int = 1, gate=""
) -> None:
    folder = root / "cases" / case
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.yaml").write_text(CASE.format(path=path, value=value, gate=gate))


def write_sources(root: Path, sources: str, case: str = "c") -> None:
    """A case whose data sources are ``sources`` (YAML) and whose step writes ``fleet``."""
    folder = root / "cases" / case
    folder.mkdir(parents=True, exist_ok=True)
    text = f"data_sources:\n{textwrap.indent(textwrap.dedent(sources), '  ')}"
    (folder / "case.yaml").write_text(text + "pipeline:\n  - plugin: Fleet\n")


@pytest.fixture
def helpers() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; whatever still runs at its end is killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=WAIT_S)


def start(root: Path, helpers: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "run.py", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    helpers.append(proc)
    return proc


def wait_until(done, proc: subprocess.Popen[str], what: str) -> None:
    """Poll ``done()`` until true; fail if ``proc`` exits first."""
    deadline = time.monotonic() + WAIT_S
    while not done():
        if proc.poll() is not None:
            raise AssertionError(f"process exited before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached: {what}")
        time.sleep(0.01)


def start_holder(
    mini: Path, helpers: list[subprocess.Popen[str]], case: str = "a", **kwargs
) -> tuple[subprocess.Popen[str], Path]:
    """Run ``case`` until its plugin waits on a FIFO; return the process and the FIFO."""
    gate = mini / f"gate-{case}"
    os.mkfifo(gate)
    write_case(mini, case, gate=str(gate), **kwargs)
    proc = start(mini, helpers, "pipeline", "--case", case)
    wait_until(gate.with_name(f"{gate.name}.ready").exists, proc, "the plugin started")
    return proc, gate


def release(proc: subprocess.Popen[str], gate: Path) -> None:
    with open(gate, "wb") as fifo:
        fifo.write(b"x")
    _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, err


def blocked_on_flock(pid: int) -> bool:
    """True when process ``pid`` waits for a flock (a ``->`` line of /proc/locks)."""
    lines = Path("/proc/locks").read_text().splitlines()
    return any("->" in line and line.split()[5] == str(pid) for line in lines)


def fleet(root: Path, path: str = "data/shared/fleet.parquet") -> int:
    values = set(pd.read_parquet(root / path)["v"])
    assert len(values) == 1
    return int(values.pop())


# -- two sources of one case, one file --------------------------------------------------


@pytest.mark.parametrize(
    "other",
    [
        "data/shared/fleet.parquet",
        "./data/shared/fleet.parquet",
        "data/../data/shared/fleet.parquet",
    ],
)
@pytest.mark.parametrize("command", ["pipeline", "validate"])
def test_two_sources_with_one_path_exit_2_naming_both(mini: Path, cli, other, command) -> None:
    write_sources(
        mini,
        f"""
        fleet: {{path: data/shared/fleet.parquet}}
        copy:
          path: {other}
        """,
    )
    result = cli(mini, command, "--case", "c")
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1, result.err
    assert result.err == (
        "error: cases/c/case.yaml:5: data sources 'fleet' (cases/c/case.yaml:3) and 'copy' "
        "both resolve to the file data/shared/fleet.parquet; one would silently overwrite "
        "the other: give each its own path\n"
    )
    assert not (mini / "data").exists()


def test_a_symlinked_folder_is_the_same_file(mini: Path, cli) -> None:
    (mini / "data" / "shared").mkdir(parents=True)
    (mini / "data" / "alias").symlink_to("shared")
    write_sources(
        mini,
        """
        fleet: {path: data/shared/fleet.parquet}
        copy: {path: data/alias/fleet.parquet}
        """,
    )
    for command in ("pipeline", "validate"):
        result = cli(mini, command, "--case", "c")
        assert result.code == 2, result.err
        assert "'fleet'" in result.err and "'copy'" in result.err
        assert "both resolve to the file data/shared/fleet.parquet" in result.err


def test_a_default_path_and_an_explicit_one_are_the_same_file(mini: Path, cli) -> None:
    write_sources(mini, "fleet: {}\ncopy: {path: cases/c/data/fleet.parquet}\n")
    result = cli(mini, "validate", "--case", "c")
    assert result.code == 2
    assert "data sources 'fleet' (cases/c/case.yaml:2) and 'copy'" in result.err
    assert "cases/c/data/fleet.parquet" in result.err


def test_a_hard_link_is_the_same_file(mini: Path, cli) -> None:
    shared = mini / "data" / "shared"
    shared.mkdir(parents=True)
    pd.DataFrame({"v": [0]}).to_parquet(shared / "fleet.parquet")
    os.link(shared / "fleet.parquet", shared / "linked.parquet")
    write_sources(
        mini, "fleet: {path: data/shared/fleet.parquet}\nb: {path: data/shared/linked.parquet}\n"
    )
    result = cli(mini, "validate", "--case", "c")
    assert result.code == 2
    assert "data sources 'fleet'" in result.err and "and 'b'" in result.err


def test_sources_that_are_only_read_may_share_a_file(mini: Path, cli) -> None:
    shared = mini / "data" / "shared"
    shared.mkdir(parents=True)
    pd.DataFrame({"v": [0]}).to_parquet(shared / "in.parquet")
    write_sources(
        mini,
        """
        fleet: {}
        one: {path: data/shared/in.parquet, read_only: true}
        two: {path: ./data/shared/in.parquet, read_only: true}
        """,
    )
    assert cli(mini, "validate", "--case", "c").code == 0


def test_different_files_are_fine(mini: Path, cli) -> None:
    write_sources(mini, "fleet: {}\ncopy: {path: cases/c/data/copy.parquet}\n")
    assert cli(mini, "pipeline", "--case", "c").code == 0


# -- two cases, one file outside their folders --------------------------------------------


def test_a_second_case_writing_the_file_is_refused_naming_both(
    mini: Path, cli, helpers: list[subprocess.Popen[str]]
) -> None:
    first, gate = start_holder(mini, helpers, value=1)
    write_case(mini, "b", value=2)

    result = cli(mini, "pipeline", "--case", "b")

    assert result.code == 2, result.err
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith(
        "error: case 'b' cannot write data/shared/fleet.parquet: it is being written by "
        f"case 'a' (PID {first.pid}, since "
    )
    assert result.err.endswith("); wait for it to finish or pass --wait\n")
    assert not (mini / "cases" / "b" / "data").exists()  # nothing of b ran
    # one step alone is refused as well
    assert cli(mini, "plugin", "Fleet", "--case", "b").code == 2
    release(first, gate)
    assert fleet(mini) == 1
    assert cli(mini, "pipeline", "--case", "b").code == 0
    assert fleet(mini) == 2


def test_with_wait_the_second_case_queues_then_writes(
    mini: Path, helpers: list[subprocess.Popen[str]]
) -> None:
    first, gate = start_holder(mini, helpers, value=1)
    write_case(mini, "b", value=2)
    second = start(mini, helpers, "pipeline", "--case", "b", "--wait")
    wait_until(lambda: blocked_on_flock(second.pid), second, "case b queued on the lock")

    release(first, gate)
    _, err = second.communicate(timeout=WAIT_S)

    assert second.returncode == 0, err
    assert fleet(mini) == 2  # b wrote after a


def test_a_symlinked_folder_shares_the_lock(
    mini: Path, cli, helpers: list[subprocess.Popen[str]]
) -> None:
    (mini / "data" / "shared").mkdir(parents=True)
    (mini / "data" / "alias").symlink_to("shared")
    first, gate = start_holder(mini, helpers)
    write_case(mini, "b", path="data/alias/fleet.parquet")
    result = cli(mini, "pipeline", "--case", "b")
    assert result.code == 2
    assert f"being written by case 'a' (PID {first.pid}" in result.err
    release(first, gate)


def test_different_outside_files_do_not_conflict(
    mini: Path, cli, helpers: list[subprocess.Popen[str]]
) -> None:
    first, gate = start_holder(mini, helpers, value=1)
    write_case(mini, "b", path="data/shared/other.parquet", value=2)
    assert cli(mini, "pipeline", "--case", "b").code == 0
    assert fleet(mini, "data/shared/other.parquet") == 2
    release(first, gate)


def test_the_cases_own_folder_needs_no_file_lock(
    mini: Path, cli, helpers: list[subprocess.Popen[str]]
) -> None:
    # two cases writing a file of the same name, each in its own folder
    first, gate = start_holder(mini, helpers, path="cases/a/data/fleet.parquet")
    write_case(mini, "b", path="cases/b/data/fleet.parquet", value=2)
    assert cli(mini, "pipeline", "--case", "b").code == 0
    release(first, gate)
    for case in ("a", "b"):
        names = os.listdir(mini / "cases" / case / "data")
        assert not [n for n in names if n.endswith(".lock")], names
    assert not (mini / "data" / "shared").exists()


def test_the_lock_file_sits_beside_the_shared_file(mini: Path, cli) -> None:
    write_case(mini, "a")
    assert cli(mini, "pipeline", "--case", "a").code == 0
    lock = mini / "data" / "shared" / ".fleet.parquet.lock"
    pid, _, case = lock.read_text().split("\n")[:3]
    assert pid == str(os.getpid()) and case == "a"


def test_a_symlinked_lock_file_is_refused(mini: Path, cli, tmp_path: Path) -> None:
    (mini / "data" / "shared").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    (mini / "data" / "shared" / ".fleet.parquet.lock").symlink_to(outside)
    write_case(mini, "a")
    result = cli(mini, "pipeline", "--case", "a")
    assert result.code == 2
    assert "data/shared/.fleet.parquet.lock is a symbolic link" in result.err
    assert not outside.exists()


# -- the lock itself ----------------------------------------------------------------------


def test_output_locks_exclude_each_other_and_release(tmp_path: Path) -> None:
    target = tmp_path / "shared" / "x.csv"
    with holding_outputs([(target, "shared/x.csv")], case="a", roots=[tmp_path]) as held:
        assert [lock.path for lock in held] == [tmp_path / "shared" / ".x.csv.lock"]
        other = OutputLock(target, case="b", roots=[tmp_path], shown="shared/x.csv")
        with pytest.raises(CaseLockedError, match=r"^case 'b' cannot write shared/x.csv: .*'a'"):
            other.acquire()
    with holding_outputs([(target, "shared/x.csv")], case="b", roots=[tmp_path]):
        pass


def test_a_refusal_releases_the_locks_already_taken(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    both = [(first, "a.csv"), (second, "b.csv")]
    with holding_outputs([(second, "b.csv")], case="x", roots=[tmp_path]):
        refused = holding_outputs(both, case="y", roots=[tmp_path])
        with pytest.raises(CaseLockedError):
            refused.__enter__()
    # a.csv was taken before b.csv was refused, and let go again
    with holding_outputs([(first, "a.csv")], case="z", roots=[tmp_path]):
        pass


def test_a_lock_outside_the_roots_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    outside = holding_outputs([(tmp_path / "x.csv", "x.csv")], case="a", roots=[tmp_path / "p"])
    with pytest.raises(UnsafeNameError, match="outside the project"):
        outside.__enter__()


def test_config_error_is_a_config_error(mini: Path) -> None:
    from datareplay.config.manager import ConfigManager
    from datareplay.project.paths import Project

    write_sources(mini, "fleet: {}\ncopy: {path: cases/c/data/fleet.parquet}\n")
    manager = ConfigManager(Project.at(mini))
    with pytest.raises(ConfigError, match=r"^cases/c/case.yaml:3: data sources 'fleet'"):
        manager.data_sources(manager.load_case("c"))
