"""Calling the HTTP API in tests: the app over a real engine, tenant keys, bearer headers and
problem-details checks (shared by the test_api_*.py files that need them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.support.agents import ensure_tenant
from tests.support.publisher import RecordingPublisher
from worker.api.app import create_api
from worker.core.settings import Settings
from worker.durable.publishing import Publisher
from worker.security.api_keys import issue_key
from worker.security.encryption import SecretBox, generate_key

PROBLEM = "application/problem+json"
#: The encryption key the tests' API keys and provider keys are stored under.
ENCRYPTION_KEY = generate_key()
BOX = SecretBox([ENCRYPTION_KEY])


@contextmanager
def serve(
    database_url: str, engine: sa.Engine, broker_url: str, publisher: Publisher
) -> Iterator[TestClient]:
    """The real app over ``engine`` (the runtime role), its settings knowing ``BOX``'s key."""
    settings = Settings(
        database_url=database_url, broker_url=broker_url, encryption_keys=(ENCRYPTION_KEY,)
    )
    with TestClient(create_api(settings, engine, publisher)) as client:
        yield client


def tenant_key(engine: sa.Engine, tenant: str = "acme", scopes: Sequence[str] = ("read",)) -> str:
    """A new API key of ``tenant`` (made if missing) holding ``scopes``."""
    tenant_id = ensure_tenant(engine, tenant)
    with engine.begin() as connection:
        return issue_key(connection, BOX, tenant_id=tenant_id, name="svc", scopes=list(scopes)).key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The problem body of ``response``, which must be an RFC 9457 problem of ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["type"] and body["title"] and body["detail"]
    if code is not None:
        assert body["type"].endswith(f":{code}"), body
    return body


@pytest.fixture
def publisher() -> RecordingPublisher:
    """What the API publishes, recorded (import this fixture with ``api``)."""
    return RecordingPublisher()


@pytest.fixture
def api(
    runtime_database_url: str,
    runtime_engine: sa.Engine,
    broker_url: str,
    publisher: RecordingPublisher,
) -> Iterator[TestClient]:
    """The real app over the confined runtime role, publishing into ``publisher``."""
    with serve(runtime_database_url, runtime_engine, broker_url, publisher) as client:
        yield client
