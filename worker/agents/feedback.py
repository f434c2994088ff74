"""A person's feedback on a recommendation (seed 001): its ``feedback_score`` (1-5) and
``is_accepted`` are set, and the recommendation with its feedback becomes one ``feedback``
sample of ``ai_training_data`` for the agent that made it, with a quality score of
(score - 1) / 4 (1 → 0.0, 5 → 1.0). Feedback given again replaces the earlier one: the same
sample is updated, never a second one.

In the same transaction the user's inferred ``user_preferences`` row for that kind of item
(``recommendation:<item_type>``) is recomputed from all their feedback on such items
(``worker.agents.tools.preferences.infer_from_feedback``): liked and disliked item ids, a
running score, a confidence that grows with the number of feedbacks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from models import AIRecommendation, AITrainingData, TrainingDataType
from worker.agents.tools.preferences import infer_from_feedback
from worker.core.errors import AgentWorkerError

_recommendations = AIRecommendation.__table__
_training = AITrainingData.__table__


class FeedbackError(AgentWorkerError):
    code = "feedback_invalid"


@dataclass(frozen=True)
class FeedbackRecorded:
    recommendation_id: uuid.UUID
    training_data_id: uuid.UUID
    agent_id: uuid.UUID
    score: int
    quality_score: Decimal
    replaced: bool
    #: The user's inferred preference for this kind of item, now updated; None when the user
    #: stated that preference themselves (an explicit row is not overwritten).
    preference_id: uuid.UUID | None = None
    preference_confidence: Decimal | None = None


def quality_of(score: int) -> Decimal:
    return (Decimal(score - 1) / Decimal(4)).quantize(Decimal("0.01"))


def record_feedback(
    connection: sa.Connection,
    recommendation_id: uuid.UUID | str,
    score: int,
    *,
    comment: str | None = None,
    accepted: bool | None = None,
    user_id: uuid.UUID | None = None,
) -> FeedbackRecorded:
    """Record ``score`` (1-5) on the recommendation (in the caller's tenant scope) and keep it
    as training data for the agent that made it."""
    if not 1 <= score <= 5:
        raise FeedbackError(f"a feedback score is 1 to 5, not {score}")
    try:
        rec_id = uuid.UUID(str(recommendation_id))
    except ValueError:
        raise FeedbackError(f"{recommendation_id!r} is not a recommendation id") from None
    rec = connection.execute(
        sa.select(_recommendations).where(_recommendations.c.id == rec_id).with_for_update()
    ).one_or_none()
    if rec is None:
        raise FeedbackError(f"no recommendation {rec_id} in this tenant")
    agent = (rec.reasoning or {}).get("agent_id")
    if not agent:
        raise FeedbackError(
            f"recommendation {rec_id} does not say which agent made it, so its feedback cannot "
            "train one"
        )
    is_accepted = accepted if accepted is not None else rec.is_accepted
    connection.execute(
        sa.update(_recommendations)
        .where(_recommendations.c.id == rec_id)
        .values(feedback_score=score, is_accepted=is_accepted)
    )
    quality = quality_of(score)
    raw: dict[str, Any] = {
        "recommendation_id": str(rec_id),
        "recommendation_type": str(rec.recommendation_type),
        "recommended_item_type": rec.recommended_item_type,
        "recommended_item_id": str(rec.recommended_item_id),
        "confidence_score": str(rec.confidence_score),
        "reasoning": rec.reasoning,
    }
    processed = {"feedback_score": score, "accepted": is_accepted, "comment": comment}
    values = {
        "agent_id": uuid.UUID(agent),
        "data_type": TrainingDataType.FEEDBACK,
        "source_event_id": rec.event_id,
        "source_user_id": user_id or rec.user_id,
        "raw_data": raw,
        "processed_data": processed,
        "quality_score": quality,
        "is_verified": user_id is not None,
    }
    existing = connection.execute(
        sa.select(_training.c.id).where(
            _training.c.data_type == TrainingDataType.FEEDBACK,
            _training.c.raw_data["recommendation_id"].astext == str(rec_id),
        )
    ).scalar_one_or_none()
    if existing is not None:
        connection.execute(sa.update(_training).where(_training.c.id == existing).values(values))
        sample_id = existing
    else:
        sample_id = connection.execute(
            sa.insert(_training).values(tenant_id=rec.tenant_id, **values).returning(_training.c.id)
        ).scalar_one()
    preference = infer_from_feedback(
        connection, rec.tenant_id, rec.user_id, rec.recommended_item_type
    )
    return FeedbackRecorded(
        rec_id,
        sample_id,
        uuid.UUID(agent),
        score,
        quality,
        replaced=existing is not None,
        preference_id=preference.preference_id if preference else None,
        preference_confidence=preference.confidence_level if preference else None,
    )
