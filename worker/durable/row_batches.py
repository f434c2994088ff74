"""Many rows of one table inserted by one statement whose text never changes.

The rows travel as one JSON array parameter that ``jsonb_to_recordset`` turns back into typed
columns, so one statement serves 1 row or 20, psycopg prepares it once per connection, and an
INSERT can sit in a data-modifying CTE next to the UPDATE it belongs with
(``worker.durable.journal``). An empty array inserts nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert

#: The key each row's position travels under, so rows keep their order (event ids).
_POSITION = "_n"


def _json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store a {type(value).__name__} in a JSON row batch: {value!r}")


@dataclass(frozen=True)
class RowBatch:
    """The columns a kind of row fills; every other column takes its server default."""

    table: sa.Table
    columns: tuple[str, ...]
    _known: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = [name for name in self.columns if name not in self.table.c]
        if missing:
            raise ValueError(f"{self.table.name} has no column(s) {missing}")
        object.__setattr__(self, "_known", frozenset(self.columns))

    def insert(self, parameter: str, *, where: sa.ColumnElement[bool] | None = None) -> PgInsert:
        """``INSERT … SELECT`` of the rows in the JSON array bound as ``parameter``."""
        source = (
            sa.func.jsonb_to_recordset(sa.cast(sa.bindparam(parameter, type_=sa.Text), JSONB))
            .table_valued(
                *(sa.column(name, self.table.c[name].type) for name in self.columns),
                sa.column(_POSITION, sa.Integer),
            )
            .render_derived(name="row", with_types=True)
        )
        rows = sa.select(*(source.c[name] for name in self.columns)).order_by(source.c[_POSITION])
        if where is not None:
            rows = rows.where(where)
        return pg_insert(self.table).from_select(list(self.columns), rows, include_defaults=False)

    def payload(self, rows: Sequence[Mapping[str, Any]]) -> str:
        """The JSON array to bind; a key the batch does not know is a programming error."""
        items = []
        for position, row in enumerate(rows):
            unknown = row.keys() - self._known
            if unknown:
                raise ValueError(
                    f"{self.table.name} rows carry {sorted(unknown)}, which "
                    f"RowBatch({self.table.name}) does not write: add them to its columns"
                )
            items.append({**row, _POSITION: position})
        return json.dumps(items, default=_json_value, separators=(",", ":"))
