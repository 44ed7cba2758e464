"""Data Replay: replayable data pipelines built from small plugins.

Plugins import only what they need from here::

    from datareplay import BasePlugin, DataHub, Param
"""

from __future__ import annotations

from datareplay.base_plugin import BasePlugin, Param
from datareplay.data_hub import DataHub

__version__ = "0.1.0"

__all__ = ["BasePlugin", "DataHub", "Param", "__version__"]
