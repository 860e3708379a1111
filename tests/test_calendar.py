"""Working-day arithmetic against the State Council notices, and the override file's errors.

The dates below are those of the notices for 2024 and 2025 (国办发明电), checked against the
``chinese-calendar`` package's tables; the working-day timers serve A7.1 and A9.3.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.calendar import (
    CalendarDataError,
    CalendarFileError,
    WorkingCalendar,
    default_calendar,
)
from workflow.clock import SHANGHAI
from workflow.errors import InputError
from workflow.i18n import set_language

CAL = default_calendar()
D = date.fromisoformat
# starts far enough from the end of the data that 100 working days still fit
covered_starts = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 6, 30))


@pytest.fixture
def english() -> Iterator[None]:
    """The override file's problems in English (the catalogue's translation, workflow.i18n):
    the table below was written in English, and running it so checks the translations too."""
    set_language("en")
    yield
    set_language(None)


def _write(tmp_path: Path, text: str, name: str = "holidays.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- is_working_day ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # Spring Festival 2024: 2-10..2-17 off; Sundays 2-4 and 2-18 are make-up working days
        ("2024-02-04", True),
        ("2024-02-09", True),  # 除夕 was not a statutory holiday in 2024
        ("2024-02-10", False),
        ("2024-02-12", False),  # a Monday inside the holiday
        ("2024-02-17", False),
        ("2024-02-18", True),
        ("2024-02-24", False),  # an ordinary Saturday
        # National Day 2024: 10-1..10-7 off; Sun 9-29 and Sat 10-12 worked
        ("2024-09-29", True),
        ("2024-10-07", False),
        ("2024-10-08", True),
        ("2024-10-12", True),
        ("2024-10-13", False),
        # Spring Festival 2025: 1-28..2-4 off; Sun 1-26 and Sat 2-8 worked
        ("2025-01-26", True),
        ("2025-01-28", False),
        ("2025-02-04", False),
        ("2025-02-05", True),
        ("2025-02-08", True),
        # National Day and Mid-autumn 2025: 10-1..10-8 off; Sun 9-28 and Sat 10-11 worked
        ("2025-09-28", True),
        ("2025-10-08", False),
        ("2025-10-09", True),
        ("2025-10-11", True),
        ("2024-03-06", True),  # an ordinary Wednesday
    ],
)
def test_is_working_day_follows_the_notices(day: str, working: bool) -> None:
    assert CAL.is_working_day(D(day)) is working


def test_every_covered_day_agrees_with_the_package() -> None:
    day = date(CAL.first_year, 1, 1)
    while day.year <= CAL.last_year:
        assert CAL.is_working_day(day) is chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_covered_years_are_those_of_the_package() -> None:
    assert (CAL.first_year, CAL.last_year) == (2004, 2026)
    assert CAL.covers(D("2004-01-01"))
    assert CAL.covers(D("2026-12-31"))
    assert not CAL.covers(D("2003-12-31"))
    assert not CAL.covers(D("2027-01-01"))


# --- add --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "amount", "deadline"),
    [
        # Thu 2-8: Fri 2-9 (1), holiday 2-10..17, Sun 2-18 make-up (2), 2-19 (3), 2-20 (4), 2-21
        ("2024-02-08", 5, "2024-02-21"),
        ("2024-02-08", 2, "2024-02-18"),  # the deadline itself falls on the make-up Sunday
        ("2024-02-02", 1, "2024-02-04"),  # Friday → make-up Sunday, not Monday
        ("2024-02-12", 1, "2024-02-18"),  # start on a holiday: the start is never counted
        ("2024-02-18", 1, "2024-02-19"),
        ("2024-09-27", 1, "2024-09-29"),
        ("2024-10-03", 1, "2024-10-08"),
        ("2024-10-03", 5, "2024-10-12"),  # 10-8..10-11, then the make-up Saturday
        ("2025-01-24", 1, "2025-01-26"),
        ("2025-01-27", 1, "2025-02-05"),
        ("2025-01-27", 5, "2025-02-10"),  # 2-5, 2-6, 2-7, Sat 2-8, then Monday 2-10
        ("2025-09-30", 1, "2025-10-09"),
        ("2025-09-30", 3, "2025-10-11"),
        ("2024-03-08", 1, "2024-03-11"),  # ordinary Friday → Monday
        ("2026-12-30", 1, "2026-12-31"),  # the last covered day is still reachable
    ],
)
def test_add_working_days(start: str, amount: int, deadline: str) -> None:
    assert CAL.add(D(start), amount, "working_days") == D(deadline)


@pytest.mark.parametrize("start", ["2024-02-12", "2024-03-06", "2024-03-09"])
def test_zero_working_days_is_the_start_itself(start: str) -> None:
    assert CAL.add(D(start), 0, "working_days") == D(start)
    assert CAL.working_days_between(D(start), D(start)) == 0


@pytest.mark.parametrize("unit", ["working_days", "calendar_days"])
def test_a_negative_amount_is_refused(unit: str) -> None:
    with pytest.raises(InputError, match="不能为负") as raised:
        CAL.add(D("2024-03-06"), -1, unit)  # type: ignore[arg-type]
    assert raised.value.field == "amount"
    assert not isinstance(raised.value, CalendarDataError)


@pytest.mark.parametrize("amount", [True, 1.5, "3"])
def test_a_non_integer_amount_is_refused(amount: object) -> None:
    with pytest.raises(InputError, match="整数"):
        CAL.add(D("2024-03-06"), amount, "working_days")  # type: ignore[arg-type]


def test_an_unknown_unit_is_refused() -> None:
    with pytest.raises(InputError, match="calendar_days") as raised:
        CAL.add(D("2024-03-06"), 1, "hours")  # type: ignore[arg-type]
    assert raised.value.field == "unit"


def test_a_datetime_is_refused_so_its_time_zone_cannot_shift_the_day() -> None:
    moment = datetime(2024, 2, 8, 23, 30, tzinfo=SHANGHAI)
    with pytest.raises(InputError, match="shanghai_date"):
        CAL.add(moment, 1, "working_days")
    with pytest.raises(InputError, match="shanghai_date"):
        CAL.is_working_day(moment)


def test_calendar_days_ignore_holidays_and_need_no_data() -> None:
    assert CAL.add(D("2024-09-30"), 3, "calendar_days") == D("2024-10-03")
    assert CAL.add(D("2024-02-08"), 0, "calendar_days") == D("2024-02-08")
    assert CAL.add(D("2030-12-30"), 7, "calendar_days") == D("2031-01-06")


def test_working_days_between_counts_the_half_open_interval() -> None:
    assert CAL.working_days_between(D("2024-02-08"), D("2024-02-21")) == 5
    assert CAL.working_days_between(D("2024-02-21"), D("2024-02-08")) == -5
    assert CAL.working_days_between(D("2024-09-30"), D("2024-10-07")) == 0
    assert CAL.working_days_between(D("2024-09-28"), D("2024-09-29")) == 1


# --- beyond the data --------------------------------------------------------------------------


def test_a_deadline_past_the_data_names_the_missing_year() -> None:
    with pytest.raises(CalendarDataError, match="2027 年") as raised:
        CAL.add(D("2026-12-24"), 10, "working_days")
    assert raised.value.year == 2027
    assert "覆盖文件" in str(raised.value)
    assert "years: {2027: {holidays:" in str(raised.value)


@pytest.mark.parametrize(
    ("call", "year"),
    [
        (lambda: CAL.is_working_day(D("2027-01-04")), 2027),
        (lambda: CAL.is_working_day(D("2003-12-31")), 2003),
        (lambda: CAL.add(D("2003-12-31"), 1, "working_days"), 2003),
        (lambda: CAL.add(D("2031-01-01"), 0, "working_days"), 2031),
        (lambda: CAL.working_days_between(D("2026-12-01"), D("2027-01-10")), 2027),
    ],
    ids=["is_working_day", "before", "add-start", "add-zero", "between"],
)
def test_no_silent_guess_outside_the_data(call: object, year: int) -> None:
    with pytest.raises(CalendarDataError, match=f"{year} 年") as raised:
        call()  # type: ignore[operator]
    assert raised.value.year == year
    assert raised.value.exit_code == 5  # "calendar data missing", not bad input


def test_the_calendar_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CAL.last_year = 2030  # type: ignore[misc]


def test_add_is_fast() -> None:
    start = D("2024-02-08")
    began = time.perf_counter()
    for _ in range(10_000):
        CAL.add(start, 10, "working_days")
    assert time.perf_counter() - began < 0.5  # a few microseconds each; generous for slow CI


# --- properties -------------------------------------------------------------------------------


@given(covered_starts, st.integers(0, 100), st.integers(0, 100))
def test_add_is_monotone_in_the_amount(start: date, m: int, n: int) -> None:
    m, n = sorted((m, n))
    first, second = CAL.add(start, m, "working_days"), CAL.add(start, n, "working_days")
    assert first <= second
    assert (first == second) is (m == n)


@given(covered_starts, st.integers(0, 100))
def test_between_undoes_add(start: date, n: int) -> None:
    deadline = CAL.add(start, n, "working_days")
    assert CAL.working_days_between(start, deadline) == n
    if n:
        assert deadline > start
        assert CAL.is_working_day(deadline)


@given(covered_starts, st.integers(1, 30))
def test_add_matches_a_day_by_day_walk_with_the_package(start: date, n: int) -> None:
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    assert CAL.add(start, n, "working_days") == day


# --- override file ----------------------------------------------------------------------------

# Illustrative 2027 data in the shape of a notice (not the real 2027 notice, unpublished as of
# chinese-calendar 1.11): New Year Fri 1-1..Sun 1-3, a Spring Festival week with a make-up Sunday.
YEAR_2027 = """\
years:
  2027:
    holidays: [2027-01-01, 2027-01-02, 2027-01-03,
               2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09, 2027-02-10,
               2027-02-11, 2027-02-12, 2027-02-13]
    workdays: [2027-02-14]
