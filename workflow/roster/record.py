"""One cadre record of an agency roster: validated field by field into a frozen `CadreRecord`.

The record format is docs/roster-formats.md; this module is its executable form. Every
reader (JSON, CSV, XLSX) first turns its rows into that JSON shape, so there is exactly one place
that decides what a valid record is. Validation never stops at the first problem: an officer
fixing a roster wants every mistake of a row at once, each naming the field it is about.

What is checked beyond the format's own table, and why:

* plausibility of dates and years (a birth date after 1900, nothing in the future, a merit
  earned during service, an honour earned as an adult), because a typo such as 2079 for 1979
  would otherwise silently change a cadre's art. 4 tier;
* 退休军士 serve in the PLA and 退休警士 in the PAP (art. 2, art. 20), so the category must agree
  with the branch;
* lengths that the database columns impose, control characters and unpaired surrogates, which
  PostgreSQL and the drivers would otherwise refuse half-way through an import.

Phone numbers and ID numbers are personal data: messages describe what is wrong with them but
never repeat them, since error output ends up in logs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from workflow.errors import InputError
from workflow.i18n import N_, _
from workflow.idcard import id_card_problem
from workflow.roster.vocabulary import (
    ADMIN_LIST,
    BRANCHES,
    CATEGORIES,
    CATEGORY_BRANCH,
    GENDERS,
    HEALTH_DEFAULTS,
    HONOUR_KINDS,
    HONOUR_LEVELS,
    MERIT_CLASSES,
    RECOMMENDERS,
    AdminList,
)

REQUIRED_KEYS = (
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
)
OPTIONAL_KEYS = ("id_card", "recommendation", "health", "phone", "family_contact")
# the order of roster-format.md, kept in the stored JSON so a record reads like the document
KEY_ORDER = (
    "id",
    "name",
    "gender",
    "birth_date",
    "id_card",
    "category",
    "branch",
    "county",
    "agency",
    "placed_on",
    "merits",
    "honours",
    "recommendation",
    "health",
    "phone",
    "family_contact",
)

# lengths of the cadres table's columns (workflow/store/schema.py) and sane caps for the rest
MAX_ID = 64
MAX_NAME = 100
MAX_COUNTY = 100
MAX_AGENCY = 200
MAX_RELATION = 20
MAX_REASON = 1000
MAX_ITEMS = 50  # merits or honours of one cadre; more is a pasted column, not a career

EARLIEST_BIRTH = date(1900, 1, 1)
PLA_FOUNDED = 1927  # 1 August 1927: no merit of the PLA is older
PRC_FOUNDED = 1949  # no party-committee or government honour in this sense is older
YOUNGEST_SERVING_AGE = 14  # 红小鬼 of the war years; a merit or honour before that is a typo

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_MOBILE = re.compile(r"1[3-9]\d{9}", re.ASCII)
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}", re.ASCII)


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field of a record; ``field`` is a path such as ``merits[2].year``
    (list positions count from 1, as an officer counts)."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class InvalidRecord(InputError):
    """A single record is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            _("；").join(str(problem) for problem in self.problems),
            field=self.problems[0].field if self.problems else None,
        )


@dataclass(frozen=True)
class Merit:
    """An award during service (立功): ``class_`` 1, 2 or 3 (一/二/三等功); ``wartime`` 战时."""

    class_: int
    wartime: bool
    year: int

    def to_json(self) -> dict[str, Any]:
        return {"class": self.class_, "wartime": self.wartime, "year": self.year}


@dataclass(frozen=True)
class Honour:
    """An honour after (or, recorded for completeness, before) placement; art. 4 decides which
    ones count."""

    kind: str
    level: str
    year: int

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "level": self.level, "year": self.year}


@dataclass(frozen=True)
class Recommendation:
    """Art. 4 recommendation of a 三等功 holder for city level (A4.3): who and why."""

    by: str
    reason: str
    date: date

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "reason": self.reason, "date": self.date.isoformat()}


@dataclass(frozen=True)
class Health:
    """The art. 8 health declaration; the defaults are the format's (self-caring, no illness)."""

    self_care: bool = True
    infectious: bool = False
    mental: bool = False
    critical: bool = False

    def to_json(self) -> dict[str, bool]:
        return {
            "self_care": self.self_care,
            "infectious": self.infectious,
            "mental": self.mental,
            "critical": self.critical,
        }


@dataclass(frozen=True)
class FamilyContact:
    """A relative to reach for notices; also who usually gives the art. 7 family consent."""

    name: str
    relation: str
    phone: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "relation": self.relation, "phone": self.phone}


