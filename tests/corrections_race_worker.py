"""Runs in a spawned process during the last-seat rebook race (tests/test_corrections_race.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workflow import ConflictError, Engine, RuleRefused, SimulatedClock
from workflow.clock import SHANGHAI

AS_AGENCY = "agency_officer:王芳@东昌府区军休所"


def rebook_after_barrier(url: str, case_id: int, batch_id: int, barrier: Any, results: Any) -> None:
    clock = SimulatedClock(datetime(2024, 5, 7, 10, 0, tzinfo=SHANGHAI))
    with Engine(url, clock=clock) as engine:
        engine.case(case_id)  # connected, definitions compiled: only the rebook is raced
        barrier.wait(timeout=60)
        try:
            engine.rebook(case_id, batch_id, actor=AS_AGENCY, reason="改到下一期")
            results.put((case_id, "won"))
        except RuleRefused as refused:
            rules = ",".join(f"{r.article}:{r.rule}" for r in refused.refusals)
            results.put((case_id, f"refused:{rules}"))
        except ConflictError as conflict:
            results.put((case_id, f"conflict:{conflict}"))
        except Exception as unexpected:  # reported to the test, which fails on it
            results.put((case_id, f"error:{type(unexpected).__name__}:{unexpected}"))
