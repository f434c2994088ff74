"""The Celery task name of the rule sweep (``tasks/automation.py``)."""

SWEEP = "automation.sweep"
