"""Two processes rebook two cases into the last seat of a batch at once (A6.2): one moves, the
other is refused as full with nothing of it written, and the seats, the cases and the hash
chains stay consistent, on both databases.

On PostgreSQL the rebook locks both of its batches when it reads them, so the second waits and
then reads the seat as taken; on SQLite the write transactions are serialised from the start.
Either way the seat's compare-and-set is the last word.
"""

from __future__ import annotations

import multiprocessing

import pytest
from corrections_race_worker import rebook_after_barrier
from corrections_setup import FIRST, assert_verified, case_at, later_batch, seated
from factories import AS_AGENCY

from workflow import Engine

SEED_BATCH = True
RACERS = 2


@pytest.mark.slow
def test_two_rebooks_race_for_the_last_seat(engine: Engine, db_url: str) -> None:
    later = later_batch(engine, capacity=1)
    cases = [case_at(engine, 2, f"LC-DCF-{n:04d}") for n in range(1, RACERS + 1)]
    versions = {c: engine.case(c).version for c in cases}

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(RACERS)
    results = context.Queue()
    workers = [
        context.Process(target=rebook_after_barrier, args=(db_url, c, later, barrier, results))
        for c in cases
    ]
    for worker in workers:
        worker.start()
    outcomes = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    assert sorted(outcomes.values()) == ["refused:A6.2:batch_full", "won"], outcomes
    winner = next(c for c, outcome in outcomes.items() if outcome == "won")
    loser = next(c for c in cases if c != winner)
    assert seated(engine, later) == (1, [winner])
    assert seated(engine, FIRST) == (1, [loser])
    assert engine.case(winner).version == versions[winner] + 1
    assert engine.case(winner).evidence["batch_id"] == later
    assert engine.case(loser).version == versions[loser]  # nothing of the loser written
    assert engine.case(loser).evidence["batch_id"] == FIRST
    assert [h.trigger for h in engine.history(loser)] == ["open", "consent", "approve"]
    assert_verified(engine)


@pytest.mark.slow
def test_two_rebooks_crossing_between_two_batches_both_go_through(
    engine: Engine, db_url: str
) -> None:
    """Each rebook locks both of its batches in id order (PostgreSQL): two cadres swapping
    batches at once queue one behind the other instead of deadlocking."""
    later = later_batch(engine, capacity=2)
    first, second = (case_at(engine, 2, f"LC-DCF-{n:04d}") for n in (1, 2))
    engine.rebook(second, later, actor=AS_AGENCY, reason="先改到下一期")

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(RACERS)
    results = context.Queue()
    moves = [(first, later), (second, FIRST)]
    workers = [
        context.Process(target=rebook_after_barrier, args=(db_url, c, b, barrier, results))
        for c, b in moves
    ]
    for worker in workers:
        worker.start()
    outcomes = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    assert outcomes == {first: "won", second: "won"}, outcomes
    assert seated(engine, FIRST) == (1, [second])
    assert seated(engine, later) == (1, [first])
    assert_verified(engine)
