"""AI-orchestrator domain: projects, requirement interviews, composable prompts, the Kanban
board, task chat sessions and AI-generated commits (seed 004, "Models and Schemas").

Differences from seed 004, all deliberate:
- every table is tenant-owned (``tenant_id``) and has ``created_at`` and ``updated_at``;
- the seed's Kanban ``tasks`` table is ``board_tasks`` (model ``BoardTask``), because ``tasks``
  is the orchestration-task table; a card links to the orchestration task executing it
  through ``orchestration_task_id``. Its ``task_id`` columns are therefore ``board_task_id``;
- columns named after SQL keywords or builtins keep their column names but get clearer
  attribute names: ``BoardTask.board_column`` ("column"), ``BoardTask.position`` ("order"),
  ``Commit.committed_at`` ("timestamp");
- an interview asked by a workflow step names its execution and step
  (``workflow_execution_id``, ``workflow_step``), so an answer wakes the right execution;
- a prompt's ``(project_id, type, version)`` is unique: two writers cannot both make version 2;
- seed 004's ``ai_models`` and ``system_settings`` are modelled in another module.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint, func, text
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

__all__ = [
    "BoardTask",
    "BoardTaskStatus",
    "ChatSession",
    "ChatSessionStatus",
    "Commit",
    "CommitType",
    "Interview",
    "InterviewStatus",
    "Project",
    "Prompt",
]


class InterviewStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class BoardTaskStatus(enum.StrEnum):
    BACKLOG = "backlog"
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    DONE = "done"


class ChatSessionStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"


class CommitType(enum.StrEnum):
    """Conventional Commits types."""

    FEAT = "feat"
    FIX = "fix"
    DOCS = "docs"
    STYLE = "style"
    REFACTOR = "refactor"
    TEST = "test"
    CHORE = "chore"
    PERF = "perf"


class Project(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """An AI orchestration project; deleting it deletes everything below it."""

    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    git_repository_info: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )

    interviews: Mapped[list[Interview]] = relationship(
        back_populates="project",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    prompts: Mapped[list[Prompt]] = relationship(
        back_populates="project",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    board_tasks: Mapped[list[BoardTask]] = relationship(
        back_populates="project",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    commits: Mapped[list[Commit]] = relationship(
        back_populates="project",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class Interview(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A conversation with an AI that gathers a project's requirements."""

    __tablename__ = "interviews"

    project_id: Mapped[uuid.UUID] = fk("projects.id", ondelete="CASCADE", nullable=False)
    #: The messages, in order.
    conversation_data: Mapped[list[Any]] = mapped_column(
        default=list, server_default=text("'[]'::jsonb")
    )
    ai_model_used: Mapped[str | None] = mapped_column(String(100))
    #: The workflow execution whose ``interview`` step asks the questions, if any, and its step.
    workflow_execution_id: Mapped[uuid.UUID | None] = fk(
        "ai_workflow_executions.id", ondelete="SET NULL", nullable=True
    )
    workflow_step: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[InterviewStatus] = mapped_column(
        text_enum(InterviewStatus, "status"),
        default=InterviewStatus.ACTIVE,
        server_default=text("'active'"),
        index=True,
    )

    project: Mapped[Project] = relationship(back_populates="interviews", lazy=NO_IMPLICIT_IO)
    prompts: Mapped[list[Prompt]] = relationship(
        back_populates="interview", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )


class Prompt(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A composable prompt. Versions form a tree: a new version points at its ``parent``."""

    __tablename__ = "prompts"
    #: Versions of one prompt type are numbered once per project.
    __table_args__ = (UniqueConstraint("project_id", "type", "version"),)

    project_id: Mapped[uuid.UUID] = fk("projects.id", ondelete="CASCADE", nullable=False)
    created_from_interview_id: Mapped[uuid.UUID | None] = fk(
        "interviews.id", ondelete="SET NULL", nullable=True
    )
    parent_id: Mapped[uuid.UUID | None] = fk("prompts.id", ondelete="SET NULL", nullable=True)
    content: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(50), index=True)
    is_reusable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    components: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'::jsonb"))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    project: Mapped[Project] = relationship(back_populates="prompts", lazy=NO_IMPLICIT_IO)
    interview: Mapped[Interview | None] = relationship(
        back_populates="prompts", lazy=NO_IMPLICIT_IO
    )
    parent: Mapped[Prompt | None] = relationship(
        back_populates="children", remote_side="Prompt.id", lazy=NO_IMPLICIT_IO
    )
    children: Mapped[list[Prompt]] = relationship(
        back_populates="parent", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )
    board_tasks: Mapped[list[BoardTask]] = relationship(
        back_populates="prompt", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )


class BoardTask(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A card on a project's Kanban board (seed 004's ``tasks``)."""

    __tablename__ = "board_tasks"

    prompt_id: Mapped[uuid.UUID | None] = fk("prompts.id", ondelete="SET NULL", nullable=True)
    project_id: Mapped[uuid.UUID] = fk("projects.id", ondelete="CASCADE", nullable=False)
    #: The orchestration task (``tasks``) executing this card, if any.
    orchestration_task_id: Mapped[uuid.UUID | None] = fk(
        "tasks.id", ondelete="SET NULL", nullable=True
    )
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[BoardTaskStatus] = mapped_column(
        text_enum(BoardTaskStatus, "status"),
        default=BoardTaskStatus.BACKLOG,
        server_default=text("'backlog'"),
        index=True,
    )
    board_column: Mapped[str | None] = mapped_column("column", String(50))
    #: Position of the card within its column.
    position: Mapped[int] = mapped_column("order", Integer, default=0, server_default=text("0"))

    prompt: Mapped[Prompt | None] = relationship(back_populates="board_tasks", lazy=NO_IMPLICIT_IO)
    project: Mapped[Project] = relationship(back_populates="board_tasks", lazy=NO_IMPLICIT_IO)
    chat_sessions: Mapped[list[ChatSession]] = relationship(
        back_populates="board_task",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    commits: Mapped[list[Commit]] = relationship(
        back_populates="board_task",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class ChatSession(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A chat with an AI that carries out a board task."""

    __tablename__ = "chat_sessions"

    board_task_id: Mapped[uuid.UUID] = fk("board_tasks.id", ondelete="CASCADE", nullable=False)
    messages: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'::jsonb"))
    ai_model_used: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[ChatSessionStatus] = mapped_column(
        text_enum(ChatSessionStatus, "status"),
        default=ChatSessionStatus.ACTIVE,
        server_default=text("'active'"),
        index=True,
    )

    board_task: Mapped[BoardTask] = relationship(
        back_populates="chat_sessions", lazy=NO_IMPLICIT_IO
    )


class Commit(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """An AI-generated commit following Conventional Commits."""

    __tablename__ = "commits"

    board_task_id: Mapped[uuid.UUID] = fk("board_tasks.id", ondelete="CASCADE", nullable=False)
    project_id: Mapped[uuid.UUID] = fk("projects.id", ondelete="CASCADE", nullable=False)
    type: Mapped[CommitType] = mapped_column(text_enum(CommitType, "type"), index=True)
    message: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    created_by_ai_model: Mapped[str | None] = mapped_column(String(100))
    author: Mapped[str] = mapped_column(
        String(100), default="AI System", server_default=text("'AI System'")
    )
    committed_at: Mapped[datetime] = mapped_column(
        "timestamp", server_default=func.now(), index=True
    )

    board_task: Mapped[BoardTask] = relationship(back_populates="commits", lazy=NO_IMPLICIT_IO)
    project: Mapped[Project] = relationship(back_populates="commits", lazy=NO_IMPLICIT_IO)
