"""Reproducible rosters of Liaocheng cadre records, for the demo, the benchmarks and the tests.

Every record has exactly the JSON shape of docs/roster-formats.md, so a generated roster
can be fed to anything that reads agency rosters. The first records are a fixed showcase, one per
eligibility path of art. 4 and per refusal of art. 8 (plus every category and branch of art. 2
and art. 20), so even a ten-minute demo exercises every rule; the rest are drawn at random with
realistic proportions. Everything is drawn from ``random.Random(seed)``, never the global
generator, so the same seed and ``as_of`` always give the same roster.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, TypeAlias

from workflow.idcard import MAX_SEQUENCE, make_id_card
from workflow.roster import vocabulary
from workflow.roster.vocabulary import (
    CATEGORIES,
    HEALTH_KEYS,
    HONOUR_KINDS,
    HONOUR_LEVELS,
    RECOMMENDERS,
    HealthKey,
)

# the demo's cadre id prefix per county (LC-DCF-0001); the agency is the county's 军休所
_ID_PREFIXES = {
    "东昌府区": "DCF",
    "茌平区": "CP",
    "阳谷县": "YG",
    "莘县": "SX",
    "东阿县": "DA",
    "冠县": "GX",
    "高唐县": "GT",
    "临清市": "LQ",
}
# county -> (administrative region code, id prefix), in the vocabulary's order
COUNTIES: dict[str, tuple[str, str]] = {
    county: (region, _ID_PREFIXES[county]) for county, region in vocabulary.COUNTIES.items()
}
# rough share of the city's retired cadres managed in each county, for the random records
_COUNTY_WEIGHTS = (30, 10, 11, 12, 7, 10, 8, 12)


# common surnames of western Shandong, most frequent first
SURNAMES = (
    "王李张刘陈杨赵孙徐马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾"
)
MALE_GIVEN = (
    "建国", "建军", "国庆", "卫东", "卫国", "振华", "志强", "志刚", "德明", "德胜", "学文",
    "爱民", "永胜", "春生", "立新", "红军", "保国", "继承", "长海", "广田", "庆云", "玉山",
    "守仁", "兆林", "连生", "殿军", "洪涛", "建华", "文斌", "宪章", "明", "军", "勇", "强",
    "刚", "斌", "峰", "涛", "林", "海",
)  # fmt: skip
FEMALE_GIVEN = (
    "秀英", "桂兰", "玉珍", "淑芬", "凤英", "桂芳", "秀兰", "玉兰", "红梅", "丽华", "素珍",
    "秀珍", "建英", "卫红", "爱华", "文静", "英", "华", "萍", "霞", "敏", "燕",
)  # fmt: skip
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "177", "180", "182", "183", "185",
    "186", "187", "188", "189", "199",
)  # fmt: skip
RECOMMENDATION_REASONS = (
    "服役期间参加抢险救灾，事迹特别突出",
    "长期坚守边防一线，表现特别优秀",
    "参加重大军事任务，事迹特别突出",
    "移交后积极参加关心下一代工作，事迹感人",
    "因公负伤仍坚持工作，表现特别优秀",
)
# wars in which a 战时 merit can have been earned (first year, last year)
_WARS = ((1950, 1953), (1962, 1962), (1969, 1969), (1979, 1979), (1984, 1989))
ENLISTMENT_AGE = 17

Problem: TypeAlias = HealthKey
When: TypeAlias = Literal["after", "placement_year", "before"]
Age: TypeAlias = int | Literal["turning_80"]
PROBLEMS: tuple[Problem, ...] = HEALTH_KEYS
WHENS: tuple[When, ...] = ("after", "placement_year", "before")


@dataclass(frozen=True)
class _Profile:
    """What a record must exercise; names, exact dates and contacts are drawn from the seed."""

    merits: tuple[tuple[int, bool], ...] = ()  # (class, wartime)
    honours: tuple[tuple[str, str, When], ...] = ()  # (kind, level, when relative to placement)
    recommended_by: str | None = None
    age: Age = 72  # full years on as_of, or 79 and turning 80 a few months after as_of
    problem: Problem | None = None
    category: str = "退休干部"
    branch: str = "PLA"
    female: bool = False
    id_card: bool = True
    phone: bool = True


# One record per path; the tier in each comment is what art. 4 gives (A4.2), the article what
# refuses (A8.1 health, A8.2 age). Counties rotate, so the first eight cover every county.
_SHOWCASE: tuple[_Profile, ...] = (
    _Profile(merits=((2, False),)),  # city: 二等功
    _Profile(merits=((1, False),), age=69),  # city: 一等功
    _Profile(merits=((3, True),), age=76),  # city: 战时三等功 counts as 二等功
    _Profile(merits=((3, False),), age=66, branch="PAP"),  # county: 三等功
    _Profile(merits=((3, False),), recommended_by="county_dept", age=70),  # city by recommendation
    _Profile(
        merits=((3, False),), recommended_by="agency", age=63, category="退休军士"
    ),  # city by the agency's recommendation; art. 20 NCO
    _Profile(honours=(("commendation", "county", "after"),), age=68),  # county
    _Profile(honours=(("commendation", "city", "after"),), age=74, female=True),  # city
    _Profile(honours=(("commendation", "province", "after"),), branch="PAP"),  # city
    _Profile(honours=(("commendation", "national", "after"),), age=78),  # city
    _Profile(honours=(("commendation", "military", "after"),), age=65),  # city
    _Profile(
        honours=(("advanced_cadre", "county", "after"),),
        age=61,
        category="退休警士",
        branch="PAP",
    ),  # county; art. 20 police NCO
    _Profile(honours=(("advanced_cadre", "city", "after"),), age=71),  # city
    _Profile(honours=(("advanced_cadre", "province", "after"),), age=67, female=True),  # city
    _Profile(honours=(("advanced_cadre", "national", "after"),), age=75),  # city
    _Profile(honours=(("advanced_cadre", "military", "after"),), age=73),  # city
    _Profile(
        honours=(("commendation", "city", "placement_year"),), age=70
    ),  # city, benefit of doubt
    _Profile(honours=(("advanced_cadre", "city", "before"),), age=69),  # none: before placement
    _Profile(age=64),  # none: no merit, no honour
    _Profile(merits=((2, False),), age=84),  # city, refused A8.2: 80 or over
    _Profile(merits=((1, True),), age=92, category="离休干部"),  # city, 离休, refused A8.2
    _Profile(merits=((2, False),), age="turning_80"),  # city; 80 by a batch a few months on
    _Profile(merits=((2, False),), age=77, problem="self_care"),  # refused A8.1
    _Profile(merits=((3, False),), age=72, problem="infectious"),  # refused A8.1
    _Profile(honours=(("commendation", "city", "after"),), problem="mental"),  # refused A8.1
    _Profile(merits=((2, True),), age=79, problem="critical", branch="PAP"),  # refused A8.1
    _Profile(merits=((2, False),), age=66, female=True, id_card=False, phone=False),  # optional
    _Profile(
        merits=((3, False),), honours=(("advanced_cadre", "province", "before"),), age=74
    ),  # county only: the provincial honour predates placement
)
SHOWCASE_SIZE = len(_SHOWCASE)


def generate_roster(count: int, seed: int, *, as_of: date) -> list[dict[str, Any]]:
    """``count`` cadre records as of ``as_of``: the showcase first, then random records.

    Ids are per county ("LC-DCF-0001", "LC-CP-0001", …), unique in the roster, as are ID numbers.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    builder = _Builder(random.Random(seed), as_of)
    return [builder.record(index) for index in range(count)]


