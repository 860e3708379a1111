"""Listings at a million cases (issue 14 item 2): an index behind every listing filter, partial
indexes for open cases and open tasks, and cases counted per state as they move.

A listing pages by keyset (`workflow.store.keyset`): the next page is the rows after the last
one shown in the listing's order. So each filter gets an index whose columns are the filter and
then the order (``id`` for cases, ``due_on, id`` for tasks, ``id`` for the outbox), and a filter
that matches nothing is an empty range instead of a scan of the table. ``ix_cases_state``
becomes ``(state, id)`` and ``ix_tasks_case_id`` ``(case_id, due_on, id)``: PostgreSQL does not
add the row id to an index as SQLite does, and SQLite would rather walk all open tasks in due
order than look up a case's few tasks and sort them.

``case_state_counts`` holds the number of cases in each state, so the state counts read a
dozen rows instead of a million index entries (47 ms at 1M cases on SQLite, 141 ms on
PostgreSQL). SQLite's triggers keep it in the transaction that inserts a case or changes its
state. On PostgreSQL a counter row updated by every step would make concurrent steps wait for
each other's commits (and deadlock when two of them move cases in opposite orders), so its
statement triggers append the statement's net moves to ``case_state_moves``, rows nobody else
writes, and a count folds them into the totals (`SqlCaseTransaction.count_by_state`). A later
revision that rebuilds ``cases`` on SQLite (batch mode) must recreate these triggers as it
recreates 0011's.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OPEN_CASE = {"sqlite": "terminal IS 0", "postgresql": "terminal IS false"}
OPEN_TASK = "done_at IS NULL"
CASE_INDEXES = {
    "ix_cases_state_id": ["state", "id"],
    "ix_cases_county_id": ["county", "id"],
    "ix_cases_agency_id": ["agency", "id"],
}
TASK_INDEXES = {
    "ix_tasks_case_id_due_on_id": ["case_id", "due_on", "id"],  # ix_tasks_case_id, ordered
    "ix_tasks_due_on_id": ["due_on", "id"],
    "ix_tasks_county_due_on_id": ["county", "due_on", "id"],
    "ix_tasks_agency_due_on_id": ["agency", "due_on", "id"],
}
OPEN_TASK_INDEXES = {
    "ix_tasks_open_due_on_id": ["due_on", "id"],
    "ix_tasks_open_assignee_role_due_on_id": ["assignee_role", "due_on", "id"],
    "ix_tasks_open_county_due_on_id": ["county", "due_on", "id"],
    "ix_tasks_open_agency_due_on_id": ["agency", "due_on", "id"],
}
COUNT_TRIGGERS = ("cases_count_opened", "cases_count_moved")
# PostgreSQL: one row per state a statement changed (a bulk insert of a million cases appends a
# dozen), from the statement's transition tables
PG_COUNT_TRIGGERS = (
    "CREATE FUNCTION count_cases_opened() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO case_state_moves (state, delta) SELECT state, count(*) FROM opened "
    "GROUP BY state; RETURN NULL; END $$",
    "CREATE TRIGGER cases_count_opened AFTER INSERT ON cases REFERENCING NEW TABLE AS opened "
    "FOR EACH STATEMENT EXECUTE FUNCTION count_cases_opened()",
    "CREATE FUNCTION count_cases_moved() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO case_state_moves (state, delta) SELECT state, sum(delta) FROM ("
    "SELECT o.state, -1 AS delta FROM old_rows o JOIN new_rows n ON n.id = o.id "
    "WHERE n.state <> o.state UNION ALL "
    "SELECT n.state, 1 FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.state <> o.state"
    ") AS moved GROUP BY state HAVING sum(delta) <> 0; RETURN NULL; END $$",
    "CREATE TRIGGER cases_count_moved AFTER UPDATE ON cases "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION count_cases_moved()",
)
_ADD_ONE = (
    "INSERT INTO case_state_counts (state, total) VALUES (new.state, 1) "
    "ON CONFLICT (state) DO UPDATE SET total = total + 1;"
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_cases_state", "cases")
    for name, columns in CASE_INDEXES.items():
        op.create_index(name, "cases", columns)
    _partial_index("ix_cases_open_id", "cases", ["id"], where=OPEN_CASE[dialect])
    op.drop_index("ix_tasks_case_id", "tasks")
    for name, columns in TASK_INDEXES.items():
        op.create_index(name, "tasks", columns)
    for name, columns in OPEN_TASK_INDEXES.items():
        _partial_index(name, "tasks", columns, where=OPEN_TASK)
    op.create_index("ix_outbox_status_id", "outbox", ["status", "id"])
    op.create_table(
        "case_state_counts",
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("state", name="pk_case_state_counts"),
    )
    op.create_table(
        "case_state_moves",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("delta", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_state_moves"),
    )
    op.execute(
        "INSERT INTO case_state_counts (state, total) "
        "SELECT state, count(*) FROM cases GROUP BY state"
    )
    if dialect == "sqlite":
        create_count_triggers(op.get_bind())
    else:
        for statement in PG_COUNT_TRIGGERS:
            op.execute(statement)


def _partial_index(name: str, table: str, columns: list[str], *, where: str) -> None:
    """An index of the rows ``where`` holds (the same predicate a listing's query carries)."""
    predicate: dict[str, Any] = {f"{op.get_bind().dialect.name}_where": sa.text(where)}
    op.create_index(name, table, columns, **predicate)


def create_count_triggers(connection: sa.Connection) -> None:
    """Keep the counts with every insert and state change (SQLite; a case is never deleted,
    revision 0011)."""
    connection.exec_driver_sql(
        f"CREATE TRIGGER cases_count_opened AFTER INSERT ON cases BEGIN {_ADD_ONE} END"
    )
    connection.exec_driver_sql(
        "CREATE TRIGGER cases_count_moved AFTER UPDATE OF state ON cases "
        "WHEN old.state IS NOT new.state BEGIN "
        "UPDATE case_state_counts SET total = total - 1 WHERE state = old.state; "
        f"{_ADD_ONE} END"
    )


def downgrade() -> None:
    for trigger in COUNT_TRIGGERS:
        on = "" if op.get_bind().dialect.name == "sqlite" else " ON cases"
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}{on}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS count_cases_opened()")
        op.execute("DROP FUNCTION IF EXISTS count_cases_moved()")
    op.drop_table("case_state_moves")
    op.drop_table("case_state_counts")
    op.drop_index("ix_outbox_status_id", "outbox")
    for name in (*OPEN_TASK_INDEXES, *TASK_INDEXES):
        op.drop_index(name, "tasks")
    op.create_index("ix_tasks_case_id", "tasks", ["case_id"])
    op.drop_index("ix_cases_open_id", "cases")
    for name in CASE_INDEXES:
        op.drop_index(name, "cases")
    op.create_index("ix_cases_state", "cases", ["state"])
