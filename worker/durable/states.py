"""Every state machine, written once: its statuses, its allowed transitions, and one guarded
apply (``UPDATE … WHERE status IN (allowed sources) RETURNING …``). A transition is never a
read-modify-write in Python; no row matched means the row is elsewhere (``None``), and the
caller decides whether that is "already done" or ``InvalidTransition``.

Beyond DESIGN §4, a task or agent run may go RUNNING → PENDING / STARTED: a run that must wait
(a long ``Retry-After``) is persisted and re-published with a countdown instead of sleeping.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from models import (
    AgentRun,
    AgentRunStatus,
    AIWorkflowExecution,
    AIWorkflowStepRun,
    Approval,
    ApprovalStatus,
    BoardTask,
    BoardTaskStatus,
    ChatSession,
    ChatSessionStatus,
    ExecutionStatus,
    Interview,
    InterviewStatus,
    KnowledgeSource,
    SourceStatus,
    StepRunStatus,
    Task,
    TaskStatus,
)
from worker.core.errors import AgentWorkerError

S = TypeVar("S", bound=enum.Enum)


class InvalidTransition(AgentWorkerError):
    code = "invalid_transition"


@dataclass(frozen=True)
class StateMachine(Generic[S]):
    name: str
    table: sa.Table
    transitions: Mapping[S, frozenset[S]]

    @property
    def terminal(self) -> frozenset[S]:
        return frozenset(s for s, targets in self.transitions.items() if not targets)

    def sources(self, target: S) -> frozenset[S]:
        return frozenset(s for s, targets in self.transitions.items() if target in targets)

    def can(self, source: S, target: S) -> bool:
        return target in self.transitions[source]

    def apply(
        self, connection: sa.Connection, row_id: uuid.UUID, target: S, **options: Any
    ) -> sa.Row[Any] | None:
        """Move one row to ``target`` if its status allows it (and ``where`` holds): the
        UPDATE of ``statement`` with the same options. Returns the ``returning`` columns (or
        the id) of the moved row, or None if no row moved."""
        return connection.execute(self.statement(row_id, target, **options)).one_or_none()

    def statement(
        self,
        row_id: uuid.UUID | sa.BindParameter[Any],
        target: S,
        *,
        values: Mapping[str, Any] | None = None,
        where: Iterable[sa.ColumnElement[bool]] = (),
        sources: Iterable[S] | None = None,
        returning: Iterable[sa.ColumnElement[Any]] = (),
    ) -> sa.Update:
        """The guarded UPDATE ``apply`` runs, for a caller that embeds it in a larger
        statement (``worker.durable.journal``); ``row_id`` may be a bind parameter. ``sources``
        narrows the allowed source statuses further."""
        return self.bulk_statement(
            target,
            values=values,
            where=[self.table.c.id == row_id, *where],
            sources=sources,
            returning=returning,
        )

    def bulk_statement(
        self,
        target: S,
        *,
        where: Iterable[sa.ColumnElement[bool]],
        values: Mapping[str, Any] | None = None,
        sources: Iterable[S] | None = None,
        returning: Iterable[sa.ColumnElement[Any]] = (),
    ) -> sa.Update:
        """The guarded UPDATE that moves every row matching ``where`` (and an allowed source
        status) to ``target``; ``RETURNING`` the ``returning`` columns (or the id)."""
        allowed = self.sources(target)
        if sources is not None:
            allowed = allowed & frozenset(sources)
        status = self.table.c.status
        return (
            sa.update(self.table)
            .where(status.in_([s.value for s in allowed]), *where)
            .values(status=target.value, **(values or {}))
            .returning(*(tuple(returning) or (self.table.c.id,)))
        )

    def apply_all(self, connection: sa.Connection, target: S, **options: Any) -> list[sa.Row[Any]]:
        """Move every row matching ``where`` that may move to ``target``: the UPDATE of
        ``bulk_statement`` with the same options. Returns the moved rows."""
        return list(connection.execute(self.bulk_statement(target, **options)).all())

    def apply_or_raise(
        self, connection: sa.Connection, row_id: uuid.UUID, target: S, **options: Any
    ) -> sa.Row[Any]:
        row = self.apply(connection, row_id, target, **options)
        if row is None:
            current = connection.execute(
                sa.select(self.table.c.status).where(self.table.c.id == row_id)
            ).scalar_one_or_none()
            raise InvalidTransition(
                f"{self.name} {row_id} cannot move to {target.value}: it is "
                f"{current if current is not None else 'missing'}"
            )
        return row


def _machine(name: str, table: sa.Table, edges: dict[S, set[S]]) -> StateMachine[S]:
    return StateMachine(name, table, {s: frozenset(t) for s, t in edges.items()})


T = TaskStatus
TASK = _machine(
    "task",
    Task.__table__,  # type: ignore[arg-type]
    {
        T.PENDING: {T.RUNNING, T.FAILED, T.CANCELLED},
        T.RUNNING: {T.PENDING, T.AWAITING_APPROVAL, T.SUCCEEDED, T.FAILED, T.CANCELLED},
        T.AWAITING_APPROVAL: {T.RUNNING, T.PENDING, T.FAILED, T.CANCELLED},
        T.SUCCEEDED: set(),
        T.FAILED: set(),
        T.CANCELLED: set(),
    },
)

R = AgentRunStatus
AGENT_RUN = _machine(
    "agent run",
    AgentRun.__table__,  # type: ignore[arg-type]
    {
        R.STARTED: {R.RUNNING, R.FAILED, R.CANCELLED},
        R.RUNNING: {R.STARTED, R.WAITING_APPROVAL, R.COMPLETED, R.FAILED, R.CANCELLED},
        R.WAITING_APPROVAL: {R.RUNNING, R.FAILED, R.CANCELLED},
        R.COMPLETED: set(),
        R.FAILED: set(),
        R.CANCELLED: set(),
    },
)

E = ExecutionStatus
EXECUTION = _machine(
    "workflow execution",
    AIWorkflowExecution.__table__,  # type: ignore[arg-type]
    {
        E.PENDING: {E.RUNNING, E.AWAITING_APPROVAL, E.FAILED, E.CANCELLED},
        E.RUNNING: {E.PENDING, E.AWAITING_APPROVAL, E.COMPLETED, E.FAILED, E.CANCELLED},
        E.AWAITING_APPROVAL: {E.RUNNING, E.FAILED, E.CANCELLED},
        E.COMPLETED: set(),
        E.FAILED: set(),
        E.CANCELLED: set(),
    },
)

P = StepRunStatus
STEP_RUN = _machine(
    "workflow step",
    AIWorkflowStepRun.__table__,  # type: ignore[arg-type]
    {
        P.PENDING: {P.RUNNING, P.AWAITING_APPROVAL, P.SKIPPED, P.CANCELLED, P.FAILED},
        P.RUNNING: {P.PENDING, P.AWAITING_APPROVAL, P.COMPLETED, P.FAILED, P.CANCELLED},
        P.AWAITING_APPROVAL: {P.RUNNING, P.COMPLETED, P.FAILED, P.SKIPPED, P.CANCELLED},
        P.COMPLETED: set(),
        P.FAILED: set(),
        P.SKIPPED: set(),
        P.CANCELLED: set(),
    },
)

A = ApprovalStatus
APPROVAL = _machine(
    "approval",
    Approval.__table__,  # type: ignore[arg-type]
    {
        A.PENDING: {A.APPROVED, A.REJECTED, A.EXPIRED, A.CANCELLED},
        A.APPROVED: set(),
        A.REJECTED: set(),
        A.EXPIRED: set(),
        A.CANCELLED: set(),
    },
)

K = SourceStatus
#: A knowledge source is READY once all its chunks are stored; an ingest that stopped half-way
#: leaves it PENDING (or FAILED) and the next ingest of the same content finishes it.
KNOWLEDGE_SOURCE = _machine(
    "knowledge source",
    KnowledgeSource.__table__,  # type: ignore[arg-type]
    {
        K.PENDING: {K.READY, K.FAILED},
        K.FAILED: {K.PENDING, K.READY},
        K.READY: set(),
    },
)

B = BoardTaskStatus
#: Seed 004's Kanban board: a card moves one column forward (backlog may go straight to work),
#: or back to an earlier column while it is not done (review sends it back for changes); done
#: is final. A move within its column only reorders it (``worker.orchestrator.board``).
BOARD_TASK = _machine(
    "board task",
    BoardTask.__table__,  # type: ignore[arg-type]
    {
        B.BACKLOG: {B.TODO, B.IN_PROGRESS},
        B.TODO: {B.BACKLOG, B.IN_PROGRESS},
        B.IN_PROGRESS: {B.TODO, B.REVIEW},
        B.REVIEW: {B.IN_PROGRESS, B.TODO, B.DONE},
        B.DONE: set(),
    },
)

I = InterviewStatus  # noqa: E741 (one letter per machine, as above)
INTERVIEW = _machine(
    "interview",
    Interview.__table__,  # type: ignore[arg-type]
    {I.ACTIVE: {I.COMPLETED, I.CANCELLED}, I.COMPLETED: set(), I.CANCELLED: set()},
)

C = ChatSessionStatus
CHAT_SESSION = _machine(
    "chat session",
    ChatSession.__table__,  # type: ignore[arg-type]
    {C.ACTIVE: {C.COMPLETED, C.FAILED}, C.COMPLETED: set(), C.FAILED: set()},
)
