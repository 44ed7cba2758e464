"""What a step reads and what a write leaves behind: values no other step can change.

The catalog caches one value per data source and hands every reader its own
``reader_view`` of it; a write caches a ``snapshot`` of the value written. Whatever a
plugin then does to what it holds — assign or append a column, write through ``.loc``,
``.iloc``, ``.to_numpy()``, ``.values`` or ``.array``, call an ``inplace=True`` method,
replace ``.index``, ``.columns`` or ``.attrs`` — never reaches the cached value or any
other step.

- **DataFrame, Series**: a shallow copy under pandas Copy-on-Write (always on since
  pandas 3): a new object sharing the column buffers; the first change to a column
  copies that column only. Its cost is a few microseconds per column, whatever the
  number of rows. ``.to_numpy()`` and ``.values`` of shared NumPy columns are already
  read-only views under Copy-on-Write; the buffers of extension columns (nullable
  ``Int64``, ``boolean``, categoricals, datetimes), which pandas still hands out
  writable through ``.array`` (pandas issue 63099), are given to readers as read-only
  views, and copied once by ``snapshot`` so the writer's own frame stays writable.
- **NumPy arrays**: a reader gets a read-only view (``arr[0] = 1`` raises
  ``ValueError``; ``arr.copy()`` is writable); a write caches a copy.
- **dicts, lists and tuples** (json, pickle) are rebuilt level by level, their frames
  and arrays treated as above; **other objects** are cached as written and deep-copied
  (``copy.deepcopy``) for each reader, which is cheap for the small documents these
  formats usually hold (the writer itself must not change such an object after writing
  it). An object that cannot be deep-copied is shared as it is.

Strings, numbers, ``None`` and other immutable values are shared as they are. Python
objects stored *inside* an object-dtype column (a list in a cell) are shared too.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

_IMMUTABLE = (str, bytes, int, float, complex, bool, type(None), range, frozenset)


def reader_view(value: Any) -> Any:
    """A value equal to ``value`` whose changes never reach ``value`` (cheap for frames)."""
    return _isolate(value, owned=False)


def snapshot(value: Any) -> Any:
    """The value to cache for a write: later changes to ``value`` never reach it.

    A frame or Series is not copied: its NumPy buffers are made read-only in place (a
    writer that goes on changing its frame through ``.array`` gets an error instead of
    changing the cache; pandas' own operations copy first), and its extension-array
    columns, which pandas lets anyone write through, are copied once.
    """
    return _isolate(value, owned=True)


def freeze(value: Any) -> Any:
    """Make the NumPy buffers of a frame or Series read from storage read-only, in place.

    The catalog caches what it read and hands out views of it; read-only buffers stop a
    reader's write through ``.array`` from reaching the cache. No data is copied.
    """
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame | pandas.Series):
        _freeze_blocks(value)
    return value


def _freeze_blocks(value: Any) -> None:
    import numpy as np

    for block in getattr(getattr(value, "_mgr", None), "blocks", ()):
        values = getattr(block, "values", None)
        if isinstance(values, np.ndarray):
            values.flags.writeable = False


def _isolate(value: Any, *, owned: bool) -> Any:
    if isinstance(value, _IMMUTABLE):
        return value
    pandas = sys.modules.get("pandas")  # a pandas object implies pandas is imported
    if pandas is not None and isinstance(value, pandas.DataFrame | pandas.Series):
        return _pandas_view(value, owned=owned)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            array = value.copy() if owned else value.view()
            array.flags.writeable = False
            return array
        if isinstance(value, numpy.generic):
            return value
    if type(value) is dict:
        return {key: _isolate(item, owned=owned) for key, item in value.items()}
    if type(value) is list:
        return [_isolate(item, owned=owned) for item in value]
    if type(value) is tuple:
        return tuple(_isolate(item, owned=owned) for item in value)
    if owned:  # deep-copying at write time would run the object's pickling hooks twice
        return value
    try:
        return copy.deepcopy(value)
    except Exception:  # an object that cannot be copied (a lock, a connection) is shared
        return value


def _pandas_view(value: Any, *, owned: bool) -> Any:
    """A Copy-on-Write shallow copy whose extension-array buffers cannot be written.

    A reader's read-only extension array keeps the block it came from alive, so pandas
    goes on seeing the buffer as shared and copies it on the reader's first change, even
    after the catalog let go of the value (a read-only buffer pandas believed unshared
    would be written in place and refuse).
    """
    import numpy as np

    if owned:  # the writer hands the value over: its NumPy buffers become read-only
        _freeze_blocks(value)
    view = value.copy(deep=False)
    if not owned:  # keep the cached value's blocks alive, so pandas copies on a change
        object.__setattr__(view, "_datareplay_origin", value)
    blocks = list(getattr(getattr(view, "_mgr", None), "blocks", ()))
    origins = list(getattr(getattr(value, "_mgr", None), "blocks", ()))
    if len(origins) != len(blocks):
        origins = [None] * len(blocks)
    for block, origin in zip(blocks, origins, strict=True):
        values = getattr(block, "values", None)
        if values is None or isinstance(values, np.ndarray) or not hasattr(values, "_readonly"):
            continue
        protected = values.copy() if owned else values.view()
        protected._readonly = True
        if not owned:
            protected._datareplay_origin = origin
        block.values = protected
    return view
