"""Data quality checks: declared next to the data, evaluated on DataFrames.

``specs`` validates check declarations when configuration is loaded and ``evaluate`` runs
them, each giving a ``CheckResult``. The built-in ``QualityGate`` and ``DataProfiler``
plugins that use them live in ``datareplay.plugins.builtin.quality``. pandas and pandera
are imported only when a check runs.
"""
