"""Automation rules (seed 001 ``automation_rules``): a trigger (an event type with a condition
on its data, or a schedule) and an action (run an agent, start a workflow, send a
communication). The sweep (``automation.sweep``, Celery beat) fires them from the events the
worker writes and from their schedules, exactly once per trigger, refusing chains of firings
deeper than ``automation_max_depth``; every firing is an event and an audit row."""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "conditions": ["InvalidCondition", "matches", "parse_condition"],
        "schedules": ["InvalidSchedule", "parse_schedule"],
        "definition": ["InvalidRule", "RuleDefinition", "parse_rule"],
        "store": [
            "RuleView",
            "SavedRule",
            "StoredRule",
            "UnknownRule",
            "active_rules",
            "get_rule",
            "list_rules",
            "save_rule",
        ],
        "firing": ["Fired", "Trigger", "fire"],
        "sweep": ["SweepReport", "sweep"],
        "preview": ["Preview", "WouldFire", "preview_rule"],
        "task_names": ["SWEEP"],
    },
)
