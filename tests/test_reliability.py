"""Nothing lost, nobody let in: real processes killed, disks filled, locks contended.

Long soaks live in scripts/soak_atomic.py; here a few trials per case keep CI fast.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, run_subprocess, tree_hash
from datareplay.errors import CaseLockedError
from datareplay.project.locking import CaseLock

sys.path.insert(0, str(REPO / "scripts"))
import soak_atomic

KILL_TRIALS = 20


@pytest.fixture(scope="module")
def forkserver():
    return soak_atomic.context()


@pytest.mark.parametrize("fmt", soak_atomic.FORMATS)
def test_sigkill_during_writes_never_leaves_a_half_written_dataset(
    forkserver, tmp_path: Path, fmt: str
) -> None:
    rng = random.Random(fmt)
    rows = soak_atomic.ROWS[fmt] // 3
    outcomes = [
        soak_atomic.trial(forkserver, tmp_path, fmt, rows=rows, max_delay=0.15, rng=rng)
        for _ in range(KILL_TRIALS)
    ]
    # every trial ended absent or as one complete version (check() asserts it);
    # and the kills really did land in the middle of writes
    assert any("mid-write" in outcome for outcome in outcomes), outcomes
    assert any(outcome.startswith("v") for outcome in outcomes), outcomes


# -- a tiny project whose plugins can be slow, fail, or kill the process ------------

PLUGINS = '''
"""Plugins for the reliability tests."""
from __future__ import annotations

import os
import time

import pandas as pd

from datareplay import BasePlugin, Param


class Source(BasePlugin):
    """Write a small frame."""

    outputs = {"a": "numbers"}
    version = Param(1, "value written into every row")

    def run(self, hub):
        hub["a"] = pd.DataFrame({"v": [self.version] * 1000})


class Middle(BasePlugin):
    """Copy a to b, optionally sleeping first."""

    inputs = {"a": "numbers"}
    outputs = {"b": "numbers"}
    sleep_s = Param(0.0, "seconds to sleep before writing")

    def run(self, hub):
        time.sleep(self.sleep_s)
        hub["b"] = hub["a"].copy()


class Last(BasePlugin):
    """Fail in one of several ways, or copy b to c."""

    inputs = {"b": "numbers"}
    outputs = {"c": "numbers"}
    mode = Param("ok", "ok, raise, interrupt, exit, save or init")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.mode == "init":
            raise RuntimeError("cannot set up")

    def run(self, hub):
        frame = hub["b"]
        if self.mode == "raise":
            raise ValueError("bad sample")
        if self.mode == "interrupt":
            raise KeyboardInterrupt
        if self.mode == "exit":
            os._exit(3)
        if self.mode == "save":
            hub["c"] = frame.assign(bad=[object()] * len(frame))
            return
        hub["c"] = frame.copy()
'''

CASE = """
data_sources:
  a: {{}}
  b: {{}}
  c: {{}}
pipeline:
  - plugin: Source
    params: {{version: {version}}}
  - plugin: Middle
    params: {{sleep_s: {sleep}}}
  - plugin: Last
    params: {{mode: {mode}}}
