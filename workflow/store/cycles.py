"""Every SQL statement on closed cycles (A9.1, A18.2; `workflow.cycles`): what is still open in a
cycle, the closings, and the closing itself with its admin-log entry.

What is open is read set-based, one statement per kind (a count and the first rows in id
order), never a loop over the cycle's cases: cases of the cycle not in a final state, condolence
visits still to be opened (the sweep's own searches), batches of the cycle's plans that ran
without the A18.3 evaluation, and follow-up tasks of the cycle's cases still waiting.

The closing (`record_closure`) runs in one write transaction with the re-check of what is open:
on PostgreSQL it first locks the cadres and batches tables against writers and then the admin log
(as every administrative write does), so an opening (which locks its cadre's row), a batch
written or evaluated (its row or insert, then its log entry) and a closing take turns, and
whichever comes second sees the other; SQLite's BEGIN IMMEDIATE serialises writers already.
``UNIQUE (cycle)`` lets one of two closings in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.store.admin_log import Author, append_entry
from workflow.store.schema import (
    batches,
    cases,
    contractor_evaluations,
    contractors,
    cycle_closures,
    definitions,
    plans,
    tasks,
)
from workflow.store.unable import report_candidates

Row = dict[str, Any]
ENTITY = "cycle"  # the admin log's entity for a closing (`workflow.audit.admin.ENTITIES`)
ACTION = "close"


@dataclass(frozen=True)
class Found:
    """How many of one kind are open, and the first ``limit`` of them (dicts of columns)."""

    total: int
    rows: list[Row]


def closures(connection: sa.Connection) -> list[Row]:
    """Every closing, oldest first."""
    query = sa.select(cycle_closures).order_by(cycle_closures.c.id)
    return [dict(r) for r in connection.execute(query).mappings()]


def closure(connection: sa.Connection, cycle: str) -> Row | None:
    found = connection.execute(
        sa.select(cycle_closures).where(cycle_closures.c.cycle == cycle)
    ).mappings()
    row = found.first()
    return None if row is None else dict(row)


def open_cases(connection: sa.Connection, cycle: str, limit: int) -> dict[str, Found]:
    """The cycle's cases not in a final state, per definition name, by id (with the day a
    condolence visit was made, if it was)."""
    where = sa.and_(cases.c.cycle == cycle, cases.c.terminal.is_(False))
    counted = connection.execute(
        sa.select(definitions.c.name, sa.func.count())
        .join(definitions, definitions.c.id == cases.c.definition_id)
        .where(where)
        .group_by(definitions.c.name)
    ).all()
    found: dict[str, Found] = {}
    for name, total in counted:
        rows = connection.execute(
            sa.select(
                cases.c.id,
                cases.c.cadre_id,
                cases.c.county,
                cases.c.agency,
                cases.c.state,
                cases.c.version,
                # a condolence visit's record (A9.3): made, or still to make
                cases.c.evidence["visited_on"].as_string().label("visited_on"),
            )
            .join(definitions, definitions.c.id == cases.c.definition_id)
            .where(where, definitions.c.name == name)
            .order_by(cases.c.id)
            .limit(limit)
        ).mappings()
        found[str(name)] = Found(int(total), [dict(r) for r in rows])
    return found


def visits_to_open(
    connection: sa.Connection, cycle: str, source_names: Iterable[str], limit: int
) -> Found:
    """Cadres who need a condolence visit for ``cycle`` (A9.3) and have none yet: a case of a
    cycle-keeping definition (``source_names``) that ended unable, or an officer's report,
    without the cadre taking part after all. The condolence sweep's own searches
    (`workflow.store.scheduler.visit_candidates`, `workflow.store.unable.report_candidates`)."""
    # the sweep's module imports APScheduler's job store: loaded by a closing's status only,
    # not by the plans service, which asks this module whether a batch's cycle is closed
    from workflow.store.scheduler import visit_candidates  # noqa: PLC0415

    source_ids = [
        int(i)
        for i in connection.execute(
            sa.select(definitions.c.id).where(definitions.c.name.in_(list(source_names)))
        ).scalars()
    ]
    rows: dict[str, Row] = {}
    if source_ids:
        for row in visit_candidates(connection, source_ids, cycle, "", limit + 1):
            rows[row.cadre_id] = {"cadre_id": row.cadre_id, "case_id": row.source_id}
    for row in report_candidates(connection, source_ids or [-1], cycle, "", limit + 1):
        rows.setdefault(row.cadre_id, {"cadre_id": row.cadre_id, "report_id": row.id})
    ordered = [rows[k] for k in sorted(rows)]
    # both searches page at limit + 1: more than ``limit`` means "at least", which is enough
    # to refuse and to list the first ones; the exact figure is the sweep's to find
    return Found(len(ordered), ordered[:limit])


def unevaluated_batches(connection: sa.Connection, cycle: str, limit: int) -> Found:
    """Batches of the cycle's plans that took place (started, or with cadres seated) and have
    no contractor evaluation (A18.3). A batch that never started and holds no seat was no trip:
    there is nothing to evaluate."""
    evaluated = (
        sa.select(contractor_evaluations.c.id)
        .where(contractor_evaluations.c.batch_id == batches.c.id)
        .exists()
    )
    where = sa.and_(
        plans.c.cycle == cycle,
        ~evaluated,
        sa.or_(batches.c.started_at.is_not(None), batches.c.seats_taken > 0),
    )
    joined = batches.join(plans, plans.c.id == batches.c.plan_id)
    total = connection.execute(sa.select(sa.func.count()).select_from(joined).where(where))
    rows = connection.execute(
        sa.select(
            batches.c.id,
            batches.c.plan_id,
            batches.c.place,
            batches.c.start_date,
            batches.c.end_date,
            batches.c.contractor_id,
            contractors.c.name.label("contractor"),
        )
        .select_from(joined.join(contractors, contractors.c.id == batches.c.contractor_id))
        .where(where)
        .order_by(batches.c.id)
        .limit(limit)
    ).mappings()
    return Found(int(total.scalar_one()), [dict(r) for r in rows])


def waiting_tasks(connection: sa.Connection, cycle: str, limit: int) -> Found:
    """Open follow-up tasks of the cycle's cases whose case is still in the task's state: the
    ones the next sweep would not close as done (`workflow.store.tasks.close_left_tasks`)."""
    joined = tasks.join(cases, cases.c.id == tasks.c.case_id)
    where = sa.and_(
        cases.c.cycle == cycle, tasks.c.done_at.is_(None), cases.c.state == tasks.c.state
    )
    total = connection.execute(sa.select(sa.func.count()).select_from(joined).where(where))
    rows = connection.execute(
        sa.select(
            tasks.c.id,
            tasks.c.case_id,
            tasks.c.kind,
            tasks.c.title,
            tasks.c.article,
            tasks.c.assignee_role,
            tasks.c.agency,
            tasks.c.due_on,
        )
        .select_from(joined)
        .where(where)
        .order_by(tasks.c.due_on, tasks.c.id)
        .limit(limit)
    ).mappings()
    return Found(int(total.scalar_one()), [dict(r) for r in rows])


def lock_for_closing(connection: sa.Connection) -> None:
    """PostgreSQL: make the closing and every write it must see take turns (see the module
    docstring). Plain readers are not blocked. The locks last until the transaction ends, and
    are taken in the order the writers take theirs (a batch's row, then the admin log), so a
    closing and a batch write wait for each other instead of deadlocking."""
    if connection.dialect.name != "postgresql":
        return
    connection.execute(sa.text("LOCK TABLE cadres, batches IN EXCLUSIVE MODE"))
    connection.execute(sa.text("LOCK TABLE admin_log IN SHARE ROW EXCLUSIVE MODE"))


def record_closure(
    connection: sa.Connection,
    *,
    cycle: str,
    author: Author,
    at: datetime,
    audit_digest: str,
    archive_digest: str,
) -> Row | None:
    """Insert the closing and its admin-log entry; None (nothing written) when the cycle was
    closed by someone else first. The unique cycle decides without an error that would abort
    the transaction (RETURNING: psycopg reports no row count for such an insert)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    values = {
        "cycle": cycle,
        "closed_by": author.name[:200],
        "role": author.role[:64],
        "scope": None if author.scope is None else author.scope[:200],
        "closed_at": at,
        "audit_digest": audit_digest,
        "archive_digest": archive_digest,
    }
    inserted = connection.execute(
        dialect.insert(cycle_closures)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[cycle_closures.c.cycle])
        .returning(cycle_closures.c.id)
    ).scalar()
    if inserted is None:
        return None
    row = closure(connection, cycle)
    assert row is not None  # inserted just now, in this transaction
    append_entry(
        connection, author=author, now=at, entity=ENTITY, key=int(inserted), action=ACTION, row=row
    )
    return row


def plan_cycle(connection: sa.Connection, plan_id: int) -> str | None:
    """The cycle a plan (and so each of its batches) belongs to, None for no such plan."""
    found = connection.execute(sa.select(plans.c.cycle).where(plans.c.id == plan_id)).scalar()
    return None if found is None else str(found)


def batch_cycle(connection: sa.Connection, batch_id: int) -> str | None:
    """The cycle of a batch's plan, None for no such batch."""
    found = connection.execute(
        sa.select(plans.c.cycle)
        .join(batches, batches.c.plan_id == plans.c.id)
        .where(batches.c.id == batch_id)
    ).scalar()
    return None if found is None else str(found)
