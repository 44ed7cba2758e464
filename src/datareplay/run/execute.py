"""Executing one step: the plugin's ``run`` against its DataHub, turned into an outcome.

``execute_step(spec)`` is the function a worker process calls: it rebuilds what it
needs from the plain-data ``StepSpec`` (the plugin class from its reference, a catalog
over the step's sources reading from storage), runs the plugin and returns a
``StepOutcome``. In the parent process the runner calls ``execute`` with its own
catalog, so a step reads what earlier steps left in memory, and gets the original
exception back for chaining. A failing plugin never raises out of either function; only
``KeyboardInterrupt`` and other ``BaseException``s propagate.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datareplay.errors import DataReplayError, ExitCode, QualityError, describe_exception
from datareplay.run.step import StepError, StepOutcome, StepSpec

if TYPE_CHECKING:
    from datareplay.data.catalog import DataCatalog
    from datareplay.data.source import DataSource
    from datareplay.data.storage import DataRef
    from datareplay.plugins.base import BasePlugin


@dataclass
class Execution:
    """An outcome and, in the process that ran the step, the exception it raised."""

    outcome: StepOutcome
    exception: BaseException | None = None


def execute_step(spec: StepSpec) -> StepOutcome:
    """Run ``spec`` in this process from storage alone; return its outcome (picklable)."""
    return execute(spec).outcome


def execute(
    spec: StepSpec,
    *,
    catalog: DataCatalog | None = None,
    plugin: type[BasePlugin] | None = None,
) -> Execution:
    """Run one step against ``catalog`` (default: a fresh one over ``spec.sources``).

    ``plugin`` is the class when the caller already has it; otherwise it is imported
    from ``spec.plugin`` (and refused if its code changed since the spec was made).
    """
    from datareplay.data.catalog import DataCatalog

    started = time.perf_counter()
    fresh = catalog is None
    if catalog is None:
        catalog = DataCatalog(spec.sources, project_root=Path(spec.project_root))
        catalog.raw.update(spec.raw)
    written: dict[str, DataRef] = {}
    read: dict[str, None] = {}  # sources the plugin read, in order
    quality: list[Any] = []

    def after_write(source: DataSource, value: Any, ref: DataRef) -> None:
        written[source.name] = ref
        if source.checks:
            _check(source, value)

    def after_first_read(source: DataSource, value: Any) -> None:
        if source.checks and source.name in spec.raw:  # checks of data no step writes
            _check(source, value)

    def _check(source: DataSource, value: Any) -> None:
        from datareplay.quality.evaluate import evaluate

        results = [
            evaluate(check, value, source=source.name, lookup=catalog.load, step=spec.name)
            for check in source.checks
        ]
        quality.extend(results)
        failed = [result.line() for result in results if result.blocking]
        if failed:
            raise QualityError("\n".join(failed))

    error: StepError | None = None
    exception: BaseException | None = None
    plugin_name = spec.plugin.name.rsplit(".", 1)[-1]
    try:
        if fresh:
            _check_reachable(spec, catalog)
        cls = plugin or _load(spec)
        hub = catalog.hub(
            spec.name,
            reads=spec.inputs,
            writes=spec.outputs,
            on_write=after_write,
            on_read=after_first_read,
            report=quality.extend,
            on_load=lambda name: read.setdefault(name, None),
        )
        cls(params=spec.params, step=spec.name).run(hub)
        missing = [port for port, source in spec.outputs.items() if source not in written]
        blocking = [result.line() for result in quality if result.blocking]
        if missing:
            error = StepError("", f"it did not write its declared output '{missing[0]}'")
        elif blocking:  # results a plugin reported without raising still stop the run
            error = StepError("QualityError", "\n".join(blocking))
    except DataReplayError as exc:
        error = StepError(type(exc).__name__, str(exc), exc.exit_code, traceback.format_exc())
        exception = exc
    except (Exception, SystemExit) as exc:  # a plugin's sys.exit() fails its step only
        reason = describe_exception(exc)
        if isinstance(exc, SystemExit):
            reason = f"the plugin called sys.exit({exc.code!r})"
        error = StepError(type(exc).__name__, reason, ExitCode.RUN_FAILED, traceback.format_exc())
        exception = exc
    outcome = StepOutcome(
        name=spec.name,
        index=spec.index,
        plugin=plugin_name,
        seconds=time.perf_counter() - started,
        outputs=_declared_order(written, spec),
        quality=tuple(quality),
        error=error,
        inputs=_inputs_read(read, spec, catalog),
    )
    return Execution(outcome, exception)


def _inputs_read(read: dict[str, None], spec: StepSpec, catalog: DataCatalog) -> dict[str, DataRef]:
    """Port -> the version read, for every input port whose source the plugin read."""
    ports = {source: port for port, source in spec.inputs.items()}
    return {ports[name]: catalog.version_of(name) for name in read if name in ports}


def _declared_order(written: dict[str, DataRef], spec: StepSpec) -> dict[str, DataRef]:
    """The refs of ``written`` in the order the plugin declares its outputs."""
    ordered = {name: written[name] for name in spec.outputs.values() if name in written}
    return {**ordered, **written}


def _check_reachable(spec: StepSpec, catalog: DataCatalog) -> None:
    """Refuse inputs that live only in another process's memory."""
    from datareplay.errors import PersistenceError

    for port, name in spec.inputs.items():
        source = spec.sources[name]
        if not source.persisted and not catalog.available(name):
            raise PersistenceError(
                f"input '{port}' (data source '{name}', format {source.format.name}) is kept "
                "in memory only, so a step running in another process cannot read it; give "
                "the source a persistent format (parquet, feather, csv, json, pickle)"
            )


def _load(spec: StepSpec) -> type[BasePlugin]:
    from datareplay.plugins.loader import load_plugin

    return load_plugin(spec.plugin)
