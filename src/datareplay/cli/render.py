"""What a run prints on stdout: the end-of-run tables, drawn by a listener of its events.

``EndOfRunPrinter`` collects the quality results of every step and, when the run
succeeds, prints the closing line, the final state of every data source and the
data-quality table. A failed run prints nothing here: the error lines say what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datareplay.run import events

if TYPE_CHECKING:
    from datareplay.data.catalog import SourceSummary


class EndOfRunPrinter:
    """Prints the end of a successful run through ``echo`` (``click.echo``).

    ``single_step`` selects the closing line of ``plugin`` (one step) over the one of
    ``pipeline``; paths are shown relative to ``root`` (the project folder).
    """

    def __init__(
        self, echo: Callable[[str], None], *, root: Path, single_step: bool = False
    ) -> None:
        self.echo = echo
        self.root = root
        self.single_step = single_step
        self.quality: list[Any] = []
        self.last_step: tuple[str, float] | None = None

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.StepFinished | events.StepFailed):
            self.quality.extend(event.outcome.quality)
            self.last_step = (event.outcome.name, event.outcome.seconds)
        elif isinstance(event, events.RunFinished) and event.status == "succeeded":
            self._print(event)

    def _print(self, event: events.RunFinished) -> None:
        if self.single_step and self.last_step is not None:
            name, seconds = self.last_step
            self.echo(
                f"run {event.run_id}: step '{name}' of case '{event.case}' finished "
                f"in {seconds:.2f} s"
            )
        else:
            self.echo(
                f"run {event.run_id} of case '{event.case}' finished: {event.steps_run} steps "
                f"in {event.seconds:.2f} s"
            )
        self.echo(render_summary(event.summary, self.root))
        if self.quality:
            self.echo(render_quality(self.quality))


def render_summary(summary: Sequence[SourceSummary], root: Path) -> str:
    """The final state of every data source as a plain-text table, paths under ``root``."""
    rows = [("data source", "status", "shape / type", "size", "path")]
    for item in summary:
        size = human_size(item.size_bytes) if item.size_bytes is not None else ""
        rows.append((item.name, item.status.value, item.kind, size, _relative(item.path, root)))
    return table(rows)


def _relative(path: Path | None, root: Path) -> str:
    if path is None:
        return "memory"
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def render_quality(results: Sequence[Any]) -> str:
    """The data-quality results as a headed table (preceded by an empty line)."""
    rows = [("source", "check", "severity", "result", "failing", "rows")]
    for r in results:
        verdict = "passed" if r.passed else "FAILED"
        if not getattr(r, "usable", True):
            verdict = "UNUSABLE"  # the check itself is wrong: a missing column...
        rows.append((r.source, r.check, r.severity, verdict, f"{r.failing:,}", f"{r.total:,}"))
    failed = sum(not r.passed for r in results)
    return f"\ndata quality: {len(results)} checks, {failed} failed\n{table(rows)}"


def table(rows: Sequence[tuple[str, ...]]) -> str:
    """Plain-text columns with a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def human_size(n: float) -> str:
    """Bytes for people: ``512 B``, ``1.7 MB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
