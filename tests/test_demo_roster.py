"""The generated roster: reproducible, in the documented shape, and covering every path of art. 4/8.

The shape checker and the tier reading below are written from docs/roster-formats.md and
art. 4 directly, not from the generator, so they check it rather than repeat it.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from workflow.demo.roster import SHOWCASE_SIZE, generate_roster
from workflow.idcard import id_card_problem

AS_OF = date(2024, 3, 1)
Record = dict[str, Any]

REQUIRED = {
    "id",
    "name",
    "gender",
    "birth_date",
    "category",
    "branch",
    "county",
    "agency",
    "placed_on",
    "merits",
    "honours",
    "recommendation",
    "health",
}
OPTIONAL = {"id_card", "phone", "family_contact"}
COUNTY_PREFIX = {
    "东昌府区": "DCF",
    "茌平区": "CP",
    "阳谷县": "YG",
    "莘县": "SX",
    "东阿县": "DA",
    "冠县": "GX",
    "高唐县": "GT",
    "临清市": "LQ",
}
COUNTY_REGION = {
    "东昌府区": "371502",
    "茌平区": "371503",
    "阳谷县": "371521",
    "莘县": "371522",
    "东阿县": "371524",
    "冠县": "371525",
    "高唐县": "371526",
    "临清市": "371581",
}
CATEGORIES = {"离休干部", "退休干部", "退休军士", "退休警士"}
LEVELS = {"county", "city", "province", "national", "military"}
KINDS = {"commendation", "advanced_cadre"}
HEALTH = ("self_care", "infectious", "mental", "critical")
PHONE = re.compile(r"1[3-9]\d{9}")
HAN_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")


def full_years(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def iso_date(value: Any) -> date | None:
    """The date of a strict YYYY-MM-DD string, else None."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def shape_problems(record: Record, as_of: date) -> list[str]:
    """Everything in ``record`` that roster-format.md does not allow (or that is implausible)."""
    problems: list[str] = []
    keys = set(record)
    if REQUIRED - keys:
        problems.append(f"missing keys {sorted(REQUIRED - keys)}")
    if keys - REQUIRED - OPTIONAL:
        problems.append(f"unknown keys {sorted(keys - REQUIRED - OPTIONAL)}")
    if problems:
        return problems
    county = record["county"]
    if county not in COUNTY_PREFIX:
        return [f"county {county!r}"]
    if not re.fullmatch(rf"LC-{COUNTY_PREFIX[county]}-\d{{4}}", record["id"]):
        problems.append(f"id {record['id']!r}")
    if record["agency"] != f"{county}军休所":
        problems.append(f"agency {record['agency']!r}")
    if not isinstance(record["name"], str) or not HAN_NAME.fullmatch(record["name"]):
        problems.append(f"name {record['name']!r}")
    if record["gender"] not in {"男", "女"}:
        problems.append(f"gender {record['gender']!r}")
    if record["category"] not in CATEGORIES:
        problems.append(f"category {record['category']!r}")
    if record["branch"] not in {"PLA", "PAP"}:
        problems.append(f"branch {record['branch']!r}")
    birth, placed = iso_date(record["birth_date"]), iso_date(record["placed_on"])
    if birth is None or placed is None:
        return [*problems, "birth_date or placed_on is not an ISO date"]
    if not 58 <= full_years(birth, as_of) <= 100:
        problems.append(f"age {full_years(birth, as_of)} on {as_of}")
    if not 50 <= full_years(birth, placed) < 60 or placed >= as_of:
        problems.append(f"placed_on {placed} at age {full_years(birth, placed)}")
    if "id_card" in record:
        number = record["id_card"]
        if not isinstance(number, str):
            problems.append(f"id_card {number!r}")
        else:
            if (problem := id_card_problem(number, birth)) is not None:
                problems.append(problem)
            elif int(number[16]) % 2 != (1 if record["gender"] == "男" else 0):
                problems.append(f"id_card {number} 17th digit does not match gender")
            if not number.startswith(COUNTY_REGION[county]):
                problems.append(f"id_card {number} not from {county}")
    if not isinstance(record["merits"], list):
        problems.append("merits is not a list")
    else:
        for merit in record["merits"]:
            if set(merit) != {"class", "wartime", "year"}:
                problems.append(f"merit keys {sorted(merit)}")
            elif (
                merit["class"] not in {1, 2, 3}
                or not isinstance(merit["wartime"], bool)
                or type(merit["year"]) is not int
                or not birth.year + 15 <= merit["year"] <= placed.year
            ):
                problems.append(f"merit {merit}")
    if not isinstance(record["honours"], list):
        problems.append("honours is not a list")
    else:
        for honour in record["honours"]:
            if set(honour) != {"kind", "level", "year"}:
                problems.append(f"honour keys {sorted(honour)}")
            elif (
                honour["kind"] not in KINDS
                or honour["level"] not in LEVELS
                or type(honour["year"]) is not int
                or not birth.year + 18 <= honour["year"] <= as_of.year
            ):
                problems.append(f"honour {honour}")
    recommendation = record["recommendation"]
    if recommendation is not None and not recommendation_ok(recommendation):
        problems.append(f"recommendation {recommendation!r}")
    health = record["health"]
    if (
        not isinstance(health, dict)
        or set(health) != set(HEALTH)
        or not all(isinstance(v, bool) for v in health.values())
    ):
        problems.append(f"health {health!r}")
    if "phone" in record and not PHONE.fullmatch(str(record["phone"])):
        problems.append(f"phone {record['phone']!r}")
    if "family_contact" in record:
        contact = record["family_contact"]
        if (
            not isinstance(contact, dict)
            or set(contact) != {"name", "relation", "phone"}
            or not HAN_NAME.fullmatch(str(contact["name"]))
            or not str(contact["relation"]).strip()
            or not PHONE.fullmatch(str(contact["phone"]))
        ):
            problems.append(f"family_contact {contact!r}")
    return problems


