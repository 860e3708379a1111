"""Reproducible rosters of cadre records for the demo and the benchmarks.

Records follow shared/policy/roster-format.md exactly. The first records are a fixed showcase,
one per eligibility path and refusal, so even a small demo exercises every rule; the rest are
drawn from a seeded generator, never the global one, so the same seed gives the same roster.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

COUNTIES = {
    "东昌府区": ("371502", "DCF"),
    "茌平区": ("371503", "CP"),
    "阳谷县": ("371521", "YG"),
    "莘县": ("371522", "SX"),
    "东阿县": ("371524", "DE"),
    "冠县": ("371525", "GX"),
    "高唐县": ("371526", "GT"),
    "临清市": ("371581", "LQ"),
}
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋"
    "郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)
GIVEN = "建国振华卫东志强德明秀英桂兰玉珍国庆海军学文爱民永胜春生淑芬凤英立新红军保国继承桂芳"
RELATIONS = ("女儿", "儿子", "配偶", "儿媳", "女婿")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_digit(first17: str) -> str:
    """GB 11643-1999: weighted sum of the first 17 digits, mod 11, mapped to 1 0 X 9 … 2."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def _id_card(region: str, birth: date, sequence: int, female: bool) -> str:
    order = sequence % 50 * 2 + (0 if female else 1)  # odd for men, even for women
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    return first17 + check_digit(first17)


def generate_roster(count: int, seed: int, *, as_of: date) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [_record(index, rng, as_of) for index in range(count)]


# A showcase of one record per path: (merits, honours as (kind, level, years after placement),
# recommendation by, age on as_of, health problem, category, branch)
_SHOWCASE: list[
    tuple[list[tuple[int, bool]], list[tuple[str, str, int]], str | None, int, str | None, str, str]
] = [
    ([(2, False)], [], None, 72, None, "退休干部", "PLA"),  # city: class-2 merit
    ([(1, True)], [], None, 85, None, "离休干部", "PLA"),  # city, but 80+ (A8.2)
    ([(3, True)], [], None, 70, None, "退休干部", "PLA"),  # wartime class 3 = 2
    ([(3, False)], [], None, 68, None, "退休干部", "PAP"),  # county: class 3
    ([(3, False)], [], "county_dept", 66, None, "退休干部", "PLA"),  # city by recommendation
    ([(3, False)], [], "agency", 75, None, "退休军士", "PLA"),  # recommended by agency
    ([], [("commendation", "city", 3)], None, 71, None, "退休干部", "PLA"),
    ([], [("advanced_cadre", "province", 5)], None, 69, None, "退休警士", "PAP"),
    ([], [("commendation", "county", 0)], None, 67, None, "退休干部", "PLA"),  # placement year
    ([], [("advanced_cadre", "county", -2)], None, 73, None, "退休干部", "PLA"),  # before: void
    (
        [],
        [("commendation", "national", 4), ("advanced_cadre", "military", 6)],
        None,
        77,
        None,
        "退休干部",
        "PLA",
    ),
    ([], [], None, 65, None, "退休干部", "PLA"),  # no tier
    ([(2, False)], [], None, 79, None, "退休干部", "PLA"),  # turns 80 within months
    ([(2, False)], [], None, 74, "self_care", "退休干部", "PLA"),  # A8.1
    ([(3, False)], [], None, 70, "infectious", "退休干部", "PLA"),
    ([(2, False)], [], None, 72, "mental", "退休军士", "PLA"),
    ([(2, False)], [], None, 76, "critical", "退休干部", "PAP"),
]


def _record(index: int, rng: random.Random, as_of: date) -> dict[str, Any]:
    if index < len(_SHOWCASE):
        merits, honours, recommended_by, age, problem, category, branch = _SHOWCASE[index]
    else:
        merits, honours, recommended_by, age, problem, category, branch = _random_profile(rng)
    county = list(COUNTIES)[index % len(COUNTIES)]
    region, prefix = COUNTIES[county]
    female = rng.random() < 0.12
    birth = as_of - timedelta(days=age * 365 + rng.randint(0, 300))
    if index == 12:  # the showcase cadre who turns 80 a few months after as_of
        birth = date(as_of.year - 80, as_of.month, 1) + timedelta(days=rng.randint(60, 150))
    placed = date(birth.year + rng.randint(50, 58), rng.randint(1, 12), 1)
    name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))
    record: dict[str, Any] = {
        "id": f"LC-{prefix}-{index + 1:04d}",
        "name": name,
        "gender": "女" if female else "男",
        "birth_date": birth.isoformat(),
        "category": category,
        "branch": branch,
        "county": county,
        "agency": f"{county}军休所",
        "placed_on": placed.isoformat(),
        "merits": [
            {"class": cls, "wartime": wartime, "year": birth.year + rng.randint(20, 40)}
            for cls, wartime in merits
        ],
        "honours": [
            {"kind": kind, "level": level, "year": placed.year + after}
            for kind, level, after in honours
        ],
        "recommendation": None
        if recommended_by is None
        else {
            "by": recommended_by,
            "reason": "服役期间事迹特别突出，表现特别优秀",
            "date": (as_of - timedelta(days=rng.randint(10, 200))).isoformat(),
        },
        "health": {
            "self_care": problem != "self_care",
            "infectious": problem == "infectious",
            "mental": problem == "mental",
            "critical": problem == "critical",
        },
        "phone": f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
        "family_contact": {
            "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2)),
            "relation": rng.choice(RELATIONS),
            "phone": f"15{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
        },
    }
    if rng.random() < 0.95:
        record["id_card"] = _id_card(region, birth, index, female)
    return record


def _random_profile(
    rng: random.Random,
) -> tuple[
    list[tuple[int, bool]], list[tuple[str, str, int]], str | None, int, str | None, str, str
]:
    merits = [(rng.choice((1, 2, 2, 3, 3, 3)), rng.random() < 0.15)] if rng.random() < 0.6 else []
    honours = [
        (
            rng.choice(("commendation", "advanced_cadre")),
            rng.choice(("county", "county", "city", "province", "national", "military")),
            rng.randint(-3, 15),
        )
        for _ in range(rng.choice((0, 0, 1, 1, 2)))
    ]
    recommended = (
        rng.choice(("county_dept", "agency"))
        if merits and merits[0][0] == 3 and (rng.random() < 0.2)
        else None
    )
    age = rng.randint(58, 79) if rng.random() < 0.85 else rng.randint(80, 92)
    problem = (
        rng.choice(("self_care", "infectious", "mental", "critical"))
        if (rng.random() < 0.05)
        else None
    )
    category = rng.choices(("退休干部", "离休干部", "退休军士", "退休警士"), (85, 3, 9, 3))[0]
    branch = "PAP" if category == "退休警士" or rng.random() < 0.1 else "PLA"
    return merits, honours, recommended, age, problem, category, branch
