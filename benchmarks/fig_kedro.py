"""Against Kedro on the same work: one workload, a Data Replay case and a Kedro project.

The workload (``benchmarks/workload/``) has the shape of a typical Kedro project (the
"spaceflights" tutorial): a csv of meter readings and an Excel workbook with two sheets
are cleaned, joined into a model-input table, split, fitted with a linear model
(NumPy least squares), evaluated, and summarised in reports written as csv, json and
parquet. ``workload/processing.py`` holds every computation as pure functions; the Data
Replay plugins and the Kedro nodes only call them, every intermediate dataset is parquet
(zstd) on both sides and the workbook is read by the same Excel engine.

Each side runs as a fresh process through its own command line in a throwaway project
under the work folder: ``python run.py pipeline --case station_load`` with this
interpreter, ``kedro run`` with the cached kedro venv (``fig_cli.find_kedro``; quick
mode uses it only when it is already there with its data libraries). A warm-up round,
then alternated rounds with the order rotated; wall time, CPU time and peak RSS of each
child come from ``launch.py``. The reports of the last round are compared; any
difference is a failed verdict.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchlib import (
    BENCH_DIR,
    MET,
    NOT_MEASURED,
    PYTHON,
    REPO,
    Figure,
    ProcResult,
    Row,
    Scale,
    Stat,
    alternate,
    clean_env,
    megabytes,
    ratio,
    ratio_rows,
    run_launched,
    run_quiet,
    say,
    timed,
    verdict,
)
from fig_cli import KEDRO_ENV, Kedro

TITLE = "Against Kedro on the same work"
WORKLOAD = BENCH_DIR / "workload"
CASE = "station_load"
PACKAGE = "station_load"
SEED = 42
NO_SLOWER = 1.0


@dataclass(frozen=True)
class Size:
    rows: int
    stations: int
    rounds: int
    warmup: int


FULL_SIZE = Size(rows=2_000_000, stations=3_000, rounds=6, warmup=1)
QUICK_SIZE = Size(rows=20_000, stations=200, rounds=2, warmup=0)

# the files compared after the last round: Data Replay's path in its case folder,
# Kedro's below its data/ folder
REPORTS = {
    "region_summary": ("region_summary.csv", "08_reporting/region_summary.csv"),
    "daily_load": ("daily_load.parquet", "08_reporting/daily_load.parquet"),
    "site_errors": ("site_errors.csv", "08_reporting/site_errors.csv"),
    "metrics": ("metrics.json", "08_reporting/metrics.json"),
    "model": ("model.parquet", "06_models/model.parquet"),
}
RAW_FILES = ("measurements.csv", "stations.xlsx")


# -- the two projects -------------------------------------------------------------------


def generate(raw: Path, size: Size) -> float:
    """Write the raw files into ``raw`` (in a child process); return the seconds taken."""
    cmd = [
        PYTHON,
        WORKLOAD / "generate.py",
        "--rows",
        str(size.rows),
        "--stations",
        str(size.stations),
        "--seed",
        str(SEED),
        "--out",
        raw,
    ]
    return timed(lambda: run_quiet(cmd, cwd=WORKLOAD))


def _link_raw(raw: Path, dest: Path) -> None:
    """The raw files in ``dest``: hard links (one copy on disk, one page cache for both
    sides), copies where the file system has none."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        try:
            os.link(raw / name, dest / name)
        except OSError:
            shutil.copy2(raw / name, dest / name)


def make_datareplay_project(dest: Path, raw: Path) -> Path:
    """The Data Replay project: workload/datareplay, the repository's run.py, the shared
    processing as modules/_processing.py, the raw files under data/raw/station_load."""
    shutil.copytree(WORKLOAD / "datareplay", dest, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "run.py", dest / "run.py")
    shutil.copy2(WORKLOAD / "processing.py", dest / "modules" / "_processing.py")
    _link_raw(raw, dest / "data" / "raw" / CASE)
    compileall.compile_dir(dest, quiet=1)
    return dest


