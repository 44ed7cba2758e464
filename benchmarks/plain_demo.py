"""The demo as a plain script: the same plugin code, file I/O and checks, no framework.

The baseline of the engine-overhead and memory figures, in two modes.

* By default, the shipped demo (``cases/demo/case.yaml``) written by hand: its steps
  with their params, its files in their formats, and its data-quality work written
  directly with numpy and pandas (``plain_quality.py``): the checks on ``wheel`` and
  ``aligned`` when they are written, the QualityGate step ``signal_quality``, the
  DataProfiler's table (``profile.csv``) and the check results
  (``quality_results.parquet``). A failed check of severity error stops the run with
  exit code 1, where the engine stops.
* ``--case-file FILE``: a case with the project's own plugins only and every data
  source's format and path spelled out (the benchmark derives one from the demo without
  its checks): the framework-alone baseline.

Either way the plugin classes come from ``<project>/modules`` and run on plain dicts: an
input is read on first use with pandas' own reader, every output is written the moment the
plugin sets it (parquet zstd, feather lz4, csv, json orient=table, pickle, as the
engine's formats), and data no later step reads is dropped, as the engine does. No
validation, no plan, no atomic rename; ``--fsync`` adds the engine's durability (fsync of
every file and its folder).

Usage: ``python benchmarks/plain_demo.py --project DIR --out DIR [--case-file FILE] [--fsync]``
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import logging
import os
import pickle
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from plain_quality import (
    SOURCE_CHECKS,
    CheckFailed,
    Result,
    profile,
    results_table,
    signal_quality,
    stop_on_errors,
)

EXTENSIONS = {
    "parquet": ".parquet",
    "feather": ".feather",
    "csv": ".csv",
    "json": ".json",
    "pickle": ".pkl",
}
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"  # as config/logging.yaml


def default_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )


def write(value: Any, fmt: str, path: Path) -> None:
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pandas(value), path, compression="zstd")
    elif fmt == "feather":
        frame = value if default_index(value) else value.reset_index()
        frame.to_feather(path, compression="lz4")
    elif fmt == "csv":
        value.to_csv(path, index=not default_index(value))
    elif fmt == "json" and isinstance(value, pd.DataFrame):
        value.to_json(path, orient="table", index=not default_index(value), indent=1)
    elif fmt == "json":
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(value, fh, indent=1, allow_nan=False)
            fh.write("\n")
    elif fmt == "pickle":
        with open(path, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)


def read(fmt: str, path: Path) -> Any:
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "feather":
        return pd.read_feather(path)
    if fmt == "csv":
        return pd.read_csv(path)
    if fmt == "json":
        return pd.read_json(path, orient="table")
    with open(path, "rb") as fh:
        return pickle.load(fh)


def fsync(path: Path) -> None:
    for target in (path, path.parent):
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Store:
    """Every dataset of the run by source name: read lazily, written (and checked) when set."""

    def __init__(
        self,
        formats: Mapping[str, str],
        inputs: Mapping[str, Path],
        out: Path,
        *,
        durable: bool,
        checks: Mapping[str, Callable[..., list[Result]]] | None = None,
    ) -> None:
        self.formats = formats
        self.inputs = inputs
        self.out = out
        self.durable = durable
        self.checks = checks or {}
        self.data: dict[str, Any] = {}
        self.results: list[Result] = []
        self.step = ""

    def get(self, name: str) -> Any:
        if name not in self.data:
            self.data[name] = read(self.formats[name], self.inputs[name])
        return self.data[name]

    def set(self, name: str, value: Any) -> None:
        fmt = self.formats[name]
        if fmt != "memory":
            path = self.out / f"{name}{EXTENSIONS[fmt]}"
            write(value, fmt, path)
            if self.durable:
                fsync(path)
        self.data[name] = value
        if name in self.checks:
            found = self.checks[name](value, step=self.step)
            self.results += found
            stop_on_errors(found)


class Ports(dict[str, Any]):
    """What a plugin sees: its port names, mapped to the store's source names."""

    def __init__(self, store: Store, ports: Mapping[str, str]) -> None:
        super().__init__()
        self.store = store
        self.ports = ports

    def __getitem__(self, port: str) -> Any:
        return self.store.get(self.ports[port])

    def __setitem__(self, port: str, value: Any) -> None:
        self.store.set(self.ports[port], value)

    def __contains__(self, port: object) -> bool:
        return port in self.ports

    def __iter__(self) -> Iterator[str]:
        return iter(self.ports)


@dataclass(frozen=True)
class Step:
    """One step: what it runs on its ports, and which source each port names."""

    name: str
    run: Callable[[Ports], None]
    ports: Mapping[str, str]


