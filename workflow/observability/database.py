"""The figures that describe the database, read when Prometheus scrapes (`DatabaseCollector`).

Every API node answers the same here, so a scrape of any one of them shows the whole office:
how many notices wait in the outbox and how old the oldest is, how many are dead, when each
scheduler job last finished and how far behind its period it is, who holds the scheduler
lease. A dispatcher or scheduler that died cannot report its own backlog; the database can.

A scrape that cannot reach the database still answers: ``convalescence_database_up 0`` and
none of these figures, rather than a failed scrape that hides the process's own counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from workflow.clock import Clock
from workflow.store.database import HostEngine
from workflow.store.metrics import DatabaseState, read_state

log = logging.getLogger(__name__)

DAY = 86400.0


def job_periods() -> dict[str, float]:
    """Each scheduler job's period in seconds, as the service runs it (a daily job: a day)."""
    from workflow.scheduler.jobs import JOBS  # noqa: PLC0415  (the jobs load their sweeps)

    return {name: spec.every_seconds or DAY for name, spec in JOBS.items()}


def wall_clock() -> datetime:
    return datetime.now(UTC)


class DatabaseCollector:
    """A Prometheus collector reading `workflow.store.metrics.read_state` at each scrape.

    ``clock`` is the engine's (business) clock: outbox rows are stamped with it, so a notice's
    age is counted on it. Run records and the lease are stamped with the wall clock (see
    `workflow.store.lease`), so the scheduler's lag is counted on ``wall``."""

    def __init__(
        self,
        db: HostEngine,
        clock: Clock,
        *,
        periods: Mapping[str, float] | None = None,
        wall: Callable[[], datetime] = wall_clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.periods = dict(periods) if periods is not None else job_periods()
        self.wall = wall

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily(
            "convalescence_database_up", "1 if this scrape could read the database, else 0."
        )
        try:
            state = read_state(self.db, list(self.periods))
        except Exception as error:  # any failure: say so in the scrape, keep the rest
            log.warning("metrics: the database could not be read: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._outbox(state, self.clock.now())
        yield from self._scheduler(state, self.wall())
        took = GaugeMetricFamily(
            "convalescence_database_scrape_duration_seconds",
            "How long reading the database's figures took in this scrape.",
        )
        took.add_metric([], time.perf_counter() - started)
        yield took

    def _outbox(self, state: DatabaseState, now: datetime) -> Iterator[Metric]:
        queue = state.outbox
        notices = GaugeMetricFamily(
            "convalescence_outbox_notices",
            "Outbox notices by status: pending (due or waiting to retry), sending (claimed by "
            "a dispatcher), dead (given up; notifications retry puts them back).",
            labels=["status"],
        )
        for status, count in queue.by_status.items():
            notices.add_metric([status], count)
        yield notices
        retrying = GaugeMetricFamily(
            "convalescence_outbox_retrying",
            "Pending notices that failed at least once and wait for their next attempt.",
        )
        retrying.add_metric([], queue.retrying)
        yield retrying
        oldest = GaugeMetricFamily(
            "convalescence_outbox_oldest_undelivered_age_seconds",
            "Age of the oldest notice not yet delivered (pending or sending); 0 when none.",
        )
        age = 0.0
        if queue.oldest_undelivered is not None:
            age = max(0.0, (now - queue.oldest_undelivered).total_seconds())
        oldest.add_metric([], age)
        yield oldest

    def _scheduler(self, state: DatabaseState, now: datetime) -> Iterator[Metric]:
        last = GaugeMetricFamily(
            "convalescence_scheduler_last_run_timestamp_seconds",
            "When each job's newest finished run finished (Unix time); absent if none has.",
            labels=["job"],
        )
        lag = GaugeMetricFamily(
            "convalescence_scheduler_lag_seconds",
            "How far each job is behind its period: seconds since its last finished run, "
            "less one period; 0 while on time. Absent for a job that never finished a run.",
            labels=["job"],
        )
        unfinished = GaugeMetricFamily(
            "convalescence_scheduler_run_unfinished",
            "1 if a job's newest run has not finished: running, killed, or incomplete (it "
            "runs again), else 0.",
            labels=["job"],
        )
        for job, run in state.jobs.items():
            unfinished.add_metric([job], 1 if run.unfinished else 0)
            if run.last_finished is None:
                continue
            last.add_metric([job], run.last_finished.timestamp())
            behind = (now - run.last_finished).total_seconds() - self.periods[job]
            lag.add_metric([job], max(0.0, behind))
        yield last
        yield lag
        yield unfinished
        held = GaugeMetricFamily(
            "convalescence_scheduler_lease_held",
            "1 if some node holds the scheduler lease (not expired), else 0.",
        )
        held.add_metric(
            [], 1 if state.lease_expires is not None and state.lease_expires > now else 0
        )
        yield held
        if state.lease_holder is not None and state.lease_expires is not None:
            holder = GaugeMetricFamily(
                "convalescence_scheduler_lease_expires_timestamp_seconds",
                "When the scheduler lease runs out unless renewed (Unix time), by holder.",
                labels=["holder"],
            )
            holder.add_metric([state.lease_holder], state.lease_expires.timestamp())
            yield holder
