"""The project's raw-data generator: ``scripts/generation.py`` with a ``generate`` function.

``generate(root, *, rows, seed) -> list[Path]`` must clean and rewrite the project's raw
recordings deterministically. The engine calls it for ``generate-data`` and, when a case's
raw inputs under ``data.raw_root`` are missing, before running the pipeline. Extra keyword
options (``faults=True``: also write the recording with injected faults) are passed only
when the generator accepts them.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datareplay.errors import UsageError, describe_exception
from datareplay.project.paths import Project

GENERATOR = Path("scripts") / "generation.py"
DEFAULT_ROWS = 100_000
DEFAULT_SEED = 42


def generator_path(project: Project) -> Path:
    return project.root / GENERATOR


def load_generator(project: Project) -> Callable[..., list[Path]]:
    """Import ``scripts/generation.py`` of the project and return its ``generate``."""
    path = generator_path(project)
    if not path.is_file():
        raise UsageError(
            f"this project has no {GENERATOR}; add one with a generate(root, *, rows, seed) "
            "function to use generate-data"
        )
    spec = importlib.util.spec_from_file_location("datareplay_project_generation", path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{GENERATOR} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UsageError(f"{GENERATOR} failed to import: {describe_exception(exc)}") from exc
    generate: Any = getattr(module, "generate", None)
    if not callable(generate):
        raise UsageError(f"{GENERATOR} has no generate(root, *, rows, seed) function")
    return generate  # type: ignore[no-any-return]


def generate_data(
    project: Project, *, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, **options: Any
) -> list[Path]:
    """Clean and regenerate the project's raw data; returns the files written."""
    generate = load_generator(project)
    accepted = inspect.signature(generate).parameters
    extra = {k: v for k, v in options.items() if k in accepted}
    return list(generate(project.root, rows=rows, seed=seed, **extra))
