"""``convalescence scheduler run``: APScheduler 3 on the node that holds the lease.

The loop takes or renews the lease every third of its time. Holding it, the node starts a
BackgroundScheduler whose SQLAlchemy job store lives in the same database; losing it (a renewal
failed, or a stalled node found its lease taken), it shuts the scheduler down at once. Job
defaults are deliberate: ``coalesce=True`` and ``misfire_grace_time=None`` so a job missed while
every node was down runs once on restart, not once per missed period and not never;
``max_instances=1``. Jobs are re-added only when their definition changed: re-adding with
``replace_existing`` would recompute the next run time and so silently drop a missed run.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from notifications.channels import Channel
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI
from workflow.engine import Engine
from workflow.scheduler import jobs
from workflow.store.lease import DEFAULT_LEASE, LeaseKeeper
from workflow.store.scheduler import job_store

log = logging.getLogger(__name__)

JOB_FUNC = "workflow.scheduler.jobs:run_job"
JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class SchedulerService:
    """One node's scheduler: call `run` in a thread or the main thread; set ``stop`` to end.

    ``every`` replaces every job's period with that many seconds (tests and demos)."""

    engine: Engine
    holder: str = field(default_factory=default_holder)
    lease: timedelta = DEFAULT_LEASE
    every: float | None = None
    channels: Mapping[str, Channel] | None = None
    calendar: WorkingCalendar | None = None  # None: the built-in holiday notices
    stop: threading.Event = field(default_factory=threading.Event)
    active: bool = False

    def __post_init__(self) -> None:
        self.keeper = LeaseKeeper(self.engine.db, self.holder, self.lease)
        self._scheduler: BackgroundScheduler | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self._tick()
                self.stop.wait(self.keeper.renew_every)
        finally:
            self._stop_scheduler()
            if self.active:
                self.keeper.release()
            self.active = False

    def _tick(self) -> None:
        held = self.keeper.try_acquire_or_stand_by()
        if held and self._scheduler is None:
            log.info("%s holds the scheduler lease; starting APScheduler", self.holder)
            self._start_scheduler()
        elif not held and self._scheduler is not None:
            log.warning("%s lost the scheduler lease; stopping APScheduler", self.holder)
            self._stop_scheduler()
        self.active = held

    def periods(self) -> dict[str, float]:
        return {
            name: self.every or spec.every_seconds or 86400.0 for name, spec in jobs.JOBS.items()
        }

    def triggers(self) -> dict[str, BaseTrigger]:
        found: dict[str, BaseTrigger] = {}
        for name, spec in jobs.JOBS.items():
            if self.every is None and spec.daily_at_hour is not None:
                found[name] = CronTrigger(hour=spec.daily_at_hour, timezone=SHANGHAI)
            else:
                seconds = self.every or spec.every_seconds or 86400.0
                found[name] = IntervalTrigger(seconds=seconds, timezone=SHANGHAI)
        return found

    def _start_scheduler(self) -> None:
        jobs.install(
            jobs.Runtime(
                engine=self.engine,
                holder=self.holder,
                holds_lease=self.keeper.holds,
                periods=self.periods(),
                context=jobs.JobContext(channels=self.channels, calendar=self.calendar),
            )
        )
        scheduler = build_scheduler(self.engine)
        scheduler.start(paused=True)
        install_jobs(scheduler, self.triggers())
        scheduler.resume()
        self._scheduler = scheduler

    def _stop_scheduler(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
            jobs.install(None)


def build_scheduler(engine: Engine) -> BackgroundScheduler:
    """APScheduler with its job table in our database (created by revision 0005)."""
    return BackgroundScheduler(
        jobstores={"default": job_store(engine.db)},
        job_defaults=dict(JOB_DEFAULTS),
        timezone=SHANGHAI,
    )


def _signature(job: Job) -> tuple[Any, ...]:
    return (
        job.func_ref,
        tuple(job.args),
        str(job.trigger),
        job.coalesce,
        job.misfire_grace_time,
        job.max_instances,
    )


def install_jobs(scheduler: BackgroundScheduler, triggers: Mapping[str, BaseTrigger]) -> None:
    """Add each job under its explicit id; keep a stored job whose definition is unchanged,
    so its next run time (possibly in the past: a missed run) survives the restart."""
    for name, trigger in triggers.items():
        existing = scheduler.get_job(name)
        wanted = (
            JOB_FUNC,
            (name,),
            str(trigger),
            JOB_DEFAULTS["coalesce"],
            JOB_DEFAULTS["misfire_grace_time"],
            JOB_DEFAULTS["max_instances"],
        )
        if existing is not None and _signature(existing) == wanted:
            continue
        scheduler.add_job(
            JOB_FUNC,
            trigger=trigger,
            args=(name,),
            id=name,
            name=jobs.JOBS[name].label or name,
            replace_existing=True,
        )
