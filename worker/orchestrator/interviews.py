"""Requirement interviews: questions to a person, answers checked against a schema.

The conversation (``interviews.conversation_data``) is the interview's whole state: a
question is an ``assistant`` message carrying its number and the JSON Schema its answer must
meet; an answer is the ``user`` message after it. The question waiting is the last message
when it is a question and the interview is active. Answering is a locked read, a check, and
one append in one transaction, audited with the principal who answered, so a question is
answered once; an answer that fails the schema changes nothing and says what to fix.
Whoever asks the questions (the workflow's ``interview`` step) is woken after the commit.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonschema
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from models import AuditLog, EventType, Interview, InterviewStatus
from worker.core.contract import ADVANCE_WORKFLOW
from worker.durable import records
from worker.durable.publishing import Wake
from worker.durable.states import INTERVIEW
from worker.orchestrator.errors import InvalidAnswer, NotAwaitingAnswer, NotFound
from worker.security.principals import Principal

_interviews = Interview.__table__
#: What an answer must be when the question names no schema: some text.
TEXT_ANSWER: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 10_000}
#: An answer's size as JSON, at most.
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class InterviewState:
    id: uuid.UUID
    tenant_id: uuid.UUID
    project_id: uuid.UUID
    status: InterviewStatus
    conversation: tuple[dict[str, Any], ...]
    workflow_execution_id: uuid.UUID | None
    workflow_step: str | None
    ai_model_used: str | None

    @classmethod
    def of(cls, row: sa.Row[Any]) -> InterviewState:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            project_id=row.project_id,
            status=InterviewStatus(row.status),
            conversation=tuple(row.conversation_data or ()),
            workflow_execution_id=row.workflow_execution_id,
            workflow_step=row.workflow_step,
            ai_model_used=row.ai_model_used,
        )

    @property
    def waiting_question(self) -> dict[str, Any] | None:
        """The question that waits for its answer, if any."""
        if self.status != InterviewStatus.ACTIVE or not self.conversation:
            return None
        last = self.conversation[-1]
        return last if last.get("role") == "assistant" else None

    @property
    def answers(self) -> list[Any]:
        return [m.get("content") for m in self.conversation if m.get("role") == "user"]

    @property
    def questions_asked(self) -> int:
        return sum(1 for m in self.conversation if m.get("role") == "assistant")

    def transcript(self) -> str:
        """The conversation as text: "Q1: …", "A1: …" lines."""
        lines = []
        for message in self.conversation:
            number = message.get("question", "")
            prefix = "Q" if message.get("role") == "assistant" else "A"
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            lines.append(f"{prefix}{number}: {text}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Answered:
    interview: InterviewState
    #: What to publish after the commit: the workflow advance that asks the next question.
    wake: Wake | None


def question_message(text: str, number: int, answer_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": text,
        "question": number,
        "answer_schema": answer_schema,
        "timestamp": _now(),
    }


def open_interview(
    connection: sa.Connection,
    *,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    first_question: str,
    answer_schema: dict[str, Any],
    ai_model_used: str | None = None,
    workflow_execution_id: uuid.UUID | None = None,
    workflow_step: str | None = None,
) -> InterviewState:
    jsonschema.Draft202012Validator.check_schema(answer_schema)
    row = connection.execute(
        sa.insert(_interviews)
        .values(
            tenant_id=tenant_id,
            project_id=project_id,
            conversation_data=[question_message(first_question, 1, answer_schema)],
            ai_model_used=ai_model_used,
            workflow_execution_id=workflow_execution_id,
            workflow_step=workflow_step,
        )
        .returning(*_interviews.c)
    ).one()
    return InterviewState.of(row)


def load_interview(
    connection: sa.Connection, interview_id: uuid.UUID, *, for_update: bool = False
) -> InterviewState:
    query = sa.select(_interviews).where(_interviews.c.id == interview_id)
    row = connection.execute(query.with_for_update() if for_update else query).one_or_none()
    if row is None:
        raise NotFound(
            f"no interview {interview_id} in this tenant; list them with GET /v1/interviews"
        )
    return InterviewState.of(row)


def answer_interview(
    connection: sa.Connection,
    interview_id: uuid.UUID,
    answer: Any,
    *,
    principal: Principal | None,
    actor: str,
    question: int | None = None,
) -> Answered:
    """Record ``answer`` to the waiting question (``question``, when given, must be its
    number: an answer meant for a question already answered is refused, not moved on)."""
    interview = load_interview(connection, interview_id, for_update=True)
    waiting = interview.waiting_question
    if waiting is None:
        raise NotAwaitingAnswer(
            f"interview {interview_id} is {interview.status.value} and waits for no answer"
            + (
                "; its next question is being written: try again in a moment"
                if interview.status == InterviewStatus.ACTIVE
                else ""
            )
        )
    number = int(waiting.get("question", 0))
    if question is not None and question != number:
        raise NotAwaitingAnswer(
            f"question {question} of interview {interview_id} is not the one waiting; "
            f"question {number} is: {waiting.get('content')!r}"
        )
    _check_answer(answer, waiting, number)
    message = {
        "role": "user",
        "content": answer,
        "question": number,
        "answered_by": actor,
        "timestamp": _now(),
    }
    row = connection.execute(
        sa.update(_interviews)
        .where(_interviews.c.id == interview_id)
        .values(conversation_data=_appended(message))
        .returning(*_interviews.c)
    ).one()
    answered = InterviewState.of(row)
    _audit(connection, answered, actor, principal, number)
    if answered.workflow_execution_id is None:
        return Answered(answered, None)
    records.write(
        connection,
        events=[
            records.event(
                records.Scope(
                    answered.tenant_id, workflow_execution_id=answered.workflow_execution_id
                ),
                EventType.MESSAGE,
                f"interview question {number} answered by {actor}",
                {
                    "interview_id": str(interview_id),
                    "question": number,
                    "step": answered.workflow_step,
                },
            )
        ],
    )
    wake = Wake(ADVANCE_WORKFLOW, {"execution_id": str(answered.workflow_execution_id)})
    return Answered(answered, wake)


def ask(
    connection: sa.Connection,
    interview: InterviewState,
    text: str,
    answer_schema: dict[str, Any],
) -> bool:
    """Append the next question, unless the conversation moved since ``interview`` was read
    (a redelivered step asks once)."""
    number = interview.questions_asked + 1
    moved = connection.execute(
        sa.update(_interviews)
        .where(
            _interviews.c.id == interview.id,
            _interviews.c.status == InterviewStatus.ACTIVE,
            sa.func.jsonb_array_length(_interviews.c.conversation_data)
            == len(interview.conversation),
        )
        .values(conversation_data=_appended(question_message(text, number, answer_schema)))
    ).rowcount
    return bool(moved)


def finish_interview(
    connection: sa.Connection,
    interview_id: uuid.UUID,
    status: InterviewStatus,
    *,
    model: str | None = None,
) -> None:
    values = {"ai_model_used": model} if model else {}
    INTERVIEW.apply(connection, interview_id, status, values=values)


def _check_answer(answer: Any, question: dict[str, Any], number: int) -> None:
    size = len(json.dumps(answer, ensure_ascii=False).encode())
    if size > MAX_ANSWER_BYTES:
        raise InvalidAnswer(
            f"the answer to question {number} is {size} bytes; at most {MAX_ANSWER_BYTES} "
            "fit: shorten it"
        )
    schema = question.get("answer_schema") or TEXT_ANSWER
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(answer)
    )
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path)
        where = f" at /{path}" if path else ""
        raise InvalidAnswer(
            f"the answer to question {number} ({question.get('content')!r}) does not fit its "
            f"schema{where}: {error.message}; nothing was recorded, answer again with a value "
            f"that matches {json.dumps(schema)}",
            path=path,
        )


def _audit(
    connection: sa.Connection,
    interview: InterviewState,
    actor: str,
    principal: Principal | None,
    number: int,
) -> None:
    metadata: dict[str, Any] = {"project_id": str(interview.project_id)}
    if principal is not None:
        metadata["principal"] = principal.audit_fields()
    connection.execute(
        sa.insert(AuditLog.__table__).values(
            tenant_id=interview.tenant_id,
            user_id=principal.user_id if principal else None,
            actor=actor,
            action="interview.answered",
            resource_type="interview",
            resource_id=str(interview.id),
            changes={"question": number},
            metadata=metadata,
        )
    )


def _appended(message: dict[str, Any]) -> sa.ColumnElement[Any]:
    """The conversation with ``message`` at its end (one JSONB append, not a rewrite in
    Python)."""
    return _interviews.c.conversation_data.op("||")(sa.bindparam(None, [message], type_=JSONB))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
