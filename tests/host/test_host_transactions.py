"""A host's transaction decides (issue 16): the sample back office (`host.app`) commits, rolls
back after the step, rolls back the very first step of a fresh engine, nests savepoints, meets
conflicts and runs on a pool of one connection, on SQLite, PostgreSQL and PostgreSQL behind
PgBouncer in transaction mode (A19.1: what a host rolls back leaves no history behind)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from factories import cadre
from host.app import BackOffice, HostFailure, metadata
from host.conftest import HostDatabase
from plans_setup import seed_plans
from sqlalchemy.orm import Session

from workflow import ConflictError, Engine, SimulatedClock

CASES = sa.table("cases", sa.column("id"), sa.column("definition_id"))
HISTORY = sa.table("history", sa.column("case_id"))
OUTBOX = sa.table("outbox", sa.column("case_id"))
DEFINITIONS = sa.table("definitions", sa.column("id"))


def stored(db: sa.Engine, case_id: int | None = None) -> dict[str, int]:
    """The engine's rows as the database holds them after the host's transaction ended."""
    with db.connect() as connection:

        def count(table: sa.TableClause) -> int:
            query = sa.select(sa.func.count()).select_from(table)
            if case_id is not None and "case_id" in table.c:
                query = query.where(table.c.case_id == case_id)
            return int(connection.scalar(query) or 0)

        return {"cases": count(CASES), "history": count(HISTORY), "outbox": count(OUTBOX)}


def test_a_committed_request_keeps_the_step_and_the_hosts_rows(office: BackOffice) -> None:
    office.engine.put_cadres([cadre("A-1")])
    case = office.open_case("A-1")
    moved = office.consent(case, expected_version=case.version)
    assert office.engine.case(case.id).state == moved.state == "family_consented"
    assert len(office.engine.history(case.id)) == 2
    assert office.counts() == {"host_work_log": 1, "host_payments": 1}


def test_a_request_that_fails_after_the_step_leaves_no_trace_A19_1(office: BackOffice) -> None:
    office.engine.put_cadres([cadre("A-1")])
    case = office.open_case("A-1")
    before = stored(office.db, case.id)
    with pytest.raises(HostFailure):
        office.consent(case, fail=True)
    assert office.engine.case(case.id).state == "registered"
    assert office.engine.case(case.id).version == case.version
    assert stored(office.db, case.id) == before
    assert office.counts() == {"host_work_log": 1, "host_payments": 0}
    # and the case moves normally afterwards
    assert office.consent(case, expected_version=case.version).state == "family_consented"


def test_the_first_step_of_a_fresh_engine_rolled_back_by_the_host_A21_1(
    host_db: HostDatabase, clock: SimulatedClock
) -> None:
    """Issue 16 item 1 from the host's side: a brand-new engine whose very first step (which
    stores the definition row) is rolled back by the host keeps working, and no case points at
    a definition row that does not exist."""
    db = host_db.create_engine()
    try:
        metadata.create_all(db)
        with Engine(db, clock=clock) as setup:
            setup.upgrade_schema()
            setup.put_cadres([cadre("A-1"), cadre("A-2")])
            seed_plans(setup)  # the year's plans a registration names (A3.2)
        with Engine(db, clock=clock) as fresh:
            office = BackOffice(db, fresh)
            with pytest.raises(HostFailure):
                office.open_case("A-1", fail=True)
            assert stored(db) == {"cases": 0, "history": 0, "outbox": 0}
            case = office.open_case("A-2")
            assert fresh.case(case.id).state == "registered"
            office.consent(case)
        with db.connect() as connection:
            orphans = connection.scalar(
                sa.select(sa.func.count())
                .select_from(CASES)
                .where(~CASES.c.definition_id.in_(sa.select(DEFINITIONS.c.id)))
            )
        assert orphans == 0
    finally:
        db.dispose()


def test_a_released_savepoint_does_not_survive_the_outer_rollback_A19_1(
    office: BackOffice,
) -> None:
    """Issue 16 item 4: on a bare SQLite engine a released SAVEPOINT used to commit the step
    (history, notices, version) although the host rolled the outer transaction back."""
    office.engine.put_cadres([cadre("A-1")])
    case = office.open_case("A-1")
    before = stored(office.db, case.id)
    with office.sessions() as session, session.begin():
        with session.begin_nested():
            moved = office.engine.fire(
                case.id,
                "consent",
                actor="family:张丽@A-1",
                data={"family_member": "张丽", "relation": "女儿"},
                within=session,
            )
        assert moved.version == case.version + 1
        session.rollback()
    assert office.engine.case(case.id).version == case.version
    assert stored(office.db, case.id) == before


def test_a_savepoint_rolled_back_undoes_only_the_step(office: BackOffice) -> None:
    office.engine.put_cadres([cadre("A-1")])
    case = office.open_case("A-1")
    before = stored(office.db, case.id)
    with office.request() as session:
        session.execute(
            sa.text("INSERT INTO host_payments (case_id, amount) VALUES (:c, 10)"), {"c": case.id}
        )
        nested = session.begin_nested()
        office.engine.fire(
            case.id,
            "consent",
            actor="family:张丽@A-1",
            data={"family_member": "张丽", "relation": "女儿"},
            within=session,
        )
        nested.rollback()
    assert office.engine.case(case.id).state == "registered"
    assert stored(office.db, case.id) == before
    assert office.counts()["host_payments"] == 1


def test_a_stale_host_request_gets_a_conflict_and_writes_nothing(office: BackOffice) -> None:
    office.engine.put_cadres([cadre("A-1")])
    case = office.open_case("A-1")
    office.consent(case, expected_version=case.version)
    after_first = stored(office.db, case.id)
    with pytest.raises(ConflictError):
        office.consent(case, expected_version=case.version)
    assert stored(office.db, case.id) == after_first
    assert office.counts()["host_payments"] == 1


def test_a_host_pool_of_one_connection_is_enough(
    host_db: HostDatabase, clock: SimulatedClock
) -> None:
    """Issue 16 item 2: the one-time schema check reads on the host's own connection instead
    of waiting (pool_timeout) for a second one the pool does not have."""
    setup = host_db.create_engine()
    metadata.create_all(setup)
    with Engine(setup, clock=clock) as migrating:
        migrating.upgrade_schema()
        migrating.put_cadres([cadre("A-1")])
        seed_plans(migrating)  # the year's plans a registration names (A3.2)
    setup.dispose()
    db = host_db.create_engine(pool_size=1, max_overflow=0, pool_timeout=2)
    try:
        with Engine(db, clock=clock) as engine:
            office = BackOffice(db, engine)
            started = time.monotonic()
            case = office.open_case("A-1")
            office.consent(case)
            assert time.monotonic() - started < 2
            with Session(db) as session:
                assert engine.case(case.id, within=session).state == "family_consented"
    finally:
        db.dispose()
