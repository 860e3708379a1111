"""GB 11643-1999 resident ID numbers: check digit, construction, and what a bad number is told."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from workflow.i18n import set_language
from workflow.idcard import check_digit, id_card_problem, make_id_card


@pytest.fixture
def chinese() -> Iterator[None]:
    """The officer's default language, whatever LANG the test run has; English is one
    `set_language` away (workflow.i18n)."""
    set_language("zh")
    yield
    set_language(None)


# The standard: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 on the first 17 digits, the sum mod 11
# indexes "10X98765432". Each case spells out the non-zero products, so the expected digit is
# worked out by hand here, independently of the code under test.
HAND_COMPUTED = [
    pytest.param(
        "11010519491231002",
        1 * 7 + 1 * 9 + 1 * 5 + 5 * 4 + 1 * 2 + 9 * 1 + 4 * 6 + 9 * 3 + 1 * 7 + 2 * 9 + 3 * 10
        + 1 * 5 + 2 * 2,
        "X",
        id="gb11643-example-sum-167-mod-2-is-X",
    ),
    pytest.param(
        "44052418800101001",
        4 * 7 + 4 * 9 + 5 * 5 + 2 * 8 + 4 * 4 + 1 * 2 + 8 * 1 + 8 * 6 + 1 * 9 + 1 * 5 + 1 * 2,
        "4",
        id="guangdong-sum-195-mod-8-is-4",
    ),
    pytest.param(
        "37150219460312001",
        3 * 7 + 7 * 9 + 1 * 10 + 5 * 5 + 2 * 4 + 1 * 2 + 9 * 1 + 4 * 6 + 6 * 3 + 3 * 9 + 1 * 10
        + 2 * 5 + 1 * 2,
        "3",
        id="dongchangfu-1946-sum-229-mod-9-is-3",
    ),
    pytest.param(
        "37152219620524817",
        3 * 7 + 7 * 9 + 1 * 10 + 5 * 5 + 2 * 8 + 2 * 4 + 1 * 2 + 9 * 1 + 6 * 6 + 2 * 3 + 5 * 9
        + 2 * 10 + 4 * 5 + 8 * 8 + 1 * 4 + 7 * 2,
        "1",
        id="shenxian-1962-sum-363-mod-0-is-1",
    ),
    pytest.param(
        "37158119490812514",
        3 * 7 + 7 * 9 + 1 * 10 + 5 * 5 + 8 * 8 + 1 * 4 + 1 * 2 + 9 * 1 + 4 * 6 + 9 * 3 + 8 * 9
        + 1 * 10 + 2 * 5 + 5 * 8 + 1 * 4 + 4 * 2,
        "4",
        id="linqing-1949-sum-393-mod-8-is-4",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("first17", "weighted_sum", "expected"), HAND_COMPUTED)
def test_check_digit_matches_the_hand_computation(
    first17: str, weighted_sum: int, expected: str
) -> None:
    assert "10X98765432"[weighted_sum % 11] == expected
    assert check_digit(first17) == expected


@pytest.mark.parametrize(("first17", "weighted_sum", "expected"), HAND_COMPUTED)
def test_a_hand_computed_number_is_valid(first17: str, weighted_sum: int, expected: str) -> None:
    digits = first17[6:14]
    birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    assert id_card_problem(first17 + expected, birth) is None
    assert id_card_problem(first17 + expected, None) is None


def test_the_roster_format_example_number_has_a_wrong_check_digit(chinese: None) -> None:
    """roster-format.md shows 371502194603120017; its check digit should be 3, not 7."""
    problem = id_card_problem("371502194603120017", date(1946, 3, 12))
    assert problem == "身份证号码校验码错误：第18位应为“3”，实际为“7”"
    set_language("en")
    problem = id_card_problem("371502194603120017", date(1946, 3, 12))
    assert problem == "wrong check digit: the 18th character should be '3', not '7'"
    assert id_card_problem("371502194603120013", date(1946, 3, 12)) is None


def test_a_lower_case_x_check_character_is_accepted() -> None:
    assert id_card_problem("11010519491231002x", date(1949, 12, 31)) is None


@pytest.mark.parametrize(
    ("value", "birth", "chinese", "english"),
    [
        pytest.param("", None, "应为18位，实际为0位", "this one has 0", id="empty"),
        pytest.param(
            "37150219460312001", None, "实际为17位", "this one has 17", id="17-characters"
        ),
        pytest.param(
            "3715021946031200133", None, "实际为19位", "this one has 19", id="19-characters"
        ),
        pytest.param(
            "371502A94603120013", None, "第7位是“A”", "character 7 is 'A'", id="letter-inside"
        ),
        pytest.param(
            "３71502194603120013", None, "第1位是“３”", "character 1 is '３'", id="full-width-digit"
        ),
        pytest.param(
            "37150219460312 013", None, "第15位是“ ”", "character 15 is ' '", id="space-inside"
        ),
        pytest.param(
            "37150219460312001Y", None, "第18位（校验码）应为数字或X", "not 'Y'", id="check-not-x"
        ),
        pytest.param(
            "371502194602300017", None, "“19460230”不是有效日期", "14, 19460230,", id="30-february"
        ),
        pytest.param(
            "371502194613120017", None, "“19461312”不是有效日期", "not a valid date", id="month-13"
        ),
        pytest.param(
            "371502000003120017", None, "“00000312”不是有效日期", "not a valid date", id="year-0"
        ),
        pytest.param(
            "371502194603120013",
            date(1946, 3, 21),
            "出生日期1946-03-12与出生日期1946-03-21不一致",
            "does not match the record's birth date 1946-03-21",
            id="birth-date-mismatch",
        ),
        pytest.param(
            "11010519491231002X",
            date(1949, 12, 30),
            "不一致",
            "1949-12-31, does not match",
            id="mismatch-by-one-day",
        ),
        pytest.param(
            "371502194603120017",
            date(1946, 3, 12),
            "第18位应为“3”，实际为“7”",
            "should be '3', not '7'",
            id="wrong-check-digit",
        ),
        pytest.param(
            "110105194912310029",
            None,
            "第18位应为“X”，实际为“9”",
            "should be 'X', not '9'",
            id="digit-where-x-expected",
        ),
        pytest.param(
            "44052418800101001X",
            date(1880, 1, 1),
            "第18位应为“4”，实际为“X”",
            "should be '4', not 'X'",
            id="x-where-digit-expected",
        ),
    ],
)
def test_a_bad_number_is_explained_in_chinese_and_english(
    value: str, birth: date | None, chinese: str, english: str
) -> None:
    """Chinese by default, English with the language set to en: one language at a time."""
    set_language("zh")
    try:
        problem = id_card_problem(value, birth)
        assert problem is not None
        assert chinese in problem
        assert english not in problem
        set_language("en")
        problem = id_card_problem(value, birth)
        assert problem is not None
        assert english in problem
        assert chinese not in problem
    finally:
        set_language(None)


def test_transposed_digits_are_caught_by_the_check_digit() -> None:
    valid = "371522196205248171"
    swapped = valid[:14] + valid[15] + valid[14] + valid[16:]
    assert id_card_problem(valid, date(1962, 5, 24)) is None
    assert id_card_problem(swapped, date(1962, 5, 24)) is not None


@pytest.mark.parametrize(
    ("region", "birth", "sequence", "female", "expected"),
    [
        pytest.param("371502", date(1946, 3, 12), 1, False, "371502194603120013", id="man-001"),
        pytest.param("371502", date(1946, 3, 12), 0, False, "371502194603120013", id="man-from-0"),
        pytest.param("110105", date(1949, 12, 31), 2, True, "11010519491231002X", id="woman-002"),
        pytest.param(
            "110105", date(1949, 12, 31), 3, True, "11010519491231002X", id="woman-from-3"
        ),
        pytest.param("371581", date(1949, 8, 12), 514, True, "371581194908125144", id="woman-514"),
        pytest.param("371522", date(1962, 5, 24), 817, False, "371522196205248171", id="man-817"),
    ],
)
def test_make_id_card_builds_the_number_by_hand(
    region: str, birth: date, sequence: int, female: bool, expected: str
) -> None:
    assert make_id_card(region, birth, sequence, female) == expected


@pytest.mark.parametrize("sequence", [0, 1, 2, 57, 500, 998, 999])
@pytest.mark.parametrize("female", [False, True], ids=["man", "woman"])
def test_make_id_card_is_valid_and_encodes_gender(sequence: int, female: bool) -> None:
    birth = date(1952, 2, 29)
    number = make_id_card("371525", birth, sequence, female)
    assert len(number) == 18
    assert number.startswith("37152519520229")
    assert id_card_problem(number, birth) is None
    assert int(number[16]) % 2 == (0 if female else 1)  # 17th digit: odd for men, even for women
    assert abs(int(number[14:17]) - sequence) <= 1


@pytest.mark.parametrize(
    ("region", "sequence"),
    [
        pytest.param("37150", 1, id="region-5-digits"),
        pytest.param("3715021", 1, id="region-7-digits"),
        pytest.param("37150X", 1, id="region-letter"),
        pytest.param("371502", -1, id="sequence-negative"),
        pytest.param("371502", 1000, id="sequence-4-digits"),
    ],
)
def test_make_id_card_refuses_what_cannot_be_encoded(region: str, sequence: int) -> None:
    with pytest.raises(ValueError, match=r"region|sequence"):
        make_id_card(region, date(1950, 1, 1), sequence, False)


@pytest.mark.parametrize(
    "first17",
    [
        pytest.param("1101051949123100", id="16-digits"),
        pytest.param("110105194912310021", id="18-digits"),
        pytest.param("1101051949123100X", id="letter"),
        pytest.param("１1010519491231002", id="full-width"),
    ],
)
def test_check_digit_refuses_anything_but_17_digits(first17: str) -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        check_digit(first17)
