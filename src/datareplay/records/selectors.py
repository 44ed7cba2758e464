"""How a command line names a run: an id, a unique prefix of one, ``last`` or ``last~N``.

``last`` is the newest run (of the case, when a case is given), ``last~1`` the one before
it. An unknown or ambiguous name is a usage error (exit 2) naming the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from datareplay.errors import UnknownNameError

_LAST = re.compile(r"last(?:~(\d+))?")


def resolve_run(text: str, ids: Sequence[str], *, what: str = "run") -> str:
    """The run id ``text`` names among ``ids`` (newest first)."""
    name = text.strip()
    if not name:
        raise UnknownNameError(
            f"an empty {what} name names no run; give an id, a prefix of one, last or last~N"
        )
    if not ids:
        raise UnknownNameError(
            f"no {what} recorded yet, so '{name}' names none; run 'pipeline --case CASE' first"
        )
    last = _LAST.fullmatch(name)
    if last:
        back = int(last.group(1) or 0)
        if back >= len(ids):
            raise UnknownNameError(
                f"'{name}' goes back {back} run(s), but only {len(ids)} are recorded "
                f"(oldest: {ids[-1]})"
            )
        return ids[back]
    if name in ids:
        return name
    matches = [run_id for run_id in ids if run_id.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(matches[:5]) + (
            f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        )
        raise UnknownNameError(
            f"'{name}' is the start of {len(matches)} run ids ({shown}); give more of the id"
        )
    from datareplay.errors import did_you_mean

    hint = did_you_mean(name, ids) or f" (newest: {', '.join(ids[:3])})"
    raise UnknownNameError(f"unknown {what} '{name}'{hint}; 'runs' lists them")
