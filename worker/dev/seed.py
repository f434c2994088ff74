"""Development seed data: a demo tenant, users with roles, agents, the Conference Planning
Crew workflow and a sample event with a brief. Running it again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import (
    AgentType,
    AIAgent,
    AIWorkflow,
    AIWorkflowVersion,
    Event,
    MembershipRole,
    Project,
    Prompt,
    SystemSetting,
    Tenant,
    TenantMembership,
    User,
    WorkflowStatus,
    WorkflowType,
)
from models.tenant_scope import scope_transaction

DEMO_TENANT_SLUG = "acme"
DEMO_MODEL = "gpt-4o-mini"
#: Seed 004's demo project, which the pipeline interviews about.
DEMO_PROJECT = "Bike shop"

#: The approver ``agentworker dev`` and the demo sign in to the inbox with.
DEMO_APPROVER_EMAIL = "adam.approver@acme.example"
DEMO_USERS = (
    ("olivia.owner@acme.example", "Olivia Owner", MembershipRole.OWNER),
    (DEMO_APPROVER_EMAIL, "Adam Approver", MembershipRole.APPROVER),
    ("mia.member@acme.example", "Mia Member", MembershipRole.MEMBER),
)


def _agent(
    name: str, agent_type: AgentType, prompt: str, tools: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "type": agent_type,
        "version": "1.0.0",
        "description": prompt,
        "configuration": {
            "model": DEMO_MODEL,
            "system_prompt": prompt,
            "tools": tools,
            "temperature": 0.2,
            "max_steps": 8,
            "max_tokens": 1024,
            **extra,
        },
    }


DEMO_AGENTS = (
    _agent(
        "assistant",
        AgentType.SUPPORT,
        "You are a helpful event-operations assistant. Use tools when they help.",
        ["current_time", "task_context", "search_knowledge"],
    ),
    _agent(
        "venue_researcher",
        AgentType.PROCUREMENT,
        "You research venues for an event brief and propose a shortlist with capacity and cost.",
        ["task_context", "search_knowledge", "propose_venue"],
    ),
    _agent(
        "speaker_scout",
        AgentType.NETWORKING,
        "You propose speakers who fit the event's themes and email each an invitation (a "
        "person approves every email before it is sent).",
        ["task_context", "search_knowledge", "propose_speaker", "send_email"],
    ),
    _agent(
        "sponsor_scout",
        AgentType.SPONSORSHIP,
        "You propose sponsors and a sponsorship tier for each.",
        ["task_context", "propose_sponsor"],
    ),
    _agent(
        "budget_planner",
        AgentType.ANALYTICS,
        "You price the plan: venue, speakers, catering, marketing, contingency; then leave the "
        "organisers your insights about the plan and your recommendations.",
        ["task_context", "event_facts", "record_budget", "record_insight", "recommend"],
    ),
)

CONFERENCE_PLANNING_STEPS: list[dict[str, Any]] = [
    {
        "key": "research_venues",
        "kind": "agent",
        "agent": "venue_researcher",
        "input": "Propose venues for: {{ input.brief }}",
    },
    {
        "key": "approve_shortlist",
        "kind": "approval",
        "title": "Approve the venue shortlist",
        "show": "{{ steps.research_venues.output }}",
        "required_role": "approver",
        "expires_in_seconds": 86400,
        "on_reject": "fail",
        "on_timeout": "fail",
    },
    {
        "key": "find_people",
        "kind": "parallel",
        "branches": [
            {
                "key": "find_speakers",
                "kind": "agent",
                "agent": "speaker_scout",
                "input": "Propose speakers for: {{ input.brief }}",
            },
            {
                "key": "find_sponsors",
                "kind": "agent",
                "agent": "sponsor_scout",
                "input": "Propose sponsors for: {{ input.brief }}",
            },
        ],
    },
    {
        "key": "price_plan",
        "kind": "agent",
        "agent": "budget_planner",
        "input": "Price this plan: {{ steps }}",
    },
]

DEMO_EVENT_BRIEF = {
    "city": "Lisbon",
    "dates": "2027-05-18/2027-05-20",
    "expected_attendees": 600,
    "budget": 250000,
    "currency": "EUR",
    "themes": ["agent orchestration", "evaluation", "human-in-the-loop"],
    "venue_pref": "conference centre near public transport",
}


@dataclass(frozen=True)
class SeedSummary:
    tenant_slug: str
    created: dict[str, int]

    @property
    def created_anything(self) -> bool:
        return any(self.created.values())


M = TypeVar("M")


def _get_or_create(
    session: Session,
    model: type[M],
    lookup: dict[str, Any],
    values: dict[str, Any],
    created: dict[str, int],
) -> M:
    row = session.scalars(sa.select(model).filter_by(**lookup)).one_or_none()
    if row is None:
        row = model(**lookup, **values)
        session.add(row)
        session.flush()
        table = model.__tablename__  # type: ignore[attr-defined]
        created[table] = created.get(table, 0) + 1
    return row


def seed_demo(session: Session) -> SeedSummary:
    """Insert what is missing of the demo data set; commit; say what was created."""
    created: dict[str, int] = {}
    tenant = _get_or_create(
        session, Tenant, {"slug": DEMO_TENANT_SLUG}, {"name": "Acme Events"}, created
    )
    # The rest is the tenant's own: in its scope (row-level security), for this transaction.
    scope_transaction(session.connection(), tenant.id)
    for email, full_name, role in DEMO_USERS:
        user = _get_or_create(session, User, {"email": email}, {"full_name": full_name}, created)
        _get_or_create(
            session,
            TenantMembership,
            {"tenant_id": tenant.id, "user_id": user.id},
            {"role": role},
            created,
        )
    for agent in DEMO_AGENTS:
        _get_or_create(
            session,
            AIAgent,
            {"tenant_id": tenant.id, "name": agent["name"]},
            {k: v for k, v in agent.items() if k != "name"},
            created,
        )
    workflow = _get_or_create(
        session,
        AIWorkflow,
        {"tenant_id": tenant.id, "name": "conference_planning_crew"},
        {
            "description": "Seed 000's Conference Planning Crew: venues, an approved "
            "shortlist, speakers and sponsors in parallel, then a priced plan.",
            "workflow_type": WorkflowType.EVENT_PLANNING,
            "status": WorkflowStatus.ACTIVE,
            "steps": CONFERENCE_PLANNING_STEPS,
            "version": 1,
        },
        created,
    )
    _get_or_create(
        session,
        AIWorkflowVersion,
        {"workflow_id": workflow.id, "version": workflow.version},
        {"tenant_id": tenant.id, "steps": workflow.steps},
        created,
    )
    _get_or_create(
        session,
        Event,
        {"tenant_id": tenant.id, "name": "AgentConf Lisbon 2027"},
        {
            "description": "A three-day conference on building reliable AI agents.",
            "brief_json": DEMO_EVENT_BRIEF,
            "city": DEMO_EVENT_BRIEF["city"],
            "venue_pref": DEMO_EVENT_BRIEF["venue_pref"],
            "start_date": datetime(2027, 5, 18, 9, tzinfo=UTC),
            "end_date": datetime(2027, 5, 20, 18, tzinfo=UTC),
            "expected_attendees": DEMO_EVENT_BRIEF["expected_attendees"],
            "budget_total": Decimal(DEMO_EVENT_BRIEF["budget"]),
            "currency": DEMO_EVENT_BRIEF["currency"],
        },
        created,
    )
    _seed_orchestrator(session, tenant.id, created)
    session.commit()
    return SeedSummary(tenant_slug=tenant.slug, created=created)


def _seed_orchestrator(session: Session, tenant_id: Any, created: dict[str, int]) -> None:
    """Seed 004's side: a project with a reusable conventions prompt, and the tenant's
    setting that its interviews ask two questions at most."""
    project = _get_or_create(
        session,
        Project,
        {"tenant_id": tenant_id, "name": DEMO_PROJECT},
        {"description": "A web shop for second-hand bikes, run by Acme's events team."},
        created,
    )
    _get_or_create(
        session,
        Prompt,
        {"project_id": project.id, "type": "conventions", "version": 1},
        {
            "tenant_id": tenant_id,
            "content": "Follow the team's conventions: tests first, small modules, typed code.",
            "is_reusable": True,
        },
        created,
    )
    _get_or_create(
        session,
        SystemSetting,
        {"tenant_id": tenant_id, "key": "orchestrator.interview.max_questions"},
        {"value": 2, "description": "the demo's interviews ask two questions"},
        created,
    )
