"""Policy evidence: eligibility and cycle on cases, acting on behalf, exceptions, roster changes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.schema import Json, Moment

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("cycle", sa.String(32), nullable=True))
        batch.add_column(sa.Column("tier", sa.String(16), nullable=True))
        batch.add_column(sa.Column("eligibility", Json, nullable=True))
    with op.batch_alter_table("history") as batch:
        batch.add_column(sa.Column("on_behalf_of", sa.String(200), nullable=True))
    op.create_table(
        "case_exceptions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("article", sa.String(16), nullable=False),
        sa.Column("approver_role", sa.String(64), nullable=False),
        sa.Column("approver_name", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_exceptions"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_exceptions_case_id_cases"),
        sa.UniqueConstraint("case_id", "rule", name="uq_case_exceptions_case_id_rule"),
    )
    op.create_table(
        "cadre_changes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("cadre_id", sa.String(64), nullable=False),
        sa.Column("at", Moment, nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("changes", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cadre_changes"),
        sa.ForeignKeyConstraint(
            ["cadre_id"], ["cadres.id"], name="fk_cadre_changes_cadre_id_cadres"
        ),
    )
    op.create_index("ix_cadre_changes_cadre_id", "cadre_changes", ["cadre_id"])


def downgrade() -> None:
    op.drop_index("ix_cadre_changes_cadre_id", "cadre_changes")
    op.drop_table("cadre_changes")
    op.drop_table("case_exceptions")
    with op.batch_alter_table("history") as batch:
        batch.drop_column("on_behalf_of")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("eligibility")
        batch.drop_column("tier")
        batch.drop_column("cycle")
