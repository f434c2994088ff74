"""Seed 001's user_preferences at work: feedback on a recommendation keeps one inferred
preference row per (user, kind of item), updated in place with a confidence that grows with
the feedback; ``recommend`` records the recipient's preferences it took into account; an agent
records a preference a person stated with ``note_preference``, within the seed's bounds.

Driven as tests/integration/test_ai_outputs.py drives the output tools (its harness: a real
runtime, PostgreSQL and the local LLM server, which calls every tool it is offered).
"""

from __future__ import annotations

from decimal import Decimal

from models.tenant_scope import tenant_scope
from tests.integration import test_ai_outputs as ai_outputs
from worker.agents.feedback import record_feedback

Harness = ai_outputs.Harness
harness = ai_outputs.harness  # the fixture, shared rather than copied
OWNER = ai_outputs.OWNER


def _feedback(harness: Harness, recommendation_id: object, score: int) -> object:
    (rec,) = harness.rows(
        "SELECT tenant_id FROM ai_recommendations WHERE id = :r", r=recommendation_id
    )
    with tenant_scope(rec.tenant_id), harness.runtime.engine.begin() as connection:
        return record_feedback(connection, recommendation_id, score)


def _preferences(harness: Harness) -> list[object]:
    return harness.rows(
        "SELECT p.*, u.email FROM user_preferences p JOIN users u ON u.id = p.user_id "
        "ORDER BY p.preference_type"
    )


def test_feedback_creates_then_updates_one_inferred_preference(harness: Harness) -> None:
    harness.agent("analyst", ["recommend"])
    harness.run("analyst")
    harness.run("analyst")
    first, second = harness.rows(
        "SELECT id, recommended_item_id FROM ai_recommendations ORDER BY created_at"
    )

    recorded = _feedback(harness, first.id, 5)
    (created,) = _preferences(harness)
    _feedback(harness, second.id, 3)
    (updated,) = _preferences(harness)
    _feedback(harness, first.id, 1)  # given again: replaces, never counts twice
    (replaced,) = _preferences(harness)

    assert (created.email, created.preference_type) == (OWNER, "recommendation:event")
    assert created.source == "inferred" and recorded.preference_id == created.id
    assert created.preference_value == {
        "item_type": "event",
        "liked": [str(first.recommended_item_id)],
        "disliked": [],
        "score": 1.0,
        "feedbacks": 1,
    }
    assert updated.id == created.id == replaced.id
    assert created.confidence_level == Decimal("0.50")
    assert updated.confidence_level == replaced.confidence_level == Decimal("0.67")
    assert updated.preference_value["feedbacks"] == replaced.preference_value["feedbacks"] == 2
    # Both recommendations point at the event: 5 and 3 average 4 (liked); 1 and 3, 2.
    assert updated.preference_value["score"] == 0.75
    assert replaced.preference_value["score"] == 0.25
    assert replaced.preference_value["disliked"] == [str(first.recommended_item_id)]
    assert updated.last_updated >= created.last_updated


def test_a_recommendation_records_the_preferences_it_took_into_account(
    harness: Harness,
) -> None:
    harness.agent("analyst", ["recommend"])
    harness.run("analyst")
    (earlier,) = harness.rows("SELECT id, recommended_item_id FROM ai_recommendations")
    assert (
        harness.rows("SELECT reasoning FROM ai_recommendations")[0].reasoning["preferences"] == []
    )
    _feedback(harness, earlier.id, 5)
    harness.agent(
        "concierge",
        ["note_preference"],
        {
            "for_user": OWNER,
            "preference_type": "event",
            "value": {"prefers": "small rooms"},
            "confidence": 0.8,
        },
    )
    harness.run("concierge", "Olivia says she prefers small rooms")
    harness.agent(
        "chef",
        ["note_preference"],
        {"for_user": OWNER, "preference_type": "dietary", "value": "vegetarian", "confidence": 1},
    )
    harness.run("chef", "Olivia is vegetarian")

    task_id = harness.run("analyst")

    (rec,) = harness.rows(
        "SELECT reasoning FROM ai_recommendations WHERE reasoning ->> 'task_id' = :t",
        t=str(task_id),
    )
    considered = {p["type"]: p for p in rec.reasoning["preferences"]}
    assert set(considered) == {"event", "recommendation:event"}  # not the dietary one
    assert considered["recommendation:event"]["source"] == "inferred"
    assert considered["recommendation:event"]["this_item"] == "liked"
    assert considered["event"]["source"] == "explicit"
    assert considered["event"]["confidence"] == "0.80"
    assert considered["event"]["value"]["value"] == {"prefers": "small rooms"}
    (stated,) = harness.rows("SELECT * FROM user_preferences WHERE preference_type = 'dietary'")
    assert (stated.source, stated.confidence_level) == ("explicit", Decimal("1.00"))
    assert stated.preference_value["value"] == "vegetarian"
    assert stated.preference_value["noted_by_agent"] == "chef"


def test_a_stated_preference_is_updated_in_place_and_feedback_leaves_it(
    harness: Harness,
) -> None:
    stated = {"for_user": OWNER, "preference_type": "recommendation:event", "confidence": 0.9}
    harness.agent("concierge", ["note_preference"], {**stated, "value": "conferences"})
    harness.run("concierge")
    harness.run("concierge")
    harness.agent("analyst", ["recommend"])
    harness.run("analyst")
    (rec,) = harness.rows("SELECT id FROM ai_recommendations")

    recorded = _feedback(harness, rec.id, 1)

    (row,) = _preferences(harness)  # one row however often it was stated
    assert (row.source, row.confidence_level) == ("explicit", Decimal("0.90"))
    assert row.preference_value["value"] == "conferences"
    assert recorded.preference_id is None  # the person's own statement stands


def test_a_preference_beyond_the_bounds_is_an_error_to_the_model_and_writes_nothing(
    harness: Harness,
) -> None:
    harness.agent(
        "careless",
        ["note_preference"],
        {"for_user": OWNER, "preference_type": "dietary", "value": "vegan", "confidence": 1.5},
    )
    task_id = harness.run("careless")

    (content,) = harness.tool_messages(task_id)
    assert content.startswith("error:") and "confidence" in content
    assert harness.rows("SELECT id FROM user_preferences") == []
    (action,) = harness.rows("SELECT status FROM action_logs WHERE task_id = :t", t=task_id)
    assert action.status == "failure"
