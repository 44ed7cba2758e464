"""From a case's ``pipeline`` list to a checked, ordered plan of steps.

Everything that can be known before running is checked here, so that a bad pipeline
fails in a second with one clear line instead of an hour into a replay: every plugin
exists, every port and data source is declared, params have the right names and types,
no two steps write one source, nothing writes a read-only source, and the data flow has
no cycle. Steps run in the order of the list unless the data flow requires otherwise.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any

from datareplay.errors import (
    ConfigError,
    DataReplayError,
    MissingInputError,
    PipelineError,
    PluginDefinitionError,
    UnknownNameError,
    did_you_mean,
)
from datareplay.plugins.base import BasePlugin

if TYPE_CHECKING:
    from datareplay.config.manager import CaseConfig
    from datareplay.data.catalog import DataCatalog
    from datareplay.data.source import DataSource
    from datareplay.plugins.loader import PluginRef
    from datareplay.plugins.registry import PluginRegistry


@dataclass(frozen=True)
class Step:
    """One configured plugin: its name, class, params and port-to-source maps."""

    index: int
    name: str
    plugin: type[BasePlugin]
    params: Mapping[str, Any]
    reads: Mapping[str, str]
    writes: Mapping[str, str]
    where: str
    ref: PluginRef | None = None  # how another process imports the plugin


@dataclass
class Plan:
    """The steps of a case in execution order, and who produces which source."""

    case: str
    steps: list[Step]
    producers: dict[str, Step] = field(default_factory=dict)

    @property
    def external_inputs(self) -> list[str]:
        """Sources read by some step and produced by none: they must already exist."""
        return self.external_reads()

    def external_reads(self, steps: Sequence[Step] | None = None) -> list[str]:
        """Sources ``steps`` (default: all) read that no step of the plan produces."""
        needed: dict[str, None] = {}
        for step in self.steps if steps is None else steps:
            for source in step.reads.values():
                if source not in self.producers:
                    needed[source] = None
        return list(needed)

    def step(self, name: str) -> Step:
        """The step called ``name``, or the only step that runs plugin ``name``."""
        for step in self.steps:
            if step.name == name:
                return step
        matches = [s for s in self.steps if s.plugin.__name__ == name]
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(s.name for s in matches)
            raise PipelineError(
                f"plugin '{name}' runs in several steps of case '{self.case}' ({names}); "
                "name the step instead"
            )
        known = [s.name for s in self.steps]
        raise UnknownNameError(
            f"case '{self.case}' has no step or plugin '{name}'"
            f"{did_you_mean(name, known) or ' (steps: ' + ', '.join(known) + ')'}"
        )

    def check_inputs(self, hub: DataCatalog, *, steps: list[Step], project_hint: str) -> None:
        """Raise MissingInputError for the first input of ``steps`` that has no data."""
        produced = {source for step in steps for source in step.writes.values()}
        for step in steps:
            for port, source in step.reads.items():
                if source in produced or hub.available(source):
                    continue
                data_source = hub.sources[source]
                location = (
                    f"no file at {hub.relative(data_source.path)}"
                    if data_source.path is not None
                    else f"format {data_source.format.name} is never persisted"
                )
                producer = self.producers.get(source)
                if producer is not None and not data_source.persisted:
                    # running the producer alone cannot help: its output dies with it
                    fix = (
                        f"it is written by step '{producer.name}' and kept in memory only "
                        f"(format {data_source.format.name}), so it exists only while the "
                        f"whole pipeline runs: run '{project_hint} pipeline --case "
                        f"{self.case}', or give data source '{source}' a persistent format "
                        "(e.g. format: parquet) to run this step alone"
                    )
                elif producer is not None:
                    fix = (
                        f"it is written by step '{producer.name}': run "
                        f"'{project_hint} plugin {producer.name} --case {self.case}' or "
                        f"'{project_hint} pipeline --case {self.case}'"
                    )
                else:
                    fix = "no step writes it: put the file there or fix its path in case.yaml"
                raise MissingInputError(
                    f"step '{step.name}' needs input '{port}' (data source '{source}'), "
                    f"which has no data ({location}); {fix}"
                )


def build_plan(
    config: CaseConfig, sources: Mapping[str, DataSource], registry: PluginRegistry
) -> Plan:
    """Check the case's pipeline against its plugins and sources; return the ordered plan."""
    from datareplay.config.manager import merged_where

    case = config.name
    steps: list[Step] = []
    seen: dict[str, int] = {}
    # Every problem of the pipeline is collected and reported at once (one line each):
    # unknown plugins, params, ports, sources and who writes what, not one per round.
    problems: list[DataReplayError] = []
    for index, spec in enumerate(config.settings.pipeline):
        where = merged_where(config, ("pipeline", index))
        label = f"{where} (pipeline[{index}])"
        try:
            plugin = registry.get(spec.plugin, where=label)
        except (UnknownNameError, PluginDefinitionError) as exc:
            problems.append(exc)
            continue
        name = spec.step_name
        if name in seen:
            problems.append(
                PipelineError(
                    f"{label}: step name '{name}' is used twice (also pipeline[{seen[name]}]); "
                    "give one of them a distinct name"
                )
            )
            continue  # its other problems would repeat the first step's
        seen[name] = index
        try:
            params = plugin.resolve_params(
                spec.params,
                where=label,
                origin_of=_param_origin(config, index),
                quote_hint_of=functools.partial(_quote_hint, config, index),
            )
        except ConfigError as exc:  # keep going: every param problem is reported at once
            problems.append(exc)
            params = {}
            inputs: Mapping[str, str] = plugin.inputs
        else:
            inputs = plugin.input_ports(params)
        port_problems: list[str] = []
        reads = _ports(spec.inputs, inputs, "input", label, plugin, sources, port_problems)
        writes = _ports(
            spec.outputs, plugin.outputs, "output", label, plugin, sources, port_problems
        )
        problems.extend(PipelineError(problem) for problem in port_problems)
        if port_problems:
            continue
        ref = registry.reference(spec.plugin)
        steps.append(Step(index, name, plugin, params, reads, writes, label, ref))
    producers: dict[str, Step] = {}
    for step in steps:
        both = set(step.reads.values()) & set(step.writes.values())
        if both:
            problems.append(
                PipelineError(
                    f"{step.where}: step '{step.name}' reads and writes data source "
                    f"'{sorted(both)[0]}'; write the result to a new source"
                )
            )
        for source in step.writes.values():
            if sources[source].read_only:
                problems.append(
                    PipelineError(
                        f"{step.where}: step '{step.name}' writes data source '{source}', "
                        "which is read_only; write to another source"
                    )
                )
            elif source in producers:
                problems.append(
                    PipelineError(
                        f"{step.where}: data source '{source}' is written by two steps, "
                        f"'{producers[source].name}' and '{step.name}'; give one of them "
                        "another output source"
                    )
                )
            else:
                producers[source] = step
    if problems:
        raise _all_of(problems)
    return Plan(case=case, steps=_order(steps, producers), producers=producers)


