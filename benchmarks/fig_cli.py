"""Figure 1, CLI start: ``python run.py --help`` vs ``python -c pass`` vs ``kedro --help``.

Kedro lives in its own throwaway venv (``benchmarks/.work/kedro-venv``), created by the
full run on first use and reused afterwards; quick mode only uses it when it already
exists. Its telemetry is switched off, so no network wait is measured.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchlib import (
    NOT_MEASURED,
    PYTHON,
    Baseline,
    Figure,
    Row,
    Scale,
    Stat,
    alternate,
    clean_env,
    difference,
    judge,
    ratio,
    run_timed,
    say,
)

KEDRO_VERSION = "1.7.0"
KEDRO_ENV = {"KEDRO_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"}
START_TARGET_MS = 100.0
NO_SLOWER = 1.05
KEDRO_TARGET = 5.0
WARMUP = 2


@dataclass(frozen=True)
class Kedro:
    """The kedro executable to compare with, or why there is none."""

    exe: Path | None
    version: str
    note: str


def _installed_version(venv: Path) -> str:
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('kedro'))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _install(venv: Path) -> str:
    """Create ``venv`` and pip-install kedro into it; return "" or the failure."""
    say(f"installing kedro into {venv} (cached for later runs)")
    steps = [
        [PYTHON, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"kedro=={KEDRO_VERSION}",
        ],
    ]
    for cmd in steps:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{' '.join(cmd[:4])}: {exc}"
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if "ERROR" in ln] or [
                done.stderr.strip()[-300:]
            ]
            return f"`{' '.join(cmd[-2:])}` failed: {lines[-1]}"
    return ""


def find_kedro(venv: Path, *, install: bool) -> Kedro:
    """The cached kedro venv, installing it first when ``install`` and it is missing."""
    exe = venv / "bin" / "kedro"
    if not exe.is_file():
        if not install:
            return Kedro(
                None,
                "",
                f"skipped: no cached kedro venv at `{venv}` and quick mode "
                "does not install one (the full run does)",
            )
        failure = _install(venv)
        if failure:
            return Kedro(None, "", f"skipped: kedro could not be installed ({failure})")
    version = _installed_version(venv)
    if not exe.is_file() or not version:
        return Kedro(None, "", f"skipped: `{exe}` is not a working kedro install")
    return Kedro(exe, version, f"kedro {version} from the venv `{venv}`, telemetry off")


def measure(
    scale: Scale, project: Path, work: Path, kedro: Kedro, baseline: Baseline | None = None
) -> Figure:
    """Time the commands, alternating, from a folder that is no kedro project."""
    figure = Figure(
        "CLI start",
        "Wall time of a fresh process, measured from the parent (fork/exec included for "
        "all alike): `python run.py --help` (this project), `python -c pass` (the "
        "interpreter alone), `kedro --help` and, where an earlier engine is given, "
        "`python run.py --help` with that engine, alternating in rotated order after "
        f"{WARMUP} untimed warm-up rounds; ratios are per round.",
    )
    logs = work / "cli-logs"
    logs.mkdir()
    commands: dict[str, list[str | Path]] = {
        "run.py": [PYTHON, project / "run.py", "--help"],
        "pass": [PYTHON, "-c", "pass"],
        "import": [PYTHON, "-c", "import datareplay"],
    }
    envs = {name: clean_env(KEDRO_ENV) for name in commands}
    if baseline is not None:
        commands["previous"] = commands["run.py"]
        envs["previous"] = {**baseline.env, **KEDRO_ENV}
    if kedro.exe is not None:
        commands["kedro"] = [kedro.exe, "--help"]
        envs["kedro"] = clean_env(KEDRO_ENV)

    def runner(name: str) -> float:
        log = logs / f"{name}.out"
        return run_timed(commands[name], cwd=logs, log=log, env=envs[name]).seconds

    variants = {name: (lambda n=name: runner(n)) for name in commands}
    say(f"CLI start: {WARMUP} warm-up and {scale.cli_reps} timed rounds of {', '.join(commands)}")
    alternate(variants, WARMUP)
    times = alternate(variants, scale.cli_reps)
    ms = {name: [t * 1000 for t in values] for name, values in times.items()}
    start = Row(
        "`python run.py --help`",
        Stat.of(ms["run.py"]),
        "ms",
        f"< {START_TARGET_MS:.0f} ms",
        headline=True,
    )
    start.verdict = judge(Stat.of(ms["run.py"]), lambda v: v < START_TARGET_MS)
    figure.rows += [
        start,
        Row("`python -c pass`", Stat.of(ms["pass"]), "ms", notes="the interpreter alone"),
        Row(
            "`run.py --help` − `python -c pass`",
            difference(ms["run.py"], ms["pass"]),
            "ms",
            notes="imports and CLI set-up",
        ),
        Row("`run.py --help` ÷ `python -c pass`", ratio(ms["run.py"], ms["pass"]), "×"),
        Row(
            "`python -c 'import datareplay'`",
            Stat.of(ms["import"]),
            "ms",
            notes="the plugin API package alone; `run.py --help` imports it too",
        ),
    ]
    figure.rows += _baseline_rows(ms, baseline)
    figure.rows += _kedro_rows(ms, kedro)
    figure.notes.append(f"{scale.cli_reps} rounds. {kedro.note}.")
    return figure


def _baseline_rows(ms: dict[str, list[float]], baseline: Baseline | None) -> list[Row]:
    if baseline is None or "previous" not in ms:
        return []
    slower = ratio(ms["run.py"], ms["previous"])
    return [
        Row(
            f"`python run.py --help`, {baseline.label}",
            Stat.of(ms["previous"]),
            "ms",
            notes=f"the same project and command; {baseline.subject[:80]}",
        ),
        Row(
            f"`run.py --help`: this engine ÷ {baseline.label}",
            slower,
            "×",
            f"≤ {NO_SLOWER}× (no slower)",
            judge(slower, lambda v: v <= NO_SLOWER),
            "per round; 1.0 = the same start-up time",
            headline=True,
        ),
    ]


def _kedro_rows(ms: dict[str, list[float]], kedro: Kedro) -> list[Row]:
    if "kedro" not in ms:
        return [
            Row("`kedro --help`", None, "ms", notes=kedro.note, verdict=NOT_MEASURED),
            Row(
                "`kedro --help` ÷ `run.py --help`",
                None,
                "×",
                f"≥ {KEDRO_TARGET:.0f}×",
                NOT_MEASURED,
                kedro.note,
                headline=True,
            ),
        ]
    faster = ratio(ms["kedro"], ms["run.py"])
    return [
        Row("`kedro --help`", Stat.of(ms["kedro"]), "ms", notes=f"kedro {kedro.version}"),
        Row(
            "`kedro --help` ÷ `run.py --help`",
            faster,
            "×",
            f"≥ {KEDRO_TARGET:.0f}×",
            judge(faster, lambda v: v >= KEDRO_TARGET),
            "how many times faster run.py starts",
            headline=True,
        ),
    ]
