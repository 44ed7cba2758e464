"""Run Data Replay on this project: ``python run.py --help``."""

import os
import sys
from pathlib import Path

from datareplay.cli.main import main

if __name__ == "__main__":
    os.environ.setdefault("DATAREPLAY_PROJECT", str(Path(__file__).resolve().parent))
    sys.exit(main(prog_name="python run.py"))
