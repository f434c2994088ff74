"""Named fault points: crash tests kill a worker at exactly one moment (CONVENTIONS 14).

``AGENTWORKER_FAULT_POINT=NAME`` (or ``NAME:N`` for the N-th time the point is reached in this
process) makes ``fault_point(NAME)`` SIGKILL the process. Unset in production: then a fault
point is a dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

AFTER_LLM_CALL_PERSISTED = "after_llm_call_persisted"
AFTER_TOOL_RESULT_PERSISTED = "after_tool_result_persisted"
AFTER_TASK_CLAIMED = "after_task_claimed"
AFTER_STEP_PERSISTED = "after_step_persisted"

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def fault_point(name: str, configured: str | None) -> None:
    if not configured:
        return
    target, _, nth = configured.partition(":")
    if target != name:
        return
    with _lock:
        _hits[name] += 1
        if _hits[name] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
