"""``python -m datareplay`` runs the command line."""

from datareplay.cli import run

run()
