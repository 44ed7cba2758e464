"""The command line (``datareplay``, ``python run.py``): parsing, output and exit codes.

``main`` holds the commands; ``render`` draws what a run prints. Everything below the CLI
is reached through ``datareplay.session``.
"""

from __future__ import annotations


def main(argv: list[str] | None = None, *, prog_name: str | None = None) -> int:
    """Run the command line and return its exit code (``datareplay.cli.main.main``).

    Kept here so that a project's ``run.py`` written as ``from datareplay.cli import
    main`` keeps working.
    """
    from datareplay.cli.main import main as run_command_line

    return run_command_line(argv, prog_name=prog_name)
