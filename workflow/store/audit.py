"""The audit records as the A19.1 check reads them: every hash-chained table streamed in key
order, on one read-only snapshot of the database.

The check itself (`workflow.audit.verify`) is pure: it merges these streams and recomputes the
hashes. Here is only how the rows come out: keyset pages (each page starts after the last key
seen), so no cursor stays open and memory does not grow with the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from workflow.store.schema import (
    admin_log,
    batch_exceptions,
    case_exceptions,
    cases,
    definitions,
    history,
    metadata,
)

Db = sa.Engine  # what `snapshot` opens; named here so the pure check never imports SQLAlchemy


class AuditRows:
    """The streams of one snapshot. Rows have the tables' columns as attributes, and
    ``_mapping`` for the canonical hash (`workflow.audit.chain`)."""

    def __init__(self, connection: sa.Connection, chunk: int) -> None:
        self._connection = connection
        self._chunk = chunk

    def history(self) -> Iterator[Any]:
        """History rows by case and seq."""
        return self._stream(sa.select(history), (history.c.case_id, history.c.seq))

    def case_exceptions(self) -> Iterator[Any]:
        """Case exceptions by case and seq."""
        keys = (case_exceptions.c.case_id, case_exceptions.c.seq)
        return self._stream(sa.select(case_exceptions), keys)

    def case_heads(self) -> Iterator[Any]:
        """Each case's id, version and chain head, and what its chain must account for (state,
        terminal flag, evidence, definition), by id."""
        query = sa.select(
            cases.c.id,
            cases.c.version,
            cases.c.chain_head,
            cases.c.state,
            cases.c.terminal,
            cases.c.evidence,
            cases.c.definition_id,
        )
        return self._stream(query, (cases.c.id,))

    def definitions(self) -> Iterator[Any]:
        """Each stored definition version's id, text and file name (to know its terminal
        states), by id."""
        query = sa.select(definitions.c.id, definitions.c.source_text, definitions.c.source_name)
        return self._stream(query, (definitions.c.id,))

    def batch_exceptions(self) -> Iterator[Any]:
        """Batch exceptions by batch and id (one chain per batch)."""
        keys = (batch_exceptions.c.batch_id, batch_exceptions.c.id)
        return self._stream(sa.select(batch_exceptions), keys)

    def admin_log(self) -> Iterator[Any]:
        """The admin log's entries by seq (one chain, `workflow.audit.admin`)."""
        return self._stream(sa.select(admin_log), (admin_log.c.seq,))

    def admin_rows(self, table: str) -> Iterator[Any]:
        """A table the admin log covers (plans, contractors, batches, …), by id."""
        found = metadata.tables[table]
        return self._stream(sa.select(found), (found.c.id,))

    def _stream(
        self, query: sa.Select[Any], keys: tuple[sa.ColumnElement[Any], ...]
    ) -> Iterator[Any]:
        last: tuple[Any, ...] | None = None
        while True:
            page = query.order_by(*keys).limit(self._chunk)
            if last is not None:
                page = page.where(_after(keys, last))
            rows = self._connection.execute(page).all()
            yield from rows
            if len(rows) < self._chunk:
                return
            last = tuple(rows[-1]._mapping[key] for key in keys)


@contextmanager
def snapshot(db: sa.Engine, *, chunk: int) -> Iterator[AuditRows]:
    """A read-only transaction on one snapshot of the database (REPEATABLE READ on PostgreSQL;
    SQLite's read transactions are snapshots): a step committed while the check runs must not
    look like a deleted row."""
    options = (
        {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        if db.dialect.name == "postgresql"
        else {}
    )
    with db.connect().execution_options(**options) as connection, connection.begin():
        yield AuditRows(connection, chunk)


def _after(
    keys: tuple[sa.ColumnElement[Any], ...], last: tuple[Any, ...]
) -> sa.ColumnElement[bool]:
    """Rows whose key tuple sorts after ``last``: ``a > x OR (a = x AND b > y)``."""
    first, *rest = keys
    later: sa.ColumnElement[bool] = first > last[0]
    if not rest:
        return later
    return sa.or_(later, sa.and_(first == last[0], _after(tuple(rest), last[1:])))
