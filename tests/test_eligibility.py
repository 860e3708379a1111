"""Art. 4 tiers, art. 2/20 scope, art. 8 age and health, art. 21 window: table-driven,
with the boundaries the issue names (A4.1–A4.4, A8.1, A8.2, A20.1, A21.1)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from definitions import bundled_directory
from workflow.definition.loader import load_definition_file
from workflow.eligibility import explain, highest_tier

DEFINITION = load_definition_file(bundled_directory() / "honor_convalescence.yaml")
assert DEFINITION.rules is not None
RULES = DEFINITION.rules
ON = date(2024, 6, 3)


def profile(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "T-1",
        "name": "王振华",
        "birth_date": "1950-03-12",
        "category": "退休干部",
        "branch": "PLA",
        "placed_on": "2008-09-01",
        "merits": [],
        "honours": [],
        "recommendation": None,
        "health": {"self_care": True, "infectious": False, "mental": False, "critical": False},
    }
    record.update(overrides)
    return record


def merit(cls: int, wartime: bool = False) -> dict[str, Any]:
    return {"class": cls, "wartime": wartime, "year": 1979}


def honour(kind: str, level: str, year: int) -> dict[str, Any]:
    return {"kind": kind, "level": level, "year": year}


RECOMMENDED = {  # A4.3: the kind of body, the body by name, the officer, the date, the reason
    "by": "agency",
    "body": "东昌府区军休所",
    "officer": "王芳",
    "reason": "抗洪抢险事迹特别突出",
    "date": "2024-01-10",
}

TIERS = [
    ("class-1-merit", {"merits": [merit(1)]}, "city"),
    ("class-2-merit", {"merits": [merit(2)]}, "city"),
    ("wartime-class-3-counts-as-class-2", {"merits": [merit(3, wartime=True)]}, "city"),
    ("class-3-merit", {"merits": [merit(3)]}, "county"),
    (
        "class-3-recommended-by-agency",
        {"merits": [merit(3)], "recommendation": RECOMMENDED},
        "city",
    ),
    (
        "class-3-recommended-by-county-dept",
        {"merits": [merit(3)], "recommendation": {**RECOMMENDED, "by": "county_dept"}},
        "city",
    ),
    ("recommendation-without-third-class-merit", {"recommendation": RECOMMENDED}, "none"),
    (
        "recommendation-naming-only-the-kind-of-body",
        {
            "merits": [merit(3)],
            "recommendation": {"by": "agency", "reason": "事迹突出", "date": "2024-01-10"},
        },
        "county",
    ),
    (
        "recommendation-without-reason",
        {"merits": [merit(3)], "recommendation": {**RECOMMENDED, "reason": " "}},
        "county",
    ),
    (
        "city-commendation-after-placement",
        {"honours": [honour("commendation", "city", 2015)]},
        "city",
    ),
    ("province-advanced-cadre", {"honours": [honour("advanced_cadre", "province", 2012)]}, "city"),
    ("national-commendation", {"honours": [honour("commendation", "national", 2019)]}, "city"),
    ("military-honour", {"honours": [honour("advanced_cadre", "military", 2010)]}, "city"),
    ("county-commendation", {"honours": [honour("commendation", "county", 2015)]}, "county"),
    ("county-advanced-cadre", {"honours": [honour("advanced_cadre", "county", 2015)]}, "county"),
    (
        "honour-in-the-year-of-placement-counts",
        {"honours": [honour("commendation", "city", 2008)]},
        "city",
    ),
    (
        "honour-before-placement-does-not-count",
        {"honours": [honour("commendation", "city", 2007)]},
        "none",
    ),
    (
        "before-placement-city-but-after-county",
        {"honours": [honour("commendation", "city", 2007), honour("commendation", "county", 2016)]},
        "county",
    ),
    ("nothing", {}, "none"),
]


@pytest.mark.parametrize(("changes", "tier"), [pytest.param(t[1], t[2], id=t[0]) for t in TIERS])
def test_a4_tier_from_merits_and_honours(changes: dict[str, Any], tier: str) -> None:
    found, reasons = highest_tier(profile(**changes), RULES)
    assert found == tier
    assert all(r.article == 4 for r in reasons)
    assert {r.clause for r in reasons} <= {"A4.1", "A4.3"}


def test_a4_an_honour_in_the_placement_year_says_it_gives_the_benefit_of_the_doubt() -> None:
    explanation = explain(
        profile(honours=[honour("commendation", "city", 2008)]),
        rules=RULES,
        policy=DEFINITION.policy,
        level="city",
        on=ON,
    )
    passed = [r for r in explanation.reasons if r.rule == "city_commendation_after_placement"]
    assert passed[0].passed
    assert "同年" in passed[0].message
    assert "有利于军休干部" in passed[0].message


@pytest.mark.parametrize(
    ("changes", "level", "eligible"),
    [
        pytest.param({"merits": [merit(2)]}, "city", True, id="city-tier-city-plan"),
        pytest.param({"merits": [merit(2)]}, "county", True, id="city-tier-county-plan"),
        pytest.param({"merits": [merit(3)]}, "city", False, id="county-tier-city-plan"),
        pytest.param({"merits": [merit(3)]}, "county", True, id="county-tier-county-plan"),
        pytest.param({}, "county", False, id="no-tier"),
    ],
)
def test_a4_4_which_plan_levels_admit_which_tiers(
    changes: dict[str, Any], level: str, eligible: bool
) -> None:
    explanation = explain(
        profile(**changes), rules=RULES, policy=DEFINITION.policy, level=level, on=ON
    )
    assert explanation.eligible is eligible
    admits = next(r for r in explanation.reasons if r.clause == "A4.4")
    assert admits.passed is eligible


@pytest.mark.parametrize(
    ("category", "clause", "passed"),
    [
        pytest.param("离休干部", "A2.1", True, id="lixiu"),
        pytest.param("退休干部", "A2.1", True, id="tuixiu"),
        pytest.param("退休军士", "A20.1", True, id="nco-army"),
        pytest.param("退休警士", "A20.1", True, id="nco-police"),
        pytest.param("文职人员", "A2.1", False, id="not-covered"),
    ],
)
def test_a2_a20_categories(category: str, clause: str, passed: bool) -> None:
    explanation = explain(
        profile(category=category, merits=[merit(2)]),
        rules=RULES,
        policy=DEFINITION.policy,
        level="city",
        on=ON,
    )
    scope = next(r for r in explanation.reasons if r.rule == "category_covered")
    assert (scope.clause, scope.passed, explanation.eligible) == (clause, passed, passed)


@pytest.mark.parametrize(
    ("birth_date", "on", "eligible"),
    [
        # A8.2 80周岁以下 includes 80: refused only from the 81st birthday
        pytest.param("1944-06-03", date(2024, 6, 3), True, id="exactly-80-on-the-day"),
        pytest.param("1943-06-03", date(2024, 6, 3), False, id="81st-birthday-on-the-day"),
        pytest.param("1943-06-04", date(2024, 6, 3), True, id="81-tomorrow"),
        pytest.param("1944-02-29", date(2025, 2, 28), True, id="leap-day-birthday-eve"),
        pytest.param("1944-02-29", date(2025, 3, 1), False, id="leap-day-81st-birthday"),
    ],
)
def test_a8_2_age_in_full_years_on_the_date(birth_date: str, on: date, eligible: bool) -> None:
    explanation = explain(
        profile(birth_date=birth_date, merits=[merit(2)]),
        rules=RULES,
        policy=DEFINITION.policy,
        level="city",
        on=on,
    )
    assert explanation.eligible is eligible
    age = next(r for r in explanation.reasons if r.clause == "A8.2")
    assert age.passed is eligible
    assert age.article == 8


def test_a8_1_health_fails_eligibility_and_names_the_problem() -> None:
    sick = profile(merits=[merit(2)], health={"self_care": True, "infectious": True})
    explanation = explain(sick, rules=RULES, policy=DEFINITION.policy, level="city", on=ON)
    assert not explanation.eligible
    assert explanation.tier == "city"  # the tier is the merits' verdict whatever else fails
    failed = [r for r in explanation.failed if r.clause == "A8.1"]
    assert "传染病" in failed[0].message


@pytest.mark.parametrize(
    ("on", "in_force"),
    [
        pytest.param(date(2023, 3, 22), False, id="before-issue"),
        pytest.param(date(2023, 3, 23), True, id="issue-day"),
        pytest.param(date(2025, 12, 31), True, id="last-day"),
        pytest.param(date(2026, 1, 1), False, id="expired-policy"),
    ],
)
def test_a21_1_the_policy_window(on: date, in_force: bool) -> None:
    explanation = explain(
        profile(birth_date="1960-01-01", merits=[merit(2)]),
        rules=RULES,
        policy=DEFINITION.policy,
        level="city",
        on=on,
    )
    window = next(r for r in explanation.reasons if r.clause == "A21.1")
    assert (window.passed, explanation.eligible) == (in_force, in_force)
    assert window.article == 21


def test_every_failed_check_cites_its_article() -> None:
    explanation = explain(
        profile(birth_date="1930-01-01", category="其他", health={"self_care": False}),
        rules=RULES,
        policy=DEFINITION.policy,
        level="city",
        on=date(2026, 2, 1),
    )
    assert not explanation.eligible
    assert explanation.tier == "none"
    assert {r.article for r in explanation.failed} >= {2, 4, 8, 21}
    assert all(r.message for r in explanation.failed)
    text = "\n".join(explanation.sentences())
    assert text.startswith("结论：2026-02-01 不符合")
    assert "第二十一条" in text
    assert "第四条" in text


def test_the_explanation_json_has_the_documented_shape() -> None:
    body = explain(
        profile(merits=[merit(2)]), rules=RULES, policy=DEFINITION.policy, level="county", on=ON
    ).to_json()
    assert body["eligible"] is True
    assert body["tier"] == "city"
    for reason in body["reasons"]:
        assert set(reason) >= {"article", "rule", "passed", "message"}
        assert isinstance(reason["article"], int)
