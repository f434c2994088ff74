"""The built-in tools through which agents leave their outputs in seed 001's AI tables:
recommendations for a user, insights and predictions about an event, generated content (saved
only once a person approves it) and in-app messages to a tenant's members.

Every one is ``transactional``: its row commits with the call's result, or not at all. Values
the seed's CHECKs bound (confidence 0-1, a positive horizon ...) are bounded in the tool's
argument schema too, so the model sees the range and an out-of-range call is answered with an
error naming the argument before anything is written; should the database still refuse a row,
the refusal comes back to the model as the tool's error, and nothing is written.

Generated content needs an approval (``needs_approval``): the agent's call parks the task, a
person approves, edits or rejects it in the inbox or the CLI, and only an approved call runs,
writing the row with ``is_approved`` true and the deciding approver and time (read from the
call's approval). A rejected call never runs, so no content row exists for it; the approval
keeps what was proposed and why it was refused. Content may be written from a
``content_templates`` row (``template`` + ``variables``, ``worker.agents.tools.templates``).

A recommendation records, in its ``reasoning``, the recipient's ``user_preferences`` it took
into account (those about the kind of item: ``recommendation:<item_type>``, ``<item_type>``,
``<recommendation_type>`` or either followed by ``:``), and whether the item is one the
recipient liked or disliked before (``worker.agents.tools.preferences``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field

from models import (
    AgentRun,
    AICommunication,
    AIGeneratedContent,
    AIInsight,
    AIPrediction,
    AIRecommendation,
    Approval,
    ApprovalStatus,
    Budget,
    CommunicationType,
    ContentType,
    DeliveryStatus,
    InsightType,
    MembershipRole,
    PredictionType,
    RecipientType,
    RecommendationType,
    Speaker,
    Sponsor,
    TenantMembership,
    User,
    Venue,
)
from worker.agents.tools.events import event_for
from worker.agents.tools.preferences import preferences_about
from worker.agents.tools.specs import ToolContext
from worker.agents.tools.templates import count_use, find_template, render
from worker.agents.tools.writes import as_decimal as _decimal
from worker.agents.tools.writes import member as _member
from worker.agents.tools.writes import writing as _writing

Score = Annotated[float, Field(ge=0, le=1, description="From 0 (none) to 1 (certain).")]
EventRef = Annotated[
    str | None, Field(description="The event's id; default: the task's event, else the latest.")
]

#: What a recommendation may point at when no item id is given: that kind's latest row of the
#: event (or the event itself).
_ITEM_TABLES: dict[str, Any] = {
    "venue": Venue,
    "speaker": Speaker,
    "sponsor": Sponsor,
    "budget": Budget,
}
ItemType = Literal["event", "venue", "speaker", "sponsor", "budget"]
#: Members a recommendation is left for when the call names nobody.
_ORGANISER_ROLES = (MembershipRole.OWNER, MembershipRole.ADMIN)


def recommend(
    context: ToolContext,
    recommendation_type: RecommendationType,
    item_type: Annotated[ItemType, Field(description="What is recommended.")],
    confidence: Score,
    reason: Annotated[str, Field(min_length=1, max_length=2000)],
    item_id: Annotated[
        str | None, Field(description="Its id; default: the event's latest of item_type.")
    ] = None,
    for_user: Annotated[
        str | None,
        Field(description="A member's email or id; default: the tenant's organisers."),
    ] = None,
    expires_in_days: Annotated[int, Field(ge=1, le=365)] = 30,
    event_id: EventRef = None,
) -> dict[str, Any]:
    """Recommend something to a person (default: the tenant's organisers), with how confident
    you are and why; it expires after expires_in_days."""
    with _writing(context, "ai_recommendations") as session:
        event = _event_for(session, context, event_id)
        item = _item(session, event, item_type, item_id)
        users = [_member(session, context, for_user)] if for_user else _organisers(session, context)
        agent = _agent_of(session, context)
        expires_at = datetime.now(UTC) + timedelta(days=expires_in_days)
        considered = {
            user_id: preferences_about(session, user_id, item_type, str(recommendation_type), item)
            for user_id in users
        }
        rows = [
            AIRecommendation(
                tenant_id=context.tenant_id,
                user_id=user_id,
                event_id=event,
                recommendation_type=recommendation_type,
                recommended_item_id=item,
                recommended_item_type=item_type,
                confidence_score=_decimal(confidence),
                reasoning={"reason": reason, **agent, "preferences": considered[user_id]},
                expires_at=expires_at,
            )
            for user_id in users
        ]
        session.add_all(rows)
        session.flush()
        return {
            "recommendation_ids": [str(row.id) for row in rows],
            "for_users": [str(u) for u in users],
            "expires_at": expires_at.isoformat(timespec="seconds"),
            "preferences_considered": {str(u): considered[u] for u in users},
        }


def record_insight(
    context: ToolContext,
    insight_type: InsightType,
    title: Annotated[str, Field(min_length=1, max_length=300)],
    description: Annotated[str, Field(min_length=1)],
    confidence: Score,
    impact: Annotated[float, Field(ge=0, le=1, description="From 0 (minor) to 1 (decisive).")],
    actionable_items: Annotated[list[str], Field(max_length=20)] = [],  # noqa: B006 (copied)
    data: dict[str, Any] = {},  # noqa: B006 (pydantic copies defaults)
    event_id: EventRef = None,
) -> dict[str, Any]:
    """Record a finding about the event for its organisers, with suggested actions."""
    with _writing(context, "ai_insights") as session:
        row = AIInsight(
            tenant_id=context.tenant_id,
            event_id=_event_for(session, context, event_id),
            insight_type=insight_type,
            insight_title=title,
            insight_description=description,
            insight_data={**data, "task_id": str(context.task_id)},
            confidence_score=_decimal(confidence),
            impact_score=_decimal(impact),
            actionable_items=list(actionable_items),
            generated_by_agent_id=_agent_id(session, context),
        )
        session.add(row)
        session.flush()
        return {"insight_id": str(row.id), "event_id": str(row.event_id)}


def record_prediction(
    context: ToolContext,
    prediction_type: PredictionType,
    predicted_value: Annotated[float, Field(gt=-1_000_000, lt=1_000_000)],
    low: Annotated[float, Field(gt=-1_000_000, lt=1_000_000, description="Interval's low end.")],
    high: Annotated[float, Field(gt=-1_000_000, lt=1_000_000, description="Its high end.")],
    horizon_days: Annotated[int, Field(gt=0, le=3650, description="How many days ahead.")],
    input_features: dict[str, Any] = {},  # noqa: B006 (pydantic copies defaults)
    event_id: EventRef = None,
) -> dict[str, Any]:
    """Forecast a figure of the event (attendance, revenue ...) horizon_days ahead, with the
    interval it should fall in; it expires when the horizon is reached."""
    if not low <= predicted_value <= high:
        raise ValueError(
            f"the interval [{low}, {high}] does not contain predicted_value {predicted_value}; "
            "give low <= predicted_value <= high"
        )
    with _writing(context, "ai_predictions") as session:
        agent = _agent_of(session, context)
        row = AIPrediction(
            tenant_id=context.tenant_id,
            event_id=_event_for(session, context, event_id),
            prediction_type=prediction_type,
            predicted_value=Decimal(str(predicted_value)),
            confidence_interval={"low": low, "high": high},
            prediction_horizon=horizon_days,
            model_version=f"{agent['agent']}@{agent['agent_version']}/{agent['model']}",
            input_features=input_features,
            expires_at=datetime.now(UTC) + timedelta(days=horizon_days),
        )
        session.add(row)
        session.flush()
        return {"prediction_id": str(row.id), "expires_at": row.expires_at.isoformat()}


def save_draft_content(
    context: ToolContext,
    title: Annotated[str, Field(min_length=1, max_length=300)],
    content: Annotated[
        str | None, Field(min_length=1, description="The text; omit it to use a template.")
    ] = None,
    content_type: ContentType = ContentType.REPORT,
    quality: Annotated[float | None, Field(ge=0, le=1, description="Your own 0-1 rating.")] = None,
    template: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=200,
            description="A content template's name: the content is its text, filled in.",
        ),
    ] = None,
    variables: Annotated[
        dict[str, str | int | float],
        Field(description="The template's {{ name }} values, by name."),
    ] = {},  # noqa: B006 (pydantic copies defaults)
) -> dict[str, Any]:
    """Submit generated content (a description, a bio, a post ...) for a person's approval,
    as text or from a named content template filled with variables; once approved it is saved
    as approved content."""
    if (content is None) == (template is None):
        raise ValueError("give content, or a template with its variables: one of the two")
    with _writing(context, "ai_generated_content") as session:
        approval = session.execute(
            sa.select(Approval.decided_by_user_id, Approval.decided_at).where(
                Approval.agent_run_id == context.agent_run_id,
                Approval.tool_call_id == context.tool_call_id,
                Approval.status == ApprovalStatus.APPROVED,
            )
        ).one_or_none()
        if approval is None:
            raise ValueError("generated content is saved only once a person approves the call")
        used = None if template is None else find_template(session, context.tenant_id, template)
        text = content if used is None else render(used, variables)
        row = AIGeneratedContent(
            tenant_id=context.tenant_id,
            content_type=content_type,
            source_event_id=_event_for(session, context, None, required=False),
            template_id=None if used is None else used.id,
            title=title,
            content=text,
            quality_score=None if quality is None else _decimal(quality),
            is_approved=True,
            approved_by=approval.decided_by_user_id,
            approved_at=approval.decided_at,
            generated_by_agent_id=_agent_id(session, context),
            metadata_={
                "task_id": str(context.task_id),
                "agent": context.agent_name,
                "agent_run_id": str(context.agent_run_id),
                "tool_call_id": context.tool_call_id,
                **({} if used is None else {"template": used.name, "variables": variables}),
            },
        )
        session.add(row)
        session.flush()
        if used is not None:
            count_use(session, used.id)
        return {"content_id": str(row.id), "status": "approved and saved"}


def send_message(
    context: ToolContext,
    to_user: Annotated[str, Field(min_length=1, description="A member's email or id.")],
    subject: Annotated[str, Field(min_length=1, max_length=300)],
    body: Annotated[str, Field(min_length=1)],
) -> dict[str, Any]:
    """Send an in-app message to a member of the tenant (read in their inbox). For email to
    anyone, use send_email (a person approves each one)."""
    with _writing(context, "ai_communications") as session:
        user_id = _member(session, context, to_user)
        row = AICommunication(
            tenant_id=context.tenant_id,
            communication_type=CommunicationType.IN_APP_MESSAGE,
            recipient_id=user_id,
            recipient_type=RecipientType.USER,
            subject=subject,
            content=body,
            personalization_data={
                "task_id": str(context.task_id),
                "tool_call_id": context.tool_call_id,
            },
            delivery_status=DeliveryStatus.SENT,
            sent_at=datetime.now(UTC),
            generated_by_agent_id=_agent_id(session, context),
        )
        session.add(row)
        session.flush()
        return {"message_id": str(row.id), "to_user": str(user_id), "status": "sent"}


OUTPUT_TOOLS: list[tuple[Any, dict[str, Any]]] = [
    (recommend, {"transactional": True}),
    (record_insight, {"transactional": True}),
    (record_prediction, {"transactional": True}),
    # Runs only once a person approves the call (worker.agents.tool_gate).
    (save_draft_content, {"transactional": True, "needs_approval": True}),
    (send_message, {"transactional": True}),
]


# --- helpers ----------------------------------------------------------------------------------


def _event_for(
    session: Any, context: ToolContext, event_id: str | None, *, required: bool = True
) -> Any:
    try:
        return event_for(session, context, event_id)
    except ValueError:
        if required:
            raise
        return None


def _item(session: Any, event: uuid.UUID, item_type: str, item_id: str | None) -> uuid.UUID:
    if item_id is not None:
        try:
            return uuid.UUID(item_id)
        except ValueError:
            raise ValueError(f"item_id {item_id!r} is not an id; give a UUID or omit it") from None
    if item_type == "event":
        return event
    model = _ITEM_TABLES[item_type]
    found = session.scalar(
        sa.select(model.id)
        .where(model.event_id == event)
        .order_by(model.created_at.desc())
        .limit(1)
    )
    if found is None:
        raise ValueError(f"no {item_type} is proposed for this event yet; pass item_id")
    return found  # type: ignore[no-any-return]


def _organisers(session: Any, context: ToolContext) -> list[uuid.UUID]:
    found = list(
        session.scalars(
            sa.select(User.id)
            .join(TenantMembership, TenantMembership.user_id == User.id)
            .where(
                TenantMembership.tenant_id == context.tenant_id,
                TenantMembership.role.in_(_ORGANISER_ROLES),
                User.is_active.is_(True),
            )
            .order_by(User.email)
        )
    )
    if not found:
        raise ValueError("this tenant has no owner or admin to recommend to; pass for_user")
    return found


def _run(session: Any, context: ToolContext) -> Any:
    if context.agent_run_id is None:
        return None
    return session.execute(
        sa.select(AgentRun.agent_id, AgentRun.agent_version, AgentRun.model).where(
            AgentRun.id == context.agent_run_id
        )
    ).one_or_none()


def _agent_id(session: Any, context: ToolContext) -> uuid.UUID | None:
    run = _run(session, context)
    return run.agent_id if run is not None else None


def _agent_of(session: Any, context: ToolContext) -> dict[str, Any]:
    """Who is calling, as recorded with a recommendation (JSON): the agent's id, name,
    version and model, the task and the run."""
    run = _run(session, context)
    return {
        "agent": context.agent_name,
        "agent_id": str(run.agent_id) if run is not None and run.agent_id else None,
        "agent_version": run.agent_version if run is not None else None,
        "model": run.model if run is not None else None,
        "task_id": str(context.task_id),
        "agent_run_id": str(context.agent_run_id) if context.agent_run_id else None,
    }
