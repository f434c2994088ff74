"""Orchestration tasks, agent runs and their event log (seed 002, extended).

Status values keep seed 002's upper-case spelling. The allowed transitions between them are
defined once, in ``worker.durable.states``; these enums only say which values the database accepts.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import (
    NO_IMPLICIT_IO,
    Base,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    text_enum,
)


class TaskStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class AgentRunStatus(enum.StrEnum):
    STARTED = "STARTED"
    RUNNING = "RUNNING"
    WAITING_APPROVAL = "WAITING_APPROVAL"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class EventType(enum.StrEnum):
    LOG = "LOG"
    MESSAGE = "MESSAGE"
    ERROR = "ERROR"
    RESULT = "RESULT"
    AGENT_START = "AGENT_START"
    AGENT_COMPLETE = "AGENT_COMPLETE"
    SYSTEM = "SYSTEM"
    LLM_CALL = "LLM_CALL"
    TOOL_CALL = "TOOL_CALL"
    TOOL_RESULT = "TOOL_RESULT"
    APPROVAL_REQUESTED = "APPROVAL_REQUESTED"
    APPROVAL_RESOLVED = "APPROVAL_RESOLVED"
    STATE_CHANGE = "STATE_CHANGE"


_EMPTY_OBJECT = text("'{}'::jsonb")


class Task(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """One submitted job: what was asked, by whom, and what became of it.

    ``idempotency_key`` is unique per tenant (two tenants may use the same key). The lease
    columns let exactly one worker own the task at a time (DESIGN §5).
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        CheckConstraint("priority BETWEEN 0 AND 9", name="priority_range"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        CheckConstraint("hand_backs >= 0", name="hand_backs_nonnegative"),
        Index("ix_tasks_status_updated_at", "status", "updated_at"),
        Index("ix_tasks_tenant_id_created_at", "tenant_id", "created_at"),
        # Fair dispatch (worker.durable.dispatch): a tenant's tasks in flight are counted, and
        # its held ones taken most urgent first, on every admission and release.
        Index(
            "ix_tasks_in_flight",
            "tenant_id",
            postgresql_where=text("released_at IS NOT NULL AND status IN ('PENDING', 'RUNNING')"),
        ),
        Index(
            "ix_tasks_held",
            "tenant_id",
            text("priority DESC"),
            "created_at",
            postgresql_where=text("released_at IS NULL AND status = 'PENDING'"),
        ),
        # What a scrape reads, and where the fold looks for settled tasks (migration 0018).
        Index(
            "ix_tasks_unfolded", "status", "updated_at", postgresql_where=text("NOT metrics_folded")
        ),
    )

    title: Mapped[str | None] = mapped_column(String(255))
    input_prompt: Mapped[str | None] = mapped_column(Text)
    input_payload: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=_EMPTY_OBJECT
    )
    status: Mapped[TaskStatus] = mapped_column(
        text_enum(TaskStatus, "task_status"),
        default=TaskStatus.PENDING,
        server_default=TaskStatus.PENDING.value,
        index=True,
    )
    result_summary: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))

    agent_id: Mapped[uuid.UUID | None] = fk("ai_agents.id", ondelete="SET NULL", nullable=True)
    agent_name: Mapped[str | None] = mapped_column(String(200))
    workflow_execution_id: Mapped[uuid.UUID | None] = fk(
        "ai_workflow_executions.id", ondelete="CASCADE", nullable=True
    )
    workflow_step: Mapped[str | None] = mapped_column(String(200))

    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer, default=5, server_default=text("5"))
    #: Claims a worker ended by handing the task back on purpose (a long Retry-After, a wait
    #: for a person, a database error): ``attempts - hand_backs`` claims ended otherwise (a
    #: worker died), and only those count against ``max_attempts``.
    hand_backs: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    broker_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    queue: Mapped[str | None] = mapped_column(String(64))
    not_before: Mapped[datetime | None]
    #: When the task's message was published under its tenant's window (fair dispatch);
    #: NULL while it is held back behind the tenant's tasks in flight. A row written without
    #: the window in mind (the default) is released at once.
    released_at: Mapped[datetime | None] = mapped_column(server_default=func.now())
    #: Whether its share of the fleet's summed figures (and its runs') is in
    #: ``retained_totals`` already (worker.ops.metrics_folding): set once, when it has settled.
    metrics_folded: Mapped[bool] = mapped_column(default=False, server_default=false())
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=_EMPTY_OBJECT
    )

    agent_runs: Mapped[list[AgentRun]] = relationship(
        back_populates="task",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="AgentRun.started_at",
        lazy=NO_IMPLICIT_IO,
    )
    event_logs: Mapped[list[EventLog]] = relationship(
        back_populates="task",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="EventLog.id",
        lazy=NO_IMPLICIT_IO,
    )


