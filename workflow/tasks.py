"""Follow-up tasks for officers: reminders, escalations and condolence visits to make (A9.3).

The scheduler writes a task in the same transaction as the timer mark or visit case that causes
it, under a unique ``key``, so a sweep that runs twice adds nothing. A task is done when its case
has left the state the task was about (`close_left_tasks`, run by every timer sweep): officers
never tick tasks off by hand, they move the case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.store.schema import cases, tasks


@dataclass(frozen=True)
class Task:
    """One row of ``tasks``, as `list_tasks` returns it."""

    id: int
    key: str
    kind: str
    case_id: int | None  # None for the scheduler's own alarms (kind "calendar", for the city)
    state: str | None
    assignee_role: str
    county: str
    agency: str
    title: str
    article: str | None
    due_on: date
    created_at: datetime
    done_at: datetime | None

    def overdue_on(self, today: date) -> bool:
        return self.done_at is None and self.due_on < today

    def to_json(self, today: date | None = None) -> dict[str, Any]:
        value: dict[str, Any] = {
            "id": self.id,
            "key": self.key,
            "kind": self.kind,
            "case_id": self.case_id,
            "state": self.state,
            "assignee_role": self.assignee_role,
            "county": self.county,
            "agency": self.agency,
            "title": self.title,
            "article": self.article,
            "due_on": self.due_on.isoformat(),
            "created_at": self.created_at.isoformat(),
            "done_at": self.done_at.isoformat() if self.done_at else None,
        }
        if today is not None:
            value["overdue"] = self.overdue_on(today)
        return value


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
) -> list[Task]:
    """Open tasks (all with ``include_done``), soonest due first."""
    query = sa.select(tasks)
    if not include_done:
        query = query.where(tasks.c.done_at.is_(None))
    if role is not None:
        query = query.where(tasks.c.assignee_role == role)
    if county is not None:
        query = query.where(tasks.c.county == county)
    if agency is not None:
        query = query.where(tasks.c.agency == agency)
    if due_before is not None:
        query = query.where(tasks.c.due_on < due_before)
    if overdue:
        query = query.where(tasks.c.done_at.is_(None), tasks.c.due_on < today)
    if case_id is not None:
        query = query.where(tasks.c.case_id == case_id)
    query = query.order_by(tasks.c.due_on, tasks.c.id).limit(limit)
    return [Task(**row._mapping) for row in connection.execute(query)]
