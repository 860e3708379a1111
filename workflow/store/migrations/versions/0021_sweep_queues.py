"""The scheduler's sweeps read their due work, not the whole table (issue 14 item 3).

``cases.sweep_on`` is the day from which a sweep has something to do about a case: for a case in
a state with timers, a day no later than the stay's next unmarked deadline (the step that enters
the state writes the entry day plus the smallest ``after``, a bound no calendar can undercut; the
timer sweep moves it to the next real deadline once the earlier ones are marked, and to NULL
when the stay has none left); for a case of a cycle-keeping definition that ended outside the
participating states, the day it ended (the condolence sweep looks at it once, A9.3, and clears
it). The partial index holds only the rows with a day, so a sweep's search is one range read of
the work that is there, however many cases the table keeps. The column is neither fixed nor
moved in revision 0011's sense: the sweeps write it without a history row, and the case row's
triggers let them.

``unable_report_queue`` holds the officers' unable reports (A9.3) whose visit the condolence
sweep has not settled yet: inserted with the report, deleted once its visit is opened or found
not needed (the reports themselves are append-only).

Backfill: every case that is open, or ended unable to attend or withdrawn, gets the UTC day it
opened (no later than the day it entered its state, so nothing due is skipped), and every report
without a visit key is queued. The first sweep after the upgrade reads each of them once and
sets the real day; from then on it reads only due work.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

HAS_DAY = "sweep_on IS NOT NULL"
OPENED_DAY = {
    "sqlite": "date(opened_at)",
    "postgresql": "CAST(opened_at AT TIME ZONE 'UTC' AS DATE)",
}
OPEN = {"sqlite": "terminal IS 0", "postgresql": "terminal IS false"}
COULD_NOT_ATTEND = "('unable_to_attend', 'withdrawn')"  # as workflow.store.scheduler


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("cases", sa.Column("sweep_on", sa.Date, nullable=True))
    partial: dict[str, Any] = {f"{dialect}_where": sa.text(HAS_DAY)}
    op.create_index("ix_cases_sweep_on", "cases", ["terminal", "sweep_on", "id"], **partial)
    op.create_index("ix_visit_keys_case_id", "visit_keys", ["case_id"])
    op.create_table(
        "unable_report_queue",
        sa.Column("report_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["unable_reports.id"],
            name="fk_unable_report_queue_report_id_unable_reports",
        ),
        sa.PrimaryKeyConstraint("report_id", name="pk_unable_report_queue"),
    )
    op.execute(
        f"UPDATE cases SET sweep_on = {OPENED_DAY[dialect]} "
        f"WHERE {OPEN[dialect]} OR state IN {COULD_NOT_ATTEND}"
    )
    op.execute(
        "INSERT INTO unable_report_queue (report_id) SELECT r.id FROM unable_reports r "
        "WHERE NOT EXISTS (SELECT 1 FROM visit_keys k "
        "WHERE k.cadre_id = r.cadre_id AND k.cycle = r.cycle)"
    )


def downgrade() -> None:
    op.drop_table("unable_report_queue")
    op.drop_index("ix_visit_keys_case_id", "visit_keys")
    op.drop_index("ix_cases_sweep_on", "cases")
    op.drop_column("cases", "sweep_on")
