"""The ``tasks`` table: officers' follow-up tasks, written in the transaction that causes them.

Functions here run on a connection the caller owns (the scheduler's sweep transaction), so a task
lands together with the timer mark, visit case or alarm that causes it, or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.errors import NotFoundError
from workflow.store import keyset
from workflow.store.schema import cases, tasks
from workflow.tasks import Task


def insert_tasks(connection: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert tasks, skipping any whose key exists; returns how many were new."""
    if not rows:
        return 0
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(tasks)
        .on_conflict_do_nothing(index_elements=[tasks.c.key])
        .returning(tasks.c.id)
    )
    return len(connection.execute(statement, [dict(r) for r in rows]).all())


def close_tasks_by_key(connection: sa.Connection, keys: Sequence[str], now: datetime) -> int:
    """Mark done the open tasks with these keys (alarms whose cause has gone); one UPDATE."""
    if not keys:
        return 0
    result = connection.execute(
        sa.update(tasks)
        .where(tasks.c.done_at.is_(None), tasks.c.key.in_(list(keys)))
        .values(done_at=now)
    )
    return int(result.rowcount or 0)


def open_task_keys(connection: sa.Connection, prefix: str) -> list[str]:
    """The keys of the open tasks whose key starts with ``prefix``."""
    query = sa.select(tasks.c.key).where(
        tasks.c.done_at.is_(None), tasks.c.key.startswith(prefix, autoescape=True)
    )
    return list(connection.execute(query).scalars())


def record_alarms(
    connection: sa.Connection,
    prefix: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    covered_through: int,
    now: datetime,
) -> int:
    """Open the alarm tasks ``rows`` (once per key) and close the open alarms under ``prefix``
    whose year (the key's last part) is now covered; returns how many alarms were opened."""
    covered = [
        key
        for key in open_task_keys(connection, prefix)
        if key.rsplit(":", 1)[-1].isdigit() and int(key.rsplit(":", 1)[-1]) <= covered_through
    ]
    close_tasks_by_key(connection, covered, now)
    return insert_tasks(connection, rows)


def close_left_tasks(connection: sa.Connection, now: datetime) -> int:
    """Mark done every open task whose case is no longer in the task's state; one UPDATE."""
    left = (
        sa.select(cases.c.id)
        .where(cases.c.id == tasks.c.case_id, cases.c.state != tasks.c.state)
        .exists()
    )
    result = connection.execute(
        sa.update(tasks).where(tasks.c.done_at.is_(None), left).values(done_at=now)
    )
    return int(result.rowcount or 0)


def list_tasks(
    connection: sa.Connection,
    *,
    today: date,
    role: str | None = None,
    county: str | None = None,
    agency: str | None = None,
    due_before: date | None = None,
    overdue: bool = False,
    include_done: bool = False,
    case_id: int | None = None,
    limit: int = 100,
    after: int | None = None,
) -> list[Task]:
    """Open tasks (all with ``include_done``), soonest due first, then by id; ``after`` (a task
    id) continues after that task (keyset paging on (due_on, id), `workflow.store.keyset`).
    Each filter is a range on an index that ends in (due_on, id), a partial one for open tasks
    (revision 0017), so a deep page or a filter matching nothing reads no more than a page.
    `NotFoundError` when ``after`` names no task (tasks are never deleted: a cursor stays)."""
    query = sa.select(tasks)
    if not include_done:
        query = query.where(_OPEN_TASK)
    if role is not None:
        query = query.where(tasks.c.assignee_role == role)
    if county is not None:
        query = query.where(tasks.c.county == county)
    if agency is not None:
        query = query.where(tasks.c.agency == agency)
    if due_before is not None:
        query = query.where(tasks.c.due_on < due_before)
    if overdue:
        query = query.where(_OPEN_TASK, tasks.c.due_on < today)
    if case_id is not None:
        query = query.where(tasks.c.case_id == case_id)
    last = None
    if after is not None:
        due_on = connection.execute(_DUE_ON, {"task_id": after}).scalar_one_or_none()
        if due_on is None:
            raise NotFoundError("任务", after)
        last = (due_on, after)
    query = keyset.page_after(query, [tasks.c.due_on, tasks.c.id], last, limit=limit)
    return [Task(**row._mapping) for row in connection.execute(query)]


# the listing's "open" filter, written as the partial indexes ix_tasks_open_* are (0017)
_OPEN_TASK = tasks.c.done_at.is_(None)
_DUE_ON = sa.select(tasks.c.due_on).where(tasks.c.id == sa.bindparam("task_id"))


def read_tasks(db: sa.Engine, *, today: date, **filters: Any) -> list[Task]:
    """`list_tasks` in a read transaction of its own, for callers that hold no connection
    (the CLI's and the API's listings); check the schema first (`Engine.ensure_schema`)."""
    with db.connect() as connection, connection.begin():
        return list_tasks(connection, today=today, **filters)
