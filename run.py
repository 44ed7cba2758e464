"""Run Data Replay on this project: ``python run.py --help``."""

import _signal
import os  # already loaded by the interpreter's start-up, like _signal below


def _interrupted(signum, frame):
    """Ctrl-C before the engine is loaded: the same line and exit code as later on."""
    os.write(2, b"error: interrupted; everything written before the interruption is kept\n")
    os._exit(130)


if __name__ == "__main__":
    _signal.signal(_signal.SIGINT, _interrupted)  # from the first instruction: no traceback
    # this file's folder is the project, whatever DATAREPLAY_PROJECT the shell has set
    # (--project DIR still chooses another one)
    os.environ["DATAREPLAY_PROJECT"] = os.path.dirname(os.path.realpath(__file__))

    try:
        from datareplay.__main__ import run
    except ModuleNotFoundError as exc:  # the engine (or one of its libraries) is missing
        missing = exc.name or "a module"
        what = "the engine" if missing == "datareplay" else f"'{missing}', which it needs,"
        os.write(
            2,
            f"error: Data Replay is not installed here ({what} cannot be imported by "
            f"this Python); install it with: python -m pip install -e .\n".encode(),
        )
        os._exit(2)

    run(prog_name="python run.py")
