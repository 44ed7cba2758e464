"""Run the engine's command line in this process, with content hashing on or off.

Usage::

    python benchmarks/engine_cli.py --project DIR --hash on  --stats OUT.json -- ARG ...
    python benchmarks/engine_cli.py --project DIR --hash off --stats OUT.json -- ARG ...
    python benchmarks/engine_cli.py --project DIR --gc off -- ARG ...

``ARG ...`` are the command line's own arguments (``pipeline --case demo``), run exactly
as ``python run.py ARG ...`` runs them (same ``main``, same ``prog_name``, the project's
``config/logging.yaml``). The engine is whatever ``import datareplay`` finds: the
benchmark's snapshot, through PYTHONPATH.

``--hash on`` keeps ``datareplay.data.storage.hash_file`` and wraps it to count the
calls, the bytes hashed and the time spent in it (two ``perf_counter`` calls per
write); ``--hash off`` replaces it with a function that returns ``("", size)`` from
``os.stat``, so every write still returns its size but no byte is read back. Both
sides go through this same launcher, so they import and start alike. The counts go to
``--stats`` as JSON when the command has finished. Without ``--hash`` the engine's
``hash_file`` is left alone.

``--fidelity off`` switches off what keeps a step's reads exactly what was written:
the formats' "can this format hold the value exactly" check (``fidelity.check``) and
the catalog's per-reader views, write snapshots and read-only buffers (``views``); the
values then pass through unchanged. It measures what those guards cost a run.

``--gc off`` disables Python's cyclic garbage collector for the whole process before
the engine is imported: a diagnostic for how much of a cost is the collector's.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _no_hash(path: Path) -> tuple[str, int]:
    return "", os.stat(path).st_size


def _patch_hash_file(stats: dict[str, Any], *, on: bool) -> None:
    """Count (on) or skip (off) every ``hash_file`` call of the engine's storage."""
    import datareplay.data.storage as storage

    real = storage.hash_file

    def counted(path: Path) -> tuple[str, int]:
        started = time.perf_counter()
        found = real(path)
        stats["seconds"] += time.perf_counter() - started
        stats["calls"] += 1
        stats["bytes"] += found[1]
        return found

    def skipped(path: Path) -> tuple[str, int]:
        found = _no_hash(path)
        stats["calls"] += 1
        stats["bytes"] += found[1]
        return found

    storage.hash_file = counted if on else skipped


def _skip_fidelity_guards() -> None:
    """Replace the fidelity check and the catalog's views by pass-throughs."""
    import datareplay.data.catalog as catalog
    import datareplay.data.fidelity as fidelity

    def unchanged(value: Any) -> Any:
        return value

    fidelity.check = lambda fmt, value: None
    catalog.reader_view = catalog.snapshot = catalog.freeze = unchanged


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--hash", choices=("on", "off", "keep"), default="keep")
    parser.add_argument("--gc", choices=("on", "off"), default="on")
    parser.add_argument("--fidelity", choices=("on", "off"), default="on")
    parser.add_argument("--stats", type=Path)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    os.environ["DATAREPLAY_PROJECT"] = str(ns.project.resolve())
    if ns.gc == "off":
        gc.disable()

    stats = {"hash": ns.hash, "calls": 0, "bytes": 0, "seconds": 0.0}
    if ns.hash != "keep":
        _patch_hash_file(stats, on=ns.hash == "on")
    if ns.fidelity == "off":
        _skip_fidelity_guards()

    from datareplay.cli.main import main as cli_main

    code: int = cli_main(args, prog_name="python run.py")
    if ns.stats is not None:
        ns.stats.write_text(json.dumps(stats), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
