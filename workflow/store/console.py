"""The officer console's reads and its sessions (issue 19): keyset pages, counts, a case's extras.

The console lists work for one officer on every page load, so each listing here is a keyset page
(``after`` the last key shown, never OFFSET: the thousandth page costs what the first does) on
an indexed order, and each count is one grouped statement. Scope (A5.2) arrives as column
conditions the caller worked out with `workflow.access.list_filter`; nothing here decides who may
see what. Sessions are rows (revision 0018), so log-out and revocation reach every worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from workflow.store.schema import (
    batch_seats,
    batches,
    cadres,
    cases,
    console_sessions,
    definitions,
    history,
    outbox,
    tasks,
)
from workflow.tasks import Task

# -- sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    id_hash: str
    token_digest: str
    actor: str
    csrf: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None


def start_session(connection: sa.Connection, values: Mapping[str, Any]) -> None:
    connection.execute(sa.insert(console_sessions).values(**values))


def find_session(connection: sa.Connection, id_hash: str) -> SessionRow | None:
    row = connection.execute(
        sa.select(console_sessions).where(console_sessions.c.id_hash == id_hash)
    ).first()
    return None if row is None else SessionRow(**row._mapping)


def end_session(connection: sa.Connection, id_hash: str, now: datetime) -> None:
    connection.execute(
        sa.update(console_sessions)
        .where(console_sessions.c.id_hash == id_hash, console_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )


# -- case listings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseLine:
    """One line of a case list: the case's columns the list shows and its cadre's name."""

    id: int
    definition: str  # the definition's name and version, for its state labels
    definition_version: int
    cadre_id: str
    cadre_name: str
    county: str
    agency: str
    state: str
    terminal: bool
    cycle: str | None
    tier: str | None
    updated_at: datetime


@dataclass(frozen=True)
class CaseFilter:
    """What a case list may be narrowed by; ``scope`` holds the viewer's own scope columns
    (``county``, ``agency``, ``cadre_id``, ``contractor_id``), which always apply."""

    scope: Mapping[str, str]
    state: str | None = None
    states: Sequence[str] | None = None  # any of these (the inbox's waiting cases)
    county: str | None = None
    agency: str | None = None
    plan_id: int | None = None
    cycle: str | None = None
    overdue_on: date | None = None  # only cases with an open task due before this day
    search: str | None = None  # a cadre id (exact or its start) or part of a cadre's name
    open_only: bool = False


_LINE = (
    cases.c.id,
    definitions.c.name.label("definition"),
    definitions.c.version.label("definition_version"),
    cases.c.cadre_id,
    cadres.c.name.label("cadre_name"),
    cases.c.county,
    cases.c.agency,
    cases.c.state,
    cases.c.terminal,
    cases.c.cycle,
    cases.c.tier,
    cases.c.updated_at,
)


def _conditions(found: CaseFilter) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    narrowed: dict[str, str | None] = {
        "county": found.county,
        "agency": found.agency,
        "cadre_id": None,
    }
    for column, value in found.scope.items():
        if column == "contractor_id":
            where.append(_in_batch_of(value))
            continue
        if narrowed.get(column) not in (None, value):
            return [sa.false()]  # another scope than the viewer's own: nothing is visible
        narrowed[column] = value
    for column, wanted in narrowed.items():
        if wanted is not None:
            where.append(cases.c[column] == wanted)
    if found.state is not None:
        where.append(cases.c.state == found.state)
    if found.states is not None:
        where.append(cases.c.state.in_(list(found.states)) if found.states else sa.false())
    if found.cycle is not None:
        where.append(cases.c.cycle == found.cycle)
    if found.open_only:
        where.append(cases.c.terminal.is_(False))
    # the few cases a plan or an overdue task names are found through their own indexes
    # first, so a page of them never walks the whole case table looking for matches
    if found.plan_id is not None:
        seated = (
            sa.select(batch_seats.c.case_id)
            .join(batches, batches.c.id == batch_seats.c.batch_id)
            .where(batches.c.plan_id == found.plan_id)
        )
        where.append(cases.c.id.in_(seated))
    if found.overdue_on is not None:
        late = sa.select(tasks.c.case_id).where(
            tasks.c.done_at.is_(None), tasks.c.due_on < found.overdue_on
        )
        where.append(cases.c.id.in_(late))
    if found.search:
        text = found.search.strip()
        named = sa.select(cadres.c.id).where(cadres.c.name.contains(text, autoescape=True))
        where.append(
            sa.or_(
                cases.c.cadre_id == text,
                cases.c.cadre_id.startswith(text, autoescape=True),
                cases.c.cadre_id.in_(named),
            )
        )
    return where


def _in_batch_of(contractor_id: str) -> sa.ColumnElement[bool]:
    if not contractor_id.isdigit():
        return sa.false()
    return sa.exists(
        sa.select(batch_seats.c.id)
        .join(batches, batches.c.id == batch_seats.c.batch_id)
        .where(batch_seats.c.case_id == cases.c.id, batches.c.contractor_id == int(contractor_id))
    )


def case_page(
    connection: sa.Connection,
    found: CaseFilter,
    *,
    before: int | None = None,
    limit: int = 50,
    oldest_first: bool = False,
) -> list[CaseLine]:
    """Up to ``limit`` cases, newest first (``before`` the id last shown), or oldest first
    (then ``before`` is read as "after"): a keyset page on the primary key."""
    query = (
        sa.select(*_LINE)
        .join(cadres, cadres.c.id == cases.c.cadre_id)
        .join(definitions, definitions.c.id == cases.c.definition_id)
    )
    for condition in _conditions(found):
        query = query.where(condition)
    if oldest_first:
        if before is not None:
            query = query.where(cases.c.id > before)
        query = query.order_by(cases.c.id)
    else:
        if before is not None:
            query = query.where(cases.c.id < before)
        query = query.order_by(cases.c.id.desc())
    return [CaseLine(**row._mapping) for row in connection.execute(query.limit(limit))]


def open_counts_by_state(connection: sa.Connection, found: CaseFilter) -> dict[str, int]:
    """How many open cases in ``found`` stand in each state (one grouped statement)."""
    query = sa.select(cases.c.state, sa.func.count()).where(cases.c.terminal.is_(False))
    for condition in _conditions(found):
        query = query.where(condition)
    rows = connection.execute(query.group_by(cases.c.state))
    return {state: int(count) for state, count in rows}


# -- tasks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFilter:
    roles: Sequence[str] | None  # assignee roles; None: every role (the auditor reads all)
    county: str | None = None
    agency: str | None = None


def _task_conditions(found: TaskFilter) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [tasks.c.done_at.is_(None)]
    if found.roles is not None:
        where.append(tasks.c.assignee_role.in_(list(found.roles)))
    if found.county is not None:
        where.append(tasks.c.county == found.county)
    if found.agency is not None:
        where.append(tasks.c.agency == found.agency)
    return where


def task_page(
    connection: sa.Connection,
    found: TaskFilter,
    *,
    after: tuple[date, int] | None = None,
    limit: int = 50,
) -> list[Task]:
    """Open tasks soonest due first, so overdue ones lead; a keyset page on (due_on, id)."""
    query = sa.select(tasks).where(*_task_conditions(found))
    if after is not None:
        due, task_id = after
        query = query.where(
            sa.or_(tasks.c.due_on > due, sa.and_(tasks.c.due_on == due, tasks.c.id > task_id))
        )
    query = query.order_by(tasks.c.due_on, tasks.c.id).limit(limit)
    return [Task(**row._mapping) for row in connection.execute(query)]


def task_counts(connection: sa.Connection, found: TaskFilter, today: date) -> tuple[int, int]:
    """(open, overdue) tasks in ``found``."""
    overdue = sa.func.sum(sa.case((tasks.c.due_on < today, 1), else_=0))
    row = connection.execute(
        sa.select(sa.func.count(), overdue).where(*_task_conditions(found))
    ).one()
    return int(row[0]), int(row[1] or 0)


# -- one case's extras -------------------------------------------------------------------------


@dataclass(frozen=True)
class SeatLine:
    batch_id: int
    plan_id: int
    place: str
    province: str
    start_date: date
    end_date: date


def case_seat(connection: sa.Connection, case_id: int) -> SeatLine | None:
    """The batch holding the case's seat (A6.2), if it holds one."""
    row = connection.execute(
        sa.select(
            batches.c.id.label("batch_id"),
            batches.c.plan_id,
            batches.c.place,
            batches.c.province,
            batches.c.start_date,
            batches.c.end_date,
        )
        .join(batch_seats, batch_seats.c.batch_id == batches.c.id)
        .where(batch_seats.c.case_id == case_id)
    ).first()
    return None if row is None else SeatLine(**row._mapping)


