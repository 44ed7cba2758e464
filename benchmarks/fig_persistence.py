"""Figure 4, persistence: save and load per format, as a plugin does, vs the raw calls.

For each format one frame is saved the way a plugin writes an output: through the
step's ``DataHub`` over a fresh ``DataCatalog`` (``hub["d"] = frame``; the catalog's
storage writes a temporary file, hashes it (xxh3_128), fsyncs it, renames it over the
target and fsyncs the folder), and loaded through a fresh catalog's hub (``hub["d"]``),
alternating with the plain pyarrow/pandas calls a script would make, on the same data into
the same folder. Throughput is the frame's in-memory size per second. Two limits frame
the figures: the disk (writing the same number of bytes, then fsync) and memory
bandwidth (a numpy copy of a buffer of that size).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plain_demo
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
from benchlib import (
    Figure,
    Row,
    Scale,
    Stat,
    alternate,
    judge,
    megabytes,
    number,
    ratio,
    say,
    timed,
)

TARGET = 0.9
CHUNK = 16 << 20
FORMATS = ("parquet", "feather", "csv", "json", "pickle")
TEXT_FORMATS = ("csv", "json")


def make_frame(rows: int) -> pd.DataFrame:
    """A recording-like table: time, four noisy float signals, a counter and a flag."""
    rng = np.random.default_rng(7)
    t = np.arange(rows) * 0.01
    frame = {"t_s": t}
    for i, name in enumerate(("fl", "fr", "rl", "rr")):
        frame[name] = 30 + 10 * np.sin(t / (50 + i)) + rng.normal(0, 0.3, rows)
    frame["sample"] = np.arange(rows, dtype=np.int64)
    frame["valid"] = rng.random(rows) > 0.01
    return pd.DataFrame(frame)


def frame_bytes(frame: pd.DataFrame) -> int:
    return int(frame.memory_usage(index=True, deep=True).sum())


# -- the plain library calls a script would make (datareplay/data/formats.py adds its
# fidelity metadata to parquet and feather, and its own codec to json) ----------------


def _raw_save(fmt: str, frame: pd.DataFrame, path: Path) -> None:
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pandas(frame), path, compression="zstd")
    elif fmt == "feather":
        feather.write_feather(frame, path, compression="lz4")
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "json":
        frame.to_json(path, orient="table", index=False, indent=1)
    else:
        with open(path, "wb") as fh:
            pickle.dump(frame, fh, protocol=pickle.HIGHEST_PROTOCOL)


# -- the engine's side: a step's DataHub over a DataCatalog ---------------------------


def _hub(fmt: str, path: Path, root: Path) -> Any:
    """The DataHub a step with the one port ``d`` (read and written) receives."""
    from datareplay.data.catalog import DataCatalog
    from datareplay.data.formats import FORMATS as ENGINE_FORMATS
    from datareplay.data.source import DataSource

    catalog = DataCatalog({"d": DataSource("d", ENGINE_FORMATS[fmt], path)}, project_root=root)
    return catalog.hub("bench", reads={"d": "d"}, writes={"d": "d"})


def _hub_save(fmt: str, frame: pd.DataFrame, path: Path, root: Path) -> None:
    _hub(fmt, path, root)["d"] = frame


def _hub_load(fmt: str, path: Path, root: Path) -> Any:
    return _hub(fmt, path, root)["d"]


# -- measurements ----------------------------------------------------------------------


@dataclass
class FormatResult:
    fmt: str
    rows: int
    nbytes: int
    file_bytes: int
    save: dict[str, list[float]]
    load: dict[str, list[float]]

    def mbps(self, seconds: list[float]) -> float:
        return self.nbytes / Stat.of(seconds).median / 1e6


def _timer(fn: Callable[[], object]) -> Callable[[], float]:
    return lambda: timed(fn)


def measure_format(fmt: str, frame: pd.DataFrame, folder: Path, reps: int) -> FormatResult:
    folder.mkdir(parents=True)
    ext = {"pickle": ".pkl"}.get(fmt, f".{fmt}")
    hub_path, raw_path, durable_path = (folder / f"{k}{ext}" for k in ("hub", "raw", "durable"))

    def durable_save() -> None:
        _raw_save(fmt, frame, durable_path)
        plain_demo.fsync(durable_path)

    save = {
        "hub": _timer(lambda: _hub_save(fmt, frame, hub_path, folder)),
        "raw": _timer(lambda: _raw_save(fmt, frame, raw_path)),
        "raw+fsync": _timer(durable_save),
    }
    load = {
        "hub": _timer(lambda: _hub_load(fmt, hub_path, folder)),
        "raw": _timer(lambda: plain_demo.read(fmt, raw_path)),
    }
    alternate(save, 1, settle=os.sync)  # warm-up, and the files the loads read
    saves = alternate(save, reps, settle=os.sync)
    alternate(load, 1, settle=os.sync)
    loads = alternate(load, reps, settle=os.sync)
    _check_roundtrip(fmt, frame, hub_path, folder)
    return FormatResult(fmt, len(frame), frame_bytes(frame), hub_path.stat().st_size, saves, loads)


def _check_roundtrip(fmt: str, frame: pd.DataFrame, path: Path, root: Path) -> None:
    loaded = _hub_load(fmt, path, root)
    if loaded.shape != frame.shape:
        raise AssertionError(f"{fmt}: loaded {loaded.shape}, saved {frame.shape}")


def replace_pattern(frame: pd.DataFrame, folder: Path, reps: int) -> Stat:
    """Throughput of writing a new file beside the old version and renaming it over
    (what every atomic replace does; no fsync) ÷ that of overwriting in place."""
    folder.mkdir(parents=True)
    target = folder / "replace.feather"
    inplace = folder / "inplace.feather"

    def beside() -> None:
        tmp = folder / "replace.feather.tmp"
        _raw_save("feather", frame, tmp)
        os.replace(tmp, target)

    variants = {
        "beside": _timer(beside),
        "in place": _timer(lambda: _raw_save("feather", frame, inplace)),
    }
    alternate(variants, 1, settle=os.sync)
    times = alternate(variants, reps, settle=os.sync)
    return ratio(times["in place"], times["beside"])


def disk_limit(nbytes: int, folder: Path, reps: int) -> Stat:
    """MB/s of writing ``nbytes`` in 16 MiB chunks, then fsync of file and folder."""
    chunk = np.random.default_rng(1).integers(0, 255, CHUNK, dtype=np.uint8).tobytes()
    path = folder / "disk.bin"

    def write() -> None:
        with open(path, "wb") as fh:
            left = nbytes
            while left > 0:
                fh.write(chunk[: min(left, CHUNK)])
                left -= CHUNK
        plain_demo.fsync(path)

    alternate({"disk": _timer(write)}, 1)
    seconds = alternate({"disk": _timer(write)}, reps, settle=os.sync)["disk"]
    path.unlink()
    return Stat.of(nbytes / s / 1e6 for s in seconds)


def hash_rate(path: Path, reps: int) -> Stat:
    """MB/s of the engine's ``hash_file`` (xxh3_128 in 16 MiB reads) of a file that is in
    the page cache, as every write's temporary file is when it is hashed."""
    from datareplay.data.storage import hash_file

    size = path.stat().st_size
    seconds = alternate({"hash": _timer(lambda: hash_file(path))}, reps + 1)["hash"][1:]
    return Stat.of(size / s / 1e6 for s in seconds)


