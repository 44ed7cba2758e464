"""Run records: a sealed record of every run, its data versions, lineage and replay.

``store`` holds the records (the ``RunStore`` interface; ``SqliteRunStore`` is the
embedded default in ``.datareplay/runs.sqlite``), ``objects`` the content-addressed
versions of every dataset a run read or wrote (``.datareplay/objects/``), ``recorder``
the listener that writes a run's record from the runner's events, ``environment`` what
a record says of the machine, ``selectors`` how a command line names a run
(``last``, ``last~2``, an id prefix), ``compare`` the differences between two records.
"""
