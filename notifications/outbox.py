"""The outbox as the notifications side reads it: messages to deliver, listings for officers,
and putting dead letters back in the queue.

The engine writes outbox rows in the transaction of the step that causes them; everything here
runs later, in its own short transactions, and never touches a case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from notifications.masking import mask_address, mask_text
from workflow.clock import Clock
from workflow.errors import InputError, NotFoundError
from workflow.store.database import WRITE
from workflow.store.schema import outbox

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
STATUSES = (PENDING, SENDING, SENT, DEAD)


@dataclass(frozen=True)
class OutboxMessage:
    """What a channel needs to deliver one notice. ``attempts`` counts this try, and is also
    the claim's token: a result is only recorded while the row still has this count."""

    id: int
    idempotency_key: str
    case_id: int | None
    template: str
    channel: str
    recipient_role: str
    recipient_name: str
    address: str | None
    subject: str
    body: str
    body_html: str | None
    attempts: int

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> OutboxMessage:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class OutboxEntry:
    """One row as ``notifications list`` shows it: the address and the error already masked."""

    id: int
    idempotency_key: str
    case_id: int | None
    template: str
    channel: str
    recipient_role: str
    recipient_name: str
    address: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> OutboxEntry:
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["address"] = mask_address(row["address"])
        values["last_error"] = mask_text(row["last_error"]) if row["last_error"] else None
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in self.__dict__.items()
        }


def write_connection(db: sa.Engine) -> sa.Connection:
    """A connection whose next transaction takes SQLite's write lock up front (BEGIN
    IMMEDIATE), as `Engine.transaction(write=True)` does; PostgreSQL ignores the option."""
    connection = db.connect()
    connection.execution_options(**{WRITE: True})
    return connection


def list_entries(
    db: sa.Engine, *, status: str | None = None, case_id: int | None = None, limit: int = 100
) -> list[OutboxEntry]:
    """Newest first, so the officer sees what just happened before older history."""
    if status is not None and status not in STATUSES:
        raise InputError(f"status {status!r} is not one of {', '.join(STATUSES)}", field="status")
    query = sa.select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(outbox.c.status == status)
    if case_id is not None:
        query = query.where(outbox.c.case_id == case_id)
    with db.connect() as connection, connection.begin():
        return [OutboxEntry.from_row(row._mapping) for row in connection.execute(query)]


def retry_dead(
    db: sa.Engine, clock: Clock, ids: Sequence[int] = (), *, all_dead: bool = False
) -> list[int]:
    """Put dead letters back in the queue, due now, with their attempts reset; returns the ids.

    All or nothing: an id that does not exist, or a row that is not dead (it may be on its way
    or already sent, and sending it again would duplicate it), refuses the whole request. The
    last error stays on the row until the next attempt replaces it, so the officer still sees
    why it had died.
    """
    if not ids and not all_dead:
        raise InputError("name the outbox ids to retry, or pass --all-dead", field="ids")
    with write_connection(db) as connection, connection.begin():
        if all_dead:
            query = sa.select(outbox.c.id).where(outbox.c.status == DEAD)
            chosen = list(connection.execute(query.order_by(outbox.c.id)).scalars())
        else:
            query = sa.select(outbox.c.id, outbox.c.status).where(outbox.c.id.in_(set(ids)))
            found = {row.id: row.status for row in connection.execute(query)}
            for missing in sorted(set(ids) - found.keys()):
                raise NotFoundError("通知 outbox message", missing)
            alive = {i: s for i, s in found.items() if s != DEAD}
            if alive:
                listed = ", ".join(f"{i} is {s}" for i, s in sorted(alive.items()))
                raise InputError(f"only dead messages can be retried: {listed}", field="ids")
            chosen = sorted(found)
        if chosen:
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_(chosen), outbox.c.status == DEAD)
                .values(status=PENDING, attempts=0, next_attempt_at=clock.now(), claimed_until=None)
            )
    return chosen
