"""Named fault points: crash tests kill a worker at exactly one durable boundary
(CONVENTIONS 14).

``AGENTWORKER_FAULT_POINT=NAME`` (or ``NAME:N`` for the N-th time the point is reached in this
process) makes ``fault_point(NAME)`` SIGKILL the process. Unset in production: then a fault
point is one comparison. ``POINTS`` lists every point, in the order work meets them; the fault
campaign (tests/e2e/test_fault_campaign.py) kills a worker at each.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

#: A foreign submission (the full request, no task row yet) received, its row not written.
AFTER_SUBMISSION_RECEIVED = "after_submission_received"
AFTER_TASK_CLAIMED = "after_task_claimed"
AFTER_LLM_REPLY_RECEIVED = "after_llm_reply_received"  # before the reply is persisted
AFTER_LLM_CALL_PERSISTED = "after_llm_call_persisted"
AFTER_TOOL_STARTED = "after_tool_started"  # its call recorded, the tool about to act
AFTER_TOOL_RETURNED = "after_tool_returned"  # before its result is persisted
AFTER_TOOL_RESULT_PERSISTED = "after_tool_result_persisted"
AFTER_STEP_PERSISTED = "after_step_persisted"  # a workflow step's result written
AFTER_DECISION_COMMITTED = "after_decision_committed"  # before its wake-up is published
AFTER_ADVANCE_COMMITTED = "after_advance_committed"  # before its messages are published

POINTS = (
    AFTER_SUBMISSION_RECEIVED,
    AFTER_TASK_CLAIMED,
    AFTER_LLM_REPLY_RECEIVED,
    AFTER_LLM_CALL_PERSISTED,
    AFTER_TOOL_STARTED,
    AFTER_TOOL_RETURNED,
    AFTER_TOOL_RESULT_PERSISTED,
    AFTER_STEP_PERSISTED,
    AFTER_DECISION_COMMITTED,
    AFTER_ADVANCE_COMMITTED,
)

#: Read once per process: fault points are for crash tests, which start fresh processes.
_FROM_ENVIRONMENT = os.environ.get("AGENTWORKER_FAULT_POINT") or None

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def fault_point(name: str, configured: str | None = _FROM_ENVIRONMENT) -> None:
    """SIGKILL this process if ``configured`` (``NAME`` or ``NAME:N``) names this point and
    this is its N-th hit."""
    if not configured:
        return
    target, _, nth = configured.partition(":")
    if target != name:
        return
    with _lock:
        _hits[name] += 1
        if _hits[name] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
