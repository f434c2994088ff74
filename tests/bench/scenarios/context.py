"""What every benchmark run is given: the shared services, where logs go, the pool sizes, and
how an agentworker worker process is configured (its environment, the bench agent's tools)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.bench.procs import clean_env
from tests.bench.services import Broker, Database
from worker.core.database_roles import ensure_runtime_login

AGENT_TOOLS = ["current_time"]  # one tool: two LLM calls and one tool call per task
PRICES = {"model-": {"input": 0.15, "output": 0.6}}  # add_agent's model names: non-zero cost


@dataclass
class Context:
    database: Database
    broker: Broker
    logs: Path
    db_pool_size: int
    db_max_overflow: int


def worker_env(ctx: Context, llm_base_url: str, concurrency: int) -> dict[str, str]:
    """tests/support/stack.py's worker environment, with the pool sizes of a real deployment."""
    return clean_env(
        DATABASE_URL=ensure_runtime_login(ctx.database.url),  # the confined role, as deployed
        CELERY_BROKER_URL=ctx.broker.url,
        OPENAI_BASE_URL=llm_base_url,
        AGENTWORKER_LOCAL_LLM="1",
        AGENTWORKER_CONCURRENCY=str(concurrency),
        AGENTWORKER_DB_POOL_SIZE=str(ctx.db_pool_size),
        AGENTWORKER_DB_MAX_OVERFLOW=str(ctx.db_max_overflow),
        AGENTWORKER_PRICE_TABLE=json.dumps(PRICES),
    )
