"""Eight processes race for the last seat of a batch: exactly one gets it (A6.2).

The guard is the compare-and-set UPDATE on ``seats_taken``; on SQLite the write transactions
are serialised by BEGIN IMMEDIATE, on PostgreSQL the losers' UPDATE re-reads the committed row
and matches nothing.
"""

from __future__ import annotations

import multiprocessing

import pytest
import sqlalchemy as sa
from plans_race_worker import take_after_barrier
from plans_setup import batch, open_cases

from workflow import Engine
from workflow.plans import take_seat
from workflow.store.schema import batch_seats, batches

WRITERS = 8
CAPACITY = 3


@pytest.mark.slow
def test_eight_cases_race_for_the_last_seat(engine: Engine, db_url: str) -> None:
    created = batch(engine, capacity=CAPACITY)
    case_ids = open_cases(engine, CAPACITY - 1 + WRITERS)
    seated, racers = case_ids[: CAPACITY - 1], case_ids[CAPACITY - 1 :]
    for case_id in seated:
        with engine.transaction(write=True) as connection:
            take_seat(connection, batch_id=created["id"], case_id=case_id, now=engine.clock.now())

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    results = context.Queue()
    workers = [
        context.Process(
            target=take_after_barrier, args=(db_url, created["id"], case_id, barrier, results)
        )
        for case_id in racers
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    assert outcomes == ["refused:batch_full"] * (WRITERS - 1) + ["won"]
    with engine.db.connect() as connection:
        taken = connection.execute(
            sa.select(batches.c.seats_taken).where(batches.c.id == created["id"])
        ).scalar_one()
        rows = connection.execute(
            sa.select(sa.func.count()).where(batch_seats.c.batch_id == created["id"])
        ).scalar_one()
    assert (taken, rows) == (CAPACITY, CAPACITY)
