"""Initial schema: definitions, cadres, cases and the append-only history.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.schema import Json, Moment

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "definitions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source_name", sa.String(500), nullable=False),
        sa.Column("source_text", sa.Text, nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("effective_until", sa.Date, nullable=True),
        sa.Column("stored_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_definitions"),
        sa.UniqueConstraint("name", "version", name="uq_definitions_name_version"),
    )
    op.create_table(
        "cadres",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("county", sa.String(100), nullable=False),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("record", Json, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cadres"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("definition_id", sa.Integer, nullable=False),
        sa.Column("cadre_id", sa.String(64), nullable=False),
        sa.Column("county", sa.String(100), nullable=False),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("terminal", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("evidence", Json, nullable=False),
        sa.Column("opened_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.ForeignKeyConstraint(
            ["definition_id"], ["definitions.id"], name="fk_cases_definition_id_definitions"
        ),
        sa.ForeignKeyConstraint(["cadre_id"], ["cadres.id"], name="fk_cases_cadre_id_cadres"),
    )
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_index("ix_cases_cadre_id", "cases", ["cadre_id"])
    op.create_index("ix_cases_county_agency", "cases", ["county", "agency"])
    op.create_table(
        "history",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("from_state", sa.String(64), nullable=True),
        sa.Column("to_state", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("at", Moment, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_history"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_history_case_id_cases"),
        sa.UniqueConstraint("case_id", "seq", name="uq_history_case_id_seq"),
    )


def downgrade() -> None:
    op.drop_table("history")
    op.drop_index("ix_cases_county_agency", "cases")
    op.drop_index("ix_cases_cadre_id", "cases")
    op.drop_index("ix_cases_state", "cases")
    op.drop_table("cases")
    op.drop_table("cadres")
    op.drop_table("definitions")
