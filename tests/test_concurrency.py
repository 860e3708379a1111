"""Eight processes fire on one case at once: exactly one wins, nothing of the others is written.

Runs on SQLite (WAL, BEGIN IMMEDIATE) and PostgreSQL (compare-and-set on the version column).
"""

from __future__ import annotations

import multiprocessing

import pytest
import sqlalchemy as sa
from factories import AS_CADRE, REGISTRATION, cadre
from race_worker import fire_after_barrier

from workflow import Engine
from workflow.store.schema import history

WRITERS = 8


def _race(url: str, case_id: int, expected_version: int | None) -> list[str]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    results = context.Queue()
    workers = [
        context.Process(
            target=fire_after_barrier, args=(url, case_id, expected_version, barrier, results)
        )
        for _ in range(WRITERS)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return sorted(outcomes)


def _history_rows(engine: Engine, case_id: int) -> int:
    with engine.db.connect() as connection:
        query = sa.select(sa.func.count()).where(history.c.case_id == case_id)
        return int(connection.execute(query).scalar_one())


@pytest.mark.slow
def test_eight_writers_with_the_same_expected_version_one_wins(engine: Engine, db_url: str) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    outcomes = _race(db_url, case.id, expected_version=case.version)
    assert outcomes == ["conflict"] * (WRITERS - 1) + ["won"]
    after = engine.case(case.id)
    assert (after.state, after.version) == ("family_consented", 2)
    assert _history_rows(engine, case.id) == 2


@pytest.mark.slow
def test_eight_writers_without_a_version_never_both_write(engine: Engine, db_url: str) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    outcomes = _race(db_url, case.id, expected_version=None)
    assert outcomes.count("won") == 1
    losers = [o for o in outcomes if o != "won"]
    assert set(losers) <= {"conflict", "refused:A7.1"}, losers
    assert engine.case(case.id).version == 2
    assert _history_rows(engine, case.id) == 2
