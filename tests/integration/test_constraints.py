"""Every enum and every CHECK of seed 001 rejects a bad value and accepts a good one, in the
database itself (values are written with raw SQL, past SQLAlchemy's own validation)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import models
from tests.support.rows import RowFactory
from worker.core.tenants import UnknownTenant, resolve_tenant, tenant_named_by


def _enum_columns() -> list[tuple[str, str, str]]:
    cases = []
    for table in models.Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.Enum):
                cases.append((table.name, column.name, column.type.enums[-1]))
    return cases


ENUM_COLUMNS = _enum_columns()

# Values other CHECKs need alongside an enum value (a decided approval has a decision time).
COMPANIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("approvals", "status"): {"decided_at": sa.func.now()},
}

# (table, column, a value the CHECK accepts, a value it rejects, the constraint's name)
RECOMMENDATION_CONFIDENCE = "ck_ai_recommendations_confidence_score"
SEED_001_CHECKS: list[tuple[str, str, Any, Any, str]] = [
    ("ai_training_data", "quality_score", 1, 1.5, "ck_ai_training_data_quality_score"),
    ("ai_training_data", "quality_score", 0, -0.01, "ck_ai_training_data_quality_score"),
    (
        "ai_recommendations",
        "confidence_score",
        0.99,
        1.01,
        "ck_ai_recommendations_confidence_score",
    ),
    ("ai_recommendations", "confidence_score", 0, -0.5, RECOMMENDATION_CONFIDENCE),
    ("ai_recommendations", "feedback_score", 5, 6, "ck_ai_recommendations_feedback_score"),
    ("ai_recommendations", "feedback_score", 1, 0, "ck_ai_recommendations_feedback_score"),
    ("ai_recommendations", "feedback_score", None, -1, "ck_ai_recommendations_feedback_score"),
    ("ai_predictions", "prediction_horizon", 1, 0, "ck_ai_predictions_prediction_horizon"),
]


def test_every_value_list_check_in_the_database_belongs_to_a_tested_enum_column(
    engine: sa.Engine,
) -> None:
    with engine.connect() as connection:
        value_list_checks = set(
            connection.scalars(
                sa.text(
                    "SELECT conname FROM pg_constraint WHERE contype = 'c' "
                    "AND conrelid <> 0 AND connamespace = 'public'::regnamespace "
                    "AND pg_get_constraintdef(oid) LIKE '%= ANY ((ARRAY[%'"
                )
            )
        )
    tested = {
        f"ck_{table}_{models.Base.metadata.tables[table].c[column].type.name}"
        for table, column, _ in ENUM_COLUMNS
    }
    assert value_list_checks == tested
    assert ("tasks", "status", "CANCELLED") in ENUM_COLUMNS
    assert ("approvals", "status", "cancelled") in ENUM_COLUMNS


def _set(engine: sa.Engine, table: str, column: str, value: Any) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text(f'UPDATE {table} SET "{column}" = :value'), {"value": value})


def _check_violation(engine: sa.Engine, table: str, column: str, value: Any) -> str:
    with pytest.raises(sa.exc.IntegrityError) as raised:
        _set(engine, table, column, value)
    assert raised.value.orig is not None
    assert raised.value.orig.sqlstate == "23514", raised.value  # check_violation
    return str(raised.value.orig.diag.constraint_name)


@pytest.mark.parametrize(("table", "column", "good"), ENUM_COLUMNS)
def test_enum_check_rejects_an_unknown_value_and_accepts_a_known_one(
    engine: sa.Engine, table: str, column: str, good: str
) -> None:
    with engine.begin() as connection:
        RowFactory(connection).insert(
            table, **{column: good}, **COMPANIONS.get((table, column), {})
        )
    constraint = _check_violation(engine, table, column, "zz")  # fits every VARCHAR(n)
    assert constraint.startswith(f"ck_{table}_")


@pytest.mark.parametrize(("table", "column", "good", "bad", "constraint"), SEED_001_CHECKS)
def test_seed_001_check_rejects_a_bad_row_and_accepts_a_good_one(
    engine: sa.Engine, table: str, column: str, good: Any, bad: Any, constraint: str
) -> None:
    with engine.begin() as connection:
        RowFactory(connection).insert(table)
    _set(engine, table, column, good)
    assert _check_violation(engine, table, column, bad) == constraint


def test_approval_must_gate_something_and_be_decided_only_when_not_pending(
    engine: sa.Engine,
) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        task_id = rows.insert("tasks")
        rows.insert("approvals", task_id=task_id)
    assert _check_violation(engine, "approvals", "task_id", None) == "ck_approvals_gates_something"
    assert (
        _check_violation(engine, "approvals", "status", "approved")
        == "ck_approvals_decided_iff_not_pending"
    )
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE approvals SET status = 'approved', decided_at = now()"))


def test_task_priority_is_a_broker_priority(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        RowFactory(connection).insert("tasks")
    _set(engine, "tasks", "priority", 9)
    assert _check_violation(engine, "tasks", "priority", 10) == "ck_tasks_priority_range"


@pytest.mark.parametrize("reference", ["acme\udfff", "ac\x00me"])
def test_a_tenant_named_with_text_postgresql_cannot_hold_is_unknown_not_a_crash(
    engine: sa.Engine, reference: str
) -> None:
    with engine.connect() as connection:
        with pytest.raises(UnknownTenant, match="no NUL characters or lone surrogates"):
            resolve_tenant(connection, reference)
        assert tenant_named_by(connection, {"tenant": reference}) is None
