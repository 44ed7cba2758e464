"""Data quality: checks declared next to the data, a gate step and a profiling step.

``specs`` validates check declarations when configuration is loaded, ``evaluate`` runs
them on DataFrames, and ``plugins`` holds the built-in ``QualityGate`` and
``DataProfiler``, registered through the ``datareplay.plugins`` entry point like any
third-party plugin. pandas and pandera are imported only when a check runs.
"""
