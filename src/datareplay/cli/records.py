"""The run-store commands: ``runs``, ``show``, ``diff``, ``lineage``, ``replay``,
``restore`` and ``gc``.

Like every command they import only click at start-up; the stores are opened inside
the command. RUN is a run id, a unique prefix of one, ``last`` or ``last~N``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from datareplay.records.compare import LineageNode
    from datareplay.records.store import RunRecord


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:,.2f} s" if seconds < 600 else f"{seconds / 60:,.1f} min"


def _status(record: RunRecord) -> str:
    if record.status == "failed" and record.failed_step:
        return f"failed at {record.failed_step}"
    return record.status


def _short(content_hash: str | None) -> str:
    if content_hash is None:
        return "(memory)"
    return content_hash.split(":", 1)[-1][:12]


def _store(state: Any) -> Any:
    """The project's run store, opened without building a session (no config, no
    plugins): listing and showing runs stays fast."""
    from datareplay.project.paths import default_project
    from datareplay.records.store import SqliteRunStore, store_path

    return SqliteRunStore(store_path(default_project(state.project_option).root))


def register(group: click.Group, pass_state: Callable[..., Any]) -> None:
    """Add the run-store commands to ``group``."""

    @group.command("runs")
    @click.option("--case", "case", metavar="CASE", help="Only runs of this case.")
    @click.option(
        "--status",
        type=click.Choice(["running", "succeeded", "failed", "interrupted", "unknown"]),
        help="Only runs that ended so.",
    )
    @click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON for tools.")
    @pass_state
    def runs_command(
        state: Any, case: str | None, status: str | None, limit: int, as_json: bool
    ) -> None:
        """List recent runs, newest first: status, duration, steps."""
        from datareplay.cli.render import table

        records = _store(state).list_runs(case=case, status=status, limit=limit)
        if as_json:
            listing = [
                {
                    "run_id": r.run_id,
                    "case": r.case,
                    "kind": r.kind,
                    "status": r.status,
                    "failed_step": r.failed_step,
                    "exit_code": r.exit_code,
                    "started": r.started,
                    "seconds": r.seconds,
                    "steps_run": r.steps_run,
                    "steps_total": r.steps_total,
                    "replay_of": r.replay_of,
                }
                for r in records
            ]
            click.echo(json.dumps(listing, indent=2))
            return
        if not records:
            click.echo("no runs recorded yet" + (f" for case '{case}'" if case else ""))
            return
        rows = [("run", "case", "kind", "status", "started", "duration", "steps")]
        for r in records:
            kind = f"replay of {r.replay_of}" if r.replay_of else r.kind
            rows.append(
                (
                    r.run_id,
                    r.case,
                    kind,
                    _status(r),
                    _when(r.started),
                    _duration(r.seconds),
                    f"{r.steps_run}/{r.steps_total}",
                )
            )
        click.echo(table(rows))

    @group.command("show")
    @click.argument("run")
    @click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON.")
    @pass_state
    def show_command(state: Any, run: str, as_json: bool) -> None:
        """Show one run's record: steps, timings, hashes, quality, config with origins."""
        from datareplay.records.selectors import resolve_run

        store = _store(state)
        record = store.get(resolve_run(run, store.ids()))
        assert record is not None
        intact = store.seal_intact(record) is not False
        if as_json:
            data = record.as_dict()
            data["seal_intact"] = intact if record.seal is not None else None
            click.echo(json.dumps(data, indent=2, default=str))
            return
        click.echo(_render_record(record, intact))

    @group.command("diff")
    @click.argument("run_a")
    @click.argument("run_b")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON for tools.")
    @pass_state
    def diff_command(state: Any, run_a: str, run_b: str, as_json: bool) -> None:
        """What differs between two runs, step by step, and the first divergence."""
        from datareplay.records.compare import diff_runs
        from datareplay.records.selectors import resolve_run

        store = _store(state)
        ids = store.ids()
        a = store.get(resolve_run(run_a, ids))
        b = store.get(resolve_run(run_b, ids))
        assert a is not None and b is not None
        diff = diff_runs(a, b)
        if as_json:
            click.echo(json.dumps(diff.as_dict(), indent=2, default=str))
            return
        lines = [f"diff {a.run_id} ({a.case}, {_status(a)}) → {b.run_id} ({b.case}, {_status(b)})"]
        if diff.config:
            lines.append("config:")
            for key, va, oa, vb, ob in diff.config:
                lines.append(f"  {key}: {va!r} ({oa}) → {vb!r} ({ob})")
        changed = [s for s in diff.steps if s.changed]
        for step in changed:
            lines.append(f"step {step.name}:")
            if step.status[0] != step.status[1]:
                lines.append(
                    f"  status: {step.status[0] or 'not run'} → {step.status[1] or 'not run'}"
                )
            if step.code:
                lines.append(f"  code: {_short(step.code[0])} → {_short(step.code[1])}")
            for key, va, oa, vb, ob in step.params:
                lines.append(f"  params.{key}: {va!r} ({oa}) → {vb!r} ({ob})")
            for port, ha, hb in step.inputs:
                lines.append(f"  input {port}: {_short(ha)} → {_short(hb)}")
            for source, ha, hb in step.outputs:
                lines.append(f"  output {source}: {_short(ha)} → {_short(hb)}")
            for check, qa, qb in step.quality:
                lines.append(f"  quality {check}: {qa or 'not run'} → {qb or 'not run'}")
        if not diff.config and not changed:
            lines.append("no differences: same config, code, data and verdicts")
        elif diff.first_divergence:
            lines.append(f"first step whose outputs diverge: {diff.first_divergence}")
        else:
            lines.append("every output is identical")
        click.echo("\n".join(lines))

    @group.command("lineage")
    @click.argument("dataset")
    @click.option("--case", "case", required=True, metavar="CASE", help="Case of the dataset.")
    @click.option("--run", "run", metavar="RUN", help="Run whose version to trace (default: last).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON for tools.")
    @pass_state
    def lineage_command(
        state: Any, dataset: str, case: str, run: str | None, as_json: bool
    ) -> None:
        """Which run and step produced a dataset version, from which inputs, back to raw data."""
        from datareplay.errors import UnknownNameError
        from datareplay.records.compare import lineage
        from datareplay.records.selectors import resolve_run

        store = _store(state)
        ids = [r.run_id for r in store.list_runs(case=case)]
        candidates = [resolve_run(run, ids)] if run else ids
        node = None
        for run_id in candidates:
            record = store.get(run_id)
            if record is not None:
                node = lineage(store, record, dataset)
                if node is not None:
                    break
        if node is None:
            where = f"run {candidates[0]}" if run else f"any recorded run of case '{case}'"
            raise UnknownNameError(f"no version of '{dataset}' was read or written by {where}")
        if as_json:
            click.echo(json.dumps(node.as_dict(), indent=2))
            return
        click.echo("\n".join(_render_lineage(node)))

    @group.command("replay")
    @click.argument("run")
    @click.option("--verify", is_flag=True, help="Compare every output hash with the original.")
    @click.option("--from", "from_step", metavar="STEP", help="Start at this recorded step.")
    @pass_state
    def replay_command(state: Any, run: str, verify: bool, from_step: str | None) -> None:
        """Re-execute a recorded run with its config and its recorded input versions."""
        session = state.session()
        outcome = session.replay(run, verify=verify, from_step=from_step)
        steps = len(outcome.result.steps)
        where = session.project.relative(session.records_folder / "replays" / outcome.run_id)
        click.echo(
            f"replay {outcome.run_id} of run {outcome.original}: {steps} step(s) in "
            f"{outcome.result.seconds:.2f} s, outputs in {where}/"
        )
        if verify:
            outputs = sum(len(o.outputs) for o in outcome.result.steps)
            click.echo(f"verified: all {outputs} output(s) identical to run {outcome.original}")
        for name, (then, now) in outcome.code_changed.items():
            click.echo(f"note: the code of step '{name}' changed ({_short(then)} → {_short(now)})")

    @group.command("restore")
    @click.argument("dataset")
    @click.option("--case", "case", required=True, metavar="CASE", help="Case of the dataset.")
    @click.option(
        "--run", "run", metavar="RUN", help="Run whose version to restore (default: last)."
    )
    @pass_state
    def restore_command(state: Any, dataset: str, case: str, run: str | None) -> None:
        """Put back a dataset's recorded version from the object store."""
        session = state.session()
        run_id, content_hash, path = session.restore(dataset, case, run=run)
        click.echo(
            f"restored '{dataset}' of case '{case}' to {session.project.relative(path)} "
            f"({content_hash}, written by run {run_id})"
        )

    @group.command("gc")
    @click.option(
        "--keep-last", type=click.IntRange(min=0), metavar="N", help="Keep the N newest runs."
    )
    @click.option("--older-than", metavar="D", help="Drop runs older than D (e.g. 30d, 12h).")
    @click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
    @pass_state
    def gc_command(
        state: Any, keep_last: int | None, older_than: str | None, dry_run: bool
    ) -> None:
        """Free space: drop old run records and the dataset versions no kept run needs."""
        from datareplay.cli.render import human_size
        from datareplay.errors import UsageError

        seconds = None
        if older_than is not None:
            from datareplay.quality.durations import parse_duration

            try:
                seconds = parse_duration(older_than)
            except ValueError as exc:
                raise UsageError(f"--older-than {older_than}: {exc}") from None
            if seconds < 0:
                raise UsageError(
                    f"--older-than {older_than}: an age cannot be negative; write e.g. 30d"
                )
        report = state.session().gc(keep_last=keep_last, older_than_s=seconds, dry_run=dry_run)
        verb = "would drop" if dry_run else "dropped"
        click.echo(
            f"{verb} {len(report.dropped_runs)} run record(s), kept {report.kept_runs}; "
            f"{'would free' if dry_run else 'freed'} {report.removed_versions} dataset "
            f"version(s), {human_size(report.freed_bytes)}"
        )


