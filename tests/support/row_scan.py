"""Where a string is stored: every column of every table in the database, scanned as text.

    assert_in_no_row(engine, secret)   # fails naming each table.column that holds it

Used to prove that a secret (a resolved secret reference, a password in a submission's input)
was written nowhere, whatever code path wrote the rows.
"""

from __future__ import annotations

import sqlalchemy as sa

#: Column types that cannot hold text a test looks for (and are slow to cast).
_SKIPPED_TYPES = frozenset({"bytea", "USER-DEFINED", "tsvector"})


def rows_containing(engine: sa.Engine, text: str, *, schema: str = "public") -> list[str]:
    """``table.column (n rows)`` for each column whose text form contains ``text``."""
    if not text:
        raise ValueError("looking for the empty string finds every row; give a real value")
    with engine.connect() as connection:
        columns = connection.execute(
            sa.text(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c "
                "JOIN information_schema.tables t "
                "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                "WHERE c.table_schema = :schema AND t.table_type = 'BASE TABLE' "
                "  AND c.data_type <> ALL(:skipped) "
                "ORDER BY c.table_name, c.ordinal_position"
            ),
            {"schema": schema, "skipped": sorted(_SKIPPED_TYPES)},
        ).all()
        found = []
        for table, column in columns:
            count = connection.execute(
                sa.text(
                    f'SELECT count(*) FROM "{schema}"."{table}" '
                    f'WHERE strpos("{column}"::text, :needle) > 0'
                ),
                {"needle": text},
            ).scalar_one()
            if count:
                found.append(f"{table}.{column} ({count} rows)")
    return found


def assert_in_no_row(engine: sa.Engine, text: str) -> None:
    """Fail, naming where, if any row of any table holds ``text``."""
    found = rows_containing(engine, text)
    assert not found, f"{text!r} is stored in: {', '.join(found)}"
