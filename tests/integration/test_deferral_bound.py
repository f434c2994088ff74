"""Nothing waits on a provider for ever: a deferral hands its task back without using an
attempt, so a task still deferring AGENTWORKER_MAX_DEFERRAL_SECONDS after its submission fails
``rate_limited`` instead (issue 11, "nothing retried forever")."""

from __future__ import annotations

import sqlalchemy as sa

from tests.support.agents import add_agent
from tests.support.local_llm import admin
from tests.support.publisher import RecordingPublisher
from worker.agents.runner import execute_task
from worker.agents.runtime import build_runtime
from worker.agents.submission import create_task
from worker.core.contract import RunTaskRequest
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer


def test_a_task_deferred_past_the_bound_fails_rate_limited(
    database_url: str, engine: sa.Engine
) -> None:
    model = add_agent(engine, "patient")
    with engine.begin() as connection:
        task_id = create_task(
            connection,
            Settings(),
            RunTaskRequest(tenant="acme", agent="patient", input="hi"),
            idempotency_key=None,
        ).task_id
    with LocalLLMServer() as llm:
        admin(
            llm,
            "POST",
            "/_faults",
            {"model": model, "faults": [{"status": 429, "retry_after": 30}] * 4},
        )
        settings = Settings(
            database_url=database_url, openai_base_url=llm.base_url, max_deferral_seconds=60
        )
        runtime = build_runtime(settings, RecordingPublisher())
        try:
            assert execute_task(runtime, task_id).status == "deferred"  # a fresh task waits

            with engine.begin() as connection:  # ...but not for ever
                connection.execute(
                    sa.text(
                        "UPDATE tasks SET created_at = now() - interval '2 minutes', "
                        "not_before = NULL WHERE id = :i"
                    ),
                    {"i": task_id},
                )
            assert execute_task(runtime, task_id).status == "failed"
        finally:
            runtime.close()
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT status, error_code, error FROM tasks WHERE id = :i"), {"i": task_id}
        ).one()
    assert (row.status, row.error_code) == ("FAILED", "rate_limited")
    assert "AGENTWORKER_MAX_DEFERRAL_SECONDS" in row.error