def plugin_classes(modules: Path, wanted: set[str]) -> dict[str, type]:
    """Import the modules of ``modules`` that define the ``wanted`` classes."""
    found: dict[str, type] = {}
    for path in sorted(modules.glob("*.py")):
        defined = {
            node.name for node in ast.parse(path.read_text()).body if isinstance(node, ast.ClassDef)
        }
        if not defined & wanted:
            continue
        spec = importlib.util.spec_from_file_location(f"plain_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        found.update({name: getattr(module, name) for name in defined & wanted})
    missing = wanted - set(found)
    if missing:
        raise SystemExit(f"plugin(s) {', '.join(sorted(missing))} not found in {modules}")
    return found


def plugin_step(
    plugin: type,
    params: Mapping[str, Any],
    name: str,
    mapping: Mapping[str, str] | None = None,
) -> Step:
    """A step running ``plugin`` with ``params``; ``mapping`` renames its ports."""
    declared = (
        plugin.input_ports(params)  # type: ignore[attr-defined]
        if hasattr(plugin, "input_ports")
        else plugin.inputs  # type: ignore[attr-defined]
    )
    names = {**declared, **plugin.outputs}  # type: ignore[attr-defined]
    ports = {port: (mapping or {}).get(port, port) for port in names}

    def run(hub: Ports) -> None:
        plugin(params=params, step=name).run(hub)

    return Step(name, run, ports)


def run(steps: list[Step], store: Store) -> None:
    """Run ``steps`` in order, dropping each dataset after its last use."""
    last_use = {source: i for i, step in enumerate(steps) for source in step.ports.values()}
    for position, step in enumerate(steps):
        store.step = step.name
        step.run(Ports(store, step.ports))
        if position < len(steps) - 1:
            for source in [s for s in step.ports.values() if last_use[s] == position]:
                store.data.pop(source, None)


# -- a case file (the derived case: the framework-alone baseline) -------------------------


def case_steps(project: Path, case: dict[str, Any]) -> list[Step]:
    steps = case["pipeline"]
    classes = plugin_classes(project / "modules", {step["plugin"] for step in steps})
    return [
        plugin_step(
            classes[step["plugin"]],
            step.get("params") or {},
            step.get("name") or step["plugin"],
            {**(step.get("inputs") or {}), **(step.get("outputs") or {})},
        )
        for step in steps
    ]


def case_store(project: Path, case: dict[str, Any], out: Path, *, durable: bool) -> Store:
    sources = case["data_sources"]
    return Store(
        {name: spec["format"] for name, spec in sources.items()},
        {name: project / spec["path"] for name, spec in sources.items() if "path" in spec},
        out,
        durable=durable,
    )


# -- the shipped demo by hand ----------------------------------------------------------

RAW = Path("data") / "raw" / "drive"
DEMO_INPUTS = {
    "wheel_speed_raw": RAW / "wheel_speed.parquet",
    "imu_raw": RAW / "imu.parquet",
    "gps_raw": RAW / "gps.parquet",
}
DEMO_FORMATS = {
    **dict.fromkeys(DEMO_INPUTS, "parquet"),
    **dict.fromkeys(("wheel", "imu", "gps"), "feather"),
    **dict.fromkeys(("aligned", "clean", "features", "quality_results"), "parquet"),
    **dict.fromkeys(("profile", "events"), "csv"),
    "report": "json",
}
DEMO_PLUGINS = {
    "InitialDataReader",
    "SignalAligner",
    "SignalCleaner",
    "FeatureDeriver",
    "EventDetector",
    "ReportWriter",
}


def demo_steps(project: Path) -> list[Step]:
    """The pipeline of cases/demo/case.yaml: its plugins with its params, and the
    quality gate and the profiler written by hand."""
    classes = plugin_classes(project / "modules", DEMO_PLUGINS)

    def plugin(name: str, **params: Any) -> Step:
        return plugin_step(classes[name], params, name)

    def gate(hub: Ports) -> None:
        found = signal_quality(hub["wheel_speed_raw"], hub["imu_raw"], hub["aligned"])
        hub.store.results += found
        stop_on_errors(found)

    def profiler(hub: Ports) -> None:
        hub["profile"] = profile(hub["data"])

    gate_reads = ("wheel_speed_raw", "imu_raw", "aligned")
    return [
        plugin("InitialDataReader", wheel_radius_m=0.31),
        plugin("SignalAligner", rate_hz=20.0),
        Step("signal_quality", gate, {name: name for name in gate_reads}),
        plugin("SignalCleaner"),
        Step("DataProfiler", profiler, {"data": "clean", "profile": "profile"}),
        plugin("FeatureDeriver"),
        plugin("EventDetector", hard_brake_mps2=4.0),
        plugin("ReportWriter"),
    ]


def run_demo(project: Path, out: Path, *, durable: bool) -> Store:
    """Run the demo by hand; the check results go to ``quality_results.parquet`` also
    when a check stops the run."""
    inputs = {name: project / path for name, path in DEMO_INPUTS.items()}
    store = Store(DEMO_FORMATS, inputs, out, durable=durable, checks=SOURCE_CHECKS)
    try:
        run(demo_steps(project), store)
    finally:
        if store.results:
            write(results_table(store.results), "parquet", out / "quality_results.parquet")
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--case-file",
        type=Path,
        help="run this case (own plugins, formats spelled out) instead of the demo by hand",
    )
    parser.add_argument("--fsync", action="store_true", help="fsync every file and its folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, datefmt="%H:%M:%S")
    project, out = args.project.resolve(), args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    try:
        if args.case_file is None:
            store = run_demo(project, out, durable=args.fsync)
        else:
            case = yaml.safe_load(args.case_file.read_text(encoding="utf-8"))
            store = case_store(project, case, out, durable=args.fsync)
            run(case_steps(project, case), store)
    except CheckFailed as exc:
        for line in str(exc).splitlines():
            logging.getLogger("plain").error("%s", line)
        return 1
    failed = sum(not r.passed for r in store.results)
    checks = f"; {len(store.results)} checks, {failed} failed" if store.results else ""
    print(f"plain run finished; in memory: {', '.join(store.data)}{checks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
