"""(api): the API benchmark's set-up (a tenant, an agent, a key, ``agentworker api`` in its own
process) and its two parts: submissions/s against the client's, and the event fan-out."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import Task, TaskStatus
from tests.bench.api.followers import Fanout, run_fanout
from tests.bench.api.server import ApiServerProcess
from tests.bench.api.submissions import Rate, api_rate, client_rate
from tests.bench.scenarios.context import Context
from tests.bench.services import unique
from tests.support.agents import add_agent, ensure_tenant
from worker.core.settings import Settings
from worker.security.api_keys import issue_key
from worker.security.encryption import SecretBox, generate_key

POLL_SECONDS = Settings().api_stream_poll_seconds
#: Each path's submissions are made in this many alternating rounds.
ROUNDS = 4


@dataclass(frozen=True)
class ApiResults:
    rates: list[Rate]
    fanout: Fanout

    def rate(self, path: str, concurrency: int) -> Rate:
        return next(r for r in self.rates if (r.path, r.concurrency) == (path, concurrency))

    def ratios(self) -> dict[int, float]:
        """API submissions/s over the client's, by concurrency."""
        levels = sorted({rate.concurrency for rate in self.rates})
        return {
            c: self.rate("api", c).per_second / self.rate("client", c).per_second for c in levels
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "submissions": [rate.as_json() for rate in self.rates],
            "api_over_client": {str(c): round(r, 4) for c, r in self.ratios().items()},
            "fanout": self.fanout.as_json(),
        }


def run_api(
    ctx: Context,
    *,
    submissions: int,
    concurrency: int,
    followers: int,
    events: int,
    say: Any,
) -> ApiResults:
    owner = ctx.database.engine
    tenant = unique("api")
    tenant_id = ensure_tenant(owner, tenant)
    add_agent(owner, "bench-api", tenant=tenant)
    with owner.begin() as connection:
        key = issue_key(
            connection,
            SecretBox([generate_key()]),
            tenant_id=tenant_id,
            name="bench",
            scopes=["submit", "read"],
        ).key
    server = ApiServerProcess(ctx.logs / "api.log", ctx.database.url, ctx.broker.url)
    rates: list[Rate] = []
    with server:
        for level in sorted({1, concurrency}):
            started = time.monotonic()
            client, api = Rate("client", level, 0, 0.0), Rate("api", level, 0, 0.0)
            share = -(-submissions // ROUNDS)
            for _ in range(ROUNDS):  # alternate, so a busy moment of the machine hits both
                client += client_rate(ctx.database.url, ctx.broker.url, tenant, share, level)
                api += api_rate(server.base, key, share, level)
            rates += [client, api]
            say(
                f"   concurrency {level}: client {client.per_second:.1f}/s, API "
                f"{api.per_second:.1f}/s ({time.monotonic() - started:.0f}s)"
            )
        ctx.broker.flush()  # the published ids: no worker consumes them
        task_id = _task(owner, tenant_id)
        fanout = run_fanout(
            owner,
            server.base,
            key,
            tenant_id,
            task_id,
            followers=followers,
            events=events,
            batch=50,
            poll_seconds=POLL_SECONDS,
        )
        say(
            f"   {followers} followers x {events} events: {fanout.per_second:,.0f} events/s "
            f"delivered in {fanout.seconds:.2f}s; API connections <= {fanout.connections_max} "
            f"({fanout.active_max} active)"
        )
    return ApiResults(rates, fanout)


def _task(owner: sa.Engine, tenant_id: uuid.UUID) -> uuid.UUID:
    """A RUNNING task to follow (as a worker would hold it)."""
    with owner.begin() as connection:
        return connection.execute(
            sa.insert(Task)
            .values(tenant_id=tenant_id, agent_name="bench-api", status=TaskStatus.RUNNING)
            .returning(Task.id)
        ).scalar_one()