@dataclass(frozen=True)
class NoticeLine:
    id: int
    template: str
    channel: str
    recipient_role: str
    recipient_name: str
    subject: str
    status: str
    created_at: datetime
    sent_at: datetime | None


def case_notices(connection: sa.Connection, case_id: int) -> list[NoticeLine]:
    """The notices written for the case (the outbox), oldest first."""
    query = (
        sa.select(
            outbox.c.id,
            outbox.c.template,
            outbox.c.channel,
            outbox.c.recipient_role,
            outbox.c.recipient_name,
            outbox.c.subject,
            outbox.c.status,
            outbox.c.created_at,
            outbox.c.sent_at,
        )
        .where(outbox.c.case_id == case_id)
        .order_by(outbox.c.id)
    )
    return [NoticeLine(**row._mapping) for row in connection.execute(query)]


def case_chain(connection: sa.Connection, case_id: int) -> tuple[list[Any], int, str | None]:
    """The case's history rows with their hashes (``_mapping`` for the canonical hash), and
    the case row's version and chain head, read together for `workflow.console.chain`."""
    head = connection.execute(
        sa.select(cases.c.version, cases.c.chain_head).where(cases.c.id == case_id)
    ).one()
    rows = connection.execute(
        sa.select(history).where(history.c.case_id == case_id).order_by(history.c.seq)
    ).all()
    return list(rows), int(head.version), head.chain_head


def cadre_names(connection: sa.Connection, cadre_ids: Sequence[str]) -> dict[str, str]:
    """Cadre id -> name, for lists that show people rather than ids."""
    if not cadre_ids:
        return {}
    query = sa.select(cadres.c.id, cadres.c.name).where(cadres.c.id.in_(sorted(set(cadre_ids))))
    return {str(i): str(n) for i, n in connection.execute(query)}


def case_cadres(connection: sa.Connection, case_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Case id -> (cadre id, cadre name), for the inbox's tasks."""
    if not case_ids:
        return {}
    query = (
        sa.select(cases.c.id, cases.c.cadre_id, cadres.c.name)
        .join(cadres, cadres.c.id == cases.c.cadre_id)
        .where(cases.c.id.in_(sorted(set(case_ids))))
    )
    return {int(i): (str(c), str(n)) for i, c, n in connection.execute(query)}
