"""Test data for plans and batches: a plan, a qualified contractor and a batch that passes
every rule by default, plus cases to seat in it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from factories import APPROVAL, REGISTRATION, cadre

from workflow import CaseView, Engine, policy
from workflow.clock import shanghai_date
from workflow.plans import service
from workflow.plans.rules import staff_bounds

START, END = date(2024, 6, 3), date(2024, 6, 9)


def plan_and_contractor(engine: Engine) -> tuple[int, int]:
    plan = service.create_plan(
        engine, year=2024, organiser_level="city", budget=Decimal("500000.00"), cycle="2024-2025"
    )
    contractor = service.create_contractor(engine, name="威海荣成疗养院", kind="own_resource")
    service.add_qualification(
        engine,
        contractor["id"],
        name="医疗机构执业许可证",
        valid_from=date(2024, 1, 1),
        valid_until=date(2026, 12, 31),
    )
    service.add_agreement(
        engine,
        contractor["id"],
        plan_id=plan["id"],
        agreement_no="XY-2024-01",
        signed_on=date(2024, 3, 1),
        valid_from=date(2024, 3, 1),
        valid_until=date(2024, 12, 31),
    )
    return plan["id"], contractor["id"]


def batch(engine: Engine, **overrides: Any) -> dict[str, Any]:
    """A batch of ``capacity`` (default 3) on a fresh plan and contractor unless given."""
    if "plan_id" not in overrides or "contractor_id" not in overrides:
        overrides["plan_id"], overrides["contractor_id"] = plan_and_contractor(engine)
    values: dict[str, Any] = {
        "province": "山东",
        "place": "威海市荣成",
        "start_date": START,
        "end_date": END,
        "capacity": 3,
        "staff_count": 1,
        "safety_plan_ref": "AQ-2024-01",
        "emergency_plan_ref": "YJ-2024-01",
        "organiser_contacts": [{"name": "王芳", "phone": "0635-1234567"}],
        "contractor_contacts": [{"name": "李强", "phone": "0631-7654321"}],
        "itinerary": [{"day": 1, "plan": "报到"}],
        "budget": Decimal("60000.00"),
    }
    values.update(overrides)
    return service.create_batch(engine, **values)


def open_cases(engine: Engine, count: int) -> list[int]:
    ids = [f"LC-DCF-{n:04d}" for n in range(1, count + 1)]
    engine.put_cadres([cadre(i) for i in ids])
    return [engine.open_case(i, actor=f"cadre:张建国@{i}", data=REGISTRATION).id for i in ids]


COUNTY = "东昌府区"  # the county of `factories.cadre`


def seed_plans(engine: Engine, counties: Iterable[str] = (COUNTY,)) -> list[int]:
    """The annual plans a registration names (A3.2) for the clock's year and cycle: a city plan
    and a county plan of each of ``counties``, each made only if the year has none yet."""
    today = shanghai_date(engine.clock.now())
    found = service.policy_rules(engine)
    cycle = found.cycle_on(today) if found is not None else None
    if cycle is None:
        return []
    have = {
        (p["organiser_level"], p["county"]) for p in service.list_plans(engine, year=today.year)
    }
    made = []
    for level, county in [("city", None), *(("county", c) for c in counties)]:
        if (level, county) not in have:
            row = service.create_plan(
                engine,
                year=today.year,
                organiser_level=level,
                county=county,
                budget=Decimal("500000.00"),
                cycle=cycle.id,
            )
            made.append(int(row["id"]))
    return made


def seed_batch(engine: Engine) -> int:
    """The batch `factories.APPROVAL` names: the first batch of a fresh database, a city plan
    of the 2024-2025 cycle, 2024-06-03 to 06-09 in Shandong, room for 50 (A6.2); with the
    annual plans a registration names (A3.2, `seed_plans`)."""
    made = batch(engine, capacity=50, staff_count=5)
    assert made["id"] == APPROVAL["batch_id"], "seed the batch first in a fresh database"
    seed_plans(engine)  # the batch's plan is the city plan; add the county plan (A3.2)
    return int(made["id"])


def start_batch(engine: Engine, batch_id: int = APPROVAL["batch_id"]) -> None:
    """Start a batch as its organiser does on the first morning (A13.1: attendance is recorded
    only in a started batch): the plans and both service teams are on record already, the
    staff are first fitted to the cadres seated now (A12.1). Starting it again is a no-op."""
    if service.show_batch(engine, batch_id)["started_at"] is None:
        fit_staff(engine, batch_id)
        service.start_batch(engine, batch_id)


def fit_staff(engine: Engine, batch_id: int = APPROVAL["batch_id"]) -> None:
    """Correct the batch's staff to fit the cadres seated now (A12.1), as its organiser does
    before starting a batch fewer cadres joined than planned (the seeded batch plans 50)."""
    row = service.show_batch(engine, batch_id)
    low, high = staff_bounds(row["seats_taken"], policy.limits(service.policy_rules(engine)))
    if not low <= row["staff_count"] <= high:
        service.update_batch(engine, batch_id, staff_count=high)


def walk(
    engine: Engine,
    case_id: int,
    steps: Iterable[tuple[str, str, dict[str, Any]]],
    batch_id: int = APPROVAL["batch_id"],
) -> CaseView:
    """Fire ``steps`` (e.g. `factories.HAPPY_PATH`) on the case, starting the batch just before
    ``attend`` (A13.1); returns the case after the last step."""
    case = engine.case(case_id)
    for trigger, actor, data in steps:
        if trigger == "attend":
            start_batch(engine, batch_id)
        case = engine.fire(case_id, trigger, actor=actor, data=data)
    return case
