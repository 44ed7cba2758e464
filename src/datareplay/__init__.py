"""Data Replay: replayable data pipelines built from small plugins.

Plugins import only what they need from here::

    from datareplay import BasePlugin, DataHub, Param

The names are resolved on first use, so that ``datareplay --help`` imports nothing it
does not print.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported: the entry points start with this file

__version__ = "0.1.0"

__all__ = ["BasePlugin", "CheckResult", "DataHub", "Param", "__version__"]

_HOMES = {
    "BasePlugin": "datareplay.plugins.base",
    "Param": "datareplay.plugins.base",
    "DataHub": "datareplay.data.hub",
    "CheckResult": "datareplay.quality.evaluate",
}

if TYPE_CHECKING:
    from typing import Any

    from datareplay.data.hub import DataHub
    from datareplay.plugins.base import BasePlugin, Param
    from datareplay.quality.evaluate import CheckResult


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'datareplay' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