def _full_years(birth: date, on: date) -> int:
    """Age in full years (周岁) on ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class _Builder:
    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.as_of = as_of
        self.serials = dict.fromkeys(COUNTIES, 0)
        self.id_cards: set[str] = set()

    def record(self, index: int) -> dict[str, Any]:
        rng = self.rng
        if index < SHOWCASE_SIZE:
            profile = _SHOWCASE[index]
            county = list(COUNTIES)[index % len(COUNTIES)]
        else:
            profile = self.random_profile()
            county = rng.choices(list(COUNTIES), _COUNTY_WEIGHTS)[0]
        region, prefix = COUNTIES[county]
        self.serials[county] += 1
        surname = rng.choice(SURNAMES)
        name = surname + rng.choice(FEMALE_GIVEN if profile.female else MALE_GIVEN)
        birth = self.birth_date(profile.age)
        placed = self.placement(birth, profile.category)
        record: dict[str, Any] = {
            "id": f"LC-{prefix}-{self.serials[county]:04d}",
            "name": name,
            "gender": "女" if profile.female else "男",
            "birth_date": birth.isoformat(),
        }
        if profile.id_card:
            record["id_card"] = self.id_card(region, birth, profile.female)
        record |= {
            "category": profile.category,
            "branch": profile.branch,
            "county": county,
            "agency": f"{county}军休所",
            "placed_on": placed.isoformat(),
            "merits": [
                {"class": cls, "wartime": wartime, "year": self.merit_year(birth, placed, wartime)}
                for cls, wartime in profile.merits
            ],
            "honours": self.honours(profile, placed),
            "recommendation": None
            if profile.recommended_by is None
            else {
                "by": profile.recommended_by,
                "reason": rng.choice(RECOMMENDATION_REASONS),
                "date": (self.as_of - timedelta(days=rng.randint(15, 240))).isoformat(),
            },
            "health": {
                "self_care": profile.problem != "self_care",
                "infectious": profile.problem == "infectious",
                "mental": profile.problem == "mental",
                "critical": profile.problem == "critical",
            },
        }
        if profile.phone:
            record["phone"] = self.phone()
        record["family_contact"] = self.family_contact(surname, profile.female)
        return record

    def random_profile(self) -> _Profile:
        rng = self.rng
        category = rng.choices(CATEGORIES, (2, 86, 9, 3))[0]
        if category == "退休警士":
            branch = "PAP"
        elif category == "退休干部":
            branch = "PAP" if rng.random() < 0.12 else "PLA"
        else:
            branch = "PLA"
        merits = tuple(
            (rng.choices((1, 2, 3), (6, 22, 72))[0], rng.random() < 0.12)
            for _ in range(rng.choices((0, 1, 2), (40, 45, 15))[0])
        )
        honours = tuple(
            (
                rng.choices(HONOUR_KINDS, (45, 55))[0],
                rng.choices(HONOUR_LEVELS, (45, 30, 15, 5, 5))[0],
                rng.choices(WHENS, (87, 5, 8))[0],
            )
            for _ in range(rng.choices((0, 1, 2, 3), (60, 28, 10, 2))[0])
        )
        best = min((cls for cls, wartime in merits if not wartime), default=None)
        recommended_by = None
        if best == 3 and rng.random() < 0.15:
            recommended_by = rng.choices(RECOMMENDERS, (60, 40))[0]
        age: Age
        if category == "离休干部":
            age = rng.randint(90, 96)
        elif rng.random() < 0.02:
            age = "turning_80"
        elif rng.random() < 0.13:
            age = rng.randint(80, 90)
        else:
            age = rng.randint(58, 79)
        problem: Problem | None = None
        if rng.random() < 0.05:
            problem = rng.choice(PROBLEMS)
        return _Profile(
            merits=merits,
            honours=honours,
            recommended_by=recommended_by,
            age=age,
            problem=problem,
            category=category,
            branch=branch,
            female=rng.random() < (0.0 if category == "退休警士" else 0.08),
            id_card=rng.random() >= 0.04,
            phone=rng.random() >= 0.03,
        )

    def birth_date(self, age: Age) -> date:
        """A birth date giving exactly ``age`` full years on as_of."""
        if age == "turning_80":  # 79 on as_of, 80 between one and five months later
            return _years_before(self.as_of + timedelta(days=self.rng.randint(30, 150)), 80)
        return _years_before(self.as_of, age) - timedelta(days=self.rng.randint(0, 364))

    def placement(self, birth: date, category: str) -> date:
        """Handed to the government between 50 and 60, at least two years before as_of."""
        oldest = min(59, _full_years(birth, self.as_of) - 3)
        youngest = 55 if category == "离休干部" else 50
        at_age = self.rng.randint(min(youngest, oldest), oldest)
        anniversary = _years_before(birth, -at_age)
        return anniversary + timedelta(days=self.rng.randint(0, 364))

    def merit_year(self, birth: date, placed: date, wartime: bool) -> int:
        """A year of service (enlistment to the year before placement); for a 战时 merit a war
        year when the cadre served in one (a roster far in the future keeps the flag anyway)."""
        first, last = birth.year + ENLISTMENT_AGE, placed.year - 1
        if wartime:
            years = [
                year
                for start, end in _WARS
                for year in range(start, end + 1)
                if first <= year <= last
            ]
            if years:
                return self.rng.choice(years)
        return self.rng.randint(first, max(first, last))

    def honours(self, profile: _Profile, placed: date) -> list[dict[str, Any]]:
        """The profile's honours dated around placement, latest first as rosters list them."""
        dated = [
            (self.honour_year(placed, when), kind, level) for kind, level, when in profile.honours
        ]
        dated.sort(key=lambda honour: honour[0], reverse=True)
        return [{"kind": kind, "level": level, "year": year} for year, kind, level in dated]

    def honour_year(self, placed: date, when: When) -> int:
        if when == "placement_year":
            return placed.year
        if when == "before":
            return placed.year - self.rng.randint(1, 6)
        return self.rng.randint(placed.year + 1, max(placed.year + 1, self.as_of.year - 1))

    def id_card(self, region: str, birth: date, female: bool) -> str:
        while True:  # unique in the roster, as the importer will insist
            number = make_id_card(region, birth, self.rng.randint(0, MAX_SEQUENCE), female)
            if number not in self.id_cards:
                self.id_cards.add(number)
                return number

    def phone(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randint(0, 99_999_999):08d}"

    def family_contact(self, surname: str, female: bool) -> dict[str, str]:
        """A relative to reach; children and grandchildren carry a male cadre's surname."""
        rng = self.rng
        relation = rng.choices(
            ("女儿", "儿子", "丈夫" if female else "妻子", "儿媳", "女婿", "孙子", "孙女"),
            (30, 30, 20, 6, 5, 5, 4),
        )[0]
        same_surname = not female and relation in ("女儿", "儿子", "孙子", "孙女")
        family_female = relation in ("女儿", "妻子", "儿媳", "孙女")
        name = (surname if same_surname else rng.choice(SURNAMES)) + rng.choice(
            FEMALE_GIVEN if family_female else MALE_GIVEN
        )
        return {"name": name, "relation": relation, "phone": self.phone()}
