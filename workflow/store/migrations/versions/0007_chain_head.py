"""The case row keeps the hash of its last history row (A19.1), so a step links its history row
to the chain without reading the previous one: the compare-and-set on ``cases.version`` that
already guards every step also guards the head. Existing cases get their head from their last
history row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("chain_head", sa.String(64), nullable=True))
    op.execute(
        "UPDATE cases SET chain_head = (SELECT h.hash FROM history h WHERE h.case_id = cases.id"
        " AND h.seq = (SELECT max(h2.seq) FROM history h2 WHERE h2.case_id = cases.id))"
    )


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): a batch rebuild of ``cases`` would trip
    # the foreign keys that history, seats and exceptions hold on it
    op.execute("ALTER TABLE cases DROP COLUMN chain_head")