def memcpy_limit(nbytes: int, reps: int) -> Stat:
    """MB/s of a numpy copy between two buffers of ``nbytes`` (both already paged in)."""
    src = np.ones(nbytes, dtype=np.uint8)
    dst = np.zeros(nbytes, dtype=np.uint8)
    seconds = alternate({"copy": _timer(lambda: np.copyto(dst, src))}, reps + 1)["copy"][1:]
    return Stat.of(nbytes / s / 1e6 for s in seconds)


def measure(scale: Scale, work: Path) -> Figure:
    folder = work / "persistence"
    frames = {scale.persist_rows: make_frame(scale.persist_rows)}
    frames.setdefault(scale.persist_text_rows, make_frame(scale.persist_text_rows))
    results = []
    for fmt in FORMATS:
        text = fmt in TEXT_FORMATS
        rows = scale.persist_text_rows if text else scale.persist_rows
        reps = scale.persist_text_reps if text else scale.persist_reps
        say(f"persistence: {fmt} at {rows:,} rows, {reps} rounds")
        results.append(measure_format(fmt, frames[rows], folder / fmt, reps))
    big = frame_bytes(frames[scale.persist_rows])
    say("persistence: the cost of writing beside the old version; disk and memcpy limits")
    beside = replace_pattern(frames[scale.persist_rows], folder / "pattern", scale.persist_reps)
    disk = disk_limit(big, folder, scale.persist_reps)
    memcpy = memcpy_limit(big, scale.persist_reps)
    hashed = max((folder / r.fmt for r in results), key=_hub_file_size)
    hashed_file = next(hashed.glob("hub.*"))
    hashing = hash_rate(hashed_file, scale.persist_reps)
    figure = Figure(
        "Persistence",
        "One frame (t_s, four float64 signals, an int64 counter, a bool flag) per format: "
        "saved as a plugin writes an output, through its step's `DataHub` over a fresh "
        "data catalog (`hub['d'] = frame`: the catalog's storage writes a temporary "
        "file, hashes it (xxh3_128), fsyncs it, renames it over the target and fsyncs "
        "the folder), and loaded through a fresh catalog's hub (`hub['d']`), alternating "
        "with the plain library calls a script would make "
        "(`pq.write_table(pa.Table.from_pandas(df), compression='zstd')`, "
        "`feather.write_feather(df, compression='lz4')`, "
        "`df.to_csv`, `df.to_json(orient='table', indent=1)`, `pickle.dump`; and their "
        "readers; the engine adds its fidelity metadata to parquet and feather and writes "
        "json through its own codec) on the same data in the same folder. Ratio = DataHub "
        "throughput ÷ raw "
        "throughput, per round (1.0 = no cost); throughput = in-memory bytes per second. "
        "`os.sync()` runs (untimed) before every operation, so none pays for write-back "
        "another one left dirty; loads read from the page cache (the files were just "
        "written).",
    )
    for result in results:
        figure.rows += _format_rows(result)
    figure.rows += [
        Row(
            f"disk limit: write {megabytes(big)} + fsync",
            disk,
            "MB/s",
            notes=f"16 MiB writes of the {scale.persist_rows:,}-row frame's size, then fsync",
        ),
        Row(f"memory limit: numpy copy of {megabytes(big)}", memcpy, "MB/s"),
        Row(
            f"content hash: `hash_file` of the {hashed.name} file "
            f"({megabytes(hashed_file.stat().st_size)})",
            hashing,
            "MB/s",
            notes="xxh3_128 in 16 MiB reads of a file in the page cache, what every save "
            "above includes (of the file's bytes, not the frame's)",
        ),
        Row(
            "feather: write beside the old version + rename ÷ overwrite in place",
            beside,
            "×",
            notes="raw calls, no fsync: what the atomic-replace pattern itself costs here "
            "(fresh page-cache pages while the old version is still cached)",
        ),
    ]
    text = scale.persist_text_rows
    figure.notes += [
        f"Rows: {scale.persist_rows:,} for parquet, feather and pickle "
        f"({megabytes(big)} in memory); {text:,} for csv and json "
        f"({megabytes(frame_bytes(frames[text]))}), whose writers and readers run at a few "
        f"MB/s. Rounds after one warm-up round: {scale.persist_reps} "
        f"(csv and json: {scale.persist_text_reps}).",
        "The raw side writes without fsync (what a plain script does); "
        '"vs raw + fsync" in the notes compares with the same durability.',
    ]
    return figure


