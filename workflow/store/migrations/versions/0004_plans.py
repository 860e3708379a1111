"""Annual plans, contractors and batches (art. 6, 9-16, 18).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.schema import Json, Moment

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("organiser_level", sa.String(16), nullable=False),
        sa.Column("county", sa.String(100), nullable=True),
        sa.Column("budget", sa.Numeric(14, 2), nullable=False),
        sa.Column("cycle", sa.String(32), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
    )
    op.create_table(
        "contractors",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("why_purchased", sa.Text, nullable=True),
        sa.Column("exit_threshold_override", sa.Numeric(5, 2), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_contractors"),
        sa.UniqueConstraint("name", name="uq_contractors_name"),
    )
    op.create_table(
        "contractor_qualifications",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("contractor_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"],
            ["contractors.id"],
            name="fk_contractor_qualifications_contractor_id_contractors",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contractor_qualifications"),
    )
    op.create_index(
        "ix_contractor_qualifications_contractor_id", "contractor_qualifications", ["contractor_id"]
    )
    op.create_table(
        "contractor_agreements",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("contractor_id", sa.Integer, nullable=False),
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("agreement_no", sa.String(100), nullable=False),
        sa.Column("signed_on", sa.Date, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_contractor_agreements_plan_id_plans"
        ),
        sa.ForeignKeyConstraint(
            ["contractor_id"],
            ["contractors.id"],
            name="fk_contractor_agreements_contractor_id_contractors",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contractor_agreements"),
        sa.UniqueConstraint(
            "contractor_id",
            "plan_id",
            "agreement_no",
            name="uq_contractor_agreements_contractor_id_plan_id_agreement_no",
        ),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("contractor_id", sa.Integer, nullable=False),
        sa.Column("province", sa.String(32), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("seats_taken", sa.Integer, nullable=False),
        sa.Column("staff_count", sa.Integer, nullable=False),
        sa.Column("safety_plan_ref", sa.String(200), nullable=True),
        sa.Column("emergency_plan_ref", sa.String(200), nullable=True),
        sa.Column("organiser_contacts", Json, nullable=False),
        sa.Column("contractor_contacts", Json, nullable=False),
        sa.Column("itinerary", Json, nullable=False),
        sa.Column("budget", sa.Numeric(14, 2), nullable=True),
        sa.Column("actual_cost", sa.Numeric(14, 2), nullable=True),
        sa.Column("started_at", Moment, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="ck_batches_seats"),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["contractors.id"], name="fk_batches_contractor_id_contractors"
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_batches_plan_id_plans"),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
    )
    op.create_index("ix_batches_contractor_id", "batches", ["contractor_id"])
    op.create_index("ix_batches_plan_id", "batches", ["plan_id"])
    op.create_table(
        "batch_seats",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.Integer, nullable=False),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_batch_seats_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name="fk_batch_seats_batch_id_batches"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_batch_seats"),
        sa.UniqueConstraint("batch_id", "case_id", name="uq_batch_seats_batch_id_case_id"),
        sa.UniqueConstraint("case_id", name="uq_batch_seats_case_id"),
    )
    op.create_table(
        "batch_exceptions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("article", sa.String(16), nullable=False),
        sa.Column("approver_role", sa.String(64), nullable=False),
        sa.Column("approver_name", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name="fk_batch_exceptions_batch_id_batches"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_batch_exceptions"),
        sa.UniqueConstraint("batch_id", "rule", name="uq_batch_exceptions_batch_id_rule"),
    )
    op.create_table(
        "contractor_evaluations",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("contractor_id", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.Integer, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("at", Moment, nullable=False),
        sa.CheckConstraint("score >= 0 AND score <= 100", name="ck_contractor_evaluations_score"),
        sa.ForeignKeyConstraint(
            ["contractor_id"],
            ["contractors.id"],
            name="fk_contractor_evaluations_contractor_id_contractors",
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name="fk_contractor_evaluations_batch_id_batches"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contractor_evaluations"),
        sa.UniqueConstraint("batch_id", name="uq_contractor_evaluations_batch_id"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.Integer, nullable=False),
        sa.Column("case_id", sa.Integer, nullable=True),
        sa.Column("at", Moment, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("reported_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_incidents_case_id_cases"),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name="fk_incidents_batch_id_batches"),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_batch_id", "incidents", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_incidents_batch_id", "incidents")
    op.drop_table("incidents")
    op.drop_table("contractor_evaluations")
    op.drop_table("batch_exceptions")
    op.drop_table("batch_seats")
    op.drop_index("ix_batches_contractor_id", "batches")
    op.drop_index("ix_batches_plan_id", "batches")
    op.drop_table("batches")
    op.drop_table("contractor_agreements")
    op.drop_index("ix_contractor_qualifications_contractor_id", "contractor_qualifications")
    op.drop_table("contractor_qualifications")
    op.drop_table("contractors")
    op.drop_table("plans")
