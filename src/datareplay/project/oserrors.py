"""One-line errors for a file-system operation that failed: what, on which file, and why.

A full disk, a file-size limit or an I/O error is a failure of the run (exit 1); a
missing permission, a read-only file system, a symbolic link or a file where a folder
belongs is something the user can fix before anything runs (exit 2).
"""

from __future__ import annotations

import errno

from datareplay.errors import DataReplayError, PersistenceError, UsageError

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_USER_CAN_FIX = {
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ELOOP,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENOENT,
    errno.EEXIST,
    errno.ENOTEMPTY,
}


def os_error(exc: OSError, what: str, *, kept: str = "") -> DataReplayError:
    """The error to raise when ``what`` (e.g. "cannot create the lock file X") hit ``exc``.

    ``kept`` says what is left untouched ("the previous recording is kept").
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    tail = f"; {kept}" if kept else ""
    if exc.errno in _NO_SPACE:
        return PersistenceError(f"{what}: {reason}{tail}; free some space and run again")
    if exc.errno in _USER_CAN_FIX:
        return UsageError(f"{what}: {reason}{tail}")
    return PersistenceError(f"{what}: {reason}{tail}")
