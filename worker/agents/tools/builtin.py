"""The built-in tools every agent may be given (by name, in its configuration's ``tools``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import Field

from models import (
    AICommunication,
    Budget,
    BudgetCategory,
    BudgetLineItem,
    BudgetStatus,
    CommunicationType,
    DeliveryStatus,
    RecipientType,
    Speaker,
    Sponsor,
    Task,
    Tenant,
    Venue,
)
from worker.agents.knowledge import embedder_for, search
from worker.agents.tools.event_facts import EVENT_FACT_TOOLS
from worker.agents.tools.events import event_for as _event_for
from worker.agents.tools.outputs import OUTPUT_TOOLS
from worker.agents.tools.pipeline import PIPELINE_TOOLS
from worker.agents.tools.preferences import PREFERENCE_TOOLS
from worker.agents.tools.registry import ToolRegistry
from worker.agents.tools.specs import ToolContext


def builtin_tools() -> ToolRegistry:
    registry = ToolRegistry()
    for function, options in (
        *_TOOLS,
        *OUTPUT_TOOLS,
        *PREFERENCE_TOOLS,
        *EVENT_FACT_TOOLS,
        *PIPELINE_TOOLS,
    ):
        registry.tool(**options)(function)
    return registry


def current_time(
    context: ToolContext,
    timezone: Annotated[str, Field(description="An IANA time zone, e.g. Europe/Lisbon.")] = "UTC",
) -> dict[str, str]:
    """The current date and time in a time zone."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{timezone}'; use an IANA name such as UTC") from None
    now = datetime.now(UTC).astimezone(zone)
    return {
        "now": now.isoformat(timespec="seconds"),
        "timezone": timezone,
        "weekday": now.strftime("%A"),
    }


def task_context(context: ToolContext) -> dict[str, Any]:
    """What this task is: its input, metadata, tenant and when it was submitted."""
    with context.session_factory() as session:
        row = session.execute(
            sa.select(
                Task.id,
                Task.title,
                Task.input_payload,
                Task.metadata_,
                Task.created_at,
                Task.attempts,
                Task.priority,
                Tenant.slug,
                Tenant.name,
            )
            .join(Tenant, Tenant.id == Task.tenant_id)
            .where(Task.id == context.task_id)
        ).one()
    return {
        "task_id": str(row.id),
        "title": row.title,
        "input": row.input_payload.get("input"),
        "metadata": row.metadata_,
        "submitted_at": row.created_at.isoformat(),
        "attempt": row.attempts,
        "priority": row.priority,
        "agent": context.agent_name,
        "tenant": {"slug": row.slug, "name": row.name},
    }


def search_knowledge(
    context: ToolContext,
    query: Annotated[str, Field(min_length=1, description="What to look for.")],
    k: Annotated[int, Field(ge=1, le=20, description="How many passages to return.")] = 5,
) -> list[dict[str, Any]]:
    """Search the tenant's knowledge base; the most relevant passages come first."""
    runtime = context.services["runtime"]
    with runtime.engine.begin() as connection:
        embed = embedder_for(connection, runtime.settings, runtime.gateway, context.tenant_id)
    hits = search(runtime.engine, embed, context.tenant_id, query, k)
    return [
        {
            "source": hit.source_name,
            "chunk": hit.chunk_index,
            "score": hit.score,
            "content": hit.content,
            "chunk_id": str(hit.chunk_id),
        }
        for hit in hits
    ]


def _propose(context: ToolContext, model: type, event_id: str | None, **values: Any) -> dict:
    with context.session_factory() as session:
        row = model(
            tenant_id=context.tenant_id,
            event_id=_event_for(session, context, event_id),
            proposed_by_agent=context.agent_name,
            **values,
        )
        session.add(row)
        session.commit()
        return {"id": str(row.id), "event_id": str(row.event_id), "status": "proposed"}


def propose_venue(
    context: ToolContext,
    name: Annotated[str, Field(min_length=1, max_length=255)],
    city: Annotated[str, Field(min_length=1, max_length=255)],
    capacity: Annotated[int, Field(gt=0)],
    estimated_cost: Annotated[Decimal, Field(ge=0)],
    event_id: str | None = None,
) -> dict[str, Any]:
    """Propose a venue for the event, with its capacity and estimated cost."""
    return _propose(
        context,
        Venue,
        event_id,
        name=name,
        city=city,
        capacity=capacity,
        estimated_cost=estimated_cost,
    )


