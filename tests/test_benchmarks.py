"""The benchmark suite stays runnable: ``benchmarks/run.py --quick`` writes every figure.

No timing is asserted: quick mode runs at a scale too small to judge anything; it only
proves that every measurement still works against the current engine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    "Against Kedro on the same work",
)
ROWS = (
    "`python run.py --help`",
    "engine ÷ plain script",
    "1,000 steps, logging disabled",
    "1,000 steps, INFO logging to a null stream",
    "parquet save: DataHub ÷ raw",
    "feather load: DataHub ÷ raw",
    "csv save: DataHub ÷ raw",
    "json load: DataHub ÷ raw",
    "pickle save: DataHub ÷ raw",
    "shipped demo peak RSS ÷ largest two",
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
