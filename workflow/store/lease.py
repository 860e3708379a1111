"""The scheduler lease: one database row that says which node may run APScheduler.

APScheduler 3 cannot share a job store between schedulers (its FAQ: "You can't"), and back
offices run several nodes. So each node runs a `LeaseKeeper`; only the node whose name is in the
``scheduler_leases`` row, with ``expires_at`` still ahead, starts APScheduler. The row is taken
and renewed by one compare-and-set ``INSERT … ON CONFLICT DO UPDATE … WHERE`` (PostgreSQL and
SQLite both have it; it survives any connection pooler, unlike advisory locks). The holder renews
every third of the lease; a standby polls at the same pace and takes the row over once it has
expired, so a node killed with SIGKILL is replaced within one lease time plus one poll.

Lease times are wall-clock times (``datetime.now``), never the business clock: a simulated clock
standing still must not keep a dead node's lease alive. Nodes' clocks must agree (NTP) to well
within the lease time. Jobs are idempotent anyway, so a node that stalls past its lease and
wakes up beside its successor still creates nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from workflow.store.database import WRITE
from workflow.store.schema import scheduler_leases

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=30)
LEASE_NAME = "scheduler"


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class LeaseKeeper:
    """Takes, renews and releases one named lease for one holder."""

    db: sa.Engine
    holder: str
    ttl: timedelta = DEFAULT_LEASE
    name: str = LEASE_NAME
    now: Callable[[], datetime] = field(default=wall_clock)

    @property
    def renew_every(self) -> float:
        """Seconds between renewals (and a standby's polls): a third of the lease."""
        return self.ttl.total_seconds() / 3

    def try_acquire(self) -> bool:
        """Take the lease if it is free, expired or already ours (then renew it); True if held.

        One statement, so two nodes racing for an expired lease cannot both win: the second's
        ``WHERE`` sees the first's fresh ``expires_at`` and updates nothing.
        """
        now = self.now()
        table = scheduler_leases
        insert = (postgresql.insert if self.db.dialect.name == "postgresql" else sqlite.insert)(
            table
        ).values(
            name=self.name,
            holder=self.holder,
            expires_at=now + self.ttl,
            acquired_at=now,
            renewed_at=now,
        )
        excluded = insert.excluded
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.name],
            set_={
                "holder": excluded.holder,
                "expires_at": excluded.expires_at,
                "renewed_at": excluded.renewed_at,
                "acquired_at": sa.case(
                    (table.c.holder == excluded.holder, table.c.acquired_at),
                    else_=excluded.acquired_at,
                ),
            },
            where=sa.or_(table.c.holder == excluded.holder, table.c.expires_at <= now),
        ).returning(table.c.holder)
        with self._writing() as connection:
            return connection.execute(statement).first() is not None

    def try_acquire_or_stand_by(self) -> bool:
        """`try_acquire`, but a database that cannot be reached means "not held": the node
        stands by (and stops its scheduler) until a renewal succeeds again."""
        try:
            return self.try_acquire()
        except DBAPIError as error:
            log.warning("lease renewal failed (%s); acting as standby", error.orig)
            return False

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        with self.db.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
            yield connection

    def holds(self) -> bool:
        """Whether the row still names us with an expiry ahead (read before each job run)."""
        with self.db.connect() as connection:
            row = connection.execute(
                sa.select(scheduler_leases.c.holder, scheduler_leases.c.expires_at).where(
                    scheduler_leases.c.name == self.name
                )
            ).first()
        return row is not None and row.holder == self.holder and row.expires_at > self.now()

    def release(self) -> None:
        """Expire our lease now, so a standby need not wait out the lease on a clean stop."""
        with self._writing() as connection:
            connection.execute(
                sa.update(scheduler_leases)
                .where(
                    scheduler_leases.c.name == self.name,
                    scheduler_leases.c.holder == self.holder,
                )
                .values(expires_at=self.now())
            )


def current_holder(db: sa.Engine, name: str = LEASE_NAME) -> tuple[str, datetime] | None:
    """Who holds the lease and until when (``None`` before any node took it)."""
    with db.connect() as connection:
        row = connection.execute(
            sa.select(scheduler_leases.c.holder, scheduler_leases.c.expires_at).where(
                scheduler_leases.c.name == name
            )
        ).first()
    return None if row is None else (row.holder, row.expires_at)
