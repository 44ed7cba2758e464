"""Durations in check parameters: ``500ms``, ``2s``, ``1.5min``, ``1h``; a bare number is seconds.

``parse_duration`` turns what a user writes into seconds (a float), once, when the
check is validated; ``format_duration`` writes seconds back in the unit a person would
pick (``20.7s``, ``1.5h``, ``250us``). Units: ``ns``, ``us`` (or ``µs``), ``ms``, ``s``,
``min``, ``h``, ``d``. ``m`` is refused: it reads as minutes to some and as milliseconds
to others.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

# unit -> its length in seconds, exact
UNITS: dict[str, Fraction] = {
    "ns": Fraction(1, 10**9),
    "us": Fraction(1, 10**6),
    "µs": Fraction(1, 10**6),
    "ms": Fraction(1, 10**3),
    "s": Fraction(1),
    "min": Fraction(60),
    "h": Fraction(3600),
    "d": Fraction(86400),
}
_TEXT = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([^\d\s.+-][^\s]*)?\s*")
_SHOWN = ("d", "h", "min", "s", "ms", "us", "ns")
_ACCEPTED = "ns, us, ms, s, min, h, d; a bare number is seconds"


def parse_duration(value: Any) -> float:
    """Seconds in ``value``: a number (seconds) or text such as ``500ms`` or ``1.5 h``.

    Raises ValueError naming the accepted units for anything else (``5 m``, ``fast``,
    ``true``). The sign is kept: whether a negative duration makes sense is the
    parameter's business.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (e.g. 500ms, 2s, 1h; units: {_ACCEPTED})")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite duration")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration (e.g. 500ms, 2s, 1h; units: {_ACCEPTED})")
    match = _TEXT.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a duration (e.g. 500ms, 2s, 1h; units: {_ACCEPTED})")
    number, unit = match.groups()
    if unit is None:
        return float(Fraction(number))
    if unit not in UNITS:
        hint = " ('m' is ambiguous: write min or ms)" if unit == "m" else ""
        raise ValueError(f"unknown unit {unit!r} in {value!r}{hint} (units: {_ACCEPTED})")
    return float(Fraction(number) * UNITS[unit])


def format_duration(seconds: float) -> str:
    """``seconds`` in the largest unit that keeps the number at least 1 and writes it
    exactly when one does: ``20.7s``, ``1.5h``, ``61s`` (not ``1.017min``), ``1us``."""
    size = abs(seconds)
    if not math.isfinite(size):
        return "infinite" if seconds > 0 else "-infinite" if seconds < 0 else "NaN"
    if size == 0:
        return "0s"
    # 1e-6 is a hair under a microsecond in floats: compare with a relative slack
    fits = [u for u in _SHOWN if size >= float(UNITS[u]) * (1 - 1e-9)] or ["ns"]
    for unit in fits:  # the largest unit that writes the value exactly in 4 digits (61s)
        value = seconds / float(UNITS[unit])
        if math.isclose(float(f"{value:.4g}"), value, rel_tol=1e-9):
            return f"{value:.4g}{unit}"
    return f"{seconds / float(UNITS[fits[0]]):.4g}{fits[0]}"
