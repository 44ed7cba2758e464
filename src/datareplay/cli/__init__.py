"""The command line (``datareplay``, ``python run.py``): parsing, output and exit codes.

``main`` holds the commands; ``render`` draws what a run prints. Everything below the CLI
is reached through ``datareplay.session``.
"""
