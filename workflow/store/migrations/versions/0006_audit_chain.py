"""Tamper-evident history (A19.1): hash chains on history and batch exceptions, a content hash on
case exceptions, and database triggers that refuse UPDATE and DELETE on all three.

Rows written before this revision get their hashes here, oldest first, so an upgraded database
verifies with ``convalescence audit verify``; what those hashes prove is only that nothing changed
*after* the upgrade. The triggers are a fence against mistakes and casual edits, not against a
DBA (who can drop them): the chain is what catches that.

SQLite keeps triggers with the table, and Alembic's batch mode rebuilds the table: a later
revision that batch-alters one of these tables must create its triggers again
(`create_triggers` below).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

from workflow.audit.chain import (
    GENESIS,
    batch_exception_hash,
    case_exception_hash,
    history_hash,
)
from workflow.store.schema import Json, Moment

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APPEND_ONLY = ("history", "case_exceptions", "batch_exceptions")
CHUNK = 1000
PG_FUNCTION = "refuse_change_to_audit_record"


def upgrade() -> None:
    for table in ("history", "batch_exceptions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
            batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    with op.batch_alter_table("case_exceptions") as batch:
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    connection = op.get_bind()
    _backfill_history(connection)
    _backfill_case_exceptions(connection)
    _backfill_batch_exceptions(connection)
    for table in ("history", "batch_exceptions"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
            batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table("case_exceptions") as batch:
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
    create_triggers(connection)


def downgrade() -> None:
    drop_triggers(op.get_bind())
    for table in ("history", "batch_exceptions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("hash")
            batch.drop_column("prev_hash")
    with op.batch_alter_table("case_exceptions") as batch:
        batch.drop_column("hash")


def create_triggers(connection: sa.Connection) -> None:
    """UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) of an audit record fail with a message
    naming the table and A19.1."""
    if connection.dialect.name == "postgresql":
        _run(
            connection,
            f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only (A19.1): % refused', TG_TABLE_NAME, TG_OP "
            "USING ERRCODE = 'restrict_violation'; END $$",
        )
        for table in APPEND_ONLY:
            _run(
                connection,
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE PROCEDURE {PG_FUNCTION}()",
            )
            _run(
                connection,
                f"CREATE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE PROCEDURE {PG_FUNCTION}()",
            )
        return
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            _run(
                connection,
                f"CREATE TRIGGER {table}_append_only_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only (A19.1): {verb} refused'); END",
            )


def drop_triggers(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        for table in APPEND_ONLY:
            _run(connection, f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            _run(connection, f"DROP TRIGGER IF EXISTS {table}_append_only_truncate ON {table}")
        _run(connection, f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
        return
    for table in APPEND_ONLY:
        for verb in ("update", "delete"):
            _run(connection, f"DROP TRIGGER IF EXISTS {table}_append_only_{verb}")


# Tables as this revision sees them, typed like the application's so the values hashed here are
# the values `audit verify` will read back.
_TEXT = ("trigger", "from_state", "to_state", "actor", "role", "on_behalf_of", "reason")
_GRANT = ("rule", "article", "approver_role", "approver_name", "reason")
_history = sa.table(
    "history",
    *map(sa.column, ("id", "case_id", "seq", *_TEXT, "prev_hash", "hash")),
    sa.column("at", Moment),
    sa.column("data", Json),
)
_case_exceptions = sa.table(
    "case_exceptions",
    *map(sa.column, ("id", "case_id", "seq", *_GRANT, "hash")),
    sa.column("at", Moment),
)
_batch_exceptions = sa.table(
    "batch_exceptions",
    *map(sa.column, ("id", "batch_id", *_GRANT, "prev_hash", "hash")),
    sa.column("at", Moment),
)


def _backfill_history(connection: sa.Connection) -> None:
    def hashes(row: Mapping[str, Any], prev: str | None) -> tuple[str, str]:
        prev_hash = GENESIS if prev is None else prev
        return prev_hash, history_hash(prev_hash, row)

    _backfill_chains(connection, _history, _history.c.case_id, _history.c.seq, hashes)


def _backfill_batch_exceptions(connection: sa.Connection) -> None:
    def hashes(row: Mapping[str, Any], prev: str | None) -> tuple[str, str]:
        prev_hash = GENESIS if prev is None else prev
        return prev_hash, batch_exception_hash(prev_hash, row)

    table = _batch_exceptions
    _backfill_chains(connection, table, table.c.batch_id, table.c.id, hashes)


def _backfill_chains(
    connection: sa.Connection,
    table: sa.TableClause,
    group: sa.ColumnClause[Any],
    order: sa.ColumnClause[Any],
    hashes: Callable[[Mapping[str, Any], str | None], tuple[str, str]],
) -> None:
    """Hash every row, chain by chain, in pages of CHUNK rows (keyset, so memory stays flat
    and no cursor stays open across the updates)."""
    update = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values(prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash"))
    )
    last: tuple[Any, Any] | None = None
    prev: str | None = None
    while True:
        query = sa.select(table).order_by(group, order).limit(CHUNK)
        if last is not None:
            query = query.where(sa.or_(group > last[0], sa.and_(group == last[0], order > last[1])))
        rows = [dict(r) for r in connection.execute(query).mappings()]
        if not rows:
            return
        params = []
        for row in rows:
            if last is None or row[group.name] != last[0]:
                prev = None  # a new chain starts
            prev_hash, row_hash = hashes(row, prev)
            params.append({"b_id": row["id"], "b_prev": prev_hash, "b_hash": row_hash})
            prev, last = row_hash, (row[group.name], row[order.name])
        connection.execute(update, params)


def _backfill_case_exceptions(connection: sa.Connection) -> None:
    table = _case_exceptions
    update = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values(hash=sa.bindparam("b_hash"))
    )
    last = 0
    while True:
        query = sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(CHUNK)
        rows = [dict(r) for r in connection.execute(query).mappings()]
        if not rows:
            return
        connection.execute(
            update, [{"b_id": row["id"], "b_hash": case_exception_hash(row)} for row in rows]
        )
        last = rows[-1]["id"]


def _run(connection: sa.Connection, statement: str) -> None:
    """DDL as text: through `sa.text` so psycopg's placeholders leave plpgsql's ``%`` alone."""
    connection.execute(sa.text(statement))
