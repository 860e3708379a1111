"""Art. 3 (A3.2): a registration names an annual plan in force for its level; with none, the
refusal says which plan is missing. The rule (`annual_plan_for_registration`) is pure; the plans
it reads come from `workflow.store.plan_facts.annual_plans`, which the registration step reads
when its guards name the rule; both are checked here on SQLite and PostgreSQL, through the
engine (the module makes its own plans: no `plans_setup.seed_plans`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from factories import AS_CADRE, cadre

from definitions import bundled_directory
from workflow import Engine
from workflow.definition.catalog import Catalog
from workflow.engine import DEFAULT_DEFINITION
from workflow.errors import RuleRefused
from workflow.plans import service
from workflow.rules import RULES, GuardContext
from workflow.rules.binding import PLANS
from workflow.store.plan_facts import annual_plans

DEFINITION = Catalog.from_directories([bundled_directory()]).get(DEFAULT_DEFINITION)
RULE = RULES["annual_plan_for_registration"]
DAY = date(2024, 5, 6)
SEED_PLANS = False  # the engine fixture leaves the plans to these tests


def check(level: str, plans: list[dict[str, Any]] | None, **record: Any) -> str | None:
    facts = {} if plans is None else {PLANS: plans}
    context = GuardContext(
        today=DAY,
        policy=DEFINITION.policy,
        cadre=cadre(**record),
        evidence={"plan_level": level},
        rules=DEFINITION.rules,
        facts=facts,
    )
    refusal = RULE(context)
    if refusal is None:
        return None
    assert refusal.article == "A3.2"
    return refusal.message


def plan(level: str, year: int = 2024, county: str | None = None, cycle: str = "2024-2025") -> Any:
    return {"id": 1, "organiser_level": level, "county": county, "year": year, "cycle": cycle}


@pytest.mark.parametrize(
    ("level", "plans", "missing"),
    [
        ("city", [], "2024 年度市级荣誉疗养计划（周期 2024-2025）"),
        ("city", [plan("city", 2025)], "2024 年度市级"),
        ("city", [plan("county", county="东昌府区")], "2024 年度市级"),
        ("county", [plan("city")], "2024 年度东昌府区县级荣誉疗养计划"),
        ("county", [plan("county", county="临清市")], "东昌府区县级"),
        ("city", [plan("city", cycle="2023")], "周期 2024-2025"),
    ],
)
def test_a3_2_no_plan_for_the_level_is_refused_naming_the_plan(
    level: str, plans: list[dict[str, Any]], missing: str
) -> None:
    message = check(level, plans)
    assert message is not None
    assert missing in message


@pytest.mark.parametrize(
    ("level", "plans"),
    [
        ("city", [plan("city")]),
        ("county", [plan("county", county="东昌府区")]),
        ("county", [plan("city"), plan("county", county="东昌府区")]),
    ],
)
def test_a3_2_a_plan_of_the_year_level_and_county_admits(
    level: str, plans: list[dict[str, Any]]
) -> None:
    assert check(level, plans) is None


def test_a3_2_a_step_that_read_no_plans_cannot_pass() -> None:
    assert check("city", None) is not None


def test_a3_2_the_store_reads_the_years_plans(engine: Engine) -> None:
    made = (("city", None, 2024), ("county", "东昌府区", 2024), ("city", None, 2025))
    for level, county, year in made:
        service.create_plan(
            engine,
            year=year,
            organiser_level=level,
            county=county,
            budget=Decimal("1000"),
            cycle="2024-2025",
        )
    with engine.transaction() as connection:
        found = annual_plans(connection, 2024)
    assert sorted((p["organiser_level"], p["county"], p["year"]) for p in found) == [
        ("city", None, 2024),
        ("county", "东昌府区", 2024),
    ]
    assert check("county", found) is None
    assert check("county", found, county="临清市", agency="临清市军休所") is not None


def make_plan(engine: Engine, level: str, county: str | None = None, year: int = 2024) -> None:
    service.create_plan(
        engine,
        year=year,
        organiser_level=level,
        county=county,
        budget=Decimal("1000"),
        cycle="2024-2025",
    )


@pytest.mark.parametrize(
    ("level", "plans", "missing"),
    [
        ("city", [], "2024 年度市级荣誉疗养计划（周期 2024-2025）"),
        ("city", [("county", "东昌府区", 2024), ("city", None, 2025)], "2024 年度市级"),
        ("county", [("city", None, 2024), ("county", "临清市", 2024)], "2024 年度东昌府区县级"),
    ],
)
def test_a3_2_registration_without_the_years_plan_is_refused_naming_it(
    engine: Engine, level: str, plans: list[tuple[str, str | None, int]], missing: str
) -> None:
    engine.put_cadres([cadre()])
    for plan_level, county, year in plans:
        make_plan(engine, plan_level, county, year)
    with pytest.raises(RuleRefused) as refused:
        engine.open_case("LC-DCF-0001", actor=AS_CADRE, data={"plan_level": level})
    assert refused.value.articles == ("A3.2",)
    assert missing in str(refused.value)
    assert engine.cases() == []  # nothing written


@pytest.mark.parametrize(
    ("level", "plans"),
    [
        ("city", [("city", None)]),
        ("county", [("county", "东昌府区")]),
    ],
)
def test_a3_2_registration_with_the_years_plan_for_its_level_is_accepted(
    engine: Engine, level: str, plans: list[tuple[str, str | None]]
) -> None:
    engine.put_cadres([cadre()])
    for plan_level, county in plans:
        make_plan(engine, plan_level, county)
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data={"plan_level": level})
    assert case.state == "registered"
