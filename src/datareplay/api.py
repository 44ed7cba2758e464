"""The Python API for notebooks and scripts: the CLI's work, returning objects.

::

    from datareplay.api import load_config, open_hub, run_pipeline

    result = run_pipeline("demo", overrides={"pipeline.EventDetector.params.hard_brake_mps2": 3.5})
    result.hub["events"]                       # a DataFrame
    hub = open_hub("demo")                     # read what earlier runs persisted
    hub["features"].describe()
    config = load_config("demo", overrides=["pipeline.SignalAligner.params.rate_hz=10"])
    config.merged.origin(("pipeline", 1, "params", "rate_hz"))   # '--set ...'

``project`` defaults to the project containing the current folder. Nothing here prints or
configures logging; errors are the exceptions of ``datareplay.errors``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from datareplay.config.manager import CaseConfig
from datareplay.data.catalog import DataCatalog
from datareplay.project.paths import Project
from datareplay.run.events import Listener
from datareplay.run.runner import RunResult
from datareplay.session import CaseOptions, Session

Overrides = Mapping[str, Any] | Sequence[str] | str


_SESSIONS: dict[Path, Session] = {}


def session(project: str | Path | None = None) -> Session:
    """The session on ``project`` (default: found from the current folder upward).

    One session per project folder is kept for the life of the process, so plugin
    discovery runs once and is reused; it runs again only when a plugin file changes.
    """
    found = Project.at(Path(project)) if project is not None else Project.find()
    cached = _SESSIONS.get(found.root)
    if cached is None:
        cached = _SESSIONS[found.root] = Session(found)
    return cached


def _options(
    overrides: Overrides, params_files: Sequence[str | Path], env: str | None
) -> CaseOptions:
    if isinstance(overrides, Mapping):
        texts = tuple(f"{key}={json.dumps(value)}" for key, value in overrides.items())
    elif isinstance(overrides, str):
        texts = (overrides,)
    else:
        texts = tuple(overrides)
    return CaseOptions(env=env, params_files=tuple(Path(p) for p in params_files), overrides=texts)


def load_config(
    case: str,
    *,
    project: str | Path | None = None,
    overrides: Overrides = (),
    params_files: Sequence[str | Path] = (),
    env: str | None = None,
) -> CaseConfig:
    """The merged, validated configuration of ``case`` with the origin of every value."""
    options = _options(overrides, params_files, env)
    return session(project).config.load_case(
        case, env=options.env, params_files=options.params_files, overrides=options.overrides
    )


def open_hub(
    case: str,
    *,
    project: str | Path | None = None,
    overrides: Overrides = (),
    params_files: Sequence[str | Path] = (),
    env: str | None = None,
) -> DataCatalog:
    """The data catalog of ``case``: ``hub["name"]`` loads what earlier runs persisted.

    ``hub.status(name)``, ``hub.summary()`` and ``hub.sources`` show what is there.
    """
    opened = session(project).open_case(case, _options(overrides, params_files, env))
    return opened.hub


def run_pipeline(
    case: str,
    *,
    project: str | Path | None = None,
    overrides: Overrides = (),
    params_files: Sequence[str | Path] = (),
    env: str | None = None,
    wait: bool = False,
    listeners: Sequence[Listener] = (),
) -> RunResult:
    """Run the whole pipeline of ``case``; the result holds the run id, outcomes and data.

    ``listeners`` are called with every event of the run (``datareplay.run.events``).
    """
    return session(project).run_pipeline(
        case, _options(overrides, params_files, env), wait=wait, listeners=listeners
    )


def run_plugin(
    case: str,
    name: str,
    *,
    project: str | Path | None = None,
    overrides: Overrides = (),
    params_files: Sequence[str | Path] = (),
    env: str | None = None,
    wait: bool = False,
    listeners: Sequence[Listener] = (),
) -> RunResult:
    """Run one step of ``case`` alone from persisted inputs."""
    return session(project).run_plugin(
        case, name, _options(overrides, params_files, env), wait=wait, listeners=listeners
    )
