"""Listings at a million cases (issue 14 item 2): indexes behind every listing filter.

Placeholder claiming the revision number; the indexes follow in the next commit.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
