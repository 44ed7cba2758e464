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

    from datareplay.__main__ import run

    run(prog_name="python run.py")
