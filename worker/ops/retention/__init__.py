"""Retention: seed 001's policies and our history tables' own, swept in small batches.

``policies`` holds the defaults and reads a tenant's ``system_settings`` overrides; ``sweep``
deletes (``run_retention``); ``folds`` keeps the summed figures of the fleet metrics right
while rows go. The beat job is ``tasks.maintenance.retention``; the command is
``agentworker retention``.
"""
