"""Closed cycles (A9.1, A18.2; issue 13): a row per policy cycle a city officer closed, with who
closed it, when, the ``audit verify`` digest the closing read (A19.1) and the SHA-256 of the
archive's manifest, so the folder the office archived can be matched to the database later.

A cycle is closed once: ``UNIQUE (cycle)`` lets exactly one of two officers closing at the same
moment in. The row never changes and is never deleted (triggers refuse UPDATE and DELETE, as
revision 0010 does for the admin log, with the same PostgreSQL function); the closing is also an
entry in the admin log's hash chain. Once a cycle is closed, no step moves a case filed under it
and no batch of its plans is created or changed (`workflow.steps`, `workflow.plans.service`).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.schema import Moment

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLE = "cycle_closures"
PG_FUNCTION = "refuse_change_to_admin_record"  # revision 0010's: names the table and A19.1


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("cycle", sa.String(32), nullable=False),
        sa.Column("closed_by", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(200), nullable=True),
        sa.Column("closed_at", Moment, nullable=False),
        sa.Column("audit_digest", sa.String(64), nullable=False),
        sa.Column("archive_digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cycle_closures"),
        sa.UniqueConstraint("cycle", name="uq_cycle_closures_cycle"),
    )
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        _run(
            connection,
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE PROCEDURE {PG_FUNCTION}()",
        )
        _run(
            connection,
            f"CREATE TRIGGER {TABLE}_append_only_truncate BEFORE TRUNCATE ON {TABLE} "
            f"FOR EACH STATEMENT EXECUTE PROCEDURE {PG_FUNCTION}()",
        )
        return
    for verb in ("UPDATE", "DELETE"):
        _run(
            connection,
            f"CREATE TRIGGER {TABLE}_append_only_{verb.lower()} BEFORE {verb} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only (A19.1): {verb} refused'); END",
        )


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        _run(connection, f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        _run(connection, f"DROP TRIGGER IF EXISTS {TABLE}_append_only_truncate ON {TABLE}")
    else:
        for verb in ("update", "delete"):
            _run(connection, f"DROP TRIGGER IF EXISTS {TABLE}_append_only_{verb}")
    op.drop_table(TABLE)


def _run(connection: sa.Connection, statement: str) -> None:
    connection.execute(sa.text(statement))
