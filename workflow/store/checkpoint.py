"""What an audit checkpoint records and re-reads (A19.1): every hash chain's head and length, and
the size of the append-only tables, on one read-only snapshot of the database.

The checkpoint itself (`workflow.audit.checkpoint`) is pure and lives outside the database; this
module only runs its SQL. Rows are streamed in keyset pages like `workflow.store.audit`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from workflow.store.audit import AuditRows

Db = sa.Engine  # what `snapshot` opens; named here so the pure side never imports SQLAlchemy

# Append-only tables without a chain of their own whose rows a checkpoint counts: rows with an id
# up to the one recorded can only ever be there, so fewer of them means some were deleted.
TALLIED = (
    "case_exceptions",
    "outbox",
    "cadre_changes",
    "unable_reports",
    "contractor_evaluations",
    "incidents",
    "definitions",
)

_history = sa.table("history", sa.column("case_id"), sa.column("seq"), sa.column("hash"))
_cases = sa.table("cases", sa.column("id"), sa.column("version"))
_batch_exceptions = sa.table(
    "batch_exceptions", sa.column("id"), sa.column("batch_id"), sa.column("hash")
)
_admin_log = sa.table("admin_log", sa.column("seq"), sa.column("hash"))


class CheckpointRows(AuditRows):
    """The streams and counts of one snapshot a checkpoint is made of or compared with."""

    def cases(self) -> Iterator[Any]:
        """Each case's id and version, by id."""
        return self._stream(sa.select(_cases.c.id, _cases.c.version), (_cases.c.id,))

    def history_hashes(self) -> Iterator[Any]:
        """Each history row's case, seq and hash, by case and seq."""
        query = sa.select(_history.c.case_id, _history.c.seq, _history.c.hash)
        return self._stream(query, (_history.c.case_id, _history.c.seq))

    def batch_exception_hashes(self) -> Iterator[Any]:
        """Each batch exception's batch, id and hash, by batch and id (one chain per batch)."""
        table = _batch_exceptions
        query = sa.select(table.c.batch_id, table.c.id, table.c.hash)
        return self._stream(query, (table.c.batch_id, table.c.id))

    def admin_log_hashes(self) -> Iterator[Any]:
        """The admin log's seq and hash, by seq (one chain); nothing on a database without it."""
        if not sa.inspect(self._connection).has_table("admin_log"):
            return iter(())
        query = sa.select(_admin_log.c.seq, _admin_log.c.hash)
        return self._stream(query, (_admin_log.c.seq,))

    def tally(self, table: str) -> tuple[int, int]:
        """How many rows ``table`` holds and its highest id (0, 0 when empty or absent)."""
        if not sa.inspect(self._connection).has_table(table):
            return 0, 0
        found = sa.table(table, sa.column("id"))
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(found.c.id), 0))
        count, top = self._connection.execute(query.select_from(found)).one()
        return int(count), int(top)

    def count_up_to(self, table: str, top: int) -> int:
        """How many rows of ``table`` have an id up to ``top``."""
        if not sa.inspect(self._connection).has_table(table):
            return 0
        found = sa.table(table, sa.column("id"))
        query = sa.select(sa.func.count()).select_from(found).where(found.c.id <= top)
        return int(self._connection.execute(query).scalar_one())


@contextmanager
def snapshot(db: sa.Engine, *, chunk: int) -> Iterator[CheckpointRows]:
    """A read-only transaction on one snapshot (as `workflow.store.audit.snapshot`): a step
    committed meanwhile must not look like a missing or extra row."""
    options = (
        {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        if db.dialect.name == "postgresql"
        else {}
    )
    with db.connect().execution_options(**options) as connection, connection.begin():
        yield CheckpointRows(connection, chunk)