def make_kedro_project(dest: Path, raw: Path, excel_engine: str) -> Path:
    """The Kedro project: workload/kedro, the shared processing as the package's
    processing.py, the raw files under data/01_raw; the workbook read by ``excel_engine``."""
    shutil.copytree(WORKLOAD / "kedro", dest, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(WORKLOAD / "processing.py", dest / "src" / PACKAGE / "processing.py")
    (dest / "conf" / "local").mkdir(exist_ok=True)
    if excel_engine != "calamine":
        catalog = dest / "conf" / "base" / "catalog.yml"
        text = catalog.read_text(encoding="utf-8")
        catalog.write_text(text.replace("engine: calamine", f"engine: {excel_engine}"), "utf-8")
    _link_raw(raw, dest / "data" / "01_raw")
    compileall.compile_dir(dest, quiet=1)
    return dest


def kedro_env() -> dict[str, str]:
    """Telemetry off; no PYTHONPATH, so the venv imports nothing of this environment."""
    env = clean_env(KEDRO_ENV)
    env.pop("PYTHONPATH", None)
    return env


def _versions(python: Path) -> dict[str, str]:
    names = ("kedro", "kedro-datasets", "pandas", "pyarrow", "numpy", "python-calamine")
    script = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n"
        "    try:\n"
        "        return m.version(n)\n"
        "    except m.PackageNotFoundError:\n"
        "        return 'not installed'\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
    )
    done = subprocess.run(
        [str(python), "-c", script, *names],
        capture_output=True,
        text=True,
        timeout=60,
        env=kedro_env(),
        check=False,
    )
    return json.loads(done.stdout) if done.returncode == 0 else {}


# -- the comparison of outputs ----------------------------------------------------------


