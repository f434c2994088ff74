"""The approver's view of a run's conversation (``worker.approvals.context``): its last
``MAX_MESSAGES`` messages in order, read from the run's rows, and how many came before."""

from __future__ import annotations

import sqlalchemy as sa

from models import TaskStatus
from tests.support.rows import RowFactory
from worker.approvals.context import MAX_MESSAGES, approval_context
from worker.approvals.views import get_approval


def test_the_context_shows_the_last_messages_of_the_run_in_order(engine: sa.Engine) -> None:
    total = MAX_MESSAGES + 7
    with engine.begin() as connection:
        rows = RowFactory(connection)
        task_id = rows.insert("tasks", status=TaskStatus.AWAITING_APPROVAL)
        run_id = rows.insert("agent_runs", task_id=task_id, message_count=total)
        for seq in range(1, total + 1):
            rows.insert(
                "agent_run_messages",
                run_id=run_id,
                seq=seq,
                message={"role": "user" if seq % 2 else "assistant", "content": f"m{seq}"},
            )
        approval_id = rows.insert("approvals", task_id=task_id, agent_run_id=run_id)

    view = get_approval(engine, approval_id)
    with engine.connect() as connection:
        context = approval_context(connection, view)
    assert [m.content for m in context.conversation] == [f"m{seq}" for seq in range(8, total + 1)]
    assert context.omitted_messages == 7