def recommendation_ok(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"by", "reason", "date"}
        and value["by"] in {"county_dept", "agency"}
        and isinstance(value["reason"], str)
        and bool(value["reason"].strip())
        and iso_date(value["date"]) is not None
    )


# -- art. 4 read independently: which tier, and which honours count ----------------------------


def counted_honours(record: Record) -> list[dict[str, Any]]:
    """Honours after placement; the placement year itself counts (benefit of the doubt)."""
    placed_year = int(record["placed_on"][:4])
    return [h for h in record["honours"] if h["year"] >= placed_year]


def tier(record: Record) -> str:
    merits = record["merits"]
    effective = [2 if m["class"] == 3 and m["wartime"] else m["class"] for m in merits]
    honours = counted_honours(record)
    if any(c <= 2 for c in effective) or any(h["level"] != "county" for h in honours):
        return "city"
    if 3 in effective and record["recommendation"] is not None:
        return "city"
    if 3 in effective or honours:
        return "county"
    return "none"


def age_on(record: Record, day: date) -> int:
    return full_years(date.fromisoformat(record["birth_date"]), day)


def honour_path(kind: str, level: str) -> Callable[[Record], bool]:
    def has(record: Record) -> bool:
        placed_year = int(record["placed_on"][:4])
        return any(
            h["kind"] == kind and h["level"] == level and h["year"] > placed_year
            for h in record["honours"]
        )

    return has


def only_merit(cls: int, wartime: bool, want: str) -> Callable[[Record], bool]:
    def has(record: Record) -> bool:
        return (
            [(m["class"], m["wartime"]) for m in record["merits"]] == [(cls, wartime)]
            and not record["honours"]
            and record["recommendation"] is None
            and tier(record) == want
        )

    return has


def field_is(key: str, value: str) -> Callable[[Record], bool]:
    def has(record: Record) -> bool:
        return bool(record[key] == value)

    return has


def recommended_by(by: str) -> Callable[[Record], bool]:
    def has(record: Record) -> bool:
        rec = record["recommendation"]
        return (
            rec is not None
            and rec["by"] == by
            and [m["class"] for m in record["merits"]] == [3]
            and not any(m["wartime"] for m in record["merits"])
            and not counted_honours(record)
            and tier(record) == "city"
        )

    return has


def health_problem(key: str) -> Callable[[Record], bool]:
    def has(record: Record) -> bool:
        return record["health"][key] is (key != "self_care")

    return has