"""


def write_case(
    root: Path, *, case: str = "r", version: int = 1, sleep: float = 0.0, mode: str = "ok"
) -> None:
    folder = root / "cases" / case
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.yaml").write_text(CASE.format(version=version, sleep=sleep, mode=mode))


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    root = tmp_path / "mini"
    (root / "config").mkdir(parents=True)
    (root / "modules").mkdir()
    (root / "modules" / "steps.py").write_text(PLUGINS)
    (root / "run.py").write_text((REPO / "run.py").read_text())
    write_case(root)
    return root


def outputs(root: Path, case: str = "r") -> dict[str, pd.DataFrame]:
    data = root / "cases" / case / "data"
    return {p.stem: pd.read_parquet(p) for p in sorted(data.glob("*.parquet"))}


def start(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "run.py", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> int:
    """Wait for ``proc``, closing its pipes; return its exit code."""
    proc.communicate(timeout=timeout)
    return proc.returncode


def wait_for_lock_holder(root: Path, pid: int, case: str = "r", timeout: float = 30) -> None:
    lock = root / "cases" / case / ".lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().split("\n")[0] == str(pid):
            return
        time.sleep(0.02)
    raise AssertionError("the first run never took the lock")


# -- failures keep what was done ----------------------------------------------------


def _run_then_fail(mini: Path, cli, mode: str) -> tuple[int, str, dict[str, pd.DataFrame]]:
    assert cli(mini, "pipeline", "--case", "r").code == 0
    before = outputs(mini)
    write_case(mini, version=2, mode=mode)
    result = cli(mini, "pipeline", "--case", "r")
    return result.code, result.err, before


@pytest.mark.parametrize(
    ("mode", "code", "message"),
    [
        ("raise", 1, "step 3 'Last' of case 'r' failed in run "),
        ("init", 1, "RuntimeError: cannot set up"),
        ("save", 1, "could not write data source 'c' as parquet"),
        ("interrupt", 130, "interrupted"),
    ],
)
def test_failure_at_step_k_keeps_earlier_outputs(mini: Path, cli, mode, code, message) -> None:
    result_code, err, before = _run_then_fail(mini, cli, mode)
    assert result_code == code
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err
    after = outputs(mini)
    assert (after["a"]["v"] == 2).all() and (after["b"]["v"] == 2).all()  # steps before k
    pd.testing.assert_frame_equal(after["c"], before["c"])  # step k: previous version
    assert not [p for p in (mini / "cases" / "r" / "data").iterdir() if "dr-tmp" in p.name]


def test_os_exit_mid_run_keeps_earlier_outputs(mini: Path) -> None:
    assert run_subprocess(mini, "pipeline", "--case", "r").code == 0
    write_case(mini, version=5, mode="exit")
    result = run_subprocess(mini, "pipeline", "--case", "r")
    assert result.code == 3
    after = outputs(mini)
    assert (after["a"]["v"] == 5).all() and (after["b"]["v"] == 5).all()
    assert (after["c"]["v"] == 1).all()


# -- one writer per case ------------------------------------------------------------


def test_lock_excludes_concurrent_holders_in_many_trials(tmp_path: Path) -> None:
    inside = 0
    overlaps = 0
    refused = 0
    guard = threading.Lock()

    def attempt() -> None:
        nonlocal inside, overlaps, refused
        try:
            with CaseLock(tmp_path, case="demo"):
                with guard:
                    inside += 1
                    overlaps += inside > 1
                time.sleep(0.001)
                with guard:
                    inside -= 1
        except CaseLockedError:
            with guard:
                refused += 1

    for _ in range(50):
        threads = [threading.Thread(target=attempt) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert overlaps == 0
    assert refused > 0


def test_second_run_of_a_case_is_refused_while_the_first_runs(mini: Path, cli) -> None:
    write_case(mini, sleep=2.0)
    first = start(mini, "pipeline", "--case", "r")
    try:
        wait_for_lock_holder(mini, first.pid)
        second = cli(mini, "pipeline", "--case", "r")
        assert second.code == 2
        assert f"case 'r' is being run by PID {first.pid} since " in second.err
        assert "--wait" in second.err
        # another case runs in parallel without waiting
        write_case(mini, case="other")
        assert cli(mini, "pipeline", "--case", "other").code == 0
    finally:
        assert finish(first) == 0


def test_wait_queues_behind_the_running_case(mini: Path) -> None:
    write_case(mini, sleep=1.0)
    first = start(mini, "pipeline", "--case", "r")
    wait_for_lock_holder(mini, first.pid)
    second = run_subprocess(mini, "pipeline", "--case", "r", "--wait")
    assert finish(first) == 0
    assert second.code == 0, second.err


def test_concurrent_runs_exactly_one_wins(mini: Path) -> None:
    write_case(mini, sleep=1.5)
    for _ in range(3):
        procs = [start(mini, "pipeline", "--case", "r", "--no-cache") for _ in range(2)]
        codes = sorted(finish(p) for p in procs)
        assert codes == [0, 2]


def test_sigkilled_holder_never_leaves_a_stale_lock(mini: Path, cli) -> None:
    write_case(mini, sleep=30.0)
    first = start(mini, "pipeline", "--case", "r")
    wait_for_lock_holder(mini, first.pid)
    os.kill(first.pid, signal.SIGKILL)
    finish(first, 10)
    write_case(mini)
    result = cli(mini, "pipeline", "--case", "r")
    assert result.code == 0, result.err


def test_leftover_temporaries_are_swept_on_the_next_run(mini: Path, cli) -> None:
    data = mini / "cases" / "r" / "data"
    data.mkdir(parents=True)
    gone_pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # never running
    leftover = data / f".c.parquet.dr-tmp-{gone_pid}-abcd"
    leftover.write_bytes(b"half a file")
    unrelated = data / "notes.txt"
    unrelated.write_text("keep me")
    result = cli(mini, "pipeline", "--case", "r")
    assert result.code == 0
    assert not leftover.exists() and unrelated.exists()
    assert "removed 1 temporary file" in result.err


# -- disk full and read-only --------------------------------------------------------

FILL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    import numpy as np, pandas as pd
    from datareplay.data.catalog import DataCatalog
    from datareplay.data.source import DataSource
    from datareplay.errors import PersistenceError
    from datareplay.data.formats import FORMATS

    target = Path(sys.argv[1])
    hub = DataCatalog({"d": DataSource("d", FORMATS[sys.argv[2]], target)},
                  project_root=target.parent)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    try:
        hub["d"] = pd.DataFrame({"x": np.random.default_rng(0).random(500_000)})
    except PersistenceError as exc:
        print(exc)
        sys.exit(1)
    """
)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "feather"])
def test_disk_full_keeps_the_old_version_and_no_temporary(tmp_path: Path, fmt: str) -> None:
    from datareplay.data.formats import FORMATS

    target = tmp_path / f"d.{fmt}"
    old = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    write = FORMATS[fmt].write
    assert write is not None
    write(old, target)
    before = target.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-c", FILL_DISK, str(target), fmt], capture_output=True, text=True
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.count("\n") == 1
    assert f"could not write data source 'd' to d.{fmt}: " in proc.stdout
    assert "File too large" in proc.stdout
    assert "the previous version is kept" in proc.stdout
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"d.{fmt}"]