@dataclass(frozen=True)
class CadreRecord:
    """A valid roster record with every default filled in (roster-format.md)."""

    id: str
    name: str
    gender: str
    birth_date: date
    category: str
    branch: str
    county: str
    agency: str
    placed_on: date
    merits: tuple[Merit, ...] = ()
    honours: tuple[Honour, ...] = ()
    recommendation: Recommendation | None = None
    health: Health = field(default_factory=Health)
    id_card: str | None = None
    phone: str | None = None
    family_contact: FamilyContact | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as stored and as the rules read it: the JSON shape of roster-format.md,
        defaults filled; optional keys without a default (``id_card``, ``phone``,
        ``family_contact``) are left out when not given, never stored as null."""
        values: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "gender": self.gender,
            "birth_date": self.birth_date.isoformat(),
            "id_card": self.id_card,
            "category": self.category,
            "branch": self.branch,
            "county": self.county,
            "agency": self.agency,
            "placed_on": self.placed_on.isoformat(),
            "merits": [merit.to_json() for merit in self.merits],
            "honours": [honour.to_json() for honour in self.honours],
            "recommendation": None
            if self.recommendation is None
            else self.recommendation.to_json(),
            "health": self.health.to_json(),
            "phone": self.phone,
            "family_contact": None
            if self.family_contact is None
            else self.family_contact.to_json(),
        }
        for key in ("id_card", "phone", "family_contact"):
            if values[key] is None:
                del values[key]
        return values

    def columns(self, stored: dict[str, Any] | None = None) -> dict[str, Any]:
        """The cadres table's columns (without ``updated_at``, which the writer stamps).

        ``stored`` is this record's `to_json` when the caller has already built it: a bulk
        import of 100,000 records should not build every JSON twice."""
        return {
            "id": self.id,
            "name": self.name,
            "county": self.county,
            "agency": self.agency,
            "birth_date": self.birth_date,
            "record": self.to_json() if stored is None else stored,
        }


def parse_record(raw: object, *, today: date, admin: AdminList = ADMIN_LIST) -> CadreRecord:
    """Validate one record in the JSON shape; raises `InvalidRecord` listing every problem.

    ``today`` bounds the dates (nothing may lie in the future); it is a parameter so that tests
    and a simulated clock decide it, not the wall clock. ``admin`` is the administrative list
    county and agency must be on (the shipped one, or an office's file).
    """
    checker = _Checker(today, admin)
    record = checker.record(raw)
    if checker.problems or record is None:
        raise InvalidRecord(checker.problems)
    return record


# -- the checker --------------------------------------------------------------------------


def _shown(value: object) -> str:
    """A short description of a wrong value, for messages: its JSON type and a clipped repr."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _("数字 {value}").format(value=repr(value))
    if isinstance(value, str):
        clipped = value if len(value) <= 30 else value[:30] + "…"
        return _("文本 {value}").format(value=repr(clipped))
    if isinstance(value, list | tuple):
        return _("含 {count} 项的列表").format(count=len(value))
    if isinstance(value, Mapping):
        return _("对象")
    return type(value).__name__


def printable(text: str) -> str:
    """A name from the file as it may be printed: invisible characters (a stray NUL, an unpaired
    surrogate from a broken export) spelled as ``\\uXXXX``, and an empty or space-padded name
    quoted, so a message about it still shows something on a terminal and in a log."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    if not text or text != text.strip():
        return f'"{text}"'
    return text


# Unicode categories Cc (C0 and C1 controls) and Cs (surrogates), as one C-speed search
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_EXCEPT_LINE_BREAKS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _bad_character(text: str, *, multiline: bool = False) -> str | None:
    """Control characters and unpaired surrogates cannot be stored (PostgreSQL refuses NUL, the
    drivers refuse surrogates) and are never part of a name or an address; free prose such as
    a recommendation's reason may have line breaks and tabs (Alt+Enter in an Excel cell)."""
    found = (_CONTROL_EXCEPT_LINE_BREAKS if multiline else _CONTROL).search(text)
    if found is None:
        return None
    position = found.start() + 1
    return _("第{position}个字符是不可见的控制字符（U+{code}）").format(
        position=position, code=f"{ord(found.group()):04X}"
    )


# Characters no one can see that change what a key compares equal to: zero-width spaces and
# joiners, the word joiner and invisible operators, bidirectional controls, the BOM (category
# Cf), and the Hangul/ideographic fillers that render as blanks
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8]"
)


