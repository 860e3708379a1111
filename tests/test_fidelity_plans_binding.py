"""Art. 3, 4, 5, 9 and 21: plans and batches are bound to their year, cycle, county and policy.

A plan's year lies in its cycle and the policy's window; a batch's dates lie in its plan's year
and cycle and in the policy's window; nothing new is created, and nobody approved, once the
policy has ended (A21.1); an approval cannot use a batch of another cycle to slip past
once-per-cycle (A9.2); a county plan's batch admits only that county's cadres (A4.4, A5.2).
Scenarios through the plans service and the engine, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from factories import AS_AGENCY, CONSENT, cadre
from plans_setup import seed_plans

from workflow import Engine
from workflow.clock import SHANGHAI, SimulatedClock
from workflow.errors import RuleRefused
from workflow.plans import service


def at(clock: SimulatedClock, day: date) -> None:
    clock.set(datetime(day.year, day.month, day.day, 9, 30, tzinfo=SHANGHAI))


def plan(engine: Engine, year: int, cycle: str, county: str | None = None) -> int:
    made = service.create_plan(
        engine,
        year=year,
        organiser_level="county" if county else "city",
        county=county,
        budget=Decimal("100000"),
        cycle=cycle,
    )
    return int(made["id"])


def contractor(engine: Engine, plan_id: int, start: date, end: date) -> int:
    made = service.create_contractor(engine, name=f"疗养院{plan_id}", kind="own_resource")
    service.add_qualification(
        engine, made["id"], name="执业许可证", valid_from=start, valid_until=end
    )
    service.add_agreement(
        engine,
        made["id"],
        plan_id=plan_id,
        agreement_no=f"XY-{plan_id}",
        signed_on=start,
        valid_from=start,
        valid_until=end,
    )
    return int(made["id"])


def batch(engine: Engine, plan_id: int, contractor_id: int, start: date, end: date) -> int:
    made = service.create_batch(
        engine,
        plan_id=plan_id,
        contractor_id=contractor_id,
        province="山东",
        place="威海市荣成",
        start_date=start,
        end_date=end,
        capacity=5,
        staff_count=1,
        safety_plan_ref="AQ-1",
        emergency_plan_ref="YJ-1",
    )
    return int(made["id"])


def articles(error: pytest.ExceptionInfo[RuleRefused]) -> set[str]:
    return set(error.value.articles)


def registered(engine: Engine, cadre_id: str, level: str, agency: str) -> Any:
    actor = f"agency_officer:王芳@{agency}"
    case = engine.open_case(cadre_id, actor=actor, data={"plan_level": level})
    return engine.fire(case.id, "consent", actor=f"family:张丽@{cadre_id}", data=CONSENT)


def test_a3_1_a21_1_a_plan_year_lies_in_its_cycle_and_the_policy(engine: Engine) -> None:
    with pytest.raises(RuleRefused) as refused:
        plan(engine, 2023, "2024-2025")
    assert articles(refused) == {"A3.1"}
    with pytest.raises(RuleRefused) as refused:
        plan(engine, 2026, "2024-2025")  # after the cycle and after the policy
    assert articles(refused) == {"A3.1", "A21.1"}
    assert plan(engine, 2025, "2024-2025") >= 1


def test_a3_1_a9_1_a21_1_a_batch_lies_in_its_plan_year_cycle_and_policy(
    engine: Engine, clock: SimulatedClock
) -> None:
    p2024 = plan(engine, 2024, "2024-2025")
    c = contractor(engine, p2024, date(2023, 1, 1), date(2026, 12, 31))
    with pytest.raises(RuleRefused) as refused:  # the next year, same cycle
        batch(engine, p2024, c, date(2025, 6, 2), date(2025, 6, 8))
    assert "A3.1" in articles(refused)
    with pytest.raises(RuleRefused) as refused:  # straddles the year end
        batch(engine, p2024, c, date(2024, 12, 29), date(2025, 1, 2))
    assert "A3.1" in articles(refused)
    p2023 = plan(engine, 2023, "2023")
    c23 = contractor(engine, p2023, date(2023, 1, 1), date(2023, 12, 31))
    with pytest.raises(RuleRefused) as refused:  # before cycle 2023 and the policy began
        batch(engine, p2023, c23, date(2023, 3, 18), date(2023, 3, 24))
    assert {"A9.1", "A21.1"} <= articles(refused)
    assert batch(engine, p2024, c, date(2024, 6, 3), date(2024, 6, 9)) >= 1


def test_a21_1_no_new_plan_batch_or_approval_after_the_policy_ended(
    engine: Engine, clock: SimulatedClock
) -> None:
    at(clock, date(2025, 11, 3))
    p2025 = plan(engine, 2025, "2024-2025")
    c = contractor(engine, p2025, date(2025, 1, 1), date(2025, 12, 31))
    late = batch(engine, p2025, c, date(2025, 12, 22), date(2025, 12, 28))
    engine.put_cadres([cadre("LC-DCF-0001")])
    case = registered(engine, "LC-DCF-0001", "city", "东昌府区军休所")
    at(clock, date(2026, 1, 5))
    with pytest.raises(RuleRefused) as refused:
        plan(engine, 2025, "2024-2025")
    assert "A21.1" in articles(refused)
    with pytest.raises(RuleRefused) as refused:
        batch(engine, p2025, c, date(2025, 12, 22), date(2025, 12, 28))
    assert "A21.1" in articles(refused)
    with pytest.raises(RuleRefused) as refused:
        engine.fire(case.id, "approve", actor=AS_AGENCY, data={"batch_id": late})
    assert "A21.1" in articles(refused)
    assert "有效期" in str(refused.value)


def test_a9_2_a_batch_of_another_cycle_cannot_carry_an_approval(
    engine: Engine, clock: SimulatedClock
) -> None:
    """A case filed in cycle 2023 cannot be approved into a 2024 batch: its participation
    would count in 2024-2025 while the once-per-cycle check looked at 2023."""
    p2024 = plan(engine, 2024, "2024-2025")
    c = contractor(engine, p2024, date(2024, 1, 1), date(2024, 12, 31))
    in_2024 = batch(engine, p2024, c, date(2024, 6, 3), date(2024, 6, 9))
    engine.put_cadres([cadre("LC-DCF-0001")])
    at(clock, date(2023, 12, 20))
    seed_plans(engine)  # the 2023 plans a registration names (A3.2)
    case = registered(engine, "LC-DCF-0001", "city", "东昌府区军休所")
    assert case.cycle == "2023"
    at(clock, date(2024, 1, 8))
    with pytest.raises(RuleRefused) as refused:
        engine.fire(case.id, "approve", actor=AS_AGENCY, data={"batch_id": in_2024})
    assert "A9.2" in articles(refused)
    assert "2023" in str(refused.value)


def test_a4_4_a5_2_a_county_plan_admits_only_its_own_county(
    engine: Engine, clock: SimulatedClock
) -> None:
    p = plan(engine, 2024, "2024-2025", county="东昌府区")
    c = contractor(engine, p, date(2024, 1, 1), date(2024, 12, 31))
    b = batch(engine, p, c, date(2024, 6, 3), date(2024, 6, 9))
    engine.put_cadres(
        [
            cadre("LC-DCF-0001"),
            cadre("LC-LQ-0001", county="临清市", agency="临清市军休所"),
        ]
    )
    plan(engine, 2024, "2024-2025", county="临清市")  # the plan the outsider names (A3.2)
    outsider = registered(engine, "LC-LQ-0001", "county", "临清市军休所")
    with pytest.raises(RuleRefused) as refused:
        engine.fire(
            outsider.id,
            "approve",
            actor="agency_officer:王芳@临清市军休所",
            data={"batch_id": b},
        )
    assert "A4.4" in articles(refused)
    assert "A5.2" in str(refused.value)
    assert "东昌府区" in str(refused.value)
    own = registered(engine, "LC-DCF-0001", "county", "东昌府区军休所")
    approved = engine.fire(own.id, "approve", actor=AS_AGENCY, data={"batch_id": b})
    assert approved.state == "agency_approved"
