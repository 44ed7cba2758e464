"""The benchmark suite stays runnable: ``benchmarks/run.py --quick`` writes every figure.

No timing is asserted: quick mode runs at a scale too small to judge anything; it only
proves that every measurement still works against the current engine, and that the
hand-written baseline of the demo counts its checks as the engine does.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
FIGURES = (
    "CLI start",
    "Engine overhead",
    "Per-step overhead",
    "Persistence",
    "Memory",
    "Data-quality checks",
    "Content hashing",
    "Scaling",
    "Run records",
    "Live progress",
    "Against Kedro on the same work",
)
ROWS = (
    "`python run.py --help`",
    "shipped demo ÷ hand-written script (same steps, same checks)",
    "quality features' share of the demo run",
    "the checks' share of the hand-written script",
    "engine ÷ plain script (framework alone)",
    "1,000 steps, logging disabled",
    "1,000 steps, INFO logging to a null stream",
    "parquet save: DataHub ÷ raw",
    "feather load: DataHub ÷ raw",
    "csv save: DataHub ÷ raw",
    "json load: DataHub ÷ raw",
    "pickle save: DataHub ÷ raw",
    "shipped demo peak RSS ÷ hand-written script peak RSS",
    "shipped demo peak RSS ÷ largest two",
    "memory run: peak, in step",
    "· temporaries of step",
    "whole set: 12 checks in one pass",
    "unique(key)",
    "regex(kind)",
    "referential(segment → segments.segment)",
    "drift(speed_mps), ks",
    "range: evaluate() ÷ bare pandas",
    "allowed_values: evaluate() ÷ bare pandas",
    "hashing on ÷ hashing off",
    "fidelity guards on ÷ off",
    "DataProfiler: ns per row,",
    "shipped demo at 100,000 rows: recording on ÷ off",
    "10-step run: extra time with recording",
    "`run.py runs` with 500 runs in the store",
    "demo at 100,000 rows: on a terminal ÷ through a pipe",
    "Data Replay: `python run.py pipeline`",
    "Data Replay, peak RSS",
    "Data Replay ÷ Kedro",
    "same reports on both sides",
)


def test_quick_benchmark_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "results" / "RESULTS.md"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "run.py"),
            "--quick",
            "--output",
            str(output),
            "--work",
            str(tmp_path / "work"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text(encoding="utf-8")
    for number, title in enumerate(FIGURES, start=1):
        assert f"## {number}. {title}" in text
    for row in ROWS:
        assert f"| {row}" in text, row
    assert "| error |" not in text
    for name in ("profile.txt", "profile-steps.txt"):
        assert (output.parent / name).stat().st_size > 0
    assert not list((tmp_path / "work").iterdir()), "the throwaway project was not removed"


def test_a_dirty_tree_does_not_write_the_committed_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a commit to check out, benchmarks/RESULTS.md is refused before anything runs."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import workspace

    spec = importlib.util.spec_from_file_location("bench_run", REPO / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)

    dirty = workspace.GitState("0" * 40, ("src/datareplay/session.py", "notes.txt"))
    monkeypatch.setattr(workspace, "git_state", lambda: dirty)
    assert run.main(["--work", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "uncommitted changes in src/datareplay/session.py, notes.txt" in error
    assert "commit first, or pass --allow-dirty" in error
    assert not list(tmp_path.iterdir())


def _faulty_recording() -> dict[str, pd.DataFrame]:
    """Small tables with every fault the demo's checks look for."""
    rng = np.random.default_rng(7)
    n = 3000
    t = np.arange(n) * 0.01
    t[100] = t[99]  # a logger duplicate
    t[1500:] += 6.0  # a dropout over 5 s
    t[300] = np.nan
    t[[400, 401]] = t[[401, 400]]  # out of order
    t[2000] = t[50]  # a repeat far from its first occurrence
    fl = rng.normal(50, 5, n).astype("float32")
    fl[[10, 11, 12]] = [400, -10, np.nan]
    ax = rng.normal(0, 1, n)
    ax[500:650] = 0.25  # stuck
    ax[700:760] = 0.5
    ax[730] = np.nan  # a missing value ends a run
    speed = rng.normal(10, 1, n)
    speed[::12] = np.nan  # 8 % missing: over the 5 % tolerance
    wheel = pd.DataFrame({"t_s": t, "fl": fl})
    imu = pd.DataFrame({"t_s": t, "ax": ax})
    aligned = pd.DataFrame(
        {"t_s": np.sort(t), "speed_mps": speed, "ax": ax, "lat": np.arange(n, dtype="int64")}
    )
    return {"wheel": wheel, "wheel_speed_raw": wheel, "imu_raw": imu, "aligned": aligned}


def _summary(results: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.source, r.check, r.severity, r.passed, r.failing, r.total) for r in results]


def test_the_hand_written_checks_count_as_the_engine_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """plain_demo.py's checks are those of cases/demo/case.yaml, with the same results."""
    from datareplay.quality.evaluate import evaluate
    from datareplay.quality.specs import checks_by_source

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import plain_quality

    case = yaml.safe_load((REPO / "cases" / "demo" / "case.yaml").read_text(encoding="utf-8"))
    frames = _faulty_recording()

    def engine(declared: dict[str, Any], step: str) -> list[Any]:
        specs = checks_by_source(declared, where="test", known_sources=())
        return [
            evaluate(spec, frames[source], source=source, lookup=frames.__getitem__, step=step)
            for source, items in specs.items()
            for spec in items
        ]

    sources = {
        name: spec["checks"] for name, spec in case["data_sources"].items() if spec.get("checks")
    }
    assert set(sources) == set(plain_quality.SOURCE_CHECKS)
    for name, checks in sources.items():
        by_hand = plain_quality.SOURCE_CHECKS[name](frames[name], step="s")
        assert _summary(by_hand) == _summary(engine({name: checks}, "s"))
    (gate,) = [step for step in case["pipeline"] if step["plugin"] == "QualityGate"]
    by_hand = plain_quality.signal_quality(
        frames["wheel_speed_raw"], frames["imu_raw"], frames["aligned"]
    )
    expected = engine(gate["params"]["checks"], gate["name"])
    assert _summary(by_hand) == _summary(expected)
    assert [r.step for r in by_hand] == [gate["name"]] * len(by_hand)
    assert sum(r.blocking for r in by_hand) == sum(r.blocking for r in expected) > 0
