"""The roster listing (issue 19 item 5): ``cadres list --county C`` and ``GET /cadres?agency=A``
page by cadre id (keyset: ``WHERE county = :c AND id > :after ORDER BY id LIMIT n``). With an
index on (county, id) and one on (agency, id) each page is one index range read; without them a
small county among a city's 100,000 cadres would walk the whole primary key to fill a page.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cadres_county_id", "cadres", ["county", "id"])
    op.create_index("ix_cadres_agency_id", "cadres", ["agency", "id"])


def downgrade() -> None:
    op.drop_index("ix_cadres_agency_id", table_name="cadres")
    op.drop_index("ix_cadres_county_id", table_name="cadres")
