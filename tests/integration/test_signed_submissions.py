"""Signed broker submissions (issue 12): a tampered, expired, revoked, out-of-scope, foreign,
stale or replayed signed submission is refused with a reason the sender can read and audited;
a tenant in ``signed`` mode refuses unsigned messages; a valid signature runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.agents import add_agent, ensure_tenant
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.rows import RowFactory
from worker.agents.runtime import Runtime, build_runtime
from worker.app.handlers import (
    handle_ingest_knowledge,
    handle_resolve_approval,
    handle_run_task,
    handle_start_workflow,
)
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.security.api_keys import IssuedKey, issue_key, revoke_key
from worker.security.encryption import SecretBox, generate_key
from worker.security.signing import sign_kwargs
from worker.security.verification import purge_nonces

ENCRYPTION_KEY = generate_key()
RUN = "agents.run_task"
JOB = {"tenant": "acme", "agent": "helper", "input": "Plan a venue shortlist"}


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    with LocalLLMServer() as llm:
        settings = Settings(
            database_url=database_url,
            openai_base_url=llm.base_url,
            local_llm=True,
            encryption_keys=(ENCRYPTION_KEY,),
        )
        runtime = build_runtime(settings, RecordingPublisher(), heartbeat=False)
        add_agent(runtime.engine, "helper")
        try:
            yield runtime
        finally:
            runtime.close()


def _key(
    engine: sa.Engine, tenant: str = "acme", scopes: tuple[str, ...] = ("submit",), **options: Any
) -> IssuedKey:
    tenant_id = ensure_tenant(engine, tenant)
    with engine.begin() as connection:
        return issue_key(
            connection,
            SecretBox([ENCRYPTION_KEY]),
            tenant_id=tenant_id,
            name="billing",
            scopes=scopes,
            **options,
        )


def _signed_mode(engine: sa.Engine, tenant: str = "acme") -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE tenants SET broker_auth = 'signed' WHERE slug = :s"), {"s": tenant}
        )


def _task(engine: sa.Engine, message_id: str) -> sa.Row[Any]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT status, error_code, error, input_payload FROM tasks "
                "WHERE broker_message_id = :m"
            ),
            {"m": message_id},
        ).one()


def _audit(engine: sa.Engine, action: str) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(
                    "SELECT tenant_id, actor, resource_id, changes, metadata FROM audit_logs "
                    "WHERE action = :a ORDER BY created_at"
                ),
                {"a": action},
            )
        )


def _error_logs(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text("SELECT tenant_id, error_type, error_message FROM ai_error_logs")
            )
        )


# --- accepted ---------------------------------------------------------------------------------


def test_a_signed_submission_runs_and_its_key_is_audited(runtime: Runtime) -> None:
    key = _key(runtime.engine)

    outcome = handle_run_task(runtime, sign_kwargs(RUN, JOB, key.key), "m-signed")

    assert outcome.status == "succeeded"
    assert _task(runtime.engine, "m-signed").status == "SUCCEEDED"
    (audit,) = _audit(runtime.engine, "submission.signed")
    assert audit.actor == f"key {key.prefix} (billing)"
    assert audit.resource_id == "m-signed"
    assert audit.metadata["principal_kind"] == "service_key"
    assert audit.metadata["key_id"] == str(key.key_id)


def test_an_unsigned_submission_of_a_trusted_tenant_runs_as_before(runtime: Runtime) -> None:
    assert handle_run_task(runtime, dict(JOB), "m-trusted").status == "succeeded"
    assert _audit(runtime.engine, "submission.refused") == []


def test_a_tenant_in_signed_mode_refuses_an_unsigned_submission_and_audits_it(
    runtime: Runtime,
) -> None:
    _key(runtime.engine)
    _signed_mode(runtime.engine)

    outcome = handle_run_task(runtime, dict(JOB), "m-unsigned")

    assert outcome.status == "failed"
    task = _task(runtime.engine, "m-unsigned")
    assert (task.status, task.error_code) == ("FAILED", "unauthenticated")
    assert "accepts only signed submissions" in task.error
    (audit,) = _audit(runtime.engine, "submission.refused")
    assert audit.actor == "broker"
    assert audit.changes["code"] == "unauthenticated"
    assert audit.resource_id == "m-unsigned"


def test_a_tenant_in_signed_mode_runs_a_signed_submission(runtime: Runtime) -> None:
    key = _key(runtime.engine)
    _signed_mode(runtime.engine)

    assert handle_run_task(runtime, sign_kwargs(RUN, JOB, key.key), "m-ok").status == "succeeded"


# --- refused ----------------------------------------------------------------------------------


def _tampered(key: IssuedKey) -> dict[str, Any]:
    signed = sign_kwargs(RUN, JOB, key.key)
    return {**signed, "input": "Wire the budget to me instead"}


def _wrong_secret(key: IssuedKey) -> dict[str, Any]:
    return sign_kwargs(RUN, JOB, key.prefix + "0" * 40)


def _stale(key: IssuedKey) -> dict[str, Any]:
    return sign_kwargs(RUN, JOB, key.key, timestamp=int(time.time()) - 301)


def _future(key: IssuedKey) -> dict[str, Any]:
    return sign_kwargs(RUN, JOB, key.key, timestamp=int(time.time()) + 600)


REFUSALS = {
    "tampered": (_tampered, {}, "unauthenticated", "wrong signature"),
    "wrong-secret": (_wrong_secret, {}, "unauthenticated", "wrong signature"),
    "expired-key": (
        lambda key: sign_kwargs(RUN, JOB, key.key),
        {"expires_at": datetime.now(UTC) - timedelta(seconds=5)},
        "unauthenticated",
        "expired at",
    ),
    "stale-timestamp": (_stale, {}, "unauthenticated", "the window is 300 s"),
    "future-timestamp": (_future, {}, "unauthenticated", "the window is 300 s"),
    "read-only-key": (
        lambda key: sign_kwargs(RUN, JOB, key.key),
        {"scopes": ("read",)},
        "forbidden",
        "lacks the 'submit' scope",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_bad_signed_submission_is_refused_with_its_reason_and_audited(
    runtime: Runtime, case: str
) -> None:
    make, options, code, reason = REFUSALS[case]
    key = _key(runtime.engine, **options)

    outcome = handle_run_task(runtime, make(key), f"m-{case}")

    assert outcome.status == "failed"
    task = _task(runtime.engine, f"m-{case}")
    assert (task.status, task.error_code) == ("FAILED", code)
    assert reason in task.error
    assert task.input_payload["auth"] == "[REDACTED]"
    (audit,) = _audit(runtime.engine, "submission.refused")
    assert audit.actor == f"key {key.prefix}"
    assert (audit.changes["code"], audit.changes["task"]) == (code, RUN)
    assert reason in audit.changes["reason"]
    assert _audit(runtime.engine, "submission.signed") == []


def test_a_revoked_key_is_refused_from_the_next_message_on(runtime: Runtime) -> None:
    key = _key(runtime.engine)
    assert (
        handle_run_task(runtime, sign_kwargs(RUN, JOB, key.key), "m-before").status == "succeeded"
    )
    with runtime.engine.begin() as connection:
        revoke_key(connection, key.prefix)

    handle_run_task(runtime, sign_kwargs(RUN, JOB, key.key), "m-after")

    task = _task(runtime.engine, "m-after")
    assert (task.status, task.error_code) == ("FAILED", "unauthenticated")
    assert "was revoked" in task.error


def test_a_key_of_another_tenant_is_refused(runtime: Runtime) -> None:
    globex = _key(runtime.engine, tenant="globex")

    handle_run_task(runtime, sign_kwargs(RUN, JOB, globex.key), "m-foreign")

    task = _task(runtime.engine, "m-foreign")
    assert task.error_code == "unauthenticated"
    assert f"API key {globex.prefix} is not a key of this tenant" in task.error
    (audit,) = _audit(runtime.engine, "submission.refused")
    assert audit.tenant_id == ensure_tenant(runtime.engine, "acme")


def test_a_replayed_submission_is_refused_and_a_redelivery_is_not(runtime: Runtime) -> None:
    key = _key(runtime.engine)
    signed = sign_kwargs(RUN, JOB, key.key)  # no idempotency key: deduplicated by message id

    assert handle_run_task(runtime, signed, "m-first").status == "succeeded"
    redelivered = handle_run_task(runtime, signed, "m-first")
    replayed = handle_run_task(runtime, signed, "m-copy")

    assert redelivered.status == "skipped"  # the broker's redelivery: deduplicated, not refused
    assert replayed.status == "failed"
    task = _task(runtime.engine, "m-copy")
    assert task.error_code == "unauthenticated"
    assert "replayed submission" in task.error
    assert [a.resource_id for a in _audit(runtime.engine, "submission.refused")] == ["m-copy"]


def test_old_nonces_can_be_purged(runtime: Runtime) -> None:
    key = _key(runtime.engine)
    handle_run_task(runtime, sign_kwargs(RUN, JOB, key.key), "m-1")
    with runtime.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE submission_nonces SET seen_at = now() - interval '1 hour'")
        )

    with runtime.engine.begin() as connection:
        assert purge_nonces(connection, older_than_seconds=600) == 1
        assert connection.execute(sa.text("SELECT count(*) FROM submission_nonces")).scalar() == 0


# --- the other signed tasks ---------------------------------------------------------------------


def test_a_tampered_workflow_start_is_kept_with_its_reason(runtime: Runtime) -> None:
    key = _key(runtime.engine)
    payload = sign_kwargs("workflows.start", {"tenant": "acme", "workflow": "w"}, key.key)
    payload["workflow"] = "other"

    answer = handle_start_workflow(runtime, payload, "m-wf")

    assert answer["status"] == "rejected"
    assert "wrong signature" in answer["error"]
    (row,) = _error_logs(runtime.engine)
    assert row.error_type == "workflow_start.unauthenticated"
    assert len(_audit(runtime.engine, "submission.refused")) == 1


def test_an_unsigned_ingest_of_a_signed_tenant_is_refused_before_anything_is_stored(
    runtime: Runtime,
) -> None:
    _signed_mode(runtime.engine)

    answer = handle_ingest_knowledge(
        runtime, {"tenant": "acme", "name": "faq", "text": "Doors open at 9."}, "m-kb"
    )

    assert (answer["status"], answer["code"]) == ("rejected", "unauthenticated")
    (row,) = _error_logs(runtime.engine)
    assert row.error_type == "knowledge_ingest.unauthenticated"
    with runtime.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM knowledge_sources")).scalar() == 0


def _approval(engine: sa.Engine) -> str:
    tenant_id = ensure_tenant(engine)
    add_member(engine, "acme", "ada@example.com", "approver")
    with engine.begin() as connection:
        return str(
            RowFactory(connection).insert("approvals", tenant_id=tenant_id, status="pending")
        )


def test_a_decision_signed_by_a_key_without_the_decide_scope_is_refused_and_audited(
    runtime: Runtime,
) -> None:
    approval_id = _approval(runtime.engine)
    key = _key(runtime.engine, scopes=("submit",))
    payload = sign_kwargs(
        "approvals.resolve",
        {"approval_id": approval_id, "decision": "approve", "user": "ada@example.com"},
        key.key,
    )

    answer = handle_resolve_approval(runtime, payload, "m-decide")

    assert (answer["status"], answer["code"]) == ("refused", "forbidden")
    assert "lacks the 'decide' scope" in answer["reason"]
    (audit,) = _audit(runtime.engine, "submission.refused")
    assert audit.changes["task"] == "approvals.resolve"
    with runtime.engine.connect() as connection:
        status = connection.execute(
            sa.text("SELECT status FROM approvals WHERE id = :i"), {"i": approval_id}
        ).scalar()
    assert status == "pending"


def test_an_unsigned_decision_for_a_signed_tenant_is_refused(runtime: Runtime) -> None:
    approval_id = _approval(runtime.engine)
    _signed_mode(runtime.engine)

    answer = handle_resolve_approval(
        runtime,
        {"approval_id": approval_id, "decision": "approve", "user": "ada@example.com"},
        "m-unsigned-decision",
    )

    assert (answer["status"], answer["code"]) == ("refused", "unauthenticated")