def _all_of(problems: Sequence[DataReplayError]) -> DataReplayError:
    """One error holding every problem, one per line.

    A single problem is raised as it is; several of one kind (all params) keep that
    kind, a mix becomes a PipelineError (every kind exits 2 the same way).
    """
    if len(problems) == 1:
        return problems[0]
    kinds = {type(problem) for problem in problems}
    kind = kinds.pop() if len(kinds) == 1 else PipelineError
    return kind("\n".join(str(problem) for problem in problems))


def _quote_hint(config: CaseConfig, index: int, name: str) -> str:
    """How to write param ``name`` of step ``index`` as text (``MergedConfig.quote_hint``)."""
    return config.merged.quote_hint(("pipeline", index, "params", name))


def _param_origin(config: CaseConfig, index: int) -> Callable[[str], str]:
    """Where the value of a step's param came from, for error messages."""
    from datareplay.config.manager import merged_where

    def origin(name: str) -> str:
        where = merged_where(config, ("pipeline", index, "params", name))
        return f"{where} (pipeline[{index}].params.{name})"

    return origin


def _ports(
    mapping: Mapping[str, str],
    declared: Mapping[str, str],
    kind: str,
    label: str,
    plugin: type[BasePlugin],
    sources: Mapping[str, DataSource],
    problems: list[str],
) -> dict[str, str]:
    """The step's port -> source map; every unknown port or source is added to ``problems``."""
    for port in mapping:
        if port not in declared:
            problems.append(
                f"{label}: plugin {plugin.__name__} has no {kind} '{port}'"
                f"{did_you_mean(port, declared)} (its {kind}s: {', '.join(declared) or 'none'})"
            )
    resolved = {port: mapping.get(port, port) for port in declared}
    for port, source in resolved.items():
        if source not in sources:
            mapped = f" (mapped from {kind} '{port}')" if source != port else ""
            problems.append(
                f"{label}: {plugin.__name__} {kind} '{source}'{mapped} is not declared under "
                f"data_sources{did_you_mean(source, sources)}; declare it or map the "
                f"{kind} to an existing source"
            )
    return resolved


def _order(steps: list[Step], producers: Mapping[str, Step]) -> list[Step]:
    """Topological order of the data flow, keeping list order wherever it is free."""
    graph: dict[int, set[int]] = {step.index: set() for step in steps}
    for step in steps:
        for source in step.reads.values():
            producer = producers.get(source)
            if producer is not None and producer.index != step.index:
                graph[step.index].add(producer.index)
    by_index = {step.index: step for step in steps}
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = [by_index[i].name for i in exc.args[1]]
        raise PipelineError(
            f"the pipeline has a cycle: {' -> '.join(cycle)}; a step cannot depend on "
            "its own output"
        ) from None
    ordered: list[Step] = []
    ready: list[int] = list(sorter.get_ready())
    heapq.heapify(ready)
    while ready:
        index = heapq.heappop(ready)
        ordered.append(by_index[index])
        sorter.done(index)
        for nxt in sorter.get_ready():
            heapq.heappush(ready, nxt)
    return ordered
