"""Runs in a separate process during the race tests (spawned, so it shares nothing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from factories import AS_FAMILY

from workflow import ConflictError, Engine, RuleRefused, SimulatedClock
from workflow.clock import SHANGHAI


def fire_after_barrier(
    url: str, case_id: int, expected_version: int | None, barrier: Any, results: Any
) -> None:
    clock = SimulatedClock(datetime(2024, 5, 6, 10, 0, tzinfo=SHANGHAI))
    with Engine(url, clock=clock) as engine:
        engine.case(case_id)  # connect and compile before the start signal
        barrier.wait(timeout=60)
        try:
            engine.fire(
                case_id,
                "consent",
                actor=AS_FAMILY,
                data={"family_member": "张丽", "relation": "女儿"},
                expected_version=expected_version,
            )
            results.put("won")
        except ConflictError:
            results.put("conflict")
        except RuleRefused as refused:  # the case had already moved when this one read it
            results.put(f"refused:{','.join(refused.articles)}")
        except Exception as unexpected:  # reported to the test, which fails on it
            results.put(f"error:{type(unexpected).__name__}:{unexpected}")
