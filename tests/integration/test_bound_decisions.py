"""A decision names a verified principal, is checked and taken in one transaction, and an
approval may need a quorum of distinct approvers (issue 12, item 3).

Decisions go through ``worker.approvals.resolve`` on a workflow's approval gate, with real
PostgreSQL; what is recorded is read back from ``approval_decisions`` and ``audit_logs``.
"""

from __future__ import annotations

import getpass
import threading
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.agents import ensure_tenant
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.approvals import (
    DuplicateVote,
    NotAllowed,
    StaleRequest,
    cli_principal,
    get_approval,
    resolve,
)
from worker.core.contract import ADVANCE_WORKFLOW
from worker.security.principals import Principal, PrincipalKind, Scope
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance

ADA, BOB, MEL = "ada@acme.test", "bob@acme.test", "mel@acme.test"


def _gate(engine: sa.Engine, **policy: Any) -> uuid.UUID:
    """A pending approval of a workflow gate of tenant acme; Ada and Bob are approvers, Mel a
    member."""
    add_member(engine, "acme", ADA, "approver")
    add_member(engine, "acme", BOB, "approver")
    add_member(engine, "acme", MEL, "member")
    add_workflow(engine, "gated", [approval_gate(**policy)])
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow="gated", input={}, idempotency_key=None
        ).execution_id
    advance(engine, RecordingPublisher(), execution_id)
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT id FROM approvals")).scalar_one()


def _tenant(engine: sa.Engine, slug: str = "acme") -> uuid.UUID:
    return ensure_tenant(engine, slug)


def _user_id(engine: sa.Engine, email: str) -> uuid.UUID:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT id FROM users WHERE email = :e"), {"e": email}
        ).scalar_one()


def _key(tenant_id: uuid.UUID, *scopes: Scope) -> Principal:
    return Principal(
        kind=PrincipalKind.SERVICE_KEY,
        tenant_id=tenant_id,
        key_id=uuid.uuid4(),
        scopes=frozenset(scopes),
        label="key awk_test0001 (billing)",
    )


def _refusals(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(
                    "SELECT actor, changes, metadata FROM audit_logs "
                    "WHERE action = 'approval.refused' ORDER BY created_at"
                )
            )
        )


