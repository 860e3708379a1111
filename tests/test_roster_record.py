"""One roster record, field by field, against the record format of docs/roster-formats.md.

Table-driven: each row of a table changes one thing in the format's own example and says which
field must be named and what the message must say. The expectations are written from the format
document, not from the validator.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from workflow.demo.roster import generate_roster
from workflow.errors import InputError
from workflow.i18n import set_language
from workflow.roster import CadreRecord, Health, InvalidRecord, parse_record

TODAY = date(2024, 5, 6)
DELETE = object()  # a mutation value: remove the key

# The example of roster-format.md exactly as published. Its ID number ends in 7, but the
# GB 11643 check digit of 37150219460312001 is 3: the document itself has a typo.
PUBLISHED: dict[str, Any] = {
    "id": "LC-DCF-0001",
    "name": "张建国",
    "gender": "男",
    "birth_date": "1946-03-12",
    "id_card": "371502194603120017",
    "category": "退休干部",
    "branch": "PLA",
    "county": "东昌府区",
    "agency": "东昌府区军休所",
    "placed_on": "2004-09-01",
    "merits": [{"class": 2, "wartime": False, "year": 1979}],
    "honours": [
        {"kind": "commendation", "level": "city", "year": 2021},
        {"kind": "advanced_cadre", "level": "county", "year": 2019},
    ],
    "recommendation": None,
    "health": {"self_care": True, "infectious": False, "mental": False, "critical": False},
    "phone": "13800000000",
    "family_contact": {"name": "张丽", "relation": "女儿", "phone": "13900000000"},
}
GOOD: dict[str, Any] = {**PUBLISHED, "id_card": "371502194603120013"}
REQUIRED = (
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
RECOMMENDATION = {
    "by": "agency",
    "reason": "服役期间参加抢险救灾，事迹特别突出",
    "date": "2024-03-18",
}


def changed(*edits: tuple[str, Any]) -> dict[str, Any]:
    """GOOD with each ``(path, value)`` applied; a path is dotted, list positions from 0."""
    record = copy.deepcopy(GOOD)
    for path, value in edits:
        *parents, last = path.split(".")
        target: Any = record
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is DELETE:
            del target[last]
        else:
            target[last] = value
    return record


@pytest.fixture
def english() -> Iterator[None]:
    """Problems in English (the catalogue's translation, workflow.i18n): the table below was
    written in English, so running it this way checks the translations too."""
    set_language("en")
    yield
    set_language(None)


@pytest.fixture
def chinese() -> Iterator[None]:
    """The officer's default, whatever LANG the test run has."""
    set_language("zh")
    yield
    set_language(None)


def problems_of(record: object) -> dict[str, str]:
    with pytest.raises(InvalidRecord) as caught:
        parse_record(record, today=TODAY)
    return {problem.field: problem.reason for problem in caught.value.problems}


# -- the format's example ------------------------------------------------------------------


def test_the_published_example_fails_only_on_its_check_digit(chinese: None) -> None:
    found = problems_of(PUBLISHED)
    assert set(found) == {"id_card"}
    assert found["id_card"] == "身份证号码校验码错误：第18位应为“3”，实际为“7”"
    set_language("en")
    assert "should be '3', not '7'" in problems_of(PUBLISHED)["id_card"]


def test_the_corrected_example_round_trips_unchanged() -> None:
    record = parse_record(GOOD, today=TODAY)
    assert record.to_json() == GOOD
    assert list(record.to_json()) == list(GOOD)  # the document's key order is kept
    assert record.birth_date == date(1946, 3, 12)
    assert record.merits[0].class_ == 2
    assert record.columns()["birth_date"] == date(1946, 3, 12)


def test_invalid_record_is_an_input_error_naming_the_first_field() -> None:
    with pytest.raises(InputError) as caught:
        parse_record(changed(("gender", "M")), today=TODAY)
    assert caught.value.field == "gender"
    assert caught.value.exit_code == 2


# -- defaults --------------------------------------------------------------------------------


def test_missing_optional_keys_take_the_formats_defaults() -> None:
    minimal = {key: GOOD[key] for key in REQUIRED}
    stored = parse_record(minimal, today=TODAY).to_json()
    assert stored["recommendation"] is None
    assert stored["health"] == {
        "self_care": True,
        "infectious": False,
        "mental": False,
        "critical": False,
    }
    # optional keys without a default are left out, never stored as null
    assert not {"id_card", "phone", "family_contact"} & set(stored)


@pytest.mark.parametrize(
    ("edits", "check"),
    [
        pytest.param([("health", DELETE)], lambda r: r.health == Health(), id="health-missing"),
        pytest.param([("health", None)], lambda r: r.health == Health(), id="health-null"),
        pytest.param([("health", {})], lambda r: r.health == Health(), id="health-empty"),
        pytest.param(
            [("health", {"critical": True})],
            lambda r: r.health == Health(critical=True),
            id="health-partial",
        ),
        pytest.param(
            [("health", {"self_care": False})],
            lambda r: r.health.self_care is False and r.health.mental is False,
            id="health-not-self-caring",
        ),
        pytest.param(
            [("recommendation", DELETE)], lambda r: r.recommendation is None, id="rec-missing"
        ),
        pytest.param(
            [
                ("recommendation", RECOMMENDATION),
                ("merits", [{"class": 3, "wartime": False, "year": 1979}]),
            ],
            lambda r: r.recommendation is not None and r.recommendation.by == "agency",
            id="rec-agency",
        ),
        pytest.param(
            [("recommendation", {**RECOMMENDATION, "by": "county_dept"})],
            lambda r: r.recommendation is not None and r.recommendation.date == date(2024, 3, 18),
            id="rec-county-dept",
        ),
        pytest.param([("id_card", DELETE)], lambda r: r.id_card is None, id="id-card-missing"),
        pytest.param([("id_card", None)], lambda r: r.id_card is None, id="id-card-null"),
        pytest.param(
            [("id_card", "37150219460312003x")],
            lambda r: r.id_card == "37150219460312003X",
            id="id-card-lower-x",
        ),
        pytest.param([("phone", DELETE)], lambda r: r.phone is None, id="phone-missing"),
        pytest.param(
            [("phone", "0635-8212345")], lambda r: r.phone == "0635-8212345", id="landline"
        ),
        pytest.param(
            [("phone", "06358212345")], lambda r: r.phone == "06358212345", id="landline-plain"
        ),
        pytest.param(
            [("phone", "138 0000 0000")], lambda r: r.phone == "13800000000", id="mobile-spaced"
        ),
        pytest.param(
            [("family_contact", DELETE)], lambda r: r.family_contact is None, id="no-contact"
        ),
        pytest.param([("name", "  张建国 ")], lambda r: r.name == "张建国", id="name-trimmed"),
        pytest.param([("merits", [])], lambda r: r.merits == (), id="no-merits"),
        pytest.param([("honours", [])], lambda r: r.honours == (), id="no-honours"),
        pytest.param(
            [("merits.0.year", 2004)],
            lambda r: r.merits[0].year == 2004,
            id="merit-in-placement-year",
        ),
        pytest.param(
            [("merits.0.year", 1960)], lambda r: r.merits[0].year == 1960, id="merit-at-14"
        ),
        pytest.param(
            [("merits", [{"class": 3, "wartime": True, "year": 1979}])],
            lambda r: r.merits[0].wartime is True,
            id="wartime-merit",
        ),
        pytest.param(
            [("honours.0.year", 1999)],
            lambda r: r.honours[0].year == 1999,
            id="honour-before-placement",
        ),
        pytest.param(
            [("honours.0.level", "military")],
            lambda r: r.honours[0].level == "military",
            id="military",
        ),
        pytest.param([("category", "退休军士")], lambda r: r.category == "退休军士", id="pla-nco"),
        pytest.param(
            [("category", "退休警士"), ("branch", "PAP")], lambda r: r.branch == "PAP", id="pap-nco"
        ),
        pytest.param(
            [("category", "离休干部"), ("branch", "PAP")],
            lambda r: r.branch == "PAP",
            id="lixiu-pap",
        ),
        pytest.param([("gender", "女")], lambda r: r.gender == "女", id="female"),
    ],
)
def test_valid_variants(edits: list[tuple[str, Any]], check: Any) -> None:
    assert check(parse_record(changed(*edits), today=TODAY))


# -- one problem per row -----------------------------------------------------------------------

INVALID: list[Any] = [
    # structure
    *(pytest.param([(key, DELETE)], key, "required", id=f"missing-{key}") for key in REQUIRED),
    pytest.param([("nickname", "老张")], "nickname", "unknown field", id="unknown-key"),
    pytest.param([("helth", {})], "helth", "unknown field", id="misspelt-key"),
    # id
    pytest.param([("id", "")], "id", "must not be empty", id="id-empty"),
    pytest.param([("id", "   ")], "id", "must not be empty", id="id-blank"),
    pytest.param([("id", 1)], "id", "must be text", id="id-number"),
    pytest.param([("id", "X" * 65)], "id", "at most 64", id="id-too-long"),
    pytest.param([("id", "LC\x00-1")], "id", "control character", id="id-nul"),
    # name
    pytest.param([("name", None)], "name", "must be text", id="name-null"),
    pytest.param([("name", "张" * 101)], "name", "at most 100", id="name-too-long"),
    pytest.param([("name", "张\ud800")], "name", "control character", id="name-surrogate"),
    # gender
    pytest.param([("gender", "M")], "gender", "must be one of: 男, 女", id="gender-latin"),
    pytest.param([("gender", "男性")], "gender", "must be one of", id="gender-word"),
    pytest.param([("gender", 1)], "gender", "must be one of", id="gender-number"),
    # birth_date
    pytest.param([("birth_date", "1946/03/12")], "birth_date", "YYYY-MM-DD", id="birth-slashes"),
    pytest.param([("birth_date", "19460312")], "birth_date", "YYYY-MM-DD", id="birth-basic-iso"),
    pytest.param([("birth_date", "1946-3-12")], "birth_date", "YYYY-MM-DD", id="birth-short"),
    pytest.param(
        [("birth_date", "１９４６-03-12")], "birth_date", "YYYY-MM-DD", id="birth-fullwidth"
    ),
    pytest.param([("birth_date", "1946-02-30")], "birth_date", "not a real", id="birth-feb-30"),
    pytest.param([("birth_date", 1946)], "birth_date", "YYYY-MM-DD", id="birth-number"),
    pytest.param([("birth_date", "2030-01-01")], "birth_date", "in the future", id="birth-future"),
    pytest.param([("birth_date", "1899-12-31")], "birth_date", "born before 1900", id="birth-1899"),
    # id_card
    pytest.param([("id_card", "37150219460312001")], "id_card", "18 characters", id="card-17"),
    pytest.param([("id_card", "371502194603120017")], "id_card", "check digit", id="card-check"),
    pytest.param([("id_card", "371502194603130019")], "id_card", "does not match", id="card-birth"),
    pytest.param(
        [("id_card", "3715021946031200AX")], "id_card", "must be digits", id="card-letters"
    ),
    pytest.param(
        [("id_card", 371502194603120013)], "id_card", "must be 18 characters", id="card-int"
    ),
    # category and branch (art. 2, art. 20)
    pytest.param([("category", "退休")], "category", "must be one of", id="category-short"),
    pytest.param([("category", "retired")], "category", "must be one of", id="category-english"),
    pytest.param([("branch", "pla")], "branch", "must be one of: PLA, PAP", id="branch-lowercase"),
    pytest.param([("branch", "解放军")], "branch", "must be one of", id="branch-chinese"),
    pytest.param([("category", "退休警士")], "branch", "art. 2, art. 20", id="police-nco-in-pla"),
    pytest.param(
        [("category", "退休军士"), ("branch", "PAP")],
        "branch",
        "served in the PLA",
        id="nco-in-pap",
    ),
    # county and agency
    pytest.param([("county", "")], "county", "must not be empty", id="county-empty"),
    pytest.param([("county", "区" * 101)], "county", "at most 100", id="county-too-long"),
    pytest.param([("agency", "所" * 201)], "agency", "at most 200", id="agency-too-long"),
    pytest.param([("agency", ["东昌府区军休所"])], "agency", "must be text", id="agency-list"),
    # placed_on
    pytest.param(
        [("placed_on", "1940-01-01")], "placed_on", "after the birth date", id="placed-early"
    ),
    pytest.param(
        [("placed_on", "1946-03-12")], "placed_on", "after the birth date", id="placed-at-birth"
    ),
    pytest.param([("placed_on", "2025-01-01")], "placed_on", "in the future", id="placed-future"),
    pytest.param([("placed_on", "2004-09-31")], "placed_on", "not a real", id="placed-sep-31"),
    # merits
    pytest.param([("merits", None)], "merits", "must be a list", id="merits-null"),
    pytest.param([("merits", {"class": 2})], "merits", "must be a list", id="merits-object"),
    pytest.param([("merits", [2])], "merits[1]", "must be an object", id="merit-number"),
    pytest.param([("merits.0.class", DELETE)], "merits[1].class", "required", id="merit-no-class"),
    pytest.param(
        [("merits.0.wartime", DELETE)], "merits[1].wartime", "required", id="merit-no-wartime"
    ),
    pytest.param([("merits.0.grade", 2)], "merits[1].grade", "unknown field", id="merit-unknown"),
    pytest.param([("merits.0.class", 4)], "merits[1].class", "must be 1, 2 or 3", id="class-4"),
    pytest.param([("merits.0.class", 0)], "merits[1].class", "must be 1, 2 or 3", id="class-0"),
    pytest.param([("merits.0.class", "2")], "merits[1].class", "whole number", id="class-text"),
    pytest.param([("merits.0.class", 2.0)], "merits[1].class", "whole number", id="class-float"),
    pytest.param([("merits.0.class", True)], "merits[1].class", "whole number", id="class-bool"),
    pytest.param(
        [("merits.0.wartime", "false")], "merits[1].wartime", "true or false", id="wartime-text"
    ),
    pytest.param([("merits.0.wartime", 0)], "merits[1].wartime", "true or false", id="wartime-0"),
    pytest.param([("merits.0.year", "1979")], "merits[1].year", "whole number", id="year-text"),
    pytest.param(
        [("merits.0.year", 1926)], "merits[1].year", "between 1960", id="merit-before-pla"
    ),
    pytest.param([("merits.0.year", 1955)], "merits[1].year", "between 1960", id="merit-as-child"),
    pytest.param(
        [("merits.0.year", 2005)], "merits[1].year", "and 2004", id="merit-after-placement"
    ),
    pytest.param([("merits.0.year", 2079)], "merits[1].year", "in service", id="merit-typo"),
    pytest.param(
        [("merits", [{"class": 2, "wartime": False, "year": 1979}] * 51)],
        "merits",
        "more than 50",
        id="merits-pasted",
    ),
    # honours
    pytest.param([("honours", None)], "honours", "must be a list", id="honours-null"),
    pytest.param([("honours.1.kind", "award")], "honours[2].kind", "commendation", id="kind"),
    pytest.param(
        [("honours.0.level", "City")], "honours[1].level", "must be one of", id="level-case"
    ),
    pytest.param(
        [("honours.0.level", "市级")], "honours[1].level", "must be one of", id="level-zh"
    ),
    pytest.param(
        [("honours.0.level", DELETE)], "honours[1].level", "required", id="honour-no-level"
    ),
    pytest.param(
        [("honours.0.year", 2025)], "honours[1].year", "not in the future", id="honour-future"
    ),
    pytest.param(
        [("honours.0.year", 1948)], "honours[1].year", "between 1960", id="honour-too-early"
    ),
    pytest.param(
        [("honours.0.year", "2021")], "honours[1].year", "whole number", id="honour-year-text"
    ),
    pytest.param(
        [("honours.0.date", "2021-01-01")], "honours[1].date", "unknown", id="honour-date"
    ),
    # recommendation (A4.3)
    pytest.param([("recommendation", "县民政局推荐")], "recommendation", "object", id="rec-text"),
    pytest.param([("recommendation", {})], "recommendation.by", "required", id="rec-empty"),
    pytest.param(
        [("recommendation", {**RECOMMENDATION, "by": "city_dept"})],
        "recommendation.by",
        "county_dept, agency",
        id="rec-by-city",
    ),
    pytest.param(
        [("recommendation", {**RECOMMENDATION, "reason": "  "})],
        "recommendation.reason",
        "must not be empty",
        id="rec-no-reason",
    ),
    pytest.param(
        [("recommendation", {**RECOMMENDATION, "date": "2024-13-01"})],
        "recommendation.date",
        "not a real",
        id="rec-bad-date",
    ),
    pytest.param(
        [("recommendation", {**RECOMMENDATION, "date": "2003-01-01"})],
        "recommendation.date",
        "after placement",
        id="rec-before-placement",
    ),
    pytest.param(
        [("recommendation", {**RECOMMENDATION, "date": "2024-05-07"})],
        "recommendation.date",
        "in the future",
        id="rec-tomorrow",
    ),
    pytest.param(
        [("recommendation", {**RECOMMENDATION, "approver": "王芳"})],
        "recommendation.approver",
        "unknown field",
        id="rec-unknown",
    ),
    # health (art. 8)
    pytest.param([("health", "良好")], "health", "object", id="health-text"),
    pytest.param(
        [("health.self_care", "true")], "health.self_care", "true or false", id="self-care-text"
    ),
    pytest.param([("health.mental", 1)], "health.mental", "true or false", id="mental-1"),
    pytest.param(
        [("health.diabetes", True)], "health.diabetes", "unknown field", id="health-unknown"
    ),
    # phone and family contact (personal data)
    pytest.param([("phone", "1380000000")], "phone", "11 digits", id="phone-10"),
    pytest.param([("phone", "23800000000")], "phone", "11 digits", id="phone-2"),
    pytest.param([("phone", "138-0000-0000")], "phone", "11 digits", id="phone-dashes"),
    pytest.param([("phone", 13800000000)], "phone", "must be text", id="phone-int"),
    pytest.param(
        [("family_contact", "张丽 13900000000")], "family_contact", "object", id="contact-text"
    ),
    pytest.param(
        [("family_contact.phone", DELETE)], "family_contact.phone", "required", id="contact-phone"
    ),
    pytest.param(
        [("family_contact.phone", "139")], "family_contact.phone", "mobile", id="contact-bad-phone"
    ),
    pytest.param(
        [("family_contact.name", "")], "family_contact.name", "must not be empty", id="contact-name"
    ),
    pytest.param(
        [("family_contact.age", 40)], "family_contact.age", "unknown field", id="contact-unknown"
    ),
]


@pytest.mark.parametrize(("edits", "field", "reason"), INVALID)
def test_invalid_field(
    edits: list[tuple[str, Any]], field: str, reason: str, english: None
) -> None:
    found = problems_of(changed(*edits))
    assert field in found, found
    assert reason in found[field]
    # the officer's default is Chinese: the same field named, in one language, not two
    set_language("zh")
    chinese = problems_of(changed(*edits))[field]
    assert re.search("[\u4e00-\u9fff]", chinese), chinese
    assert chinese != found[field]
    assert " / " not in chinese


def test_a_problem_speaks_chinese_by_default_and_english_when_asked(chinese: None) -> None:
    record = changed(("gender", "M"), ("merits.0.class", 4), ("phone", 13800000000))
    found = problems_of(record)
    assert found["gender"] == "应为以下之一：男, 女；实际为文本 'M'"
    assert found["merits[1].class"] == "应为 1、2 或 3（一/二/三等功），实际为4"
    assert found["phone"] == "应为文本，实际为数字 13800000000"
    with pytest.raises(InvalidRecord) as caught:
        parse_record(record, today=TODAY)
    assert "；" in str(caught.value)  # problems joined in the officer's punctuation
    set_language("en")
    found = problems_of(record)
    assert found["gender"] == "must be one of: 男, 女; got the text 'M'"
    assert found["merits[1].class"] == "must be 1, 2 or 3, got 4"
    assert found["phone"] == "must be text, got the number 13800000000"


@pytest.mark.parametrize(
    "raw", [None, [], "LC-DCF-0001", 42], ids=["null", "list", "text", "number"]
)
def test_a_record_must_be_an_object(raw: object, english: None) -> None:
    assert "must be an object" in problems_of(raw)["record"]


def test_every_problem_of_a_record_is_reported_at_once() -> None:
    found = problems_of(
        changed(
            ("gender", "M"),
            ("birth_date", "1946-02-30"),
            ("merits.0.class", 5),
            ("health.mental", "no"),
            ("phone", "12"),
        )
    )
    assert set(found) == {"gender", "birth_date", "merits[1].class", "health.mental", "phone"}


def test_a_bad_birth_date_does_not_cascade() -> None:
    """placed_on, the ID number and the merit years depend on birth_date; when it is unreadable
    only birth_date is blamed, not every field compared with it."""
    assert set(problems_of(changed(("birth_date", "unknown")))) == {"birth_date"}


@pytest.mark.parametrize(
    ("field", "value", "secret"),
    [
        ("phone", "1380013800", "1380013800"),
        ("id_card", "371502194603120017", "371502194603120017"),
        ("family_contact.phone", "139000", "139000"),
    ],
)
def test_personal_data_is_not_repeated_in_messages(field: str, value: str, secret: str) -> None:
    found = problems_of(changed((field, value)))
    assert secret not in found[field]


# -- the generated roster is in the format -----------------------------------------------------


def test_generated_records_validate_and_round_trip() -> None:
    for raw in generate_roster(2_000, 7, as_of=date(2024, 3, 1)):
        record = parse_record(raw, today=TODAY)
        assert isinstance(record, CadreRecord)
        assert record.to_json() == raw


def test_messages_name_the_numbers_an_officer_can_check() -> None:
    reason = problems_of(changed(("merits.0.year", 2079)))["merits[1].year"]
    assert re.search(r"2079.*1960.*2004", reason)