class AgentRun(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """One execution of an agent for a task. Its conversation is ``conversation``: one
    ``agent_run_messages`` row per message, persisted after every LLM or tool step so that a
    redelivered task resumes instead of paying again; ``message_count`` is how many there are."""

    __tablename__ = "agent_runs"
    __table_args__ = (
        Index("idx_agent_run_task_started", "task_id", "started_at"),
        CheckConstraint("prompt_tokens >= 0 AND completion_tokens >= 0", name="tokens_nonnegative"),
        CheckConstraint("forked_at_step >= 0", name="forked_at_step_nonnegative"),
    )

    task_id: Mapped[uuid.UUID] = fk("tasks.id", ondelete="CASCADE", nullable=False)
    agent_id: Mapped[uuid.UUID | None] = fk("ai_agents.id", ondelete="SET NULL", nullable=True)
    agent_name: Mapped[str] = mapped_column(String(100), index=True)
    agent_version: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[AgentRunStatus] = mapped_column(
        text_enum(AgentRunStatus, "agent_run_status"),
        default=AgentRunStatus.STARTED,
        server_default=AgentRunStatus.STARTED.value,
        index=True,
    )
    model: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    finished_at: Mapped[datetime | None]
    output_summary: Mapped[str | None] = mapped_column(Text)
    output: Mapped[Any | None] = mapped_column(JSONB)
    #: How many ``agent_run_messages`` rows the run has: the next message is number
    #: ``message_count + 1``. A step adds its messages and this count in one statement.
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    step_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    llm_calls: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    cost: Mapped[Decimal] = mapped_column(
        Numeric(14, 6), default=Decimal(0), server_default=text("0")
    )
    error: Mapped[str | None] = mapped_column(Text)
    #: A fork or replay: the run this one was made from, and after which of its steps (step N
    #: is the conversation up to the N-th model reply with its tool results; migration 0019).
    parent_run_id: Mapped[uuid.UUID | None] = fk(
        "agent_runs.id", ondelete="SET NULL", nullable=True
    )
    forked_at_step: Mapped[int | None] = mapped_column(Integer)

    task: Mapped[Task] = relationship(back_populates="agent_runs", lazy=NO_IMPLICIT_IO)
    event_logs: Mapped[list[EventLog]] = relationship(
        back_populates="agent_run",
        passive_deletes=True,
        order_by="EventLog.id",
        lazy=NO_IMPLICIT_IO,
    )
    conversation: Mapped[list[AgentRunMessage]] = relationship(
        back_populates="agent_run",
        passive_deletes=True,
        order_by="AgentRunMessage.seq",
        lazy=NO_IMPLICIT_IO,
    )

    @property
    def messages(self) -> list[Any]:
        """The conversation's messages in order, as the dropped ``agent_runs.messages`` column
        held them; load ``conversation`` first (``selectinload(AgentRun.conversation)``)."""
        return [row.message for row in self.conversation]


class AgentRunMessage(TenantOwned, Base):
    """One message of a run's conversation, number ``seq`` (from 1, in order). Rows are only
    ever added, never rewritten: a step's cost does not grow with the run (migration 0016)."""

    __tablename__ = "agent_run_messages"
    __table_args__ = (CheckConstraint("seq >= 1", name="seq_positive"),)

    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agent_runs.id", ondelete="CASCADE"), primary_key=True, sort_order=-100
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-100)
    message: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), sort_order=100)

    agent_run: Mapped[AgentRun] = relationship(back_populates="conversation", lazy=NO_IMPLICIT_IO)


class EventLog(TenantOwned, Base):
    """An append-only record of what happened. ``id`` is unique but not in commit order;
    readers go in commit-safe ``(writer_xid, id)`` order (``worker.durable.event_order``)."""

    __tablename__ = "event_logs"
    __table_args__ = (
        Index("idx_event_log_task_created", "task_id", "created_at"),
        Index("ix_event_logs_workflow_execution_id_id", "workflow_execution_id", "id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger, Identity(always=False), primary_key=True, sort_order=-100
    )
    task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    agent_run_id: Mapped[uuid.UUID | None] = fk("agent_runs.id", ondelete="CASCADE", nullable=True)
    workflow_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ai_workflow_executions.id", ondelete="CASCADE")
    )
    event_type: Mapped[EventType] = mapped_column(text_enum(EventType, "event_type"), index=True)
    agent_role: Mapped[str | None] = mapped_column(String(100), index=True)
    content: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None]
    #: The writing transaction's id: readers go in ``(writer_xid, id)`` order, and only as far
    #: as every older transaction has ended (``worker.durable.event_order``). NULL before 0011.
    writer_xid: Mapped[int | None] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text::bigint)")
    )
    created_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), index=True, sort_order=100
    )

    task: Mapped[Task | None] = relationship(back_populates="event_logs", lazy=NO_IMPLICIT_IO)
    agent_run: Mapped[AgentRun | None] = relationship(
        back_populates="event_logs", lazy=NO_IMPLICIT_IO
    )


class QueueProbe(Base):
    """What the reaper has learnt of one broker queue and priority: a probe message it sent at
    ``sent_at`` came back, and the latest to come back had been sent at ``passed_at`` (so every
    message published before then has been delivered), at ``delivered_at``. A PENDING task
    queued before ``passed_at`` whose claim never came lost its message (DESIGN §5.1)."""

    __tablename__ = "queue_probes"
    __table_args__ = (CheckConstraint("priority BETWEEN 0 AND 9", name="priority_range"),)

    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    priority: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    sent_at: Mapped[datetime]
    passed_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