"""


def test_an_override_year_extends_the_range(tmp_path: Path) -> None:
    calendar = default_calendar(_write(tmp_path, YEAR_2027))
    assert (calendar.first_year, calendar.last_year) == (2004, 2027)
    assert calendar.add(D("2026-12-31"), 1, "working_days") == D("2027-01-04")
    assert calendar.add(D("2027-02-05"), 1, "working_days") == D("2027-02-14")
    assert calendar.is_working_day(D("2024-02-18"))  # built-in years are kept
    assert CAL.last_year == 2026  # the built-in calendar is untouched
    with pytest.raises(CalendarDataError, match="2028 年"):
        calendar.is_working_day(D("2028-01-03"))


def test_an_override_year_replaces_a_built_in_year_whole(tmp_path: Path) -> None:
    path = _write(tmp_path, "years: {2024: {holidays: [2024-01-01, 2024-02-09], workdays: []}}")
    calendar = default_calendar(path)
    assert not calendar.is_working_day(D("2024-02-09"))
    assert calendar.is_working_day(D("2024-02-12"))  # not in the file's 2024, so a weekday
    assert not calendar.is_working_day(D("2024-02-18"))  # nor is the make-up Sunday
    assert calendar.is_working_day(D("2025-02-08"))


def test_from_yaml_without_a_base_covers_only_the_file(tmp_path: Path) -> None:
    calendar = WorkingCalendar.from_yaml(_write(tmp_path, YEAR_2027))
    assert (calendar.first_year, calendar.last_year) == (2027, 2027)
    assert not calendar.covers(D("2026-12-31"))


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("years: [2027\n", 2, "YAML syntax error"),
        ("", 1, "the file is empty"),
        ("year: {}\n", 1, "one key, 'years'"),
        ("years: {}\nextra: 1\n", 2, "unknown key 'extra'"),
        ("years:\n  20x7: {holidays: [2027-01-01], workdays: []}\n", 2, "'20x7' is not a year"),
        ("years:\n  2027:\n    holidays: [2027-01-01]\n", 2, "no 'workdays' list"),
        ("years:\n  2027:\n    holidays: []\n    workdays: []\n", 3, "lists no holidays"),
        ("years:\n  2027:\n    holidays: [2027-02-30]\n    workdays: []\n", 3, "'2027-02-30'"),
        ("years:\n  2027:\n    holidays: [2027-1-1]\n    workdays: []\n", 3, "YYYY-MM-DD"),
        (
            "years:\n  2027:\n    holidays: [2027-01-01, 2027-01-01]\n    workdays: []\n",
            3,
            "listed twice",
        ),
        ("years:\n  2027:\n    holidays: [2028-01-01]\n    workdays: []\n", 3, "not in year 2027"),
        (
            "years:\n  2027:\n    holidays: [2027-01-01, 2026-11-30]\n    workdays: []\n",
            3,
            "nor in December 2026",
        ),
        (
            "years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-02-15]\n",
            4,
            "2027-02-15 is a weekday",
        ),
        (
            "years:\n  2027:\n    holidays: [2027-01-02]\n    workdays: [2027-01-02]\n",
            4,
            "both as a holiday and as a working day",
        ),
        (
            "years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: []\n    notes: x\n",
            5,
            "unknown key 'notes'",
        ),
        ("years:\n  2028:\n    holidays: [2028-01-01]\n    workdays: []\n", 1, "no data for 2027"),
    ],
    ids=[
        "syntax",
        "empty",
        "no-years",
        "unknown-top-key",
        "bad-year",
        "missing-list",
        "no-holidays",
        "impossible-date",
        "short-date",
        "duplicate",
        "wrong-year",
        "november-before",
        "weekday-workday",
        "both-lists",
        "unknown-year-key",
        "gap",
    ],
)
def test_a_bad_override_file_names_file_line_and_problem(
    tmp_path: Path, text: str, line: int, message: str, english: None
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CalendarFileError) as raised:
        default_calendar(path)
    error = raised.value
    assert error.exit_code == 2
    assert error.problems, str(error)
    assert str(error).startswith("invalid holidays file:")
    assert any(
        p.file == str(path) and p.line == line and message in p.message for p in error.problems
    ), str(error)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = "years:\n  2027:\n    holidays: [2027-13-01, 2027-01-01, 2027-01-01]\n    workdays: x\n"
    with pytest.raises(CalendarFileError) as raised:
        default_calendar(_write(tmp_path, text))
    assert len(raised.value.problems) == 3, str(raised.value)


def test_a_missing_override_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(CalendarFileError, match="节假日覆盖文件有误") as raised:
        default_calendar(path)
    assert str(path) in str(raised.value)
    assert "无法读取文件" in str(raised.value)


def test_a_bad_override_file_speaks_chinese_by_default(tmp_path: Path) -> None:
    text = "years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-02-15]\n"
    with pytest.raises(CalendarFileError) as raised:
        default_calendar(_write(tmp_path, text))
    assert "2027-02-15 是工作日（周一至周五），只有周六、周日才能调休上班" in str(raised.value)


# --- the previous December, restated by a later notice ------------------------------------------

# The 2018 notice (国办发明电〔2017〕12号) said nothing of New Year 2019; the 2019 notice did:
# 2018-12-30..2019-01-01 off, Sat 2018-12-29 worked. Typed in as an office would.
NOTICES_2018_2019 = """\
years:
  2018:
    holidays: [2018-01-01, 2018-02-15, 2018-02-16, 2018-02-19, 2018-02-20, 2018-02-21,
               2018-04-05, 2018-04-06, 2018-04-30, 2018-05-01, 2018-06-18, 2018-09-24,
               2018-10-01, 2018-10-02, 2018-10-03, 2018-10-04, 2018-10-05]
    workdays: [2018-02-11, 2018-02-24, 2018-04-08, 2018-04-28, 2018-09-29, 2018-09-30]
  2019:
    holidays: [2018-12-30, 2018-12-31, 2019-01-01]
    workdays: [2018-12-29]
