"""The case row moves only with its history (A19.1, issue 17): triggers refuse an UPDATE of a case
that no history row accounts for, and any DELETE of a case.

A step writes the history row of the new version first, then compare-and-sets the case row
(``version`` -> ``version + 1``, ``state``, ``terminal``, ``evidence``, ``updated_at``,
``chain_head`` = that row's hash). So an UPDATE that changes any of those columns passes only
when a history row of the same case exists with ``seq`` = the new version, ``hash`` = the new
chain head and ``to_state`` = the new state, and the version goes up by exactly one. The one
exception is opening a case: its row is inserted first, then history seq 1, then the chain head
is set from NULL with nothing else changing. The columns fixed when a case opens (id,
definition, cadre, county, agency, opened_at, cycle, tier, eligibility) never change. The
terminal flag and the evidence are checked against the chain by ``audit verify``, which knows
the definition; the trigger only makes sure they change together with a new history row.

Like revision 0006's, these triggers are a fence against mistakes and casual edits, not against
a DBA who drops them: ``audit verify`` and ``audit checkpoint`` are what catch that. A later
revision that writes to ``cases`` (a backfill) or batch-alters it on SQLite (which rebuilds the
table without its triggers) must drop them first and call `create_triggers` again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

PG_FUNCTION = "refuse_case_change_without_history"
FIXED = (
    "id",
    "definition_id",
    "cadre_id",
    "county",
    "agency",
    "opened_at",
    "cycle",
    "tier",
    "eligibility",
)
MOVED = ("state", "version", "terminal", "evidence", "chain_head", "updated_at")
REFUSED_FIXED = "cases: the identity of a case is fixed when it opens (A19.1): UPDATE refused"
REFUSED_MOVE = (
    "cases: a case changes only with the history row of its new version (A19.1): UPDATE refused"
)
REFUSED_DELETE = "cases: a case is never deleted (A19.1): DELETE refused"
SQLITE_TRIGGERS = ("cases_fixed", "cases_follow_history", "cases_no_delete")


def upgrade() -> None:
    create_triggers(op.get_bind())


def downgrade() -> None:
    drop_triggers(op.get_bind())


def _accounted(new: str, old: str, same: str, moved: tuple[str, ...]) -> str:
    """The condition under which a change of the moved columns is a step's (or the opening's
    chain head): its history row is there. ``same`` is the dialect's null-safe equality."""
    unchanged = " AND ".join(
        f"{new}.{c} {same} {old}.{c}" for c in moved if c not in {"chain_head"}
    )
    return (
        "EXISTS (SELECT 1 FROM history h WHERE h.case_id = NEW.id AND h.seq = NEW.version"
        " AND h.hash = NEW.chain_head AND h.to_state = NEW.state)"
        f" AND ({new}.version = {old}.version + 1 OR ({old}.chain_head IS NULL AND {unchanged}))"
    )


def create_triggers(
    connection: sa.Connection,
    *,
    fixed_columns: tuple[str, ...] = FIXED,
    moved_columns: tuple[str, ...] = MOVED,
) -> None:
    """The triggers, over the columns a revision fixes and the ones it lets move with a history
    row (revision 0016 moves the definition and cycle of a case carried over, A21.1)."""
    if connection.dialect.name == "postgresql":
        fixed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in fixed_columns)
        moved = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in moved_columns)
        accounted = _accounted("NEW", "OLD", "IS NOT DISTINCT FROM", moved_columns)
        _run(
            connection,
            f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            "IF TG_OP <> 'UPDATE' THEN "
            f"RAISE EXCEPTION '{REFUSED_DELETE}' USING ERRCODE = 'restrict_violation'; END IF; "
            f"IF {fixed} THEN "
            f"RAISE EXCEPTION '{REFUSED_FIXED}' USING ERRCODE = 'restrict_violation'; END IF; "
            f"IF ({moved}) AND NOT ({accounted}) THEN "
            f"RAISE EXCEPTION '{REFUSED_MOVE}' USING ERRCODE = 'restrict_violation'; END IF; "
            "RETURN NEW; END $$",
        )
        _run(
            connection,
            "CREATE TRIGGER cases_follow_history BEFORE UPDATE OR DELETE ON cases "
            f"FOR EACH ROW EXECUTE PROCEDURE {PG_FUNCTION}()",
        )
        _run(
            connection,
            "CREATE TRIGGER cases_no_truncate BEFORE TRUNCATE ON cases "
            f"FOR EACH STATEMENT EXECUTE PROCEDURE {PG_FUNCTION}()",
        )
        return
    fixed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in fixed_columns)
    moved = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in moved_columns)
    accounted = _accounted("NEW", "OLD", "IS", moved_columns)
    _run(
        connection,
        f"CREATE TRIGGER cases_fixed BEFORE UPDATE ON cases WHEN {fixed} "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED_FIXED}'); END",
    )
    _run(
        connection,
        f"CREATE TRIGGER cases_follow_history BEFORE UPDATE ON cases "
        f"WHEN ({moved}) AND NOT ({accounted}) "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED_MOVE}'); END",
    )
    _run(
        connection,
        f"CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED_DELETE}'); END",
    )


def drop_triggers(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        _run(connection, "DROP TRIGGER IF EXISTS cases_follow_history ON cases")
        _run(connection, "DROP TRIGGER IF EXISTS cases_no_truncate ON cases")
        _run(connection, f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
        return
    for name in SQLITE_TRIGGERS:
        _run(connection, f"DROP TRIGGER IF EXISTS {name}")


def _run(connection: sa.Connection, statement: str) -> None:
    """DDL as text: through `sa.text` so psycopg's placeholders leave plpgsql's ``%`` alone."""
    connection.execute(sa.text(statement))
