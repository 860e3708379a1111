"""The scheduler as a service: the lease makes one node active, a killed node's standby takes
over, nothing is created twice (two real `convalescence scheduler run` processes on one
PostgreSQL database); a run missed while everything was down runs once on restart (real
APScheduler and its SQLAlchemy job store, on both databases)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.triggers.interval import IntervalTrigger
from factories import AS_AGENCY, REGISTRATION, cadre
from plans_setup import seed_plans

from workflow import Engine
from workflow.clock import SHANGHAI, SimulatedClock
from workflow.scheduler import LeaseKeeper, current_holder, jobs
from workflow.scheduler.service import build_scheduler, install_jobs
from workflow.store.scheduler import STALE_CLAIM
from workflow.store.schema import cases, outbox, scheduler_runs, tasks, visit_keys

LEASE_SECONDS = 3.0
NOW = "2024-05-06T10:00:00+08:00"


def unable_to_attend(engine: Engine, *numbers: int) -> None:
    engine.put_cadres([cadre(f"LC-GX-{n:04d}") for n in numbers])
    for n in numbers:
        cadre_id = f"LC-GX-{n:04d}"
        case = engine.open_case(cadre_id, actor=AS_AGENCY, data=REGISTRATION)
        engine.fire(
            case.id,
            "consent",
            actor=f"family:张丽@{cadre_id}",
            data={"family_member": "张丽", "relation": "女儿"},
        )
        engine.fire(case.id, "report_unable", actor=AS_AGENCY, data={"cause": "健康原因"})


def count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.transaction() as connection:
        query = sa.select(sa.func.count()).select_from(table).where(*where)
        return int(connection.execute(query).scalar() or 0)


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds it took; fails the test after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - start


def node(url: str, holder: str, workdir: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-c",
        "from workflow.cli.main import main; main()",
        "--db",
        url,
        "--now",
        NOW,
        "scheduler",
        "run",
        "--holder",
        holder,
        "--lease-seconds",
        str(LEASE_SECONDS),
        "--every",
        "0.5",
    ]
    env = {**os.environ, "CONVALESCENCE_NOTICES_DIR": str(workdir / "notices")}
    return subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@pytest.fixture
def nodes() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    started: dict[str, subprocess.Popen[bytes]] = {}
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_nodes_one_active_standby_takes_over_after_sigkill(
    pg_url: str, tmp_path: Path, nodes: dict[str, subprocess.Popen[bytes]]
) -> None:
    clock = SimulatedClock(datetime.fromisoformat(NOW))
    with Engine(pg_url, clock=clock) as engine:
        engine.upgrade_schema()
        seed_plans(engine)  # registrations need the year's plan (A3.2)
        unable_to_attend(engine, 1, 2)
        nodes["A"] = node(pg_url, "A", tmp_path)
        nodes["B"] = node(pg_url, "B", tmp_path)
        wait_for(lambda: count(engine, visit_keys) == 2, timeout=15)
        lease = current_holder(engine.db)
        assert lease is not None
        active, standby = lease[0], "B" if lease[0] == "A" else "A"
        time.sleep(1.5)  # several periods: the standby ran nothing, the active nothing twice
        with engine.transaction() as connection:
            holders = set(connection.execute(sa.select(scheduler_runs.c.holder)).scalars())
        assert holders == {active}

        nodes[active].send_signal(signal.SIGKILL)
        nodes[active].wait(timeout=5)
        killed_at = time.monotonic()
        unable_to_attend(engine, 3)  # work only the standby can do
        took = wait_for(lambda: (current_holder(engine.db) or ("",))[0] == standby, timeout=10)
        assert took <= LEASE_SECONDS + LEASE_SECONDS / 3 + 1.0  # expiry + one poll + slack
        wait_for(lambda: count(engine, visit_keys) == 3, timeout=10)
        time.sleep(1.0)
        assert time.monotonic() - killed_at < 15

        visit_cases = (
            sa.select(sa.func.count())
            .select_from(cases)
            .where(cases.c.cycle == "2024-2025", cases.c.state == "flagged")
        )
        with engine.transaction() as connection:
            assert connection.execute(visit_cases).scalar() == 3
            per_cadre = connection.execute(
                sa.select(visit_keys.c.cadre_id, sa.func.count())
                .group_by(visit_keys.c.cadre_id)
                .having(sa.func.count() > 1)
            ).all()
        assert per_cadre == []
        assert count(engine, tasks, tasks.c.kind == "condolence_visit") == 3
        assert count(engine, outbox, outbox.c.template == "condolence_visit_task") == 3
        nodes[standby].send_signal(signal.SIGTERM)
        assert nodes[standby].wait(timeout=10) == 0
        # a clean stop releases the lease at once
        lease = current_holder(engine.db)
        assert lease is not None
        assert lease[1] <= datetime.now(SHANGHAI)


def test_the_lease_is_taken_over_only_after_it_expires(db_url: str) -> None:
    with Engine(db_url) as engine:
        engine.upgrade_schema()
        moment = [datetime(2024, 5, 6, 10, 0, tzinfo=SHANGHAI)]
        ttl = timedelta(seconds=30)
        a = LeaseKeeper(engine.db, "A", ttl, now=lambda: moment[0])
        b = LeaseKeeper(engine.db, "B", ttl, now=lambda: moment[0])
        assert a.try_acquire()
        assert not b.try_acquire()
        moment[0] += timedelta(seconds=20)
        assert a.try_acquire()  # renewed: another 30 s from here
        moment[0] += timedelta(seconds=29)
        assert not b.try_acquire()
        assert a.holds()
        moment[0] += timedelta(seconds=2)
        assert b.try_acquire()
        assert not a.holds()
        assert not a.try_acquire()
        b.release()
        assert a.try_acquire()


def test_a_run_missed_while_everything_was_down_runs_once(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three periods of the timer sweep went by with no node up: on restart APScheduler runs it
    once (coalesce), late (no misfire grace limit), and the stored job keeps its schedule."""
    monkeypatch.chdir(tmp_path)
    clock = SimulatedClock(datetime(2024, 5, 6, 10, 0, tzinfo=SHANGHAI))
    with Engine(db_url, clock=clock) as engine:
        engine.upgrade_schema()
        triggers = {"timers": IntervalTrigger(seconds=10, timezone=SHANGHAI)}
        first = build_scheduler(engine)
        first.start(paused=True)
        install_jobs(first, triggers)
        first.shutdown()  # the job is stored with its next run 10 s ahead

        events: list[JobExecutionEvent] = []
        ran = threading.Event()

        def listen(event: Any) -> None:
            events.append(event)
            ran.set()

        jobs.install(jobs.Runtime(engine, "restarted", lambda: True, periods={"timers": 10.0}))
        try:
            second = build_scheduler(engine)
            second.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
            restarted = datetime.now(SHANGHAI)
            second.start(paused=True)
            # every node stayed down for 35 s: three periods went by, so the stored next run
            # lies 35 s in the past when a node comes back
            second.modify_job("timers", next_run_time=restarted - timedelta(seconds=35))
            install_jobs(second, triggers)  # unchanged: the stored job (and its due run) stays
            second.resume()
            assert ran.wait(timeout=10)
            time.sleep(0.5)
            second.shutdown()
        finally:
            jobs.install(None)
        late = [e for e in events if e.scheduled_run_time < restarted]
        assert [e.code for e in late] == [EVENT_JOB_EXECUTED]
        assert count(engine, scheduler_runs, scheduler_runs.c.job == "timers") == 1