def test_unwritable_data_folder_is_detected_before_any_plugin_runs(mini: Path, cli) -> None:
    # a file where the case's data folder should be: no plugin can write there
    (mini / "cases" / "r" / "data").write_text("not a folder")
    before = tree_hash(mini)
    result = cli(mini, "pipeline", "--case", "r")
    assert result.code == 2
    assert "cannot write to cases/r/data" in result.err
    assert "step 1/3" not in result.err
    assert tree_hash(mini) == before


# -- pickle is only read from the project's own store --------------------------------


def test_pickle_outside_the_case_store_is_not_unpickled(mini: Path, cli) -> None:
    import pickle

    planted = mini / "data" / "planted.pkl"
    planted.parent.mkdir()
    planted.write_bytes(pickle.dumps({"x": 1}))
    modules = mini / "modules" / "reader.py"
    modules.write_text(
        '"""Reader."""\n'
        "import pandas as pd\n"
        "from datareplay import BasePlugin\n\n\n"
        "class Reader(BasePlugin):\n"
        '    """Read a pickled object."""\n\n'
        '    inputs = {"obj": "anything"}\n'
        '    outputs = {"out": "a frame"}\n\n'
        "    def run(self, hub):\n"
        '        hub["out"] = pd.DataFrame([hub["obj"]])\n'
    )
    case = mini / "cases" / "p"
    case.mkdir()
    (case / "case.yaml").write_text(
        "data_sources:\n  obj: {path: data/planted.pkl}\n  out: {}\npipeline:\n  - plugin: Reader\n"
    )
    refused = cli(mini, "pipeline", "--case", "p")
    assert refused.code == 1
    assert "refusing to unpickle data/planted.pkl" in refused.err
    assert "trusted: true" in refused.err
    (case / "case.yaml").write_text(
        "data_sources:\n  obj: {path: data/planted.pkl, trusted: true}\n  out: {}\n"
        "pipeline:\n  - plugin: Reader\n"
    )
    assert cli(mini, "pipeline", "--case", "p").code == 0
