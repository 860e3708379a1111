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


def step_after_barrier(
    url: str,
    case_id: int | None,
    cadre_id: str,
    barrier: Any,
    results: Any,
) -> None:
    """Approve ``case_id`` (or, with None, register ``cadre_id``) the moment all are ready."""
    from factories import APPROVAL, AS_AGENCY, REGISTRATION  # noqa: PLC0415

    clock = SimulatedClock(datetime(2024, 5, 6, 10, 0, tzinfo=SHANGHAI))
    with Engine(url, clock=clock) as engine:
        engine.cadre(cadre_id)  # connect and compile before the start signal
        barrier.wait(timeout=60)
        try:
            if case_id is None:
                engine.open_case(cadre_id, actor=AS_AGENCY, data=REGISTRATION)
            else:
                engine.fire(case_id, "approve", actor=AS_AGENCY, data=APPROVAL)
            results.put("won")
        except ConflictError:
            results.put("conflict")
        except RuleRefused as refused:
            results.put(f"refused:{','.join(refused.articles)}")
        except Exception as unexpected:  # reported to the test, which fails on it
            results.put(f"error:{type(unexpected).__name__}:{unexpected}")