def compare_reports(datareplay: Path, kedro: Path) -> list[str]:
    """How the reports differ (empty when they are equal): each file read back by its
    own side's reader (Data Replay's formats; pandas and json as kedro-datasets reads),
    frames compared exactly (values, dtypes, index, column order)."""
    import pandas as pd

    from datareplay.data.formats import FORMATS

    readers = {".csv": "csv", ".parquet": "parquet", ".json": "json"}
    problems = []
    for name, (ours_name, theirs_name) in REPORTS.items():
        ours_file, theirs_file = datareplay / ours_name, kedro / theirs_name
        if not ours_file.is_file() or not theirs_file.is_file():
            problems.append(f"{name}: missing on {'Kedro' if ours_file.is_file() else 'our'} side")
            continue
        ours = FORMATS[readers[ours_file.suffix]].read(ours_file)
        if theirs_file.suffix == ".csv":
            theirs = pd.read_csv(theirs_file)
        elif theirs_file.suffix == ".parquet":
            theirs = pd.read_parquet(theirs_file)
        else:
            theirs = json.loads(theirs_file.read_text(encoding="utf-8"))
        if isinstance(ours, pd.DataFrame) and isinstance(theirs, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
            except AssertionError as exc:
                detail = " ".join(str(exc).split())
                problems.append(f"{name}: {detail[:200]}")
        elif ours != theirs:
            problems.append(f"{name}: {ours!r} ≠ {theirs!r}"[:200])
    return problems


def _reports_written(datareplay: Path) -> list[str]:
    return [name for name, (ours, _) in REPORTS.items() if not (datareplay / ours).is_file()]


# -- the measurement ----------------------------------------------------------------------


def measure(scale: Scale, work: Path, kedro: Kedro) -> Figure:
    """Run both sides alternating and build the figure; without kedro, the Data Replay
    side alone (so the smoke run still exercises it)."""
    from datareplay.data.excel import engine

    size = QUICK_SIZE if scale.quick else FULL_SIZE
    root = work / "kedro-workload"
    raw = root / "raw"
    say(f"kedro workload: generating {size.rows:,} readings, {size.stations:,} stations")
    generated_s = generate(raw, size)
    raw_bytes = sum((raw / name).stat().st_size for name in RAW_FILES)
    excel_engine = engine()
    ours = make_datareplay_project(root / "datareplay", raw)
    logs = root / "logs"
    logs.mkdir()
    commands: dict[str, tuple[list[str | Path], Path, dict[str, str]]] = {
        "datareplay": ([PYTHON, ours / "run.py", "pipeline", "--case", CASE], ours, clean_env())
    }
    theirs: Path | None = None
    if kedro.exe is not None:
        theirs = make_kedro_project(root / "kedro", raw, excel_engine)
        commands["kedro"] = ([kedro.exe, "run"], theirs, kedro_env())

    def variant(name: str) -> ProcResult:
        cmd, cwd, env = commands[name]
        return run_launched(cmd, cwd=cwd, log=logs / f"{name}.out", env=env)

    variants = {name: (lambda n=name: variant(n)) for name in commands}
    if size.warmup:
        say(f"kedro workload: {size.warmup} warm-up round of {', '.join(commands)}")
        alternate(variants, size.warmup, settle=os.sync)
    say(f"kedro workload: {size.rounds} alternated rounds of {', '.join(commands)}")
    results = alternate(variants, size.rounds, settle=os.sync)

    figure = Figure(
        TITLE,
        f"The station-load workload (`benchmarks/workload/`, the shape of Kedro's "
        f"spaceflights tutorial): {size.rows:,} csv meter readings and a two-sheet Excel "
        f"register of {size.stations:,} stations cleaned, joined into a model-input table, "
        "split, fitted with a linear model (NumPy least squares), evaluated, and "
        "summarised in three reports (csv, parquet, csv) and a json of metrics; ten steps "
        "calling the same functions on both sides, every intermediate persisted as "
        "parquet (zstd). Each run is a fresh process started through its command line "
        f"in its own throwaway project: `python run.py pipeline --case {CASE}` and "
        "`kedro run` (the cached kedro venv, telemetry off), timed by a small launcher "
        "(wall time, the child's user + system CPU time, its peak RSS). "
        f"{_warmup(size)}, then {size.rounds} alternated rounds in rotated order, "
        "`os.sync()` (untimed) before every run; ratios are per round.",
    )
    ours_runs = results["datareplay"]
    figure.rows += _side_rows("Data Replay", "`python run.py pipeline`", ours_runs)
    figure.rows += _comparison_rows(ours_runs, results.get("kedro"), kedro.note)
    same = _verification(ours / "cases" / CASE / "data", theirs)
    figure.rows.append(same)
    if same.verdict not in (MET, NOT_MEASURED):
        say(f"kedro workload: WARNING, the reports differ: {same.notes}")
    figure.notes += _notes(size, generated_s, raw_bytes, excel_engine, kedro)
    return figure


def _warmup(size: Size) -> str:
    if not size.warmup:
        return "No warm-up round (quick mode)"
    return "One warm-up round" if size.warmup == 1 else f"{size.warmup} warm-up rounds"


def _side_rows(side: str, command: str, runs: list[ProcResult]) -> list[Row]:
    return [
        Row(f"{side}: {command}", Stat.of(r.seconds for r in runs), "s", notes="wall time"),
        Row(
            f"{side}, CPU time",
            Stat.of(r.cpu_seconds for r in runs),
            "s",
            notes="user + system time of the process (all its threads)",
        ),
        Row(
            f"{side}, peak RSS",
            Stat.of(r.max_rss_bytes / 1e6 for r in runs),
            "MB",
            notes=f"highest: {megabytes(max(r.max_rss_bytes for r in runs))}",
        ),
    ]


def _comparison_rows(
    ours: list[ProcResult], theirs: list[ProcResult] | None, why_not: str
) -> list[Row]:
    target = f"≤ {NO_SLOWER}× (no slower than Kedro)"
    if theirs is None:
        return [
            Row("Kedro: `kedro run`", None, "s", verdict=NOT_MEASURED, notes=why_not),
            Row("Data Replay ÷ Kedro", None, "×", target, NOT_MEASURED, why_not, headline=True),
            Row("Data Replay ÷ Kedro, peak RSS", None, "×", verdict=NOT_MEASURED),
        ]
    rows = _side_rows("Kedro", "`kedro run`", theirs)
    rows += ratio_rows(
        "Data Replay ÷ Kedro",
        [r.seconds for r in ours],
        [r.seconds for r in theirs],
        cpu=([r.cpu_seconds for r in ours], [r.cpu_seconds for r in theirs]),
        limit=NO_SLOWER,
        target=target,
        notes="wall time per round; below 1 = Data Replay takes less time",
    )
    rows.append(
        Row(
            "Data Replay ÷ Kedro, peak RSS",
            ratio([r.max_rss_bytes for r in ours], [r.max_rss_bytes for r in theirs]),
            "×",
            notes="per round; no target (below 1 = Data Replay needs less memory)",
        )
    )
    return rows


def _verification(ours: Path, theirs: Path | None) -> Row:
    compared = ", ".join(REPORTS)
    label = "same reports on both sides"
    row = _verification_row(ours, theirs, label, compared)
    row.headline = True
    return row


def _verification_row(ours: Path, theirs: Path | None, label: str, compared: str) -> Row:
    missing = _reports_written(ours)
    if missing:
        return Row(label, None, "", "equal", verdict(False), f"Data Replay wrote no {missing}")
    if theirs is None:
        return Row(
            label,
            None,
            "",
            "equal",
            NOT_MEASURED,
            f"no Kedro run; Data Replay wrote all of {compared}",
        )
    problems = compare_reports(ours, theirs / "data")
    if problems:
        return Row(label, None, "", "equal", verdict(False), "; ".join(problems))
    return Row(
        label,
        None,
        "",
        "equal",
        verdict(True),
        f"{compared} of the last round, each read back by its own side's reader, "
        "compared exactly (values, dtypes, index, column order)",
    )


def _notes(size: Size, generated_s: float, raw_bytes: int, excel: str, kedro: Kedro) -> list[str]:
    notes = [
        f"Raw data: {size.rows:,} csv lines (0.5 % repeated readings) and a workbook of "
        f"{size.stations:,} stations on {max(size.stations // 10, 5):,} sites, "
        f"{megabytes(raw_bytes)} (seed {SEED}), generated once in {generated_s:.1f} s by "
        "`benchmarks/workload/generate.py` and hard-linked into each project.",
        f"The workbook is read with pandas' `{excel}` engine on both sides "
        + (
            "(Data Replay's excel format uses python-calamine when it is installed; Kedro's "
            "catalog asks for `engine: calamine`)."
            if excel == "calamine"
            else "(python-calamine is not installed here, so both sides use openpyxl)."
        ),
        "What only Data Replay does: validates the config and the whole plan (plugins, "
        "params, data flow, raw inputs) before running; takes a shared lock on the raw "
        "data; writes every file to a temporary name, fsyncs it and its folder and renames "
        "it; checks before every write that the format keeps the value exactly "
        "(fidelity guards, from dtypes and labels) and hashes every written file "
        "(xxh3_128); keeps each written value in memory for later steps (a snapshot) until "
        "its last reader, instead of reading it back from disk; prints the end-of-run "
        "table of every data source. Logs at INFO to stderr.",
        "What only Kedro does: builds a KedroSession (project bootstrap, settings, "
        "OmegaConfigLoader over conf/base and conf/local, hook manager and plugin entry "
        "points); resolves datasets through its catalog; loads every input of a node from "
        "disk again (a node reading `model_input` reads the parquet file, three times in "
        "all); logs through rich at INFO (to stdout). It does not fsync, hash or check its "
        "writes.",
    ]
    if kedro.exe is not None:
        found = _versions(kedro.exe.parent / "python")
        listed = ", ".join(f"{name} {version}" for name, version in found.items())
        notes.append(f"Kedro side: {listed or 'versions unknown'} ({kedro.note}).")
    else:
        notes.append(f"Kedro side: {kedro.note}.")
    return notes
