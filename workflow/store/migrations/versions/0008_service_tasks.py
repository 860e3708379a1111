"""Tasks that belong to no case: the scheduler's own alarms for the city officer (a year of
holiday data missing, so working-day deadlines cannot be counted). ``tasks.case_id`` and
``tasks.state`` become nullable; a case's tasks keep both.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode rebuilds the table on SQLite (no ALTER COLUMN there); nothing references tasks
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("state", existing_type=sa.String(64), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM tasks WHERE case_id IS NULL")
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("state", existing_type=sa.String(64), nullable=False)
