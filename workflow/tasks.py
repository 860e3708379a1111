"""Follow-up tasks for officers: reminders, escalations and condolence visits to make (A9.3).

The scheduler writes a task in the same transaction as the timer mark or visit case that causes
it, under a unique ``key``, so a sweep that runs twice adds nothing. A task is done when its case
has left the state the task was about (`workflow.store.tasks.close_left_tasks`, run by every
timer sweep): officers never tick tasks off by hand, they move the case. The scheduler's own
alarms (kind ``calendar``) belong to no case and close when their cause is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Task:
    """One row of ``tasks``, as `workflow.store.tasks.list_tasks` returns it."""

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