def honour_in_placement_year(record: Record) -> bool:
    placed_year = int(record["placed_on"][:4])
    return (
        not record["merits"]
        and len(record["honours"]) == 1
        and record["honours"][0]["year"] == placed_year
        and tier(record) != "none"
    )


def honour_before_placement_only(record: Record) -> bool:
    placed_year = int(record["placed_on"][:4])
    return (
        not record["merits"]
        and bool(record["honours"])
        and all(h["year"] < placed_year for h in record["honours"])
        and tier(record) == "none"
    )


def early_higher_honour_leaves_class_3_at_county(record: Record) -> bool:
    placed_year = int(record["placed_on"][:4])
    return (
        [(m["class"], m["wartime"]) for m in record["merits"]] == [(3, False)]
        and record["recommendation"] is None
        and any(h["year"] < placed_year and h["level"] != "county" for h in record["honours"])
        and tier(record) == "county"
    )


def turns_80_within_months(record: Record) -> bool:
    return age_on(record, AS_OF) == 79 and age_on(record, AS_OF + timedelta(days=183)) == 80


PATHS: dict[str, Callable[[Record], bool]] = {
    "class-2-merit-city": only_merit(2, False, "city"),
    "class-1-merit-city": only_merit(1, False, "city"),
    "wartime-class-3-counts-as-2-city": only_merit(3, True, "city"),
    "plain-class-3-county": only_merit(3, False, "county"),
    "class-3-recommended-by-county-dept": recommended_by("county_dept"),
    "class-3-recommended-by-agency": recommended_by("agency"),
    **{
        f"{kind}-{level}-after-placement": honour_path(kind, level)
        for kind in sorted(KINDS)
        for level in sorted(LEVELS)
    },
    "honour-in-the-placement-year-counts": honour_in_placement_year,
    "honour-before-placement-does-not-count": honour_before_placement_only,
    "class-3-with-an-earlier-higher-honour-stays-county": (
        early_higher_honour_leaves_class_3_at_county
    ),
    "no-merit-no-honour": lambda r: not r["merits"] and not r["honours"] and tier(r) == "none",
    "80-or-over": lambda r: age_on(r, AS_OF) >= 80,
    "turns-80-a-few-months-later": turns_80_within_months,
    **{f"health-{key}": health_problem(key) for key in HEALTH},
    **{f"category-{c}": field_is("category", c) for c in sorted(CATEGORIES)},
    "branch-PLA": field_is("branch", "PLA"),
    "branch-PAP": field_is("branch", "PAP"),
    "no-id-card": lambda r: r.get("id_card") is None,
    "woman-with-id-card": lambda r: r["gender"] == "女" and "id_card" in r,
    **{f"county-{c}": field_is("county", c) for c in COUNTY_PREFIX},
}


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "count"), [(1, 30), (2023, 500), (7, 150)])
def test_every_record_has_the_documented_shape(seed: int, count: int) -> None:
    roster = generate_roster(count, seed, as_of=AS_OF)
    assert len(roster) == count
    problems = {r["id"]: p for r in roster if (p := shape_problems(r, AS_OF))}
    assert problems == {}
    assert len({r["id"] for r in roster}) == count
    numbers = [r["id_card"] for r in roster if "id_card" in r]
    assert len(set(numbers)) == len(numbers)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(lambda r: r.pop("health"), "missing keys", id="missing-key"),
        pytest.param(lambda r: r.update(rank="团职"), "unknown keys", id="unknown-key"),
        pytest.param(lambda r: r.update(category="退休士官"), "category", id="bad-category"),
        pytest.param(lambda r: r.update(branch="PLAN"), "branch", id="bad-branch"),
        pytest.param(lambda r: r.update(birth_date="1950/03/12"), "ISO date", id="not-iso"),
        pytest.param(
            lambda r: r["honours"].append({"kind": "medal", "level": "city", "year": 2020}),
            "honour",
            id="bad-honour-kind",
        ),
        pytest.param(
            lambda r: r["merits"].append({"class": 4, "wartime": False, "year": 1980}),
            "merit",
            id="bad-merit-class",
        ),
        pytest.param(
            lambda r: r.update(recommendation={"by": "city_dept", "reason": "x", "date": "2024"}),
            "recommendation",
            id="bad-recommendation",
        ),
        pytest.param(
            lambda r: r.update(id_card=r["id_card"][:17] + "0"),
            "校验码",
            id="bad-check-digit",
        ),
        pytest.param(lambda r: r.update(gender="女"), "gender", id="id-card-gender-mismatch"),
        pytest.param(lambda r: r.update(agency="聊城市军休所"), "agency", id="wrong-agency"),
    ],
)
def test_the_shape_checker_catches_a_broken_record(
    mutate: Callable[[Record], object], expected: str
) -> None:
    """Guards the guard: each mutation of a good record is reported."""
    record = generate_roster(1, 1, as_of=AS_OF)[0]
    assert shape_problems(record, AS_OF) == []
    mutate(record)
    assert any(expected in problem for problem in shape_problems(record, AS_OF))


