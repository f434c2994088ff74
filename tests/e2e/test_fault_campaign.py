"""The fault campaign: every promise holds with a worker SIGKILLed at each durable boundary,
for each kind of work that reaches it, and under every message delivered twice, the database
and Redis going away mid-run, and an LLM that rate-limits, fails, hangs and resets.

After each fault a fresh worker (with the reaper) finishes the work, and the database is
checked (tests/support/invariants.py): every job ended (a failure with its reason) or waits
for exactly one person; no side effect reached its service twice (counted at a real HTTP
sink, by idempotency key); nothing after a gate ran unless that attempt was approved; LLM
requests stay within the persisted calls plus one per crash; event ids increase per task.

The cases run several at once, each on a database and a Redis database of its own (see
tests/chaos/campaign.py for how a case runs); each is its own test id.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.campaign import Campaign, Services
from tests.chaos.cases import Case, cases
from worker.dev.services import EmbeddedRedis

CASES = cases()
#: Cases run at once: worker start-up is most of their CPU, and the machine has 2 cores.
PARALLEL = 5


@pytest.fixture(scope="module")
def campaign(
    request: pytest.FixtureRequest,
    postgres_server_url: str,
    template_database_name: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Campaign]:
    """Starts every case selected in this session at once (at most ``PARALLEL`` running)."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "function", None) is test_every_promise_holds_after_the_fault
        and hasattr(item, "callspec")
    ]
    tmp = tmp_path_factory.mktemp("fault-campaign")
    redis = EmbeddedRedis(tmp / "redis", databases=256)
    redis.start()
    running = Campaign(
        Services(postgres_server_url, template_database_name, redis, Path(tmp)), selected, PARALLEL
    )
    try:
        yield running
    finally:
        running.close()
        redis.stop()


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_promise_holds_after_the_fault(campaign: Campaign, case: Case) -> None:
    result = campaign.result(case)
    print(result.report())  # shown with -rP: where the worker died, how long it took

    assert result.violations == [], result.report()
