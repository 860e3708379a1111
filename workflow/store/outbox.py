"""The outbox table after a step wrote it: the dispatcher's claims and outcomes, the officers'
listing, and dead letters put back in the queue (`workflow.ports.OutboxQueue`, `OutboxLog`).

Rows are written by the step that causes them, in its own transaction (`workflow.store.cases`);
everything here runs later, each call in its own short transaction, and never touches a case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from workflow.ports import OUTBOX_STATUSES
from workflow.store import keyset
from workflow.store.database import WRITE
from workflow.store.schema import outbox

PENDING, SENDING, SENT, DEAD = OUTBOX_STATUSES


@dataclass(frozen=True)
class RetryOutcome:
    """See `workflow.ports.RetryOutcome`: nothing was written unless both lists are empty."""

    requeued: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    not_dead: Mapping[int, str] = field(default_factory=dict)


def write_connection(db: sa.Engine) -> sa.Connection:
    """A connection whose next transaction takes SQLite's write lock up front (BEGIN
    IMMEDIATE), as `Engine.transaction(write=True)` does; PostgreSQL ignores the option."""
    connection = db.connect()
    connection.execution_options(**{WRITE: True})
    return connection


class SqlOutbox:
    """The outbox ports on an SQLAlchemy engine from `workflow.store.database.create_engine`
    (or `Engine.db`), whose SQLite set-up turns the write option into ``BEGIN IMMEDIATE``.

    Claims: PostgreSQL skips rows another dispatcher holds (``FOR UPDATE SKIP LOCKED``); SQLite
    has no row locks and serialises the claim with ``BEGIN IMMEDIATE``. Either way, two
    dispatchers never claim the same row at once.
    """

    def __init__(self, db: sa.Engine) -> None:
        self.db = db

    # -- the dispatcher (OutboxQueue) ---------------------------------------------------------

    def claim(
        self,
        channels: Sequence[str],
        *,
        now: datetime,
        batch: int,
        lease: timedelta,
        max_attempts: int,
        abandoned_error: str,
    ) -> tuple[list[Mapping[str, Any]], int]:
        claimed_until = now + lease
        with write_connection(self.db) as connection, connection.begin():
            query = (
                sa.select(outbox.c.id, outbox.c.status, outbox.c.attempts)
                .where(_due(now), outbox.c.channel.in_(list(channels)))
                .order_by(outbox.c.next_attempt_at, outbox.c.id)
                .limit(batch)
            )
            if connection.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = connection.execute(query).all()
            abandoned = {r.id for r in rows if r.status == SENDING and r.attempts >= max_attempts}
            if abandoned:
                connection.execute(
                    sa.update(outbox)
                    .where(outbox.c.id.in_(abandoned))
                    .values(status=DEAD, claimed_until=None, last_error=abandoned_error)
                )
            ids = [r.id for r in rows if r.id not in abandoned]
            if not ids:
                return [], len(abandoned)
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(status=SENDING, claimed_until=claimed_until, attempts=outbox.c.attempts + 1)
            )
            claimed = connection.execute(
                sa.select(outbox)
                .where(outbox.c.id.in_(ids))
                .order_by(outbox.c.next_attempt_at, outbox.c.id)
            ).all()
        return [dict(r._mapping) for r in claimed], len(abandoned)

    def renew(self, claims: Mapping[int, int], *, now: datetime, until: datetime) -> set[int]:
        """One statement for the whole batch. The ``claimed_until > now`` condition is what
        makes a lapsed claim stay lost even when nobody has re-claimed the row yet: the
        dispatcher already counts it as gone, and another may be about to take it."""
        if not claims:
            return set()
        with write_connection(self.db) as connection, connection.begin():
            result = connection.execute(
                sa.update(outbox)
                .where(
                    sa.tuple_(outbox.c.id, outbox.c.attempts).in_(sorted(claims.items())),
                    outbox.c.status == SENDING,
                    outbox.c.claimed_until > now,
                )
                .values(claimed_until=until)
                .returning(outbox.c.id)
            )
            return set(result.scalars())

    def mark_sent(self, outbox_id: int, attempts: int, *, now: datetime) -> bool:
        return self._update_claimed(
            outbox_id, attempts, status=SENT, sent_at=now, claimed_until=None
        )

    def mark_failed(
        self, outbox_id: int, attempts: int, *, error: str, next_attempt_at: datetime | None
    ) -> bool:
        values: dict[str, Any] = {"claimed_until": None, "last_error": error}
        if next_attempt_at is None:
            values["status"] = DEAD
        else:
            values |= {"status": PENDING, "next_attempt_at": next_attempt_at}
        return self._update_claimed(outbox_id, attempts, **values)

    def count_unrouted(self, channels: Sequence[str], *, now: datetime) -> int:
        query = sa.select(sa.func.count()).select_from(outbox).where(_due(now))
        if channels:
            query = query.where(outbox.c.channel.not_in(list(channels)))
        with self.db.connect() as connection, connection.begin():
            return int(connection.execute(query).scalar_one())

    def _update_claimed(self, outbox_id: int, attempts: int, **values: Any) -> bool:
        """Apply ``values`` only while the row is still under this claim: sending, with the
        attempt count the claim gave it (nobody re-claimed it after ours expired)."""
        with write_connection(self.db) as connection, connection.begin():
            result = connection.execute(
                sa.update(outbox)
                .where(
                    outbox.c.id == outbox_id,
                    outbox.c.status == SENDING,
                    outbox.c.attempts == attempts,
                )
                .values(**values)
            )
        return result.rowcount == 1

    # -- officers (OutboxLog) -----------------------------------------------------------------

    def entries(
        self, *, status: str | None, case_id: int | None, limit: int, after: int | None = None
    ) -> list[Mapping[str, Any]]:
        """Newest first; ``after`` (an outbox id) continues with the older rows (keyset paging,
        each filter a range on (status, id) or (case_id) by revision 0017)."""
        query = sa.select(outbox)
        if status is not None:
            query = query.where(outbox.c.status == status)
        if case_id is not None:
            query = query.where(outbox.c.case_id == case_id)
        cursor = None if after is None else [after]
        query = keyset.page_after(query, [outbox.c.id], cursor, limit=limit, descending=True)
        with self.db.connect() as connection, connection.begin():
            return [dict(row._mapping) for row in connection.execute(query)]

    def retry_dead(self, ids: Sequence[int] | None, *, now: datetime) -> RetryOutcome:
        """Due now, attempts reset; the last error stays until the next attempt replaces it,
        so the officer still sees why the row had died. One transaction: all or nothing."""
        with write_connection(self.db) as connection, connection.begin():
            if ids is None:
                query = sa.select(outbox.c.id).where(outbox.c.status == DEAD)
                chosen = list(connection.execute(query.order_by(outbox.c.id)).scalars())
            else:
                query = sa.select(outbox.c.id, outbox.c.status).where(outbox.c.id.in_(set(ids)))
                found = {row.id: row.status for row in connection.execute(query)}
                missing = sorted(set(ids) - found.keys())
                alive = {i: s for i, s in sorted(found.items()) if s != DEAD}
                if missing or alive:
                    return RetryOutcome(missing=missing, not_dead=alive)
                chosen = sorted(found)
            if chosen:
                connection.execute(
                    sa.update(outbox)
                    .where(outbox.c.id.in_(chosen), outbox.c.status == DEAD)
                    .values(status=PENDING, attempts=0, next_attempt_at=now, claimed_until=None)
                )
        return RetryOutcome(requeued=chosen)


def _due(now: datetime) -> sa.ColumnElement[bool]:
    """Pending and due, or sending under a claim that has run out (its dispatcher died)."""
    return sa.and_(
        outbox.c.next_attempt_at <= now,
        sa.or_(
            outbox.c.status == PENDING,
            sa.and_(outbox.c.status == SENDING, outbox.c.claimed_until <= now),
        ),
    )
