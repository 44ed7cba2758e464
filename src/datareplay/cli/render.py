"""What a run prints on stdout: the end-of-run tables, drawn by a listener of its events.

``EndOfRunPrinter`` follows the run's events and, when it ends, prints

- the closing line (run id, case, steps, time);
- a table of the steps: status (ran, failed, skipped, interrupted), duration, rows read
  and written, and a one-line quality verdict;
- the final state of every data source, and the data-quality table;
- for a failed run, a short summary instead of the last two: the checks that failed
  (each once), what was kept and where, and the commands that go on from there.

With ``quiet`` only the closing line (and a failure's summary) is printed. Numbers use
thousands separators throughout; every table fits 100 columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datareplay.run import events

if TYPE_CHECKING:
    from datareplay.data.catalog import SourceSummary
    from datareplay.run.step import StepOutcome

NAME_WIDTH = 28  # a step name longer than this is shortened in the step table


@dataclass
class _Row:
    """One step as the step table shows it."""

    position: int
    name: str
    plugin: str
    index: int | None = None  # 0-based in the case's pipeline
    status: str = "pending"
    seconds: float | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    quality: list[Any] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    error: str = ""
    why: str = ""  # why it ran, or where it was restored from (incremental runs)


class EndOfRunPrinter:
    """Prints the end of a run through ``echo`` (``click.echo``).

    ``single_step`` selects the closing line of ``plugin`` (one step) over the one of
    ``pipeline``; paths are shown relative to ``root`` (the project folder); ``hint``
    is the program name used in suggested commands (``python run.py``, ``datareplay``).
    """

    def __init__(
        self,
        echo: Callable[[str], None],
        *,
        root: Path,
        single_step: bool = False,
        quiet: bool = False,
        hint: str = "datareplay",
    ) -> None:
        self.echo = echo
        self.root = root
        self.single_step = single_step
        self.quiet = quiet
        self.hint = hint
        self.case = ""
        self.rows: dict[str, _Row] = {}
        self.quality: list[Any] = []

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.RunStarted):
            self.case = event.case
            self.rows = {
                name: _Row(position, name, "") for position, name in enumerate(event.steps, start=1)
            }
        elif isinstance(event, events.StepStarted):
            row = self._row(event.name)
            row.plugin, row.status, row.index = event.plugin, "running", event.index
            row.why = event.reason
        elif isinstance(event, events.StepFinished | events.StepFailed):
            self._outcome(
                event.outcome, "ran" if isinstance(event, events.StepFinished) else "failed"
            )
        elif isinstance(event, events.StepSkipped):
            row = self._row(event.name)
            row.plugin, row.status = event.plugin, "skipped"
        elif isinstance(event, events.RunFinished):
            self._finished(event)
        elif isinstance(event, events.RunInterrupted):
            for row in self.rows.values():
                if row.status == "running":
                    row.status = "interrupted"
                elif row.status == "pending":
                    row.status = "skipped"

    def _row(self, name: str) -> _Row:
        if name not in self.rows:
            self.rows[name] = _Row(len(self.rows) + 1, name, "")
        return self.rows[name]

    def _outcome(self, outcome: StepOutcome, status: str) -> None:
        row = self._row(outcome.name)
        row.plugin = outcome.plugin
        row.status = status
        row.seconds = outcome.seconds
        row.rows_in = _total_rows(outcome.inputs.values())
        row.rows_out = _total_rows(outcome.outputs.values())
        row.quality = list(outcome.quality)
        row.outputs = list(outcome.outputs)
        if outcome.cached:
            row.status, row.why = "cached", f"as run {outcome.cached_from}"
        elif outcome.nondeterministic:
            row.why += f" (NOT deterministic: {', '.join(outcome.nondeterministic)})"
        if outcome.error is not None:
            row.error = outcome.error.message
        self.quality.extend(outcome.quality)

    # -- the end -----------------------------------------------------------------------

    def _finished(self, event: events.RunFinished) -> None:
        ran = [r for r in self.rows.values() if r.status in ("ran", "failed")]
        if event.status != "succeeded":
            self._failure(event)
            return
        if self.single_step and len(ran) == 1:
            row = ran[0]
            self.echo(
                f"run {event.run_id}: step '{row.name}' of case '{event.case}' finished "
                f"in {_seconds(row.seconds)}"
            )
        else:
            cached = sum(1 for r in self.rows.values() if r.status == "cached")
            split = f" ({len(ran)} ran, {cached} cached)" if cached else ""
            self.echo(
                f"run {event.run_id} of case '{event.case}' finished: "
                f"{_count(event.steps_run, 'step')}{split} in {_seconds(event.seconds)}"
            )
        if self.quiet:
            return
        self.echo(render_steps(list(self.rows.values())))
        self.echo("")
        self.echo(render_summary(event.summary, self.root))
        if self.quality:
            self.echo(render_quality(self.quality))

    def _failure(self, event: events.RunFinished) -> None:
        rows = list(self.rows.values())
        failed = next((r for r in rows if r.status == "failed"), None)
        where = ""
        if failed is not None:
            # numbered as in the case's pipeline, like the error line
            number = failed.index + 1 if failed.index is not None else failed.position
            where = f"at step {number}" + ("" if self.single_step else f"/{len(rows)}")
            where += f" '{failed.name}'"
            if failed.plugin and failed.plugin != failed.name:
                where += f" ({failed.plugin})"
        self.echo(
            f"run {event.run_id} of case '{event.case}' FAILED {where} after "
            f"{_seconds(event.seconds)}"
        )
        if not self.quiet:
            self.echo(render_steps(rows))
        blocking = [q for q in self.quality if q.blocking]
        warned = [q for q in self.quality if not q.passed and not q.blocking]
        if blocking:
            self.echo(f"failed checks ({len(blocking)}, each stops the run):")
            for result in blocking:  # in full: what failed, how much, sample rows
                self.echo(f"  {result.line()}")
        if warned and not self.quiet:
            self.echo(f"warnings ({len(warned)}, the run would go on):")
            for result in warned:
                self.echo(f"  {result.line()}")
        kept = [
            item
            for item in event.summary
            if item.path is not None
            and item.status.value in ("on disk", "in memory")
            and item.name != "quality_results"
        ]
        written = [name for r in rows if r.status in ("ran", "failed") for name in r.outputs]
        kept_written = [item for item in kept if item.name in written]
        if kept_written:
            folders = sorted({_relative(item.path.parent, self.root) for item in kept_written})  # type: ignore[union-attr]
            self.echo(
                f"kept: {', '.join(item.name for item in kept_written)} in "
                f"{', '.join(f'{f}/' for f in folders)}"
            )
        quality = next((i for i in event.summary if i.name == "quality_results"), None)
        if quality is not None and quality.path is not None and self.quality:
            self.echo(f"quality results: {_relative(quality.path, self.root)}")
        self.echo(f"the run's record: {self.hint} show {event.run_id}")
        step = failed.name if failed is not None else None
        if step is None:  # a failure outside a step: the whole run again
            self.echo(f"after fixing it: {self.hint} pipeline --case {event.case}")
        elif self.single_step:
            self.echo(f"after fixing it: {self.hint} plugin {step} --case {event.case}")
        else:
            self.echo(f"after fixing it: {self.hint} pipeline --case {event.case}")
            self.echo(
                f"  or go on from that step: {self.hint} pipeline --case {event.case} --resume"
            )
            self.echo(f"  or the step alone: {self.hint} plugin {step} --case {event.case}")


def render_steps(rows: Sequence[_Row]) -> str:
    """The steps of a run: status, duration, rows in and out, quality verdict."""
    # the why column, once a step was restored or ran for a reason other than a first run
    why = any(row.why and row.why != "no earlier run" for row in rows)
    table_rows: list[tuple[str, ...]] = [
        ("#", "step", "status", "time", "rows in", "rows out", "quality")
    ]
    if why:
        table_rows[0] += ("why",)
    for row in rows:
        label = row.name if row.plugin in ("", row.name) else f"{row.name} ({row.plugin})"
        table_rows.append(
            (
                str(row.position),
                _clip(label, NAME_WIDTH),
                row.status,
                _seconds(row.seconds) if row.seconds is not None else "",
                f"{row.rows_in:,}" if row.rows_in is not None else "",
                f"{row.rows_out:,}" if row.rows_out is not None else "",
                verdict(row.quality),
            )
            + ((_clip(row.why, 60),) if why else ())
        )
    return table(table_rows)


def verdict(results: Sequence[Any]) -> str:
    """One line for a step's checks: ``3 passed``, ``1 FAILED, 2 passed``, ``1 warning``."""
    if not results:
        return ""
    blocking = sum(1 for r in results if r.blocking)
    warned = sum(1 for r in results if not r.passed and not r.blocking)
    passed = sum(1 for r in results if r.passed)
    parts = []
    if blocking:
        parts.append(f"{blocking} FAILED")
    if warned:
        parts.append(_count(warned, "warning"))
    if passed:
        parts.append(f"{passed} passed")
    return ", ".join(parts)


def render_summary(summary: Sequence[SourceSummary], root: Path) -> str:
    """The final state of every data source as a plain-text table, paths under ``root``."""
    rows = [("data source", "status", "shape / type", "size", "path")]
    for item in summary:
        size = human_size(item.size_bytes) if item.size_bytes is not None else ""
        rows.append(
            (item.name, item.status.value, item.kind, size, _clip(_relative(item.path, root), 44))
        )
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
        result = "passed" if r.passed else "FAILED"
        if not getattr(r, "usable", True):
            result = "UNUSABLE"  # the check itself is wrong: a missing column...
        rows.append(
            (r.source, _clip(r.check, 36), r.severity, result, f"{r.failing:,}", f"{r.total:,}")
        )
    return f"\ndata quality: {_count(len(results), 'check')}: {verdict(results)}\n{table(rows)}"


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


def _count(n: int, noun: str) -> str:
    """``1 step``, ``8 steps``, ``1,024 checks``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:,.2f} s" if seconds < 600 else f"{seconds / 60:,.1f} min"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _total_rows(refs: Any) -> int | None:
    counted = [ref.rows for ref in refs if getattr(ref, "rows", None) is not None]
    return sum(counted) if counted else None
