"""The demo pipeline as a plain script: the same plugin code and file I/O, no framework.

This is the baseline of the engine-overhead figure. It mirrors ``cases/demo/case.yaml``
step for step: it imports the six plugin classes from ``<project>/modules``, reads the
raw recordings with the call the parquet format uses, runs each plugin on a dict and
writes every output the moment the plugin sets it, with the exact calls of
``datareplay.formats`` (parquet zstd, feather lz4, csv, json orient=table). Data no
later step reads is dropped, as the engine does. No config, no plan, no checks, no
atomic rename; ``--fsync`` adds the engine's durability (fsync of file and folder).

Usage: ``python benchmarks/plain_demo.py --project DIR --out DIR [--fsync]``
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

# (module file, plugin class, params) in the order of cases/demo/case.yaml
STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("initial_data_reader", "InitialDataReader", {"wheel_radius_m": 0.31}),
    ("signal_aligner", "SignalAligner", {"rate_hz": 20.0}),
    ("signal_cleaner", "SignalCleaner", {}),
    ("feature_deriver", "FeatureDeriver", {}),
    ("event_detector", "EventDetector", {"hard_brake_mps2": 4.0}),
    ("report_writer", "ReportWriter", {}),
]
RAW = {
    "wheel_speed_raw": "data/raw/drive/wheel_speed.parquet",
    "imu_raw": "data/raw/drive/imu.parquet",
    "gps_raw": "data/raw/drive/gps.parquet",
}
OUTPUT_FORMATS = {
    "wheel": "feather",
    "imu": "feather",
    "gps": "feather",
    "aligned": "parquet",
    "clean": "parquet",
    "features": "parquet",
    "events": "csv",
    "report": "json",
}
EXTENSIONS = {"parquet": ".parquet", "feather": ".feather", "csv": ".csv", "json": ".json"}
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def default_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )


def write(frame: pd.DataFrame, fmt: str, path: Path) -> None:
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pandas(frame), path, compression="zstd")
    elif fmt == "feather":
        feather.write_feather(
            frame if default_index(frame) else frame.reset_index(), path, compression="lz4"
        )
    elif fmt == "csv":
        frame.to_csv(path, index=not default_index(frame))
    else:
        frame.to_json(path, orient="table", index=not default_index(frame), indent=1)


def fsync(path: Path) -> None:
    for target, flags in ((path, os.O_RDONLY), (path.parent, os.O_RDONLY)):
        fd = os.open(target, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class WritingDict(dict[str, Any]):
    """A dict that reads raw inputs on first use and writes each output when it is set."""

    def __init__(self, project: Path, out: Path, *, durable: bool) -> None:
        super().__init__()
        self.project = project
        self.out = out
        self.durable = durable

    def __missing__(self, name: str) -> Any:
        """Raw recordings are read on first access, as the DataHub loads lazily."""
        if name not in RAW:
            raise KeyError(name)
        frame = pq.read_table(self.project / RAW[name]).to_pandas()
        dict.__setitem__(self, name, frame)
        return frame

    def __setitem__(self, name: str, value: Any) -> None:
        fmt = OUTPUT_FORMATS.get(name)
        if fmt is not None:
            path = self.out / f"{name}{EXTENSIONS[fmt]}"
            write(value, fmt, path)
            if self.durable:
                fsync(path)
        super().__setitem__(name, value)


def load_plugin(modules: Path, module: str, name: str) -> type:
    spec = importlib.util.spec_from_file_location(f"plain_{module}", modules / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded
    spec.loader.exec_module(loaded)
    plugin: type = getattr(loaded, name)
    return plugin


def run(project: Path, out: Path, *, durable: bool) -> WritingDict:
    out.mkdir(parents=True, exist_ok=True)
    plugins = [(load_plugin(project / "modules", m, n), p) for m, n, p in STEPS]
    last_use: dict[str, int] = {}
    for position, (plugin, _) in enumerate(plugins):
        for name in [*plugin.inputs, *plugin.outputs]:  # type: ignore[attr-defined]
            last_use[name] = position
    data = WritingDict(project, out, durable=durable)
    for position, (plugin, params) in enumerate(plugins):
        plugin(params=params).run(data)
        if position < len(plugins) - 1:
            for name in [n for n, last in last_use.items() if last == position and n in data]:
                del data[name]
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fsync", action="store_true", help="fsync every file and its folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, datefmt="%H:%M:%S")
    data = run(args.project.resolve(), args.out.resolve(), durable=args.fsync)
    print(f"plain demo finished: {len(STEPS)} steps; {', '.join(sorted(data))} in memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