def _hub_file_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("hub.*"))


def _format_rows(result: FormatResult) -> list[Row]:
    save = ratio(result.save["raw"], result.save["hub"])
    save_durable = ratio(result.save["raw+fsync"], result.save["hub"])
    load = ratio(result.load["raw"], result.load["hub"])
    size = f"{result.rows:,} rows, file {megabytes(result.file_bytes)}"
    return [
        Row(
            f"{result.fmt} save: DataHub ÷ raw",
            save,
            "×",
            f"≥ {TARGET}×",
            judge(save, lambda v: v >= TARGET),
            f"DataHub {number(result.mbps(result.save['hub']))} MB/s, raw "
            f"{number(result.mbps(result.save['raw']))} MB/s, raw + fsync "
            f"{number(result.mbps(result.save['raw+fsync']))} MB/s "
            f"(vs raw + fsync: {number(save_durable.median)}×); {size}",
            headline=result.fmt == "parquet",
        ),
        Row(
            f"{result.fmt} load: DataHub ÷ raw",
            load,
            "×",
            f"≥ {TARGET}×",
            judge(load, lambda v: v >= TARGET),
            f"DataHub {number(result.mbps(result.load['hub']))} MB/s, raw "
            f"{number(result.mbps(result.load['raw']))} MB/s",
            headline=result.fmt == "parquet",
        ),
    ]
