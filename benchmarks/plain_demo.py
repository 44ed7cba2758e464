"""A case run as a plain script: the same plugin code and file I/O, no framework.

This is the baseline of the engine-overhead figure. It reads a case.yaml that names
every data source's format and path explicitly (the benchmark writes one, derived from
the demo case, with the project's own plugins only), imports the plugin classes from
``<project>/modules``, and runs the steps in order on plain dicts: an input is read on
first use with the call the format uses (as the data catalog loads lazily), every output is
written the moment the plugin sets it with the exact calls of ``datareplay.data.formats``
(parquet zstd, feather lz4, csv, json orient=table, pickle), and data no later step
reads is dropped, as the engine does. No validation, no plan, no checks, no atomic
rename; ``--fsync`` adds the engine's durability (fsync of every file and its folder).

Usage: ``python benchmarks/plain_demo.py --project DIR --case-file FILE --out DIR [--fsync]``
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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import yaml

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
        feather.write_feather(frame, path, compression="lz4")
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
        return pq.read_table(path).to_pandas()
    if fmt == "feather":
        return feather.read_feather(path)
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
    """Every dataset of the run by source name: read lazily, written when set."""

    def __init__(self, sources: Mapping[str, Any], project: Path, out: Path, durable: bool):
        self.formats = {name: spec["format"] for name, spec in sources.items()}
        self.inputs = {
            name: project / spec["path"] for name, spec in sources.items() if "path" in spec
        }
        self.out = out
        self.durable = durable
        self.data: dict[str, Any] = {}

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


def ports(declared: Mapping[str, str], mapping: Mapping[str, str] | None) -> dict[str, str]:
    return {port: (mapping or {}).get(port, port) for port in declared}


def run(project: Path, case: dict[str, Any], out: Path, *, durable: bool) -> Store:
    out.mkdir(parents=True, exist_ok=True)
    steps = case["pipeline"]
    classes = plugin_classes(project / "modules", {step["plugin"] for step in steps})
    plan = []
    for step in steps:
        plugin = classes[step["plugin"]]
        params = step.get("params") or {}
        declared = (
            plugin.input_ports(params)  # type: ignore[attr-defined]
            if hasattr(plugin, "input_ports")
            else plugin.inputs  # type: ignore[attr-defined]
        )
        reads = ports(declared, step.get("inputs"))
        writes = ports(plugin.outputs, step.get("outputs"))  # type: ignore[attr-defined]
        plan.append((plugin, params, step.get("name") or step["plugin"], {**reads, **writes}))
    last_use = {name: i for i, (*_, used) in enumerate(plan) for name in used.values()}
    store = Store(case["data_sources"], project, out, durable)
    for position, (plugin, params, name, used) in enumerate(plan):
        plugin(params=params, step=name).run(Ports(store, used))
        if position < len(plan) - 1:
            for source in [s for s in used.values() if last_use[s] == position]:
                store.data.pop(source, None)
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--case-file", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fsync", action="store_true", help="fsync every file and its folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, datefmt="%H:%M:%S")
    case = yaml.safe_load(args.case_file.read_text(encoding="utf-8"))
    store = run(args.project.resolve(), case, args.out.resolve(), durable=args.fsync)
    print(f"plain run finished: {len(case['pipeline'])} steps; in memory: {', '.join(store.data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
