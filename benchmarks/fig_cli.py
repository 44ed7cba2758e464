"""Figure 1, CLI start: ``python run.py --help`` vs ``python -c pass`` vs ``kedro --help``.

Kedro lives in its own throwaway venv (``benchmarks/.work/kedro-venv``), created by the
full run on first use and reused afterwards; quick mode only uses it when it already
exists. Its telemetry is switched off, so no network wait is measured. The workload
comparison (``fig_kedro``) asks for more in the same venv: kedro-datasets and the data
libraries at the versions this interpreter has, added to a venv that lacks them.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from importlib import metadata
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
KEDRO_DATASETS = (
    "kedro-datasets[pandas-csvdataset,pandas-exceldataset,pandas-parquetdataset,"
    "json-jsondataset]==9.6.0"
)
# the same processing runs on both sides of fig_kedro: the same library versions too
SAME_AS_HERE = ("pandas", "pyarrow", "numpy", "python-calamine", "openpyxl")
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
    try:
        done = subprocess.run(
            [PYTHON, "-m", "venv", str(venv)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"python -m venv: {exc}"
    if done.returncode != 0:
        return f"`python -m venv` failed: {done.stderr.strip()[-300:]}"
    return _pip(venv, [f"kedro=={KEDRO_VERSION}"])


def _pip(venv: Path, requirements: list[str]) -> str:
    """pip-install ``requirements`` into ``venv``; return "" or the failure."""
    cmd = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        *requirements,
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"pip install: {exc}"
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if "ERROR" in ln] or [
            done.stderr.strip()[-300:]
        ]
        return f"`pip install {' '.join(requirements)}` failed: {lines[-1]}"
    return ""


def data_requirements() -> list[str]:
    """What fig_kedro needs in the kedro venv beside kedro: kedro-datasets, and the data
    libraries pinned to this interpreter's versions (one missing here is left out)."""
    pins = [KEDRO_DATASETS]
    for name in SAME_AS_HERE:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def _missing(venv: Path, requirements: list[str]) -> list[str]:
    """The ``name==version`` requirements that ``venv`` does not satisfy exactly."""
    names = [req.split("==")[0].split("[")[0] for req in requirements]
    script = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n"
        "    try:\n"
        "        return m.version(n)\n"
        "    except m.PackageNotFoundError:\n"
        "        return ''\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, *names],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = json.loads(done.stdout) if done.returncode == 0 else {}
    return [
        req
        for req, name in zip(requirements, names, strict=True)
        if found.get(name, "") != req.rsplit("==", 1)[1]
    ]


def find_kedro(venv: Path, *, install: bool, data: bool = False) -> Kedro:
    """The cached kedro venv, installing it first when ``install`` and it is missing;
    with ``data``, also kedro-datasets and the data libraries (``data_requirements``)."""
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
    missing = _missing(venv, data_requirements()) if data else []
    if missing and not install:
        return Kedro(
            None,
            "",
            f"skipped: the cached kedro venv at `{venv}` lacks {', '.join(missing)} and "
            "quick mode does not install them (the full run does)",
        )
    if missing:
        say(f"adding {', '.join(missing)} to {venv}")
        failure = _pip(venv, missing)
        if failure or _missing(venv, missing):
            reason = failure or "pip left them at other versions"
            return Kedro(None, "", f"skipped: kedro's data libraries ({reason})")
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
