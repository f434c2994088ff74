"""Retrieval (seed 000's knowledge sources and chunks) through a real worker."""

from __future__ import annotations

import json
import subprocess
import sys

from models import TaskStatus
from tests.support.agents import add_agent, ensure_tenant
from tests.support.stack import ROOT, Stack, wait_until
from worker.agents.knowledge import ingest
from worker.core.contract import IngestKnowledgeRequest
from worker.llm.gateway import LLMGateway

VENUES = """
The Lisbon Congress Centre seats 600 people in its main auditorium and sits beside the river.
It has six breakout rooms and step-free access.

The Porto Exhibition Hall is an old customs house with space for 1200 people standing.

Catering in Lisbon is usually arranged through the venue's own kitchen; vegetarian menus are
standard.
"""

SPONSORS = """
Sponsorship tiers are platinum, gold and silver. Platinum sponsors get a keynote slot and the
largest booth; gold sponsors get a booth and a workshop; silver sponsors get logo placement.
"""


def _ingest(stack: Stack, tenant: str, name: str, text: str) -> None:
    stack.app.send_task(
        "knowledge.ingest",
        queue="agents",
        kwargs={
            "tenant": tenant,
            "name": name,
            "text": text,
            "chunk_size": 160,
            "chunk_overlap": 20,
        },
    )


def _sources(stack: Stack) -> list[object]:
    return stack.rows("SELECT name, status, chunk_count FROM knowledge_sources ORDER BY name")


def test_the_agent_finds_the_chunk_that_answers_and_never_another_tenants(stack: Stack) -> None:
    add_agent(stack.engine, "researcher", tools=["search_knowledge"])
    ensure_tenant(stack.engine, "globex")
    stack.start_worker()
    _ingest(stack, "acme", "venues", VENUES)
    _ingest(stack, "acme", "sponsors", SPONSORS)
    _ingest(stack, "globex", "rival venues", "The Lisbon arena seats 600 people too, for globex.")
    wait_until(
        lambda: len([s for s in _sources(stack) if s.status == "ready"]) == 3 or None,
        timeout=30,
        failure=lambda: f"sources: {_sources(stack)}",
    )
    chunks_before = stack.rows("SELECT count(*) AS n FROM chunks")[0].n

    task = stack.wait_for(
        stack.client.submit(
            tenant="acme", agent="researcher", input="Which Lisbon venue seats 600 people?"
        )
    )

    assert task.status == TaskStatus.SUCCEEDED, task.error
    (action,) = stack.rows("SELECT response_data FROM action_logs WHERE task_id = :t", t=task.id)
    hits = action.response_data
    assert "Lisbon Congress Centre seats 600" in hits[0]["content"]
    assert hits[0]["source"] == "venues"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert all("globex" not in h["content"] for h in hits)
    assert "Lisbon Congress Centre seats 600" in json.dumps(task.result)

    gateway = LLMGateway(stack.client.settings)
    try:
        again = ingest(
            stack.engine,
            stack.client.settings,
            gateway,
            IngestKnowledgeRequest(
                tenant="acme", name="venues again", text=VENUES, chunk_size=160, chunk_overlap=20
            ),
        )
    finally:
        gateway.close()
    assert again.created is False
    assert stack.rows("SELECT count(*) AS n FROM chunks")[0].n == chunks_before
    assert len(_sources(stack)) == 3


def test_ingest_reports_progress_after_each_batch_and_not_for_a_no_op(stack: Stack) -> None:
    ensure_tenant(stack.engine, "acme")
    settings = stack.client.settings.model_copy(update={"embedding_batch_size": 2})
    request = IngestKnowledgeRequest(
        tenant="acme", name="venues", text=VENUES, chunk_size=80, chunk_overlap=10
    )
    seen: list[tuple[int, int]] = []
    gateway = LLMGateway(settings)
    try:
        result = ingest(
            stack.engine, settings, gateway, request, on_progress=lambda *p: seen.append(p)
        )
        calls_before_the_no_op = len(seen)
        ingest(stack.engine, settings, gateway, request, on_progress=lambda *p: seen.append(p))
    finally:
        gateway.close()

    total = result.chunks
    assert total > 2
    assert seen == [(min(done, total), total) for done in range(0, total + 2, 2)][: len(seen)]
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert len(seen) == calls_before_the_no_op


def test_the_ingest_command_writes_one_progress_line_off_a_terminal(stack: Stack) -> None:
    ensure_tenant(stack.engine, "acme")
    agentworker = [sys.executable, "-c", "from worker.cli import main; main()"]
    options = ["--tenant", "acme", "--name", "sponsors", "--text", SPONSORS, "--json"]
    result = subprocess.run(
        [*agentworker, "knowledge", "ingest", *options, "--chunk-size", "120"],
        env=stack.worker_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    ingested = json.loads(result.stdout)  # stdout is the JSON and nothing else
    assert ingested["created"] is True
    assert result.stderr.splitlines() == [f"embedding {ingested['chunks']} chunks of 'sponsors'"]
