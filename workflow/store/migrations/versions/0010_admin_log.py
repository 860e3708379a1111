"""The admin log and the API tokens' life (issue 17; A19.1, A18.3, A5.2).

``admin_log``: every write on plans, contractors, their papers, batches, contractor evaluations
and incidents, with who (role, name, scope), when and the row as written, in one hash chain
(`workflow.audit.admin`). Rows written before this revision get one ``backfill`` entry each,
recorded as the migration's, oldest first: what the chain proves for them is only that nothing
changed *after* the upgrade. ``admin_log``, ``contractor_evaluations`` and ``incidents`` become
append-only (triggers refuse UPDATE and DELETE, as revision 0006 does for the case records).

``api_tokens``: when each token was last used, and its revocation (``tokens revoke``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from workflow.audit.admin import ENTITIES, admin_hash, record
from workflow.audit.chain import GENESIS
from workflow.store import schema
from workflow.store.schema import Json, Moment

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

APPEND_ONLY = ("admin_log", "contractor_evaluations", "incidents")
PG_FUNCTION = "refuse_change_to_admin_record"
MIGRATION_ACTOR = ("migration", "0010 迁移")


def upgrade() -> None:
    op.create_table(
        "admin_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(200), nullable=True),
        sa.Column("at", Moment, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_admin_log"),
        sa.UniqueConstraint("seq", name="uq_admin_log_seq"),
    )
    op.create_index("ix_admin_log_entity_entity_id", "admin_log", ["entity", "entity_id"])
    op.create_table(
        "api_tokens",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("last_used_at", Moment, nullable=True),
        sa.Column("revoked_at", Moment, nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("revoke_reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("digest", name="pk_api_tokens"),
    )
    connection = op.get_bind()
    _backfill(connection)
    create_triggers(connection)


def downgrade() -> None:
    drop_triggers(op.get_bind())
    op.drop_table("api_tokens")
    op.drop_index("ix_admin_log_entity_entity_id", table_name="admin_log")
    op.drop_table("admin_log")


def _backfill(connection: sa.Connection) -> None:
    """One ``backfill`` entry per existing row, entity by entity in id order. Only the columns
    the table has at this revision are read, typed as the application reads them."""
    log = schema.admin_log
    now = datetime.now(UTC)
    prev, seq = GENESIS, 0
    present = set(sa.inspect(connection).get_table_names())
    for entity, name in ENTITIES.items():
        if name not in present:
            continue
        table = schema.metadata.tables[name]
        live = {c["name"] for c in sa.inspect(connection).get_columns(name)}
        columns = [c for c in table.c if c.name in live]
        for row in connection.execute(sa.select(*columns).order_by(table.c.id)).mappings():
            seq += 1
            entry: dict[str, Any] = {
                "seq": seq,
                "entity": entity,
                "entity_id": row["id"],
                "action": "backfill",
                "actor": MIGRATION_ACTOR[1],
                "role": MIGRATION_ACTOR[0],
                "scope": None,
                "at": now,
                "data": record(entity, dict(row)),
                "reason": None,
                "prev_hash": prev,
            }
            entry["hash"] = prev = admin_hash(prev, entry)
            connection.execute(sa.insert(log).values(**entry))


def create_triggers(connection: sa.Connection) -> None:
    """UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) fail naming the table and A19.1."""
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


def _run(connection: sa.Connection, statement: str) -> None:
    connection.execute(sa.text(statement))
