"""``agentworker recommendations list | feedback``: what agents recommended to a tenant's
people, and a person's 1-5 feedback on one, which becomes training data for the agent that made
it and updates the person's inferred preference for that kind of item
(``worker.agents.feedback``)."""

from __future__ import annotations

import click
import sqlalchemy as sa

from worker.cli.output import as_json, table
from worker.cli.scoping import cli_tenant_scope
from worker.core.settings import get_settings


@click.group()
def recommendations() -> None:
    """Agents' recommendations, and feedback on them."""


@recommendations.command("list")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json_output", is_flag=True)
def list_(tenant: str, limit: int, as_json_output: bool) -> None:
    """The newest recommendations: for whom, what, how confident, and any feedback."""
    from models import AIRecommendation, User
    from models.db import create_sync_engine

    engine = create_sync_engine(get_settings().database_url)
    try:
        with cli_tenant_scope(engine, tenant), engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    AIRecommendation.id,
                    User.email,
                    AIRecommendation.recommendation_type,
                    AIRecommendation.recommended_item_type,
                    AIRecommendation.confidence_score,
                    AIRecommendation.feedback_score,
                    AIRecommendation.expires_at,
                    AIRecommendation.reasoning,
                )
                .join(User, User.id == AIRecommendation.user_id)
                .order_by(AIRecommendation.created_at.desc())
                .limit(limit)
            ).all()
    finally:
        engine.dispose()
    if as_json_output:
        click.echo(as_json([dict(row._mapping) for row in rows]))
        return
    click.echo(
        table(
            [
                (
                    row.id,
                    row.email,
                    row.recommendation_type,
                    row.recommended_item_type,
                    row.confidence_score,
                    row.feedback_score or "-",
                    f"{row.expires_at:%Y-%m-%d}" if row.expires_at else "-",
                    (row.reasoning or {}).get("agent") or "-",
                )
                for row in rows
            ],
            ["id", "for", "type", "item", "confidence", "feedback", "expires", "agent"],
        )
    )


@recommendations.command("feedback")
@click.argument("recommendation_id")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--score", required=True, type=click.IntRange(1, 5), help="1 (useless) to 5.")
@click.option("--comment", help="Why, in a sentence.")
@click.option("--accepted/--declined", default=None, help="Whether it was taken up.")
@click.option("--json", "as_json_output", is_flag=True)
def feedback(
    recommendation_id: str,
    tenant: str,
    score: int,
    comment: str | None,
    accepted: bool | None,
    as_json_output: bool,
) -> None:
    """Score a recommendation; it becomes training data for the agent that made it and
    updates the person's inferred preference for that kind of item."""
    from models.db import create_sync_engine
    from worker.agents.feedback import FeedbackError, record_feedback

    engine = create_sync_engine(get_settings().database_url)
    try:
        with cli_tenant_scope(engine, tenant), engine.begin() as connection:
            recorded = record_feedback(
                connection, recommendation_id, score, comment=comment, accepted=accepted
            )
    except FeedbackError as error:
        raise click.ClickException(str(error)) from error
    finally:
        engine.dispose()
    if as_json_output:
        click.echo(
            as_json(
                {
                    "recommendation_id": recorded.recommendation_id,
                    "training_data_id": recorded.training_data_id,
                    "agent_id": recorded.agent_id,
                    "score": recorded.score,
                    "quality_score": recorded.quality_score,
                    "replaced": recorded.replaced,
                    "preference_id": recorded.preference_id,
                    "preference_confidence": recorded.preference_confidence,
                }
            )
        )
        return
    verb = "replaced" if recorded.replaced else "recorded"
    click.echo(
        f"feedback {recorded.score}/5 {verb}: training sample {recorded.training_data_id} "
        f"(quality {recorded.quality_score}) for agent {recorded.agent_id}"
    )
    if recorded.preference_id is not None:
        click.echo(
            f"inferred preference {recorded.preference_id} updated "
            f"(confidence {recorded.preference_confidence})"
        )
