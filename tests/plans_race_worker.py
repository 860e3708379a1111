"""Runs in a spawned process during the last-seat race (tests/test_plans_race.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workflow import Engine, RuleRefused, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.plans import take_seat


def take_after_barrier(url: str, batch_id: int, case_id: int, barrier: Any, results: Any) -> None:
    clock = SimulatedClock(datetime(2024, 5, 6, 10, 0, tzinfo=SHANGHAI))
    with Engine(url, clock=clock) as engine:
        with engine.transaction() as connection:  # connect before the start signal
            connection.exec_driver_sql("SELECT 1")
        barrier.wait(timeout=60)
        try:
            with engine.transaction(write=True) as connection:
                take_seat(connection, batch_id=batch_id, case_id=case_id, now=clock.now())
            results.put("won")
        except RuleRefused as refused:
            results.put(f"refused:{','.join(r.rule for r in refused.refusals)}")
        except Exception as unexpected:  # reported to the test, which fails on it
            results.put(f"error:{type(unexpected).__name__}:{unexpected}")
