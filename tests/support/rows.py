"""Valid rows for any table, for tests: required columns get sample values, required foreign
keys get a parent row made the same way, and every row made by one factory shares a tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import JSONB

import models


class RowFactory:
    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self._tenant_id: uuid.UUID | None = None

    @property
    def tenant_id(self) -> uuid.UUID:
        if self._tenant_id is None:
            self._tenant_id = self.insert("tenants")
        return self._tenant_id

    def insert(self, table_name: str, **overrides: Any) -> Any:
        """Insert a valid row into ``table_name``; return its primary key."""
        table = models.Base.metadata.tables[table_name]
        values = self.values(table, overrides)
        return self.connection.execute(
            sa.insert(table).values(values).returning(*table.primary_key.columns)
        ).scalar_one()

    def values(self, table: sa.Table, overrides: dict[str, Any]) -> dict[str, Any]:
        if (
            table.name == "approvals"
            and not {"task_id", "workflow_execution_id", "agent_run_id"} & overrides.keys()
        ):
            # ck_approvals_gates_something: an approval always gates a task, step or run.
            overrides = {**overrides, "task_id": self.insert("tasks")}
        values: dict[str, Any] = {}
        for column in table.columns:
            if column.name in overrides:
                values[column.name] = overrides[column.name]
            elif column.name == "tenant_id" and table.name != "tenants":
                values[column.name] = self.tenant_id
            elif (
                # A key column with no default of its own (agent_run_messages' run_id and
                # seq) is filled in like any other required column.
                (column.primary_key and (_has_default(column) or column.identity is not None))
                or column.nullable
                or column.server_default is not None
                or column.default is not None
            ):
                continue
            elif column.foreign_keys:
                parent = next(iter(column.foreign_keys)).column.table
                values[column.name] = self.insert(parent.name)
            else:
                values[column.name] = sample_value(column)
        return values


def _has_default(column: sa.Column[Any]) -> bool:
    return column.server_default is not None or column.default is not None


def sample_value(column: sa.Column[Any]) -> Any:
    kind = column.type
    if isinstance(kind, sa.Enum):
        return kind.enums[0]
    if isinstance(kind, Vector):
        return [0.1] * (kind.dim or 3)
    if isinstance(kind, JSONB):
        return {}
    if isinstance(kind, sa.ARRAY):  # api_keys.scopes: a known scope (ck_api_keys_known_scopes)
        if column.name == "event_types":  # webhook_endpoints: at least one event
            return ["*"]
        return ["read"] if column.name == "scopes" else []
    if isinstance(kind, sa.Uuid):
        return uuid.uuid4()
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 1
    if isinstance(kind, sa.Numeric):
        return Decimal("0.5")
    if isinstance(kind, sa.DateTime):
        return datetime.now(UTC)
    if isinstance(kind, sa.Date):
        return datetime.now(UTC).date()
    if isinstance(kind, sa.LargeBinary):
        return b"sample"
    if isinstance(kind, sa.String):
        text = f"sample-{uuid.uuid4().hex}"
        return text[: kind.length] if kind.length else text
    raise TypeError(f"no sample value for {column.table.name}.{column.name} ({kind!r})")
