"""Seed 004's domain rules on the real database: the board's transitions and reordering,
prompt versions and composition, interview answers checked against their schema and answered
once, and a commit written only for a card in review, moving it to done."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from models import AuditLog, BoardTaskStatus, Commit, CommitType, InterviewStatus
from tests.support.rows import RowFactory
from worker.orchestrator import (
    InvalidAnswer,
    InvalidCommit,
    InvalidPrompt,
    MoveRefused,
    NotAwaitingAnswer,
    add_card,
    answer_interview,
    cards_of,
    compose,
    conventional_message,
    history,
    load_interview,
    move_card,
    open_interview,
    save_prompt,
    setting,
    write_commit,
)
from worker.orchestrator.interviews import ask

B = BoardTaskStatus


@pytest.fixture
def project(engine: sa.Engine) -> tuple[uuid.UUID, uuid.UUID]:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        return rows.tenant_id, rows.insert("projects", name="shop")


def test_a_card_moves_along_the_board_and_never_skips_review(engine, project) -> None:
    tenant_id, project_id = project
    with engine.begin() as connection:
        card = add_card(connection, tenant_id=tenant_id, project_id=project_id, title="sign-in")
        assert (card.status, card.column, card.position) == (B.BACKLOG, "backlog", 0)
        card = move_card(connection, card.id, B.IN_PROGRESS)
        assert (card.status, card.column) == (B.IN_PROGRESS, "in_progress")
        with pytest.raises(MoveRefused, match=r"in_progress and cannot move to done.*review"):
            move_card(connection, card.id, B.DONE)
        card = move_card(connection, card.id, B.REVIEW)
        card = move_card(connection, card.id, B.DONE)
        with pytest.raises(MoveRefused, match="done is final"):
            move_card(connection, card.id, B.TODO)


def test_a_move_to_a_position_shifts_the_cards_from_there(engine, project) -> None:
    tenant_id, project_id = project
    with engine.begin() as connection:
        first, second, third = (
            add_card(connection, tenant_id=tenant_id, project_id=project_id, title=t)
            for t in ("a", "b", "c")
        )
        move_card(connection, third.id, B.BACKLOG, new_order=0)
        order = [c.title for c in cards_of(connection, project_id)]
    assert order == ["c", "a", "b"]
    assert [first.position, second.position] == [0, 1]


def test_prompt_versions_chain_and_components_compose(engine, project) -> None:
    tenant_id, project_id = project
    with engine.begin() as connection:
        style = save_prompt(
            connection,
            tenant_id=tenant_id,
            project_id=project_id,
            content="Write tests first.",
            prompt_type="conventions",
            is_reusable=True,
        )
        first = save_prompt(
            connection,
            tenant_id=tenant_id,
            project_id=project_id,
            content="Build the shop.",
            prompt_type="task",
            components=[style.id],
        )
        second = save_prompt(
            connection,
            tenant_id=tenant_id,
            project_id=project_id,
            content="Build the shop, with a cart.",
            prompt_type="task",
            components=[style.id],
        )
        assert (first.version, second.version, second.parent_id) == (1, 2, first.id)
        assert [p.version for p in history(connection, second.id)] == [2, 1]
        assert (
            compose(connection, second.id) == "Write tests first.\n\nBuild the shop, with a cart."
        )
        with pytest.raises(InvalidPrompt, match="not a reusable prompt"):
            save_prompt(
                connection,
                tenant_id=tenant_id,
                project_id=project_id,
                content="x",
                prompt_type="task",
                components=[first.id],
            )


def test_an_answer_that_fails_its_schema_changes_nothing(engine, project) -> None:
    tenant_id, project_id = project
    schema = {"type": "object", "required": ["users"], "properties": {"users": {"type": "integer"}}}
    with engine.begin() as connection:
        interview = open_interview(
            connection,
            tenant_id=tenant_id,
            project_id=project_id,
            first_question="How many users?",
            answer_schema=schema,
        )
    with engine.begin() as connection, pytest.raises(InvalidAnswer, match="at /users") as caught:
        answer_interview(connection, interview.id, {"users": "many"}, principal=None, actor="ann")
    assert "answer again" in str(caught.value)
    with engine.begin() as connection:
        assert load_interview(connection, interview.id).conversation == interview.conversation
        answered = answer_interview(
            connection, interview.id, {"users": 40}, principal=None, actor="ann", question=1
        )
    assert answered.interview.answers == [{"users": 40}]
    assert answered.wake is None  # no workflow asked it
    with engine.begin() as connection, pytest.raises(NotAwaitingAnswer):
        answer_interview(connection, interview.id, {"users": 41}, principal=None, actor="bob")
    with engine.begin() as connection:
        assert ask(connection, answered.interview, "Which payment?", {"type": "string"})
        assert not ask(connection, answered.interview, "Which payment?", {"type": "string"})
        state = load_interview(connection, interview.id)
        with pytest.raises(NotAwaitingAnswer, match="question 2 is"):
            answer_interview(
                connection, interview.id, "cards", principal=None, actor="a", question=1
            )
        audits = (
            connection.execute(
                sa.select(AuditLog.actor).where(AuditLog.resource_id == str(interview.id))
            )
            .scalars()
            .all()
        )
    assert state.questions_asked == 2 and state.status == InterviewStatus.ACTIVE
    assert audits == ["ann"]


def test_a_commit_is_written_for_a_card_in_review_and_moves_it_to_done(engine, project) -> None:
    tenant_id, project_id = project
    message = conventional_message(CommitType.FEAT, "add a cart", scope="shop", body="Why: asked")
    assert message == "feat(shop): add a cart\n\nWhy: asked"
    with pytest.raises(InvalidCommit, match="one line"):
        conventional_message(CommitType.FIX, "two\nlines")
    with engine.begin() as connection:
        card = add_card(connection, tenant_id=tenant_id, project_id=project_id, title="cart")
        with pytest.raises(
            InvalidCommit, match="backlog; a commit is written for a task in review"
        ):
            write_commit(
                connection,
                board_task_id=card.id,
                commit_type=CommitType.FEAT,
                message=message,
                changes={},
                model="m",
                author=setting(connection, tenant_id, "orchestrator.commit.author"),
            )
    with engine.begin() as connection:
        move_card(connection, card.id, B.IN_PROGRESS)
        move_card(connection, card.id, B.REVIEW)
        written = write_commit(
            connection,
            board_task_id=card.id,
            commit_type=CommitType.FEAT,
            message=message,
            changes={"files": ["cart.py"]},
            model="m",
            author="AI System",
        )
        (status,) = connection.execute(
            sa.text("SELECT status FROM board_tasks WHERE id = :id"), {"id": card.id}
        ).one()
        author = connection.execute(
            sa.select(Commit.author).where(Commit.id == written.id)
        ).scalar_one()
    assert (status, author) == ("done", "AI System")