"""


def test_a_notice_may_restate_the_previous_december(tmp_path: Path) -> None:
    calendar = WorkingCalendar.from_yaml(_write(tmp_path, NOTICES_2018_2019))
    assert calendar.is_working_day(D("2018-12-29"))  # a Saturday, worked by the 2019 notice
    assert not calendar.is_working_day(D("2018-12-31"))  # a Monday, off by the 2019 notice
    assert calendar.is_working_day(D("2018-12-28"))
    assert calendar.add(D("2018-12-28"), 1, "working_days") == D("2018-12-29")
    assert calendar.add(D("2018-12-29"), 1, "working_days") == D("2019-01-02")
    # the same days as the package, which files them under 2018
    for day in ("2018-12-29", "2018-12-30", "2018-12-31", "2019-01-01"):
        assert calendar.is_working_day(D(day)) == CAL.is_working_day(D(day)), day


def test_a_restated_december_overrides_the_built_in_year(tmp_path: Path) -> None:
    text = YEAR_2027.replace("workdays: [2027-02-14]", "workdays: [2027-02-14, 2026-12-26]")
    text = text.replace("holidays: [2027-01-01,", "holidays: [2026-12-31, 2027-01-01,")
    calendar = default_calendar(_write(tmp_path, text))
    assert not calendar.is_working_day(D("2026-12-31"))  # a Thursday, off by the 2027 file
    assert calendar.is_working_day(D("2026-12-26"))  # a Saturday, worked by the 2027 file
    assert CAL.is_working_day(D("2026-12-31"))  # the built-in calendar is untouched


# --- deadlines beyond the data are not due yet ------------------------------------------------


def test_a_deadline_beyond_the_data_is_not_due_while_today_is_covered() -> None:
    """20 working days from 2026-12-24 fall in 2027: on every day of 2026 that is "not yet"."""
    assert CAL.deadline(D("2026-12-24"), 20, "working_days") is None
    assert CAL.deadline(D("2026-12-03"), 20, "working_days") == D("2026-12-31")
    for today in ("2026-12-24", "2026-12-31"):
        assert not CAL.is_due(D("2026-12-24"), 20, "working_days", D(today))
    assert CAL.is_due(D("2026-12-03"), 20, "working_days", D("2026-12-31"))
    assert CAL.is_due(D("2026-12-24"), 10, "calendar_days", D("2027-01-03"))  # needs no data


def test_due_on_a_day_beyond_the_data_names_that_year() -> None:
    with pytest.raises(CalendarDataError, match="2027 年") as raised:
        CAL.is_due(D("2026-12-24"), 5, "working_days", D("2027-01-04"))
    assert raised.value.year == 2027
    assert "--holidays" in str(raised.value)
    assert "CONVALESCENCE_HOLIDAYS" in str(raised.value)


@pytest.mark.parametrize(
    ("amount", "last"),
    [(5, "2026-12-24"), (10, "2026-12-17"), (20, "2026-12-03"), (1, "2026-12-30")],
)
def test_last_start_within_the_data(amount: int, last: str) -> None:
    assert CAL.last_start_within(amount, "working_days") == D(last)
    assert CAL.deadline(D(last), amount, "working_days") == D("2026-12-31")
    following = D(last) + timedelta(days=1)
    assert CAL.deadline(following, amount, "working_days") is None


@pytest.mark.parametrize(
    ("today", "missing"),
    [("2026-10-31", None), ("2026-11-01", 2027), ("2026-12-31", 2027), ("2025-11-02", None)],
)
def test_next_years_notice_is_asked_for_from_1_november(today: str, missing: int | None) -> None:
    assert CAL.missing_next_year(D(today)) == missing
