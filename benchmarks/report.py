"""RESULTS.md: machine, how to reproduce, a summary, then one table per figure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchlib import Figure, Row, Scale, number, with_unit

COLUMNS = ("measurement", "median", "min–max", "target", "verdict", "notes")


@dataclass(frozen=True)
class Profile:
    """A profile written next to the results."""

    files: tuple[Path, ...]
    description: str
    excerpt: str


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _values(row: Row) -> tuple[str, str]:
    if row.stat is None:
        return "—", "—"
    median = with_unit(number(row.stat.median), row.unit)
    if len(row.stat.samples) == 1:
        return median, "single value"
    spread = f"{number(row.stat.lo)}–{number(row.stat.hi)}"
    return median, with_unit(spread, row.unit)


def _row_cells(row: Row) -> list[str]:
    median, spread = _values(row)
    return [row.measurement, median, spread, row.target, row.verdict, row.notes]


def _figure(index: int, figure: Figure) -> list[str]:
    lines = [f"## {index}. {figure.title}", "", figure.how, ""]
    lines += _table(COLUMNS, [_row_cells(r) for r in figure.rows])
    lines.append("")
    lines += [f"- {note}" for note in figure.notes]
    lines.append(f"- This figure took {figure.seconds:.0f} s to measure.")
    return [*lines, ""]


def _summary(figures: Sequence[Figure]) -> list[str]:
    rows = []
    for figure in figures:
        for row in figure.rows:
            if row.headline:
                median, spread = _values(row)
                rows.append(
                    [figure.title, row.measurement, median, spread, row.target, row.verdict]
                )
    header = ("figure", "measurement", "median", "min–max", "target", "verdict")
    return ["## Summary", "", *_table(header, rows), ""]


def _profiles(profiles: Sequence[Profile]) -> list[str]:
    if not profiles:
        return []
    lines = ["## Profiles", ""]
    for profile in profiles:
        links = ", ".join(f"[{p.name}]({p.name})" for p in profile.files)
        lines += [f"- {links}: {profile.description}"]
    for profile in profiles:
        if profile.excerpt:
            lines += [
                "",
                f"<details><summary>{profile.files[0].name} (excerpt)</summary>",
                "",
                "```text",
                profile.excerpt.rstrip(),
                "```",
                "",
                "</details>",
            ]
    return [*lines, ""]


def render(
    *,
    scale: Scale,
    machine: Sequence[tuple[str, str]],
    figures: Sequence[Figure],
    profiles: Sequence[Profile],
    command: str,
    seconds: float,
    notes: Sequence[str],
    commit: str = "",
    warning: str = "",
) -> str:
    title = "Data Replay benchmarks" + (
        " (quick mode: small scale, not for comparison)" if scale.quick else ""
    )
    measured = f" at commit {commit}" if commit else ""
    lines = [
        f"# {title}",
        "",
        *([f"**{warning}**", ""] if warning else []),
        f"Written by `{command}`{measured} ({scale.mode} mode, {seconds / 60:.1f} min). Each "
        "figure is the median over several rounds with the min–max spread; every comparison "
        "measures both sides in the same run, alternating, and reports the per-round ratio.",
        "",
        "## Machine",
        "",
        *_table(("", ""), [list(item) for item in machine]),
        "",
        "## Reproduce",
        "",
        "```bash",
        'pip install -e ".[bench]"',
        "python benchmarks/run.py            # full: ~15 min, writes benchmarks/RESULTS.md",
        "python benchmarks/run.py --quick    # small scale, < 1 min: benchmarks/.work/quick/",
        "```",
        "",
        "Everything runs on a throwaway copy of the project under `benchmarks/.work/` "
        "(git-ignored); kedro is installed there in its own venv on the first full run. "
        "`--baseline REV` names the earlier engine that the CLI-start and demo figures run "
        "side by side (`--baseline none` skips it). Other work on the same machine shows "
        "up as noise: the load average is recorded per figure.",
        "",
        *_summary(figures),
    ]
    if notes:
        lines += ["Remarks:", "", *(f"- {n}" for n in notes), ""]
    for index, figure in enumerate(figures, start=1):
        lines += _figure(index, figure)
    lines += _profiles(profiles)
    return "\n".join(lines).rstrip() + "\n"
