"""Published definitions (A21.1, 第二十一条): a successor policy is published into the database
by an officer, not shipped in a release.

``definitions`` already keeps the text every case runs on. A row an officer publishes carries
who published it and when (the rows the engine stored from its bundled files have neither), and
``ends_early_on`` records a version cut short so that a successor may start before the end its
own text names; who cut it short and why is in ``admin_log``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.schema import Moment

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("definitions", sa.Column("published_by", sa.String(200), nullable=True))
    op.add_column("definitions", sa.Column("published_at", Moment, nullable=True))
    op.add_column("definitions", sa.Column("ends_early_on", sa.Date, nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would drop ``definitions``
    # while cases still point at it, which SQLite's foreign keys refuse
    for column in ("ends_early_on", "published_at", "published_by"):
        op.drop_column("definitions", column)
