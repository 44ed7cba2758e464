"""station-load: the Kedro side of Data Replay's Kedro comparison."""

__version__ = "0.1"
