"""SQLite as a host runs it (issue 16 items 3 and 4): its own bare engine gets what the steps
need on first use, and `begin_write` lets concurrent host requests that read before the step
wait for the write lock instead of failing with "database is locked"."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import cadre
from host.app import BackOffice, metadata
from plans_setup import seed_plans
from sqlalchemy.orm import Session

from workflow import Engine, InputError, SimulatedClock, begin_write

THREADS, REQUESTS = 4, 25


@pytest.fixture
def bare(tmp_path: Path) -> sa.Engine:
    """The host's own engine, with none of the workflow's settings."""
    db = sa.create_engine(f"sqlite:///{tmp_path / 'host.db'}")
    metadata.create_all(db)
    return db


def test_a_bare_engine_gets_foreign_keys_and_real_transactions(
    bare: sa.Engine, clock: SimulatedClock
) -> None:
    with bare.connect() as before:  # pooled before the engine saw it: set up at next checkout
        assert before.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
    with Engine(bare, clock=clock):
        with bare.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.connection.driver_connection.isolation_level is None  # type: ignore[union-attr]
        with Session(bare) as session:
            session.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            session.rollback()  # DDL inside a real transaction rolls back
        assert not sa.inspect(bare).has_table("t")


def test_threads_of_host_requests_that_read_first_all_succeed_with_begin_write(
    bare: sa.Engine, clock: SimulatedClock
) -> None:
    """4 threads x 25 host transactions on separate cases, each reading before the step: with
    `begin_write` every one succeeds (before: 20 of 100, the rest "database is locked")."""
    ids = [f"T-{thread}-{n}" for thread in range(THREADS) for n in range(REQUESTS)]
    with Engine(bare, clock=clock) as engine:
        engine.upgrade_schema()
        engine.put_cadres([cadre(cadre_id) for cadre_id in ids])
        seed_plans(engine)  # the year's plans a registration names (A3.2)
        office = BackOffice(bare, engine)
        failures: list[BaseException] = []

        def work(thread: int) -> None:
            for n in range(REQUESTS):
                try:
                    office.open_case(f"T-{thread}-{n}")
                except Exception as error:  # collected and asserted below, in the main thread
                    failures.append(error)

        workers = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert failures == []
        assert len(engine.cases(limit=1000)) == THREADS * REQUESTS
        assert office.counts()["host_work_log"] == THREADS * REQUESTS


def test_begin_write_after_a_read_is_refused_in_words(
    bare: sa.Engine, clock: SimulatedClock
) -> None:
    with Engine(bare, clock=clock), Session(bare) as session, session.begin():
        session.execute(sa.select(1))
        with pytest.raises(InputError, match="begin_write"):
            begin_write(session)


def test_begin_write_on_a_core_connection_takes_the_write_lock(
    bare: sa.Engine, clock: SimulatedClock
) -> None:
    with Engine(bare, clock=clock), bare.connect() as writer:
        begin_write(writer)
        other = bare.raw_connection()
        try:
            driver = other.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout = 0")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                driver.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
        writer.rollback()
