"""Seed 001's ``user_preferences``: one row per (tenant, user, ``preference_type``), updated in
place under a transaction-scoped advisory lock on that key (the table has no unique index to
upsert on, so the lock is what keeps two writers from adding a second row).

* ``infer_from_feedback`` (called by ``worker.agents.feedback`` in the feedback's transaction):
  the user's ``recommendation:<item_type>`` preference, recomputed from every feedback the user
  gave on recommendations of that item type, so feedback given again replaces, never doubles:
  ``{"item_type", "liked": [item ids scored 4-5], "disliked": [1-2], "score": mean of
  (score - 1) / 4, "feedbacks": n}``, ``confidence_level`` n / (n + 1) (at most 0.95),
  ``source`` ``inferred``. A preference the person stated (``explicit``) is left as it is.
* ``note_preference`` (a built-in transactional tool): an agent records a preference a person
  stated, ``source`` ``explicit``, replacing the row of that type.
* ``preferences_about``: what ``recommend`` reads and records in a recommendation's
  ``reasoning``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field

from models import AIRecommendation, PreferenceSource, UserPreference
from worker.agents.tools.specs import ToolContext
from worker.agents.tools.writes import as_decimal, member, writing

#: Inferred confidence never reaches certainty.
MAX_INFERRED_CONFIDENCE = Decimal("0.95")
_preferences = UserPreference.__table__
_recommendations = AIRecommendation.__table__


@dataclass(frozen=True)
class PreferenceWritten:
    preference_id: uuid.UUID
    preference_type: str
    confidence_level: Decimal
    created: bool


def recommendation_preference_type(item_type: str) -> str:
    return f"recommendation:{item_type}"


def lock_preference(
    connection: Any, tenant_id: uuid.UUID, user_id: uuid.UUID, preference_type: str
) -> None:
    """Hold the (tenant, user, type) key until the transaction ends."""
    connection.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"user_preferences:{tenant_id}:{user_id}:{preference_type}"},
    )


def infer_from_feedback(
    connection: Any, tenant_id: uuid.UUID, user_id: uuid.UUID, item_type: str
) -> PreferenceWritten | None:
    """Recompute the user's inferred preference for ``item_type`` from their feedback (in the
    caller's transaction, after the feedback is written); None when they stated one
    themselves."""
    kind = recommendation_preference_type(item_type)
    lock_preference(connection, tenant_id, user_id, kind)
    scored = connection.execute(
        sa.select(
            _recommendations.c.recommended_item_id,
            sa.func.avg(_recommendations.c.feedback_score).label("score"),
            sa.func.count().label("n"),
        )
        .where(
            _recommendations.c.tenant_id == tenant_id,
            _recommendations.c.user_id == user_id,
            _recommendations.c.recommended_item_type == item_type,
            _recommendations.c.feedback_score.is_not(None),
        )
        .group_by(_recommendations.c.recommended_item_id)
        .order_by(_recommendations.c.recommended_item_id)
    ).all()
    feedbacks = sum(row.n for row in scored)
    if feedbacks == 0:
        return None
    total = sum((Decimal(row.score) - 1) / 4 * row.n for row in scored)
    value = {
        "item_type": item_type,
        "liked": [str(row.recommended_item_id) for row in scored if row.score >= 4],
        "disliked": [str(row.recommended_item_id) for row in scored if row.score <= 2],
        "score": float((total / feedbacks).quantize(Decimal("0.01"))),
        "feedbacks": feedbacks,
    }
    confidence = min(
        MAX_INFERRED_CONFIDENCE, (Decimal(feedbacks) / (feedbacks + 1)).quantize(Decimal("0.01"))
    )
    existing = _existing(connection, tenant_id, user_id, kind)
    if existing is not None and existing.source == PreferenceSource.EXPLICIT:
        return None
    return _put(
        connection, existing, tenant_id, user_id, kind, value, confidence, PreferenceSource.INFERRED
    )


def note_preference(
    context: ToolContext,
    for_user: Annotated[str, Field(min_length=1, description="A member's email or id.")],
    preference_type: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            description="What it is about, e.g. dietary, session_format, recommendation:venue.",
        ),
    ],
    value: Annotated[
        dict[str, Any] | list[Any] | str | float | bool,
        Field(description="What the person prefers, as they said it."),
    ],
    confidence: Annotated[
        float, Field(ge=0, le=1, description="How sure you are you understood, 0-1.")
    ],
) -> dict[str, Any]:
    """Record a preference a person stated (about sessions, food, venues ...), replacing what
    was known of that type; recommendations to them take it into account."""
    kind = " ".join(preference_type.split())
    with writing(context, "user_preferences") as session:
        user_id = member(session, context, for_user)
        connection = session.connection()
        lock_preference(connection, context.tenant_id, user_id, kind)
        stated = {
            "value": value,
            "noted_by_agent": context.agent_name,
            "task_id": str(context.task_id),
            "tool_call_id": context.tool_call_id,
        }
        written = _put(
            connection,
            _existing(connection, context.tenant_id, user_id, kind),
            context.tenant_id,
            user_id,
            kind,
            stated,
            as_decimal(confidence),
            PreferenceSource.EXPLICIT,
        )
        return {
            "preference_id": str(written.preference_id),
            "for_user": str(user_id),
            "preference_type": kind,
            "status": "recorded" if written.created else "updated",
        }


def preferences_about(
    session: Any, user_id: uuid.UUID, item_type: str, recommendation_type: str, item: uuid.UUID
) -> list[dict[str, Any]]:
    """The recipient's preferences about this kind of item (type ``recommendation:<item_type>``,
    ``<item_type>`` or ``<recommendation_type>``, or one of them then ``:``), most confident
    first, each with whether they liked or disliked this very item before."""
    kinds = (recommendation_preference_type(item_type), item_type, recommendation_type)
    kind = _preferences.c.preference_type
    rows = session.execute(
        sa.select(
            kind,
            _preferences.c.preference_value,
            _preferences.c.confidence_level,
            _preferences.c.source,
        )
        .where(
            _preferences.c.user_id == user_id,
            sa.or_(kind.in_(kinds), *(kind.startswith(f"{k}:", autoescape=True) for k in kinds)),
        )
        .order_by(_preferences.c.confidence_level.desc(), kind)
        .limit(20)
    ).all()
    considered = []
    for row in rows:
        value = row.preference_value
        verdict = None
        if isinstance(value, dict) and str(item) in (value.get("liked") or []):
            verdict = "liked"
        elif isinstance(value, dict) and str(item) in (value.get("disliked") or []):
            verdict = "disliked"
        considered.append(
            {
                "type": row.preference_type,
                "value": value,
                "confidence": str(row.confidence_level),
                "source": str(row.source),
                "this_item": verdict,
            }
        )
    return considered


PREFERENCE_TOOLS: list[tuple[Any, dict[str, Any]]] = [
    (note_preference, {"transactional": True}),
]


def _existing(connection: Any, tenant_id: uuid.UUID, user_id: uuid.UUID, kind: str) -> Any:
    """The (oldest) row of the key; older duplicates, had any been written, are not read."""
    return connection.execute(
        sa.select(_preferences.c.id, _preferences.c.source)
        .where(
            _preferences.c.tenant_id == tenant_id,
            _preferences.c.user_id == user_id,
            _preferences.c.preference_type == kind,
        )
        .order_by(_preferences.c.created_at)
        .limit(1)
    ).one_or_none()


def _put(
    connection: Any,
    existing: Any,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str,
    value: Any,
    confidence: Decimal,
    source: PreferenceSource,
) -> PreferenceWritten:
    values = {
        "preference_value": value,
        "confidence_level": confidence,
        "source": source,
        "last_updated": sa.func.now(),
    }
    if existing is not None:
        connection.execute(
            sa.update(_preferences).where(_preferences.c.id == existing.id).values(values)
        )
        return PreferenceWritten(existing.id, kind, confidence, created=False)
    new_id = connection.execute(
        sa.insert(_preferences)
        .values(tenant_id=tenant_id, user_id=user_id, preference_type=kind, **values)
        .returning(_preferences.c.id)
    ).scalar_one()
    return PreferenceWritten(new_id, kind, confidence, created=True)
