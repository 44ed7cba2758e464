"""Reading Excel and OpenDocument workbooks (xlsx, xlsm, xls, ods) as read-only sources.

python-calamine (a Rust reader, many times faster than openpyxl) reads every one of them;
when it is not installed, openpyxl reads xlsx and xlsm. Options: ``sheet`` (name or
0-based position, default the first), ``header``, ``skiprows``, ``usecols``, ``nrows``,
``na_values`` and ``dtype``, as in ``pandas.read_excel``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def engine() -> str:
    """``calamine`` when python-calamine is importable, else ``openpyxl``."""
    import importlib.util

    return "calamine" if importlib.util.find_spec("python_calamine") else "openpyxl"


def read_excel(path: Path, options: Mapping[str, Any], *, reader: str | None = None) -> Any:
    """One sheet of the workbook at ``path`` as a DataFrame."""
    import pandas as pd

    settings = dict(options)
    sheet = settings.pop("sheet", 0)
    return pd.read_excel(path, sheet_name=sheet, engine=reader or engine(), **settings)
