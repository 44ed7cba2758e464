"""``python -m datareplay`` runs the command line."""

from datareplay.cli.main import run

run()
