"""The A18.2 performance report as range reads (issue 14 item 1): the batch a case was approved
into as an indexed column, and the cases of a definition by opening time.

The report's cases of plan year Y are those approved into a batch of one of that year's plans.
The approval step records ``batch_id`` in the case's evidence (a rebook replaces it, A6.2), and
the evidence keeps it after a withdrawal or a health problem released the seat (A8.3), so it is
the one place that says which batch a case was planned into. Read out of a JSON document it is
a scan of every case; ``approved_batch_id`` is that value as a generated column, computed by the
database whenever the evidence changes (no code writes it, no row can disagree with its
evidence), and indexed: the year's cases are one index range per batch of the year.

SQLite adds it as a VIRTUAL column (``ALTER TABLE ... ADD COLUMN`` cannot add a stored one and
does not rebuild the table, so revision 0011's and 0017's triggers stay); the index holds the
computed values. PostgreSQL computes it STORED. Only a JSON integer counts (SQLite
``json_type``, PostgreSQL ``jsonb_typeof`` and at most nine digits), so a definition recording a
``batch_id`` of another kind leaves the column NULL instead of failing its step.

The condolence visits of the year are the cases of the visit definition opened in the year:
``(definition_id, opened_at)`` makes that one range per version of the definition. It is a
partial index on ``opened_at IS NOT NULL``, true of every case, which only a query bounding
``opened_at`` implies: without statistics, SQLite took a plain ``(definition_id, opened_at)``
index for ``definition_id = ? AND state IN (...)`` and read all cases of the definition (2 s at
a million cases) where the state's index reads the few in those states.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# the same text as workflow.store.schema.APPROVED_BATCH renders (tests/test_report_indexes.py)
APPROVED_BATCH = {
    "sqlite": (
        "CASE WHEN json_type(evidence, '$.batch_id') = 'integer' "
        "THEN json_extract(evidence, '$.batch_id') END"
    ),
    "postgresql": (
        "CASE WHEN jsonb_typeof(evidence -> 'batch_id') = 'number' "
        "AND (evidence ->> 'batch_id') ~ '^[0-9]{1,9}$' "
        "THEN CAST(evidence ->> 'batch_id' AS INTEGER) END"
    ),
}


# the visits index is partial on a condition every case meets (opened_at is NOT NULL), so only
# a query that bounds opened_at can use it: SQLite without statistics would otherwise take it
# for ``definition_id IN (...)`` alone and read every case of a definition where the query's
# other condition (a state, a cadre) has a better index
EVERY_ROW = "opened_at IS NOT NULL"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column(
        "cases",
        sa.Column(
            "approved_batch_id",
            sa.Integer,
            sa.Computed(sa.text(APPROVED_BATCH[dialect]), persisted=dialect != "sqlite"),
            nullable=True,
        ),
    )
    op.create_index("ix_cases_approved_batch_id", "cases", ["approved_batch_id"])
    op.create_index(
        "ix_cases_definition_id_opened_at",
        "cases",
        ["definition_id", "opened_at"],
        sqlite_where=sa.text(EVERY_ROW),
        postgresql_where=sa.text(EVERY_ROW),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_definition_id_opened_at", "cases")
    op.drop_index("ix_cases_approved_batch_id", "cases")
    op.drop_column("cases", "approved_batch_id")