def invisible_character(value: str) -> str | None:
    """What is wrong with ``value`` if it holds an invisible character (a zero-width space, a
    filler, a variation selector), else None: such a name only looks like a real one."""
    found = _INVISIBLE.search(value)
    if found is None:
        return None
    return _("第{position}个字符是不可见字符（U+{code}）").format(
        position=found.start() + 1, code=f"{ord(found.group()):04X}"
    )


_ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

# Checks whose outcome depends on the value alone, remembered for the values that passed (a
# million-row roster repeats its places and dates); at most this many of each, so a hostile file
# of a million distinct ones costs no more memory than a few MB
_REMEMBERED = 50_000
_DATES: dict[str, date] = {}  # "YYYY-MM-DD" -> the date (whether it lies ahead depends on today)
_PLACES: dict[tuple[str, int], str] = {}  # (county or agency as given, limit) -> as checked

_HEALTH_KEY_ORDER = tuple(HEALTH_DEFAULTS)
_HEALTH_KEYS = frozenset(HEALTH_DEFAULTS)
# (required, optional) -> (allowed keys, required keys), for `_Checker.fields`' fast path
_KEY_SETS: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[frozenset[str], frozenset[str]]] = {}


class _Checker:
    """Collects problems while building a `CadreRecord`; each method returns None on failure so
    checks that depend on it (e.g. placed_on after birth_date) are skipped, not misreported."""

    def __init__(self, today: date, admin: AdminList = ADMIN_LIST) -> None:
        self.today = today
        self.counties = admin.counties
        self.agencies = admin.agencies
        self.problems: list[FieldProblem] = []

    def fail(self, path: str, reason: str) -> None:
        self.problems.append(FieldProblem(path, reason))

    # -- structure ----------------------------------------------------------------------

    def fields(
        self,
        raw: object,
        path: str,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> Mapping[str, Any] | None:
        """``raw`` as a mapping with no unknown and no missing keys (unknown keys are an error,
        not silently dropped: a misspelt ``helth`` must not turn into the default).

        The common case, a plain dict with exactly the right keys, is decided by two set
        comparisons at C speed against sets built once per key tuple (this runs 4-5 times a
        row of a million-row import); anything else takes the loop that names each key."""
        if type(raw) is dict:
            sets = _KEY_SETS.get((required, optional))
            if sets is None:
                sets = _KEY_SETS[required, optional] = (
                    frozenset(required) | frozenset(optional),
                    frozenset(required),
                )
            if sets[0].issuperset(raw) and raw.keys() >= sets[1]:
                return raw
        elif not isinstance(raw, Mapping):
            self.fail(path or "record", _("应为对象，实际为{shown}").format(shown=_shown(raw)))
            return None
        prefix = f"{path}." if path else ""
        allowed = set(required) | set(optional)
        for key in raw:
            if key not in allowed:
                shown = printable(key) if isinstance(key, str) else repr(key)
                self.fail(
                    f"{prefix}{shown}",
                    _("未知字段；允许的字段：{allowed}").format(
                        allowed=", ".join((*required, *optional))
                    ),
                )
        for key in required:
            if key not in raw:
                self.fail(f"{prefix}{key}", _("必填"))
        return raw

    # -- scalars ------------------------------------------------------------------------

    def text(
        self, value: object, path: str, *, max_length: int, multiline: bool = False
    ) -> str | None:
        if not isinstance(value, str):
            self.fail(path, _("应为文本，实际为{shown}").format(shown=_shown(value)))
            return None
        text = value.strip()
        if not text:
            self.fail(path, _("不能为空"))
            return None
        if len(text) > max_length:
            self.fail(
                path,
                _("过长：{length}个字符，最多{limit}").format(length=len(text), limit=max_length),
            )
            return None
        if (_CONTROL_EXCEPT_LINE_BREAKS if multiline else _CONTROL).search(text) is None:
            return text  # the common case, without the call that words the problem
        self.fail(path, _bad_character(text, multiline=multiline) or "")
        return None

    def place(self, value: object, path: str, *, max_length: int) -> str | None:
        """`key` for a county or an agency: a roster names a few dozen of them a million times,
        so each spelling that passed is remembered (its check depends on nothing else)."""
        if type(value) is str:
            known = _PLACES.get((value, max_length))
            if known is not None:
                return known
        checked = self.key(value, path, max_length=max_length)
        if checked is not None and type(value) is str and len(_PLACES) < _REMEMBERED:
            _PLACES[value, max_length] = checked
        return checked

    def key(self, value: object, path: str, *, max_length: int) -> str | None:
        """An id, county or agency: the scopes of A5.2 compare them, so one that merely looks
        right (full-width letters, a compatibility ideograph, a zero-width space) would put the
        cadre outside every real scope. NFKC-normalised; invisible characters are refused."""
        if isinstance(value, str):
            if _INVISIBLE.search(value) is not None:  # searched here first: saves a call a key
                self.fail(path, invisible_character(value) or "")
                return None
            value = unicodedata.normalize("NFKC", value)
        return self.text(value, path, max_length=max_length)

    def choice(self, value: object, path: str, options: tuple[str, ...]) -> str | None:
        chosen = value.strip() if isinstance(value, str) else None
        if chosen is None or chosen not in options:
            listed = ", ".join(options)
            self.fail(
                path,
                _("应为以下之一：{listed}；实际为{shown}").format(
                    listed=listed, shown=_shown(value)
                ),
            )
            return None
        return chosen

    def boolean(self, value: object, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.fail(path, _("应为 true 或 false，实际为{shown}").format(shown=_shown(value)))
            return None
        return value

    def integer(self, value: object, path: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, _("应为整数，实际为{shown}").format(shown=_shown(value)))
            return None
        return value

    def iso_date(self, value: object, path: str) -> date | None:
        """Strictly YYYY-MM-DD: Python also accepts 19460312 and week dates, an officer would
        not recognise those as dates, and two spellings of one date would diff as a change."""
        text = value.strip() if isinstance(value, str) else None
        day = _DATES.get(text) if text is not None else None
        if day is None:
            if text is None or not _ISO_DATE.fullmatch(text):
                self.fail(path, _("应为日期 YYYY-MM-DD，实际为{shown}").format(shown=_shown(value)))
                return None
            try:
                day = date.fromisoformat(text)
            except ValueError:
                self.fail(path, _("不是有效日期：{value}").format(value=text))
                return None
            if len(_DATES) < _REMEMBERED:
                _DATES[text] = day
        if day > self.today:
            self.fail(
                path,
                _("日期{day}晚于今天{today}").format(
                    day=day.isoformat(), today=self.today.isoformat()
                ),
            )
            return None
        return day

    def year(self, value: object, path: str, earliest: int, latest: int, why: str) -> int | None:
        """``why`` is the untranslated reason (`N_`): translated only when the year is wrong."""
        number = self.integer(value, path)
        if number is None:
            return None
        if not earliest <= number <= latest:
            self.fail(
                path,
                _("年份{year}不在{earliest}–{latest}之间（{why}）").format(
                    year=number, earliest=earliest, latest=latest, why=_(why)
                ),
            )
            return None
        return number

    def phone(self, value: object, path: str) -> str | None:
        if not isinstance(value, str):
            self.fail(path, _("应为文本，实际为{shown}").format(shown=_shown(value)))
            return None
        number = value.strip().replace(" ", "")
        if not (_MOBILE.fullmatch(number) or _LANDLINE.fullmatch(number)):
            self.fail(
                path,
                _(
                    "不是手机号（1开头11位）或固定电话（区号-号码，如0635-8212345）；"
                    "给出的是{length}个字符"
                ).format(length=len(number)),
            )
            return None
        return number

    # -- the record ---------------------------------------------------------------------

    def record(self, raw: object) -> CadreRecord | None:
        values = self.fields(raw, "", REQUIRED_KEYS, OPTIONAL_KEYS)
        if values is None:
            return None
        cadre_id = self.key(values.get("id"), "id", max_length=MAX_ID) if "id" in values else None
        if cadre_id is not None and not _ID_SHAPE.fullmatch(cadre_id):
            self.fail(
                "id", _("编号只能由拉丁字母、数字和 - _ . 组成，实际为 {id}").format(id=cadre_id)
            )
            cadre_id = None
        name = self.text(values["name"], "name", max_length=MAX_NAME) if "name" in values else None
        gender = self.choice(values["gender"], "gender", GENDERS) if "gender" in values else None
        category = (
            self.choice(values["category"], "category", CATEGORIES)
            if "category" in values
            else None
        )
        branch = self.choice(values["branch"], "branch", BRANCHES) if "branch" in values else None
        if (
            category in CATEGORY_BRANCH
            and branch is not None
            and CATEGORY_BRANCH[category] != branch
        ):
            self.fail(
                "branch",
                _("{category}应属{branch}，而不是{given}（第二、二十条）").format(
                    category=category, branch=CATEGORY_BRANCH[category], given=branch
                ),
            )
        county = (
            self.place(values["county"], "county", max_length=MAX_COUNTY)
            if "county" in values
            else None
        )
        if county is not None and county not in self.counties:
            self.fail(
                "county",
                _("不是聊城市的县（市、区）：{county}；应为以下之一：{listed}").format(
                    county=county, listed=", ".join(self.counties)
                ),
            )
            county = None
        agency = (
            self.place(values["agency"], "agency", max_length=MAX_AGENCY)
            if "agency" in values
            else None
        )
        if agency is not None and agency not in self.agencies:
            self.fail(
                "agency",
                _("不是登记的军休服务管理机构：{agency}；应为以下之一：{listed}").format(
                    agency=agency, listed=", ".join(self.agencies)
                ),
            )
            agency = None
        elif agency is not None and county is not None and self.agencies[agency] != county:
            self.fail(
                "agency",
                _("{agency}服务{served}，不是{county}").format(
                    agency=agency, served=self.agencies[agency], county=county
                ),
            )
            agency = None
        birth = self.birth_date(values)
        placed = self.placed_on(values, birth)
        id_card = self.id_card(values, birth)
        merits = self.merits(values.get("merits"), birth, placed) if "merits" in values else None
        honours = self.honours(values.get("honours"), birth) if "honours" in values else None
        recommendation = self.recommendation(values.get("recommendation"), placed)
        health = self.health(values.get("health"))
        phone = self.phone(values["phone"], "phone") if values.get("phone") is not None else None
        contact = self.family_contact(values.get("family_contact"))
        if (
            self.problems
            or cadre_id is None
            or name is None
            or gender is None
            or category is None
            or branch is None
            or county is None
            or agency is None
            or birth is None
            or placed is None
            or merits is None
            or honours is None
            or health is None
        ):
            return None
        return CadreRecord(
            id=cadre_id,
            name=name,
            gender=gender,
            birth_date=birth,
            category=category,
            branch=branch,
            county=county,
            agency=agency,
            placed_on=placed,
            merits=merits,
            honours=honours,
            recommendation=recommendation,
            health=health,
            id_card=id_card,
            phone=phone,
            family_contact=contact,
        )

    def birth_date(self, values: Mapping[str, Any]) -> date | None:
        if "birth_date" not in values:
            return None
        birth = self.iso_date(values["birth_date"], "birth_date")
        if birth is not None and birth < EARLIEST_BIRTH:
            self.fail(
                "birth_date",
                _("出生日期{birth}早于{earliest}：请核对年份").format(
                    birth=birth.isoformat(), earliest=EARLIEST_BIRTH.isoformat()
                ),
            )
            return None
        return birth

    def placed_on(self, values: Mapping[str, Any], birth: date | None) -> date | None:
        if "placed_on" not in values:
            return None
        placed = self.iso_date(values["placed_on"], "placed_on")
        if placed is not None and birth is not None and placed <= birth:
            self.fail(
                "placed_on",
                _("移交安置日期{placed}不晚于出生日期{birth}").format(
                    placed=placed.isoformat(), birth=birth.isoformat()
                ),
            )
            return None
        return placed

    def id_card(self, values: Mapping[str, Any], birth: date | None) -> str | None:
        value = values.get("id_card")
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(
                "id_card",
                _("应为18位文本，实际为{shown}（在 Excel 中请把该列设为文本）").format(
                    shown=_shown(value)
                ),
            )
            return None
        number = value.strip().upper()
        if (problem := id_card_problem(number, birth)) is not None:
            self.fail("id_card", problem)
            return None
        return number

    def merits(
        self, raw: object, birth: date | None, placed: date | None
    ) -> tuple[Merit, ...] | None:
        items = self.items(raw, "merits")
        if items is None:
            return None
        earliest = max(PLA_FOUNDED, birth.year + YOUNGEST_SERVING_AGE if birth else PLA_FOUNDED)
        latest = placed.year if placed else self.today.year
        merits: list[Merit] = []
        for index, item in enumerate(items, 1):
            path = f"merits[{index}]"
            values = self.fields(item, path, ("class", "wartime", "year"))
            if values is None:
                continue
            klass = None
            if "class" in values:
                klass = self.integer(values["class"], f"{path}.class")
                if klass is not None and klass not in MERIT_CLASSES:
                    self.fail(
                        f"{path}.class",
                        _("应为 1、2 或 3（一/二/三等功），实际为{klass}").format(klass=klass),
                    )
                    klass = None
            wartime = (
                self.boolean(values["wartime"], f"{path}.wartime") if "wartime" in values else None
            )
            year = (
                self.year(
                    values["year"],
                    f"{path}.year",
                    earliest,
                    latest,
                    N_("立功在服役期间、移交安置之前"),
                )
                if "year" in values
                else None
            )
            if klass is not None and wartime is not None and year is not None:
                merits.append(Merit(klass, wartime, year))
        return tuple(merits)

    def honours(self, raw: object, birth: date | None) -> tuple[Honour, ...] | None:
        items = self.items(raw, "honours")
        if items is None:
            return None
        earliest = max(PRC_FOUNDED, birth.year + YOUNGEST_SERVING_AGE if birth else PRC_FOUNDED)
        honours: list[Honour] = []
        for index, item in enumerate(items, 1):
            path = f"honours[{index}]"
            values = self.fields(item, path, ("kind", "level", "year"))
            if values is None:
                continue
            kind = (
                self.choice(values["kind"], f"{path}.kind", HONOUR_KINDS)
                if "kind" in values
                else None
            )
            level = (
                self.choice(values["level"], f"{path}.level", HONOUR_LEVELS)
                if "level" in values
                else None
            )
            year = (
                self.year(
                    values["year"],
                    f"{path}.year",
                    earliest,
                    self.today.year,
                    N_("不早于1949年，不晚于今年"),
                )
                if "year" in values
                else None
            )
            if kind is not None and level is not None and year is not None:
                honours.append(Honour(kind, level, year))
        return tuple(honours)

    def items(self, raw: object, path: str) -> list[Any] | None:
        if not isinstance(raw, list):
            self.fail(
                path,
                _("应为列表（没有则填 []），实际为{shown}").format(shown=_shown(raw)),
            )
            return None
        if len(raw) > MAX_ITEMS:
            too_many = _("条目过多：{count}条，最多{limit}条")
            self.fail(path, too_many.format(count=len(raw), limit=MAX_ITEMS))
            return None
        return raw

    def recommendation(self, raw: object, placed: date | None) -> Recommendation | None:
        if raw is None:
            return None
        values = self.fields(raw, "recommendation", ("by", "reason", "date"))
        if values is None:
            return None
        by = (
            self.choice(values["by"], "recommendation.by", RECOMMENDERS) if "by" in values else None
        )
        reason = (
            self.text(
                values["reason"], "recommendation.reason", max_length=MAX_REASON, multiline=True
            )
            if "reason" in values
            else None
        )
        day = self.iso_date(values["date"], "recommendation.date") if "date" in values else None
        if day is not None and placed is not None and day < placed:
            self.fail(
                "recommendation.date",
                _(
                    "推荐日期{day}早于移交安置日期{placed}："
                    "推荐由县级部门或军休机构在移交安置之后作出（第四条）"
                ).format(day=day.isoformat(), placed=placed.isoformat()),
            )
            day = None
        if by is None or reason is None or day is None:
            return None
        return Recommendation(by, reason, day)

    def health(self, raw: object) -> Health | None:
        if raw is None:
            return Health()
        if (
            type(raw) is dict
            and _HEALTH_KEYS.issuperset(raw)
            and all(type(flag) is bool for flag in raw.values())
        ):
            return Health(**raw)  # the common case: known keys, every flag a boolean
        values = self.fields(raw, "health", (), _HEALTH_KEY_ORDER)
        if values is None:
            return None
        flags = dict(HEALTH_DEFAULTS)
        ok = True
        for key in HEALTH_DEFAULTS:
            if key in values:
                flag = self.boolean(values[key], f"health.{key}")
                if flag is None:
                    ok = False
                else:
                    flags[key] = flag
        return Health(**flags) if ok else None

    def family_contact(self, raw: object) -> FamilyContact | None:
        if raw is None:
            return None
        values = self.fields(raw, "family_contact", ("name", "relation", "phone"))
        if values is None:
            return None
        name = (
            self.text(values["name"], "family_contact.name", max_length=MAX_NAME)
            if "name" in values
            else None
        )
        relation = (
            self.text(values["relation"], "family_contact.relation", max_length=MAX_RELATION)
            if "relation" in values
            else None
        )
        phone = self.phone(values["phone"], "family_contact.phone") if "phone" in values else None
        if name is None or relation is None or phone is None:
            return None
        return FamilyContact(name, relation, phone)
