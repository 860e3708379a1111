"""The scheduler's jobs, and the two ways to run them: `run_due` (once, at the engine clock's
moment: `scheduler run --once --now`, the demo and the tests) and `run_job` (APScheduler's
target in the service).

Every job is a sweep whose effects are guarded by unique keys (timer marks, visit keys, task and
outbox keys), so running one twice creates nothing twice. On top of that each run first inserts a
``scheduler_runs`` row unique per (job, slot): the slot is the business moment for `run_due`, and
the wall-clock period for the service, so two nodes that both believe they hold the lease for a
moment still run a period's sweep once, and officers can see when each job last ran.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from notifications.channels import Channel, ChannelSettings, build_channels
from notifications.dispatch import DEFAULT_BATCH, DispatchReport, dispatch
from workflow.clock import SHANGHAI
from workflow.engine import Engine
from workflow.scheduler.condolence import sweep_condolence
from workflow.scheduler.timers import sweep_timers
from workflow.store.schema import scheduler_runs

log = logging.getLogger(__name__)

JobResult = dict[str, Any]


@dataclass(frozen=True)
class JobSpec:
    """A job: what it runs, and how often the service runs it (seconds, or a daily hour)."""

    name: str
    run: Callable[[Engine, Mapping[str, Channel] | None], JobResult]
    every_seconds: float | None = None
    daily_at_hour: int | None = None
    label: str = ""


def _condolence(engine: Engine, _channels: Mapping[str, Channel] | None) -> JobResult:
    return sweep_condolence(engine).to_json()


def _timers(engine: Engine, _channels: Mapping[str, Channel] | None) -> JobResult:
    return sweep_timers(engine).to_json()


def _dispatch(engine: Engine, channels: Mapping[str, Channel] | None) -> JobResult:
    """Deliver everything due (issue 6): batches until a batch comes back short."""
    channels = channels if channels is not None else build_channels(ChannelSettings.from_env())
    total = DispatchReport()
    while True:
        report = dispatch(engine.db, channels, engine.clock, batch=DEFAULT_BATCH)
        total = total + report
        if report.claimed < DEFAULT_BATCH:
            break
    result = total.to_json()
    result.pop("failures", None)
    return result


# In the order `run_due` runs them: new visits first, so their timers and notices follow at once.
JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec("condolence", _condolence, daily_at_hour=2, label="重点走访慰问排查（A9.3）"),
        JobSpec("timers", _timers, every_seconds=3600, label="状态期限提醒与督办"),
        JobSpec("dispatch", _dispatch, every_seconds=60, label="发送通知（发件箱）"),
    )
}


STALE_CLAIM = timedelta(minutes=15)  # a run unfinished this long was killed: take it over


def claim_run(engine: Engine, job: str, slot: datetime, holder: str) -> int | None:
    """Insert the (job, slot) row; its id if this caller is the one to run it, else None.

    A claim whose run never finished (its node was killed mid-sweep) is taken over once it is
    older than `STALE_CLAIM`: the slot is not lost, and every effect is keyed, so finishing a
    half-done run creates nothing twice."""
    now = datetime.now(UTC)
    with engine.transaction(write=True) as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(scheduler_runs).values(
            job=job, slot=slot, holder=holder, started_at=now
        )
        row = connection.execute(
            statement.on_conflict_do_update(
                index_elements=[scheduler_runs.c.job, scheduler_runs.c.slot],
                set_={"holder": holder, "started_at": now},
                where=sa.and_(
                    scheduler_runs.c.finished_at.is_(None),
                    scheduler_runs.c.started_at < now - STALE_CLAIM,
                ),
            ).returning(scheduler_runs.c.id)
        ).first()
    return None if row is None else int(row.id)


def release_run(engine: Engine, run_id: int) -> None:
    """Give a failed run's slot back, so the next attempt for that moment runs it."""
    with engine.transaction(write=True) as connection:
        connection.execute(
            sa.delete(scheduler_runs).where(
                scheduler_runs.c.id == run_id, scheduler_runs.c.finished_at.is_(None)
            )
        )


def finish_run(engine: Engine, run_id: int, result: JobResult) -> None:
    with engine.transaction(write=True) as connection:
        connection.execute(
            sa.update(scheduler_runs)
            .where(scheduler_runs.c.id == run_id)
            .values(finished_at=datetime.now(UTC), result=result)
        )


def run_one(
    engine: Engine,
    name: str,
    *,
    slot: datetime,
    holder: str,
    channels: Mapping[str, Channel] | None = None,
) -> JobResult | None:
    """Run job ``name`` for ``slot`` unless some node already did; None when skipped."""
    run_id = claim_run(engine, name, slot, holder)
    if run_id is None:
        log.info("job %s for %s already ran", name, slot.isoformat())
        return None
    try:
        result = JOBS[name].run(engine, channels)
    except Exception:
        release_run(engine, run_id)
        raise
    finish_run(engine, run_id, result)
    log.info("job %s ran for %s: %s", name, slot.isoformat(), result)
    return result


def run_due(
    engine: Engine,
    *,
    holder: str = "once",
    channels: Mapping[str, Channel] | None = None,
    jobs: tuple[str, ...] = tuple(JOBS),
) -> dict[str, JobResult | None]:
    """Run every job as of the engine clock's moment, in order; a job already run for that
    moment is skipped (``None``). The demo and tests move a `SimulatedClock` and call this."""
    slot = engine.clock.now()
    return {
        name: run_one(engine, name, slot=slot, holder=holder, channels=channels) for name in jobs
    }


# -- the APScheduler side -------------------------------------------------------------------


@dataclass
class Runtime:
    """What a job run needs in this process; set by the service that holds the lease.

    APScheduler pickles a job's callable reference and arguments only, so the engine cannot
    travel with the job: `run_job` finds it here."""

    engine: Engine
    holder: str
    holds_lease: Callable[[], bool]
    periods: dict[str, float]
    channels: Mapping[str, Channel] | None = None


_runtime: list[Runtime] = []  # at most one: the lease holder's, in this process


def install(runtime: Runtime | None) -> None:
    _runtime[:] = [] if runtime is None else [runtime]


def period_slot(moment: float, period: float) -> datetime:
    """The start of the period ``moment`` falls in, counted in Asia/Shanghai: a daily job's slot
    is the Shanghai calendar day, so a run caught up after midnight UTC cannot take the next
    day's slot."""
    offset = datetime.fromtimestamp(moment, SHANGHAI).utcoffset() or timedelta(0)
    local = moment + offset.total_seconds()
    return datetime.fromtimestamp(math.floor(local / period) * period - offset.total_seconds(), UTC)


def run_job(name: str) -> None:
    """APScheduler's target (``workflow.scheduler.jobs:run_job``; keep the name: the job table
    stores it). Runs only while this process holds the lease."""
    runtime = _runtime[0] if _runtime else None
    if runtime is None:
        log.error("job %s fired in a process with no scheduler runtime; skipped", name)
        return
    if not runtime.holds_lease():
        log.warning("job %s skipped: this node no longer holds the scheduler lease", name)
        return
    slot = period_slot(time.time(), runtime.periods.get(name, 60.0))
    try:
        run_one(runtime.engine, name, slot=slot, holder=runtime.holder, channels=runtime.channels)
    except Exception:
        # APScheduler would log it too; this names the job in our own log, and the next period
        # tries again (every effect is keyed, so a half-done run is simply finished then).
        log.exception("job %s failed", name)
        raise