def _render_record(record: RunRecord, intact: bool) -> str:
    from datareplay.cli.render import human_size, table

    lines = [
        f"run {record.run_id} of case '{record.case}' ({record.kind}"
        + (f" of {record.replay_of}" if record.replay_of else "")
        + f"): {_status(record)}, exit code {record.exit_code}",
        f"command: {' '.join(record.command)}",
        f"started {_when(record.started)}, ended {_when(record.ended)}, "
        f"{_duration(record.seconds)}; PID {record.pid} on {record.host}",
    ]
    if record.error:
        lines.append(f"error: {record.error}")
    env = record.environment
    if env:
        git = env.get("git") or {}
        commit = git.get("commit")
        state = "" if commit is None else " (uncommitted changes)" if git.get("dirty") else ""
        versions = ", ".join(f"{k} {v}" for k, v in (env.get("versions") or {}).items() if v)
        lines.append(
            f"environment: Python {env.get('python')} on {env.get('platform')}; "
            f"git {commit[:12] if commit else 'none'}{state}; {versions}"
        )
    if record.seal is not None and not intact:
        lines.append("WARNING: the record does not match its seal: it was changed after the run")
    rows = [("#", "step", "plugin", "status", "time", "code")]
    for s in record.steps:
        rows.append(
            (
                str(s.position),
                s.name,
                s.plugin,
                s.status,
                _duration(s.seconds),
                _short(s.fingerprint or None),
            )
        )
    lines += ["", table(rows), ""]
    for s in record.steps:
        if s.status == "skipped":
            continue
        lines.append(f"step {s.position} {s.name} ({s.plugin}, {s.origin})")
        if s.params:
            lines.append(f"  params: {json.dumps(s.params, default=str)}")
        for d in s.datasets:
            shape = f"{d.rows:,}×{d.columns:,}" if d.rows is not None and d.columns else d.kind
            size = human_size(d.size_bytes) if d.size_bytes is not None else "-"
            lines.append(
                f"  {'in ' if d.role == 'input' else 'out'} {d.port:<16} {d.source:<16} "
                f"{_short(d.content_hash):<12} {d.format:<8} {shape:<16} {size:>9}  "
                f"{d.location or 'memory'}"
            )
        for q in s.quality:
            verdict = "passed" if q.get("passed") else "FAILED"
            lines.append(
                f"  quality {q.get('source')}: {q.get('check')} {verdict} "
                f"({q.get('failing', 0):,} of {q.get('total', 0):,}, {q.get('severity')})"
            )
        if s.error:
            lines.append(f"  error: {s.error.get('type') or 'error'}: {s.error.get('message')}")
    config = record.config
    origins = config.get("origins", {})
    if origins:
        lines.append("")
        lines.append(f"config (from {', '.join(config.get('files', []))}):")
        from datareplay.records.compare import flatten

        for key, value in flatten(config.get("data", {})):
            lines.append(f"  {key} = {value!r}  # {origins.get(key, 'built-in default')}")
    return "\n".join(lines)


def _render_lineage(
    node: LineageNode, depth: int = 0, seen: set[tuple[str, str | None]] | None = None
) -> list[str]:
    seen = set() if seen is None else seen
    pad = "  " * depth
    what = f"{node.source} {_short(node.content_hash)}"
    key = (node.source, node.content_hash)
    if key in seen and node.step is not None:
        return [f"{pad}{what}: (traced above)"]
    seen.add(key)
    if node.step is None:
        origin = "raw data (no recorded step wrote it)" if node.content_hash else "memory"
        lines = [f"{pad}{what} at {node.location or 'memory'}: {origin}"]
    else:
        lines = [
            f"{pad}{what} at {node.location or 'memory'}: written by step '{node.step}' "
            f"({node.plugin}) in run {node.run_id}"
        ]
    for child in node.inputs:
        lines += _render_lineage(child, depth + 1, seen)
    return lines
