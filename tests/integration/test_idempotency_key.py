from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.rows import RowFactory


def test_idempotency_key_is_unique_within_a_tenant(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        rows.insert("tasks", idempotency_key="order-42")
    with pytest.raises(sa.exc.IntegrityError) as raised, engine.begin() as connection:
        RowFactory(connection).insert("tasks", tenant_id=rows.tenant_id, idempotency_key="order-42")
    assert raised.value.orig is not None
    assert raised.value.orig.diag.constraint_name == "uq_tasks_tenant_id_idempotency_key"


def test_two_tenants_may_use_the_same_idempotency_key(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        RowFactory(connection).insert("tasks", idempotency_key="order-42")
        RowFactory(connection).insert("tasks", idempotency_key="order-42")
        assert connection.execute(sa.text("SELECT count(*) FROM tasks")).scalar_one() == 2


def test_tasks_without_a_key_never_collide(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        rows.insert("tasks")
        rows.insert("tasks")
        assert connection.execute(sa.text("SELECT count(*) FROM tasks")).scalar_one() == 2