def _votes(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(
            connection.execute(sa.text("SELECT * FROM approval_decisions ORDER BY created_at"))
        )


def _decide(engine: sa.Engine, approval_id: uuid.UUID, decision: str, user: str | None, **kw: Any):
    publisher = kw.pop("publisher", RecordingPublisher())
    return resolve(engine, publisher, approval_id, decision, user, **kw)  # type: ignore[arg-type]


# --- principals ------------------------------------------------------------------------------


def test_a_signed_in_user_decides_as_themself(engine: sa.Engine) -> None:
    approval_id = _gate(engine)
    ada = Principal(
        kind=PrincipalKind.USER, tenant_id=_tenant(engine), user_id=_user_id(engine, ADA)
    )

    view = _decide(engine, approval_id, "approve", None, principal=ada)

    assert (view.status.value, view.decided_by) == ("approved", ADA)
    assert view.decided_by_principal["principal_kind"] == "user"
    (vote,) = _votes(engine)
    assert (vote.approver, vote.principal_kind) == (ADA, "user")


def test_a_signed_in_user_cannot_decide_as_someone_else(engine: sa.Engine) -> None:
    approval_id = _gate(engine)
    mel = Principal(
        kind=PrincipalKind.USER, tenant_id=_tenant(engine), user_id=_user_id(engine, MEL)
    )

    with pytest.raises(NotAllowed, match=r"cannot decide as ada@acme\.test"):
        _decide(engine, approval_id, "approve", ADA, principal=mel)

    assert get_approval(engine, approval_id).status.value == "pending"
    assert _refusals(engine)[0].metadata["principal"]["principal_kind"] == "user"


def test_a_key_with_the_decide_scope_acts_for_the_named_user_and_both_are_recorded(
    engine: sa.Engine,
) -> None:
    approval_id = _gate(engine)
    key = _key(_tenant(engine), Scope.DECIDE)

    view = _decide(engine, approval_id, "approve", ADA, principal=key)

    assert view.status.value == "approved"
    (vote,) = _votes(engine)
    assert (vote.approver, vote.user_id, vote.principal_kind, vote.key_id) == (
        ADA,
        _user_id(engine, ADA),
        "service_key",
        key.key_id,
    )
    with engine.connect() as connection:
        audit = connection.execute(
            sa.text(
                "SELECT actor, user_id, metadata FROM audit_logs WHERE action = 'approval.approved'"
            )
        ).one()
    assert (audit.actor, audit.user_id) == (ADA, _user_id(engine, ADA))
    assert audit.metadata["principal"]["key_id"] == str(key.key_id)


def test_a_key_without_the_decide_scope_is_refused_and_the_refusal_audited(
    engine: sa.Engine,
) -> None:
    approval_id = _gate(engine)

    with pytest.raises(NotAllowed, match="lacks the 'decide' scope"):
        _decide(engine, approval_id, "approve", ADA, principal=_key(_tenant(engine), Scope.SUBMIT))

    assert get_approval(engine, approval_id).status.value == "pending"
    assert _votes(engine) == []
    (refusal,) = _refusals(engine)
    assert refusal.actor == ADA
    assert refusal.changes["code"] == "not_allowed"
    assert refusal.metadata["principal"]["principal_kind"] == "service_key"


def test_a_principal_of_another_tenant_is_refused_and_audited(engine: sa.Engine) -> None:
    approval_id = _gate(engine)
    globex = _tenant(engine, "globex")

    with pytest.raises(NotAllowed, match="belongs to another tenant"):
        _decide(engine, approval_id, "approve", ADA, principal=_key(globex, Scope.DECIDE))
    broker = Principal(kind=PrincipalKind.BROKER, tenant_id=globex, label="broker")
    with pytest.raises(NotAllowed, match="belongs to another tenant"):
        _decide(engine, approval_id, "approve", ADA, principal=broker)

    assert get_approval(engine, approval_id).status.value == "pending"
    assert len(_refusals(engine)) == 2


def test_a_decision_through_no_principal_is_refused_and_audited(engine: sa.Engine) -> None:
    approval_id = _gate(engine)

    with pytest.raises(NotAllowed, match="no verified principal"):
        _decide(engine, approval_id, "approve", ADA, principal=None)

    assert len(_refusals(engine)) == 1


def test_the_broker_of_a_trusted_tenant_acts_for_the_named_user(engine: sa.Engine) -> None:
    approval_id = _gate(engine)
    broker = Principal(kind=PrincipalKind.BROKER, tenant_id=None, label="broker")

    assert _decide(engine, approval_id, "approve", BOB, principal=broker).status.value == "approved"
    (vote,) = _votes(engine)
    assert (vote.approver, vote.principal_kind, vote.principal) == (BOB, "broker", "broker")


def test_the_cli_is_recorded_with_the_operating_system_user(engine: sa.Engine) -> None:
    approval_id = _gate(engine)

    _decide(engine, approval_id, "approve", ADA, principal=cli_principal())

    (vote,) = _votes(engine)
    assert (vote.approver, vote.principal_kind, vote.os_user) == (ADA, "cli", getpass.getuser())
    with engine.connect() as connection:
        fields = connection.execute(
            sa.text(
                "SELECT metadata->'principal' FROM audit_logs WHERE action = 'approval.approved'"
            )
        ).scalar_one()
    assert (fields["principal_kind"], fields["os_user"]) == ("cli", getpass.getuser())


def test_a_member_below_the_required_role_is_refused(engine: sa.Engine) -> None:
    approval_id = _gate(engine)

    with pytest.raises(NotAllowed, match="'member' in tenant 'acme'"):
        _decide(engine, approval_id, "approve", MEL, principal=cli_principal())


def test_a_digest_on_an_approval_that_has_none_is_refused(engine: sa.Engine) -> None:
    approval_id = _gate(engine)

    with pytest.raises(StaleRequest, match="carries no digest"):
        _decide(engine, approval_id, "approve", ADA, principal=cli_principal(), digest="a" * 64)


# --- one transaction --------------------------------------------------------------------------


def test_a_membership_revoked_while_the_decision_is_checked_cannot_slip_through(
    engine: sa.Engine,
) -> None:
    """The revocation is in flight (deleted, not yet committed) when the decision reads the
    membership: the decision waits for it, then sees it gone, instead of approving on the role
    it read and committing after the revocation did."""
    approval_id = _gate(engine)
    outcome: list[BaseException | str] = []

    def decide() -> None:
        try:
            outcome.append(
                _decide(engine, approval_id, "approve", ADA, principal=cli_principal()).status
            )
        except BaseException as error:
            outcome.append(error)

    with engine.connect() as revoking:
        transaction = revoking.begin()
        revoking.execute(
            sa.text("DELETE FROM tenant_memberships WHERE user_id = :u"),
            {"u": _user_id(engine, ADA)},
        )
        deciding = threading.Thread(target=decide)
        deciding.start()
        time.sleep(0.5)
        assert deciding.is_alive(), "the decision did not wait for the revocation in flight"
        transaction.commit()
    deciding.join(10)

    assert len(outcome) == 1 and isinstance(outcome[0], NotAllowed), outcome
    assert get_approval(engine, approval_id).status.value == "pending"


# --- quorum ----------------------------------------------------------------------------------


def test_a_quorum_of_two_needs_two_distinct_approvers_and_wakes_the_workflow_once(
    engine: sa.Engine,
) -> None:
    approval_id = _gate(engine, quorum=2)
    publisher = RecordingPublisher()

    first = _decide(
        engine, approval_id, "approve", ADA, principal=cli_principal(), publisher=publisher
    )
    assert first.status.value == "pending"
    assert publisher.names() == []
    second = _decide(
        engine, approval_id, "approve", BOB, principal=cli_principal(), publisher=publisher
    )

    assert (second.status.value, second.decided_by) == ("approved", BOB)
    assert [vote.approver for vote in second.votes] == [ADA, BOB]
    assert publisher.names() == [ADVANCE_WORKFLOW]


def test_the_same_user_twice_does_not_make_a_quorum_of_two(engine: sa.Engine) -> None:
    approval_id = _gate(engine, quorum=2)
    ada_by_id = str(_user_id(engine, ADA))

    _decide(engine, approval_id, "approve", ADA, principal=cli_principal())
    with pytest.raises(DuplicateVote, match="already voted"):
        _decide(
            engine, approval_id, "approve", ada_by_id, principal=_key(_tenant(engine), Scope.DECIDE)
        )

    view = get_approval(engine, approval_id)
    assert view.status.value == "pending" and len(view.votes) == 1
    assert _refusals(engine)[0].changes["code"] == "duplicate_vote"


def test_one_rejection_rejects_a_quorum_approval(engine: sa.Engine) -> None:
    approval_id = _gate(engine, quorum=2)

    _decide(engine, approval_id, "approve", ADA, principal=cli_principal())
    view = _decide(engine, approval_id, "reject", BOB, principal=cli_principal(), comment="no")

    assert (view.status.value, view.decided_by) == ("rejected", BOB)


def test_rejections_needed_lets_a_single_rejection_stand_as_a_vote(engine: sa.Engine) -> None:
    approval_id = _gate(engine, quorum=1, rejections_needed=2)

    assert (
        _decide(engine, approval_id, "reject", ADA, principal=cli_principal()).status == "pending"
    )
    assert (
        _decide(engine, approval_id, "approve", BOB, principal=cli_principal()).status == "approved"
    )
