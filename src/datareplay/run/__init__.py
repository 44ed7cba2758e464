"""Running a plan: steps as plain data, their execution, the runner and its events.

``step`` defines the picklable ``StepSpec`` and ``StepOutcome``, ``execute`` runs one
step (in this process or a fresh one), ``runner`` drives a plan and emits the typed
events of ``events``; ``listeners`` turn those events into log lines and stored results.
"""