def test_a_daily_slot_is_the_shanghai_day() -> None:
    """02:00 Shanghai is 18:00 UTC the day before: a run caught up at 09:00 Shanghai on 3-10 and
    the 02:00 run of 3-11 must get two different daily slots (A9.3 sweeps are daily)."""
    day = 86400.0
    caught_up = datetime(2024, 3, 10, 9, 0, tzinfo=SHANGHAI).timestamp()
    next_cron = datetime(2024, 3, 11, 2, 0, tzinfo=SHANGHAI).timestamp()
    assert jobs.period_slot(caught_up, day) == datetime(2024, 3, 10, tzinfo=SHANGHAI)
    assert jobs.period_slot(next_cron, day) == datetime(2024, 3, 11, tzinfo=SHANGHAI)
    assert jobs.period_slot(caught_up, 60.0) == datetime(2024, 3, 10, 9, 0, tzinfo=SHANGHAI)


def test_a_failed_run_gives_its_slot_back_and_a_killed_one_is_taken_over(
    db_url: str, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Engine(db_url, clock=clock) as engine:
        engine.upgrade_schema()
        slot = datetime(2024, 5, 6, 7, 0, tzinfo=SHANGHAI)

        def broken(_engine: Engine, _context: jobs.JobContext) -> jobs.JobResult:
            raise RuntimeError("database went away mid-sweep")

        monkeypatch.setitem(jobs.JOBS, "timers", jobs.JobSpec("timers", broken, every_seconds=60))
        with pytest.raises(RuntimeError):
            jobs.run_one(engine, "timers", slot=slot, holder="node-a")
        monkeypatch.undo()
        assert jobs.run_one(engine, "timers", slot=slot, holder="node-a") is not None

        killed = jobs.claim_run(engine, "condolence", slot, "node-b")  # then SIGKILL: no finish
        assert killed is not None
        assert jobs.claim_run(engine, "condolence", slot, "node-c") is None  # still fresh
        with engine.transaction(write=True) as connection:
            connection.execute(
                sa.update(scheduler_runs)
                .where(scheduler_runs.c.id == killed)
                .values(started_at=datetime.now(SHANGHAI) - STALE_CLAIM - timedelta(1))
            )
        assert jobs.claim_run(engine, "condolence", slot, "node-c") == killed
        jobs.finish_run(engine, killed, {"opened": 1})
        assert jobs.claim_run(engine, "condolence", slot, "node-d") is None

        # a run that ended incomplete (a timer failed) is taken over at once, by one caller
        partial = jobs.claim_run(engine, "dispatch", slot, "node-a")
        assert partial is not None
        jobs.finish_run(engine, partial, {"problems": ["one timer failed"]})
        assert jobs.claim_run(engine, "dispatch", slot, "node-b") == partial
        assert jobs.claim_run(engine, "dispatch", slot, "node-c") is None
