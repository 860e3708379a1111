"""Console sessions (issue 19): who logged in to the officer console, with which token, until when.

A session is a row, not a signed cookie, so log-out ends it at once on every worker and a revoked
token ends its sessions too (the console checks the token's ``api_tokens`` row on each request).
The cookie holds a random id; only its SHA-256 is stored, so a copy of the database opens no
session. ``csrf`` is the session's form token; ``actor`` is who the token acted as at log-in.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.schema import Moment

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("expires_at", Moment, nullable=False),
        sa.Column("ended_at", Moment, nullable=True),
        sa.PrimaryKeyConstraint("id_hash", name="pk_console_sessions"),
    )


def downgrade() -> None:
    op.drop_table("console_sessions")
