"""Read-only figures about the database for ``/metrics``: the outbox queue and the scheduler.

These describe the database, not the process that reads them, so any API node scraped reports
the same values and a dead dispatcher's backlog still shows. Each scrape runs a few small
statements in one read transaction, every one of them on an index: the outbox by status
(``status, next_attempt_at``; sent rows, which only grow, are never counted), each job's newest
run by ``(job, slot)`` read backwards, and the lease's one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from workflow.ports import OUTBOX_STATUSES
from workflow.store.lease import LEASE_NAME
from workflow.store.schema import outbox, scheduler_leases, scheduler_runs

PENDING, SENDING, _SENT, DEAD = OUTBOX_STATUSES
QUEUED = (PENDING, SENDING, DEAD)  # the statuses counted: what is still waiting, or given up


@dataclass(frozen=True)
class OutboxState:
    """Rows per status (pending, sending, dead), pending rows that failed at least once, and
    when the oldest notice not yet delivered (pending or sending) was written."""

    by_status: dict[str, int]
    retrying: int
    oldest_undelivered: datetime | None


@dataclass(frozen=True)
class JobState:
    """A job's newest run (by slot) and the newest run of it that finished."""

    job: str
    last_slot: datetime | None = None
    last_started: datetime | None = None
    last_finished: datetime | None = None
    unfinished: bool = False  # the newest run is running, was killed, or ended incomplete


@dataclass(frozen=True)
class DatabaseState:
    outbox: OutboxState
    jobs: dict[str, JobState] = field(default_factory=dict)
    lease_holder: str | None = None
    lease_expires: datetime | None = None


def read_state(db: sa.Engine, jobs: Sequence[str]) -> DatabaseState:
    """Everything ``/metrics`` reads from the database, in one read transaction."""
    with db.connect() as connection, connection.begin():
        queue = _outbox(connection)
        runs = {job: _job(connection, job) for job in jobs}
        lease = connection.execute(
            sa.select(scheduler_leases.c.holder, scheduler_leases.c.expires_at).where(
                scheduler_leases.c.name == LEASE_NAME
            )
        ).first()
    return DatabaseState(
        outbox=queue,
        jobs=runs,
        lease_holder=None if lease is None else lease.holder,
        lease_expires=None if lease is None else lease.expires_at,
    )


def _outbox(connection: sa.Connection) -> OutboxState:
    rows = connection.execute(
        sa.select(
            outbox.c.status,
            sa.func.count().label("rows"),
            sa.func.sum(sa.case((outbox.c.attempts > 0, 1), else_=0)).label("tried"),
            sa.func.min(outbox.c.created_at).label("oldest"),
        )
        .where(outbox.c.status.in_(QUEUED))
        .group_by(outbox.c.status)
    ).all()
    found = {row.status: row for row in rows}
    waiting = [found[s].oldest for s in (PENDING, SENDING) if s in found]
    return OutboxState(
        by_status={status: int(found[status].rows) if status in found else 0 for status in QUEUED},
        retrying=int(found[PENDING].tried or 0) if PENDING in found else 0,
        oldest_undelivered=min(waiting) if waiting else None,
    )


def _job(connection: sa.Connection, job: str) -> JobState:
    newest = (
        sa.select(scheduler_runs.c.slot, scheduler_runs.c.started_at, scheduler_runs.c.finished_at)
        .where(scheduler_runs.c.job == job)
        .order_by(scheduler_runs.c.slot.desc())
        .limit(1)
    )
    last = connection.execute(newest).first()
    if last is None:
        return JobState(job)
    finished = last.finished_at
    if finished is None:
        finished = connection.execute(
            sa.select(scheduler_runs.c.finished_at)
            .where(scheduler_runs.c.job == job, scheduler_runs.c.finished_at.is_not(None))
            .order_by(scheduler_runs.c.slot.desc())
            .limit(1)
        ).scalar()
    return JobState(
        job,
        last_slot=last.slot,
        last_started=last.started_at,
        last_finished=finished,
        unfinished=last.finished_at is None,
    )
