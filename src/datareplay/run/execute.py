"""Executing one step: the plugin's ``run`` against its DataHub, turned into an outcome.

``execute_step(spec)`` is the function a worker process calls: it rebuilds what it
needs from the plain-data ``StepSpec`` (the plugin class from its reference, a catalog
over the step's sources reading from storage), runs the plugin and returns a
``StepOutcome``. In the parent process the runner calls ``execute`` with its own
catalog, so a step reads what earlier steps left in memory, and gets the original
exception back for chaining. A failing plugin never raises out of either function; only
``KeyboardInterrupt`` and other ``BaseException``s propagate.

The error of a plugin that raised names the last line of the plugin's own code the
exception passed through (``ValueError: bad ratio inf (modules/ratio.py:12 in run;
--debug shows the traceback)``); a ``run`` that returned its result instead of writing
it is told how to write it; an empty output (a 0×0 DataFrame, an empty array) is
written, and a warning says so.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable
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

log = logging.getLogger("datareplay.runner")


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
        empty = _empty(value)
        if empty:
            log.warning(
                "step '%s' wrote %s to data source '%s'; check that run computed what it should",
                spec.name,
                empty,
                source.name,
            )
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
    cls: type[BasePlugin] | None = None
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
        run: Callable[[Any], Any] = cls(params=spec.params, step=spec.name).run
        returned = run(hub)  # None, unless run returned what it should have written
        missing = [port for port, source in spec.outputs.items() if source not in written]
        blocking = [result.line() for result in quality if result.blocking]
        if missing:
            reason = f"it did not write its declared output '{missing[0]}'"
            if returned is not None:
                reason += (
                    f"; run returned {_a(type(returned).__name__)} — assign it instead: "
                    f"hub['{missing[0]}'] = ..."
                )
            error = StepError("", reason)
        elif blocking:  # results a plugin reported without raising still stop the run
            error = StepError("QualityError", "\n".join(blocking))
    except DataReplayError as exc:
        error = StepError(type(exc).__name__, str(exc), exc.exit_code, traceback.format_exc())
        exception = exc
    except (Exception, SystemExit) as exc:  # a plugin's sys.exit() fails its step only
        reason = describe_exception(exc)
        if isinstance(exc, SystemExit):
            reason = f"the plugin called sys.exit({exc.code!r})"
        reason += _where_in_plugin(exc, cls, spec)
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


def _where_in_plugin(exc: BaseException, cls: type[BasePlugin] | None, spec: StepSpec) -> str:
    """`` (modules/ratio.py:12 in run; --debug shows the traceback)``, or "".

    The last frame of the traceback inside the plugin's own code (its plugin folder, or
    its module), so neither the engine's frames nor pandas' are named.
    """
    from datareplay.plugins.loader import code_frame, display_path, plugin_places

    if cls is None:
        return ""
    frame = code_frame(exc, plugin_places(cls, spec.plugin.folder))
    if frame is None:
        return ""
    path, line, function, _ = frame
    where = f"{display_path(path, spec.project_root)}:{line}"
    return f" ({where} in {function}; --debug shows the traceback)"


def _a(noun: str) -> str:
    """``a DataFrame``, ``an ndarray``."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _empty(value: Any) -> str:
    """What an empty output is (``a DataFrame with 0 rows and 0 columns``), or ""."""
    pandas = sys.modules.get("pandas")
    numpy = sys.modules.get("numpy")
    if pandas is not None and isinstance(value, pandas.DataFrame) and value.shape == (0, 0):
        return "an empty DataFrame (0 rows, 0 columns)"
    if numpy is not None and isinstance(value, numpy.ndarray) and value.size == 0:
        return f"an empty array (shape {value.shape})"
    return ""


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
