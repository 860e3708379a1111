"""Participations (A9.2, 第九条 同一军休干部在一个疗养周期内原则上只参加一次): one row per case
that takes part in a cycle, written in the step that moves the case into a participating state
and deleted in the step that moves it out (withdrawal, unable to attend).

The row that counts carries ``claim = 'A9.2'`` and ``UNIQUE (cadre_id, cycle, claim)`` lets
only one such row exist per cadre and cycle, so two approvals of one cadre at the same moment
cannot both pass the rule: the database lets exactly one in. A case admitted by a recorded
exception to once-per-cycle takes part with ``claim`` NULL (NULLs are distinct in a unique
constraint on both databases). Existing cases in their definition's participating states are
filled in, the earliest per cadre and cycle holding the claim.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import yaml
from alembic import op

from workflow.store.schema import Moment

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLE = "participations"
CLAIM = "A9.2"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("cadre_id", sa.String(64), nullable=False),
        sa.Column("cycle", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("claim", sa.String(8), nullable=True),
        sa.Column("taken_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["cadre_id"], ["cadres.id"], name="fk_participations_cadre_id_cadres"
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_participations_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_participations"),
        sa.UniqueConstraint("case_id", name="uq_participations_case_id"),
        sa.UniqueConstraint(
            "cadre_id", "cycle", "claim", name="uq_participations_cadre_id_cycle_claim"
        ),
    )
    _fill_in(op.get_bind())


def _fill_in(connection: sa.Connection) -> None:
    """Cases already in a participating state of their own definition take part."""
    definitions = sa.table(
        "definitions", sa.column("id", sa.Integer), sa.column("source_text", sa.Text)
    )
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer),
        sa.column("definition_id", sa.Integer),
        sa.column("cadre_id", sa.String),
        sa.column("cycle", sa.String),
        sa.column("state", sa.String),
    )
    participations = sa.table(
        TABLE,
        sa.column("cadre_id", sa.String),
        sa.column("cycle", sa.String),
        sa.column("case_id", sa.Integer),
        sa.column("claim", sa.String),
        sa.column("taken_at", Moment),
    )
    states: dict[int, set[str]] = {}
    for definition_id, text in connection.execute(
        sa.select(definitions.c.id, definitions.c.source_text)
    ):
        document = yaml.safe_load(text or "")
        rules = document.get("rules") if isinstance(document, dict) else None
        listed = rules.get("participation_states") if isinstance(rules, dict) else None
        states[int(definition_id)] = set(listed or ())
    now = datetime.now(UTC)
    claimed: set[tuple[str, str]] = set()
    rows = []
    for case_id, definition_id, cadre_id, cycle, state in connection.execute(
        sa.select(cases.c.id, cases.c.definition_id, cases.c.cadre_id, cases.c.cycle, cases.c.state)
        .where(cases.c.cycle.is_not(None))
        .order_by(cases.c.id)
    ):
        if state not in states.get(int(definition_id), ()):
            continue
        key = (str(cadre_id), str(cycle))
        claim = None if key in claimed else CLAIM
        claimed.add(key)
        rows.append(
            {
                "cadre_id": key[0],
                "cycle": key[1],
                "case_id": case_id,
                "claim": claim,
                "taken_at": now,
            }
        )
    if rows:
        connection.execute(sa.insert(participations), rows)


def downgrade() -> None:
    op.drop_table(TABLE)
