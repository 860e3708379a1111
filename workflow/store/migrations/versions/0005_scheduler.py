"""Scheduler: lease, job runs, timer marks, condolence-visit keys, tasks, APScheduler's job table
(A9.3).

``apscheduler_jobs`` is created here, with exactly the columns APScheduler 3.11's
SQLAlchemyJobStore declares, rather than by the job store's own ``create_all``: schema changes
go through Alembic, and the migration test compares every table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.schema import Json, Moment

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", Moment, nullable=False),
        sa.Column("acquired_at", Moment, nullable=False),
        sa.Column("renewed_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_scheduler_leases"),
    )
    op.create_table(
        "scheduler_runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("slot", Moment, nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("started_at", Moment, nullable=False),
        sa.Column("finished_at", Moment, nullable=True),
        sa.Column("result", Json, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_scheduler_runs"),
        sa.UniqueConstraint("job", "slot", name="uq_scheduler_runs_job_slot"),
    )
    op.create_table(
        "timer_marks",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("entry_seq", sa.Integer, nullable=False),
        sa.Column("timer_index", sa.Integer, nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("fired_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_timer_marks_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_timer_marks"),
        sa.UniqueConstraint(
            "case_id",
            "entry_seq",
            "timer_index",
            name="uq_timer_marks_case_id_entry_seq_timer_index",
        ),
    )
    op.create_table(
        "visit_keys",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("cadre_id", sa.String(64), nullable=False),
        sa.Column("cycle", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer, nullable=True),
        sa.Column("source_case_id", sa.Integer, nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["cadre_id"], ["cadres.id"], name="fk_visit_keys_cadre_id_cadres"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_visit_keys_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["source_case_id"], ["cases.id"], name="fk_visit_keys_source_case_id_cases"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_visit_keys"),
        sa.UniqueConstraint("cadre_id", "cycle", name="uq_visit_keys_cadre_id_cycle"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("assignee_role", sa.String(64), nullable=False),
        sa.Column("county", sa.String(100), nullable=False),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("article", sa.String(16), nullable=True),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("done_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_tasks_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.UniqueConstraint("key", name="uq_tasks_key"),
    )
    op.create_index("ix_tasks_case_id", "tasks", ["case_id"])
    op.create_index("ix_tasks_done_at_due_on", "tasks", ["done_at", "due_on"])
    op.create_index(
        "ix_tasks_assignee_role_county_agency", "tasks", ["assignee_role", "county", "agency"]
    )
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), nullable=False),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_apscheduler_jobs"),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    op.drop_table("apscheduler_jobs")
    op.drop_index("ix_tasks_assignee_role_county_agency", "tasks")
    op.drop_index("ix_tasks_done_at_due_on", "tasks")
    op.drop_index("ix_tasks_case_id", "tasks")
    op.drop_table("tasks")
    op.drop_table("visit_keys")
    op.drop_table("timer_marks")
    op.drop_table("scheduler_runs")
    op.drop_table("scheduler_leases")
