"""Bulk runs (issue 13): one step fired on a cohort of cases, each case in its own transaction.

``bulk_runs`` records who fired which step on which filters with which evidence and when;
``bulk_run_items`` lists the cohort's cases, chosen and written before anything is fired, each
with the version it had when chosen. An item's outcome (succeeded with the new state and
version, refused with the rule and its article, conflict, not found, bad input) is written in
the case's own step transaction, so a run that stopped half way is resumed from its items
without firing a case twice.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.schema import Json, Moment

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulk_runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(200), nullable=True),
        sa.Column("filters", Json, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("finished_at", Moment, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_bulk_runs"),
    )
    op.create_table(
        "bulk_run_items",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("expected_version", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("new_state", sa.String(64), nullable=True),
        sa.Column("new_version", sa.Integer, nullable=True),
        sa.Column("article", sa.String(16), nullable=True),
        sa.Column("rule", sa.String(64), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("detail", Json, nullable=True),
        sa.Column("finished_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["bulk_runs.id"], name="fk_bulk_run_items_run_id_bulk_runs"
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_bulk_run_items_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_bulk_run_items"),
        sa.UniqueConstraint("run_id", "case_id", name="uq_bulk_run_items_run_id_case_id"),
        sa.UniqueConstraint("run_id", "position", name="uq_bulk_run_items_run_id_position"),
    )


def downgrade() -> None:
    op.drop_table("bulk_run_items")
    op.drop_table("bulk_runs")
