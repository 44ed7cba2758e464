"""The DataHub: what a plugin's ``run`` receives, its declared ports and nothing else.

::

    frame = hub["signals"]         # an input: loaded on first access, then cached;
                                   # this reader's own view: change it as you like
    hub["events"] = events_frame   # an output: persisted at once (and checked)
    "signals" in hub               # does the input have data?
    hub.report_quality(results)    # check results, recorded with the step's outcome

A port is a name the plugin declares in ``inputs`` or ``outputs``; the step's
configuration maps it to a data source. Reading an undeclared input or writing an
undeclared output is an error naming the port. The hub exposes no engine operation:
its only attributes are private slots holding the functions that read and write its own
ports (Python cannot seal an object against deliberate introspection, but nothing a
plugin is meant to use leads to the catalog, the storage or the runner).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from datareplay.errors import DataAccessError


class DataHub:
    """Datasets by port name for one step: read the inputs, write the outputs."""

    __slots__ = ("_has", "_load", "_reads", "_report", "_step", "_store", "_writes")

    def __init__(
        self,
        step: str,
        *,
        reads: Mapping[str, str],
        writes: Mapping[str, str],
        load: Callable[[str], Any],
        store: Callable[[str, Any], None],
        has: Callable[[str], bool],
        report: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self._step = step
        self._reads = dict(reads)
        self._writes = dict(writes)
        self._load = load
        self._store = store
        self._has = has
        self._report = report

    def _input(self, port: str) -> str:
        if port in self._reads:
            return self._reads[port]
        if port in self._writes:  # reading back what this step wrote
            return self._writes[port]
        raise DataAccessError(
            f"step '{self._step}' read '{port}', which it does not declare as an "
            f"input (declared inputs: {', '.join(self._reads) or 'none'}); "
            "add it to the plugin's inputs"
        )

    def __getitem__(self, port: str) -> Any:
        return self._load(self._input(port))

    def __setitem__(self, port: str, value: Any) -> None:
        if port not in self._writes:
            raise DataAccessError(
                f"step '{self._step}' wrote '{port}', which it does not declare as an "
                f"output (declared outputs: {', '.join(self._writes) or 'none'}); "
                "add it to the plugin's outputs"
            )
        self._store(self._writes[port], value)

    def __contains__(self, port: object) -> bool:
        if not isinstance(port, str):
            return False
        try:
            name = self._input(port)
        except DataAccessError:
            return False
        return self._has(name)

    def get(self, port: str, default: Any = None) -> Any:
        """``hub[port]`` if it has data, else ``default``."""
        return self[port] if port in self else default  # noqa: SIM401 (self.get would recurse)

    def __iter__(self) -> Iterator[str]:
        return iter({**self._reads, **self._writes})

    def __len__(self) -> int:
        return len({**self._reads, **self._writes})

    def __repr__(self) -> str:
        return (
            f"<DataHub of step '{self._step}': inputs {sorted(self._reads)}, "
            f"outputs {sorted(self._writes)}>"
        )

    def report_quality(self, results: list[Any]) -> None:
        """Record data-quality ``CheckResult``s with this step's outcome.

        They reach the run's quality results and the end-of-run table like the results
        of checks declared on data sources; a failed result of severity ``error`` fails
        the step when ``run`` returns (raise ``QualityError`` to stop at once). Raises
        DataAccessError for anything that is not a ``CheckResult``.
        """
        from datareplay.quality.evaluate import CheckResult

        results = list(results)
        for result in results:
            if not isinstance(result, CheckResult):
                raise DataAccessError(
                    f"step '{self._step}' reported a {type(result).__name__} as a quality "
                    "result; report datareplay.CheckResult values"
                )
        if self._report is not None:
            self._report(results)
