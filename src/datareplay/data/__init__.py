"""Datasets: formats, atomic storage that returns what it wrote, the catalog and the hub.

``formats`` reads and writes one value to one file, ``storage`` persists a dataset
atomically and returns a ``DataRef`` (location, content hash, size, shape), ``catalog``
is the engine's view of every dataset of a run, and ``hub.DataHub`` is what a plugin
sees: its declared ports and nothing else.
"""
