"""Plugins shipped with the framework, registered through the ``datareplay.plugins`` entry point."""
