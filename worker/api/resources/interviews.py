"""``/v1/interviews``: read a project's requirement interviews and answer the question that
waits (seed 004's ``InterviewAddMessage``).

Interviews are opened by a workflow's ``interview`` step (``worker.orchestrator.open_interview``),
which asks the questions; there is no ``POST /v1/interviews``. Start the workflow with
``POST /v1/executions`` instead. An answer goes through ``answer_interview``: it is checked
against the question's JSON Schema (a failing answer changes nothing: 422 with the ``path`` that
failed), recorded once with the key's principal, and, after the commit, the workflow that asked
is woken to ask the next question.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from models import Interview, InterviewStatus
from worker.api.problems import not_found
from worker.api.resources._common import Body, Caller, Out, Page, PagingParams, caller, table_of
from worker.orchestrator import TEXT_ANSWER, InterviewState, answer_interview
from worker.security.principals import Scope

_interviews = table_of(Interview)


class WaitingQuestion(BaseModel):
    question: int = Field(description="The question's number: send it back with the answer.")
    content: str = Field(description="The question's text.")
    answer_schema: dict[str, Any] = Field(description="The JSON Schema the answer must meet.")


class InterviewResponse(Out):
    id: uuid.UUID
    project_id: uuid.UUID
    status: InterviewStatus
    conversation_data: list[Any]
    ai_model_used: str | None
    workflow_execution_id: uuid.UUID | None
    workflow_step: str | None
    waiting_question: WaitingQuestion | None = Field(
        description="The question waiting for an answer, or null (the interview ended, or its "
        "next question is being written)."
    )
    created_at: datetime
    updated_at: datetime


class InterviewAddMessage(Body):
    """The person's answer to the waiting question."""

    content: Any = Field(description="The answer: any JSON that fits the question's schema.")
    question: int | None = Field(
        default=None,
        ge=1,
        description="The number of the question answered; when given, it must be the one "
        "waiting (an answer meant for an earlier question is refused, not moved on).",
    )


def _response(row: sa.Row[Any]) -> InterviewResponse:
    state = InterviewState.of(row)
    waiting = state.waiting_question
    question = (
        WaitingQuestion(
            question=int(waiting.get("question", 0)),
            content=str(waiting.get("content", "")),
            answer_schema=waiting.get("answer_schema") or TEXT_ANSWER,
        )
        if waiting is not None
        else None
    )
    return InterviewResponse.model_validate({**row._mapping, "waiting_question": question})


def _one(connection: sa.Connection, interview_id: uuid.UUID) -> InterviewResponse:
    row = connection.execute(
        sa.select(_interviews).where(_interviews.c.id == interview_id)
    ).one_or_none()
    if row is None:
        raise not_found(
            f"no interview {interview_id} in this tenant; list them with GET /v1/interviews"
        )
    return _response(row)


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/interviews", tags=["interviews"])
    reader, submitter = caller(Scope.READ), caller(Scope.SUBMIT)

    @routes.get("", summary="The tenant's interviews, newest first")
    def list_interviews(
        paging: PagingParams,
        project_id: uuid.UUID | None = None,
        status: Annotated[
            list[InterviewStatus] | None, Query(description="Only these states (repeatable).")
        ] = None,
        who: Caller = reader,
    ) -> Page[InterviewResponse]:
        query = sa.select(_interviews).order_by(_interviews.c.created_at.desc(), _interviews.c.id)
        if project_id is not None:
            query = query.where(_interviews.c.project_id == project_id)
        if status:
            query = query.where(_interviews.c.status.in_([s.value for s in status]))
        with who.transaction() as connection:
            rows = connection.execute(paging.apply(query)).all()
        return Page[InterviewResponse](**paging.page([_response(r) for r in rows]))

    @routes.get("/{interview_id}", summary="An interview and the question waiting, if any")
    def get_interview(interview_id: uuid.UUID, who: Caller = reader) -> InterviewResponse:
        with who.transaction() as connection:
            return _one(connection, interview_id)

    @routes.post(
        "/{interview_id}/messages",
        status_code=201,
        summary="Answer the waiting question",
        responses={
            404: {"description": "No interview with this id in this key's tenant"},
            409: {"description": "No question waits, or `question` is not the one waiting"},
            422: {"description": "The answer does not fit the question's schema (`path`)"},
        },
    )
    def answer(
        request: Request,
        interview_id: uuid.UUID,
        body: InterviewAddMessage,
        response: Response,
        who: Caller = submitter,
    ) -> InterviewResponse:
        """Record the answer (audited as ``interview.answered`` by the domain), then wake the
        workflow that asked, once the answer is committed."""
        with who.transaction() as connection:
            answered = answer_interview(
                connection,
                interview_id,
                body.content,
                principal=who.principal,
                actor=who.actor,
                question=body.question,
            )
            result = _one(connection, interview_id)
        if answered.wake is not None:
            answered.wake.send(request.app.state.publisher)
        response.headers["Location"] = f"/v1/interviews/{interview_id}"
        return result

    return routes