def test_the_same_seed_gives_the_same_roster() -> None:
    first = generate_roster(200, 5, as_of=AS_OF)
    assert generate_roster(200, 5, as_of=AS_OF) == first
    assert generate_roster(200, 6, as_of=AS_OF) != first
    assert generate_roster(200, 5, as_of=AS_OF + timedelta(days=1)) != first


def test_a_shorter_roster_is_the_start_of_a_longer_one() -> None:
    assert generate_roster(5, 5, as_of=AS_OF) == generate_roster(60, 5, as_of=AS_OF)[:5]
    assert generate_roster(0, 5, as_of=AS_OF) == []


def test_the_global_random_generator_is_left_alone() -> None:
    random.seed(12345)
    state = random.getstate()
    generate_roster(50, 1, as_of=AS_OF)
    assert random.getstate() == state


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="count"):
        generate_roster(-1, 1, as_of=AS_OF)


@pytest.mark.parametrize("seed", [1, 2023], ids=["seed1", "seed2023"])
@pytest.mark.parametrize("path", list(PATHS))
def test_the_first_30_records_cover_every_path(path: str, seed: int) -> None:
    roster = generate_roster(30, seed, as_of=AS_OF)
    assert any(PATHS[path](record) for record in roster), path


def test_the_showcase_fits_in_30_records_and_covers_all_three_tiers() -> None:
    assert SHOWCASE_SIZE <= 30
    showcase = generate_roster(SHOWCASE_SIZE, 3, as_of=AS_OF)
    assert {tier(r) for r in showcase} == {"city", "county", "none"}
    # the refusals of art. 8 fall on cadres who are otherwise eligible, so the rule is what refuses
    refused = [
        r
        for r in showcase
        if age_on(r, AS_OF) >= 80 or any(health_problem(key)(r) for key in HEALTH)
    ]
    assert refused
    assert all(tier(r) != "none" for r in refused)


def test_a_large_roster_has_realistic_proportions() -> None:
    roster = generate_roster(3000, 11, as_of=AS_OF)
    categories = Counter(r["category"] for r in roster)
    assert categories.most_common(1)[0][0] == "退休干部"
    assert 0 < categories["离休干部"] < 0.05 * len(roster)
    assert 0 < categories["退休警士"] < categories["退休军士"] < 0.2 * len(roster)
    branches = Counter(r["branch"] for r in roster)
    assert 0.05 * len(roster) < branches["PAP"] < 0.3 * len(roster)
    assert all(r["branch"] == "PAP" for r in roster if r["category"] == "退休警士")
    with_problem = [r for r in roster if any(health_problem(key)(r) for key in HEALTH)]
    assert 0 < len(with_problem) < 0.1 * len(roster)
    assert 0 < sum("id_card" not in r for r in roster) < 0.1 * len(roster)
    ages = [age_on(r, AS_OF) for r in roster]
    assert sum(58 <= age <= 90 for age in ages) > 0.95 * len(roster)
    assert 0.05 * len(roster) < sum(age >= 80 for age in ages) < 0.3 * len(roster)
    tiers = Counter(tier(r) for r in roster)
    assert all(tiers[t] > 0.1 * len(roster) for t in ("city", "county", "none"))


def test_500_records_are_generated_fast() -> None:
    started = time.perf_counter()
    roster = generate_roster(500, 2023, as_of=AS_OF)
    assert len(roster) == 500
    assert time.perf_counter() - started < 2.0