def propose_speaker(
    context: ToolContext,
    name: Annotated[str, Field(min_length=1, max_length=255)],
    topic: Annotated[str, Field(min_length=1, max_length=255)],
    event_id: str | None = None,
) -> dict[str, Any]:
    """Propose a speaker and the topic they would talk about."""
    return _propose(context, Speaker, event_id, name=name, topic=topic)


def propose_sponsor(
    context: ToolContext,
    name: Annotated[str, Field(min_length=1, max_length=255)],
    amount: Annotated[Decimal, Field(ge=0)],
    event_id: str | None = None,
) -> dict[str, Any]:
    """Propose a sponsor and the amount they might contribute."""
    return _propose(context, Sponsor, event_id, name=name, amount=amount)


def record_budget(
    context: ToolContext,
    venue: Annotated[Decimal, Field(ge=0)],
    speakers: Annotated[Decimal, Field(ge=0)],
    catering: Annotated[Decimal, Field(ge=0)],
    marketing: Annotated[Decimal, Field(ge=0)],
    contingency: Annotated[Decimal, Field(ge=0)],
    event_id: str | None = None,
) -> dict[str, Any]:
    """Record the event's budget, one amount per category."""
    lines = {
        BudgetCategory.VENUE: venue,
        BudgetCategory.SPEAKERS: speakers,
        BudgetCategory.CATERING: catering,
        BudgetCategory.MARKETING: marketing,
        BudgetCategory.CONTINGENCY: contingency,
    }
    with context.session_factory() as session:
        budget = Budget(
            tenant_id=context.tenant_id,
            event_id=_event_for(session, context, event_id),
            name=f"Plan by {context.agent_name}",
            total_amount=sum(lines.values()),
            status=BudgetStatus.PROPOSED,
            prepared_by_agent=context.agent_name,
        )
        budget.line_items = [
            BudgetLineItem(
                tenant_id=context.tenant_id,
                category=category,
                description=category.value.replace("_", " "),
                amount=amount,
            )
            for category, amount in lines.items()
        ]
        session.add(budget)
        session.commit()
        return {"budget_id": str(budget.id), "total": str(budget.total_amount)}


def send_email(
    context: ToolContext,
    to: Annotated[str, Field(min_length=3, max_length=320, description="Recipient address.")],
    subject: Annotated[str, Field(min_length=1, max_length=300)],
    body: Annotated[str, Field(min_length=1)],
) -> dict[str, Any]:
    """Send an email on the tenant's behalf (a person approves each one first).

    The message is queued as a PENDING ai_communications row, in the call's transaction; the
    worker sends it through AGENTWORKER_SMTP_URL (``worker.notifications.emails``), with a
    Message-ID derived from the row's id, and marks it SENT, or FAILED with the reason."""
    with context.session_factory() as session:
        message = AICommunication(
            tenant_id=context.tenant_id,
            communication_type=CommunicationType.EMAIL,
            recipient_id=uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{to.lower()}"),
            recipient_type=RecipientType.USER,
            subject=subject,
            content=body,
            personalization_data={
                "to": to,
                "task_id": str(context.task_id),
                "tool_call_id": context.tool_call_id,
            },
            delivery_status=DeliveryStatus.PENDING,
        )
        session.add(message)
        session.commit()
        return {
            "message_id": str(message.id),
            "status": "queued: the worker sends it through SMTP",
            "to": to,
        }


_TOOLS: list[tuple[Any, dict[str, Any]]] = [
    (current_time, {}),
    (task_context, {}),
    (search_knowledge, {"action_type": "knowledge_search"}),
    # save_draft_content (needs an approval), recommend, record_insight, record_prediction and
    # send_message: worker.agents.tools.outputs; note_preference: .preferences; event_facts
    # (read-only): .event_facts.
    (propose_venue, {"transactional": True}),
    (propose_speaker, {"transactional": True}),
    (propose_sponsor, {"transactional": True}),
    (record_budget, {"transactional": True}),
    # Queues the message in ai_communications; the worker's delivery sweep sends it by SMTP.
    (send_email, {"transactional": True, "needs_approval": True, "action_type": "email_send"}),
]
