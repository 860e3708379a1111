"""Unable-to-attend reports (A9.3, 第九条): an officer records that a cadre cannot take part in a
cycle (health or similar), with reason and who recorded it, and the condolence sweep opens the
visit from that report, no case needed. Reports are append-only like the other audit records
(A19.1: UPDATE and DELETE refused by triggers) and carry the SHA-256 of their content.

``visit_keys`` may now point at a report instead of a case (``source_case_id`` nullable,
``unable_report_id``), and records whether the visit was opened after its cycle had ended
(``late``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.store.schema import Moment

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLE = "unable_reports"
PG_FUNCTION = "refuse_change_to_audit_record"  # created by 0006


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("cadre_id", sa.String(64), nullable=False),
        sa.Column("cycle", sa.String(32), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reporter_role", sa.String(64), nullable=False),
        sa.Column("reporter_name", sa.String(200), nullable=False),
        sa.Column("reported_at", Moment, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["cadre_id"], ["cadres.id"], name="fk_unable_reports_cadre_id_cadres"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_unable_reports"),
        sa.UniqueConstraint("cadre_id", "cycle", name="uq_unable_reports_cadre_id_cycle"),
    )
    op.create_index("ix_unable_reports_cycle", TABLE, ["cycle"])
    with op.batch_alter_table("visit_keys") as batch:
        batch.alter_column("source_case_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("unable_report_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_foreign_key(
            "fk_visit_keys_unable_report_id_unable_reports",
            TABLE,
            ["unable_report_id"],
            ["id"],
        )
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE PROCEDURE {PG_FUNCTION}()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only_truncate BEFORE TRUNCATE ON {TABLE} "
            f"FOR EACH STATEMENT EXECUTE PROCEDURE {PG_FUNCTION}()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_append_only_{verb.lower()} BEFORE {verb} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only (A19.1): {verb} refused'); END"
            )


def downgrade() -> None:
    op.execute("DELETE FROM visit_keys WHERE source_case_id IS NULL")
    with op.batch_alter_table("visit_keys") as batch:
        batch.drop_constraint("fk_visit_keys_unable_report_id_unable_reports", type_="foreignkey")
        batch.drop_column("late")
        batch.drop_column("unable_report_id")
        batch.alter_column("source_case_id", existing_type=sa.Integer(), nullable=False)
    # dropping the table drops its triggers on both databases
    op.drop_index("ix_unable_reports_cycle", table_name=TABLE)
    op.drop_table(TABLE)
