"""What a run prints: the live view on a terminal, plain lines elsewhere, the end-of-run
step table, --quiet and --verbose, and the summary of a failed run."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import CliResult, run_subprocess

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but \t and \n


def run_in_terminal(project: Path, *args: str, timeout: float = 120) -> tuple[int, str]:
    """``python run.py ARGS`` with stdout and stderr on a pseudo-terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the command
        os.chdir(project)
        os.execvp(sys.executable, [sys.executable, "run.py", *args])
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_a_live_progress_line(project: Path) -> None:
    code, text = run_in_terminal(project, "pipeline", "--case", "demo")
    assert code == 0, text
    assert "\x1b[" in text  # drawn with control sequences
    assert re.search(r"step \d/8 \w+", text)
    assert re.search(r"\d/8.*steps", text)  # steps done of all
    # the log lines still appear, whole, and the tables follow the live line
    assert "datareplay.runner: step 8/8 ReportWriter done in" in text
    assert "finished: 8 steps in" in text


def test_a_pipe_gets_plain_lines_without_control_characters(project: Path) -> None:
    result = run_subprocess(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    for line in (result.out + result.err).splitlines():
        assert not CONTROL.search(line), repr(line)
    assert "step 1/8 InitialDataReader" in result.err


def test_quiet_prints_the_closing_line_only(project: Path) -> None:
    code, text = run_in_terminal(project, "pipeline", "--case", "demo", "--quiet")
    assert code == 0, text
    assert "\x1b[" not in text  # no live view
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and re.match(r"run \S+ of case 'demo' finished: 8 steps in", lines[0])


def test_verbose_adds_debug_lines(project: Path, cli: Callable[..., CliResult]) -> None:
    result = run_subprocess(project, "-v", "pipeline", "--case", "demo")
    assert result.code == 0
    assert re.search(r"DEBUG\s+datareplay.runner: step InitialDataReader wrote wheel: ", result.err)
    plain = run_subprocess(project, "pipeline", "--case", "demo")
    assert "DEBUG" not in plain.err


def test_the_step_table_shows_status_time_rows_and_quality(
    project: Path, cli: Callable[..., CliResult]
) -> None:
    result = cli(project, "pipeline", "--case", "demo")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert re.match(r"run \S+ of case 'demo' finished: 8 steps in \d+\.\d\d s$", lines[0])
    header = lines[1].split()
    assert header == ["#", "step", "status", "time", "rows", "in", "rows", "out", "quality"]
    rows = {line.split()[1]: line for line in lines[3:11]}
    assert list(rows) == [
        "InitialDataReader",
        "SignalAligner",
        "signal_quality",
        "SignalCleaner",
        "DataProfiler",
        "FeatureDeriver",
        "EventDetector",
        "ReportWriter",
    ]
    assert all(" ran " in row for row in rows.values())
    reader = rows["InitialDataReader"].split()
    # the rows of the three raw streams in, of wheel, imu and gps out, thousands separated
    rows_in, rows_out = int(reader[5].replace(",", "")), int(reader[6].replace(",", ""))
    assert "," in reader[5] and 0 < rows_out <= rows_in
    assert reader[7:] == ["2", "passed"]
    assert "8 passed" in rows["signal_quality"]
    assert all(len(line) <= 100 for line in lines)
    assert "data quality: 11 checks: 11 passed" in result.out


def test_a_failed_run_ends_with_one_summary(project: Path) -> None:
    assert run_subprocess(project, "generate-data", "--faults").code == 0
    result = run_subprocess(project, "pipeline", "--case", "faulty", "--template", "demo_faulty")
    assert result.code == 1
    out = result.out.splitlines()
    assert re.match(
        r"run (\S+) of case 'faulty' FAILED at step 3/8 'signal_quality' \(QualityGate\)", out[0]
    )
    run_id = out[0].split()[1]
    assert "4  SignalCleaner                 skipped" in result.out
    (heading,) = [line for line in out if line.startswith("failed checks")]
    assert heading == "failed checks (6, each stops the run):"
    checks = [line for line in out if line.startswith("  ") and " FAILED: " in line]
    assert len(checks) == 6
    assert "kept: wheel, imu, gps, aligned in cases/faulty/data/" in out
    assert "quality results: cases/faulty/data/quality_results.parquet" in out
    assert f"the run's record: python run.py show {run_id}" in out
    assert any(
        line.startswith("after fixing it: python run.py pipeline --case faulty") for line in out
    )
    # each failed check once: not again as a warning log line, only named by the error
    for check in ("unique(t_s)", "stuck(ax)"):
        assert not any("FAILED" in line and check in line for line in result.err.splitlines())
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "6 checks of severity error failed (wheel_speed_raw: unique(t_s);" in errors[0]


def test_progress_is_not_drawn_when_term_is_dumb(project: Path) -> None:
    env = {**os.environ, "TERM": "dumb"}
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(project)
        os.execvpe(sys.executable, [sys.executable, "run.py", "pipeline", "--case", "demo"], env)
    data = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    assert b"finished: 8 steps" in data
    assert b"\x1b[" not in data


def test_run_py_without_the_engine_installed_says_how_to_install(project: Path) -> None:
    import subprocess

    # -S: no site-packages, so neither the engine nor its libraries can be imported
    done = subprocess.run(
        [sys.executable, "-S", "run.py", "--help"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: Data Replay is not installed here (the engine cannot be imported by this "
        "Python); install it with: python -m pip install -e ."
    ]


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_the_live_line_fits_a_narrow_terminal(project: Path) -> None:
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(project)
        os.execvp(sys.executable, [sys.executable, "run.py", "pipeline", "--case", "demo"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 60, 0, 0))
    data = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    text = ANSI.sub("", data.decode("utf-8", "replace"))
    # every drawing of the live line (between carriage returns) fits in 60 columns
    drawn = [part for line in text.split("\n") for part in line.split("\r") if "steps" in part]
    live = [part for part in drawn if "━" in part or "╸" in part]
    assert live, text[:2000]
    assert all(len(part.rstrip()) <= 60 for part in live), [p for p in live if len(p) > 60]


def test_a_step_run_alone_is_numbered_as_in_the_pipeline(project: Path) -> None:
    assert run_subprocess(project, "generate-data", "--faults").code == 0
    assert run_subprocess(project, "pipeline", "--case", "f", "--template", "demo_faulty").code == 1
    result = run_subprocess(project, "plugin", "signal_quality", "--case", "f")
    assert result.code == 1
    first = result.out.splitlines()[0]
    assert "FAILED at step 3 'signal_quality' (QualityGate)" in first  # as the error line says
    assert "step 3 'signal_quality'" in result.err
    assert "after fixing it: python run.py plugin signal_quality --case f" in result.out


def test_a_plugin_exception_summary_says_how_to_go_on(project: Path) -> None:
    detector = project / "modules" / "event_detector.py"
    detector.write_text(
        detector.read_text(encoding="utf-8")
        + "\n\ndef _broken(self, hub):\n    raise RuntimeError('boom')\n\n\nEventDetector.run = _broken\n",
        encoding="utf-8",
    )
    result = run_subprocess(project, "pipeline", "--case", "demo")
    assert result.code == 1
    lines = result.out.splitlines()
    assert "after fixing it: python run.py pipeline --case demo" in lines
    assert "  or the step alone: python run.py plugin EventDetector --case demo" in lines
