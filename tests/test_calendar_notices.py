"""The built-in working-day calendar against the State Council's notices for 2023–2026, typed in
from the notices themselves (国务院办公厅关于部分节假日安排的通知), not from the dependency:
every day of the four years must agree. The working-day timers serve A7.1 and A9.3.

Each notice is written as it reads: ranges of rest days (放假调休) and the make-up working days
(调休上班). Days a notice does not name follow the week: Monday to Friday work, weekends rest.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from workflow.calendar import default_calendar

D = date.fromisoformat

# (first rest day, last rest day) per holiday, then the make-up working days; per notice.
NOTICES: dict[int, tuple[list[tuple[str, str]], list[str]]] = {
    # 国办发明电〔2022〕16号
    2023: (
        [
            ("2022-12-31", "2023-01-02"),  # 元旦
            ("2023-01-21", "2023-01-27"),  # 春节
            ("2023-04-05", "2023-04-05"),  # 清明节
            ("2023-04-29", "2023-05-03"),  # 劳动节
            ("2023-06-22", "2023-06-24"),  # 端午节
            ("2023-09-29", "2023-10-06"),  # 中秋节、国庆节
        ],
        [
            "2023-01-28",
            "2023-01-29",
            "2023-04-23",
            "2023-05-06",
            "2023-06-25",
            "2023-10-07",
            "2023-10-08",
        ],
    ),
    # 国办发明电〔2023〕7号
    2024: (
        [
            ("2023-12-30", "2024-01-01"),  # 元旦，与周末连休
            ("2024-02-10", "2024-02-17"),  # 春节
            ("2024-04-04", "2024-04-06"),  # 清明节
            ("2024-05-01", "2024-05-05"),  # 劳动节
            ("2024-06-08", "2024-06-10"),  # 端午节，与周末连休
            ("2024-09-15", "2024-09-17"),  # 中秋节
            ("2024-10-01", "2024-10-07"),  # 国庆节
        ],
        [
            "2024-02-04",
            "2024-02-18",
            "2024-04-07",
            "2024-04-28",
            "2024-05-11",
            "2024-09-14",
            "2024-09-29",
            "2024-10-12",
        ],
    ),
    # 国办发明电〔2024〕12号
    2025: (
        [
            ("2025-01-01", "2025-01-01"),  # 元旦
            ("2025-01-28", "2025-02-04"),  # 春节
            ("2025-04-04", "2025-04-06"),  # 清明节
            ("2025-05-01", "2025-05-05"),  # 劳动节
            ("2025-05-31", "2025-06-02"),  # 端午节
            ("2025-10-01", "2025-10-08"),  # 国庆节、中秋节
        ],
        ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"],
    ),
    # 国办发明电〔2025〕7号
    2026: (
        [
            ("2026-01-01", "2026-01-03"),  # 元旦
            ("2026-02-15", "2026-02-23"),  # 春节
            ("2026-04-04", "2026-04-06"),  # 清明节
            ("2026-05-01", "2026-05-05"),  # 劳动节
            ("2026-06-19", "2026-06-21"),  # 端午节
            ("2026-09-25", "2026-09-27"),  # 中秋节
            ("2026-10-01", "2026-10-07"),  # 国庆节
        ],
        ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
    ),
}


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def expected_working(year: int) -> dict[date, bool]:
    """Every day of ``year``: working or not, as the notice (and the one before it) says."""
    rest: set[date] = set()
    worked: set[date] = set()
    for notice_year in (year, year + 1):  # the next notice may restate this December
        if notice_year not in NOTICES:
            continue
        ranges, make_up = NOTICES[notice_year]
        for first, last in ranges:
            rest.update(_days(D(first), D(last)))
        worked.update(map(D, make_up))
    return {
        day: day in worked or (day.weekday() < 5 and day not in rest)
        for day in _days(date(year, 1, 1), date(year, 12, 31))
    }


@pytest.mark.parametrize("year", sorted(NOTICES))
def test_every_day_agrees_with_the_notice(year: int) -> None:
    calendar = default_calendar()
    expected = expected_working(year)
    wrong = [day for day, working in expected.items() if calendar.is_working_day(day) != working]
    assert not wrong, f"{len(wrong)} day(s) disagree with the {year} notice: {wrong[:5]}"


@pytest.mark.parametrize(
    ("year", "working_days"), [(2023, 249), (2024, 251), (2025, 248), (2026, 248)]
)
def test_working_days_per_year(year: int, working_days: int) -> None:
    """The yearly totals the notices imply (a second, coarser check of the same table)."""
    assert sum(expected_working(year).values()) == working_days
    calendar = default_calendar()
    assert sum(map(calendar.is_working_day, expected_working(year))) == working_days


@pytest.mark.parametrize(
    ("start", "amount", "deadline"),
    [
        # A7.1 consent timers counted as officers count them, across each year's long holidays
        ("2023-01-20", 5, "2023-02-01"),  # Spring Festival 2023, make-up 28 and 29 Jan
        ("2024-02-06", 10, "2024-02-26"),  # Spring Festival 2024, make-up Sun 18 Feb
        ("2025-09-26", 5, "2025-10-10"),  # National Day 2025: Sun 28 Sep worked, 1-8 Oct off
        ("2026-02-12", 5, "2026-02-26"),  # Spring Festival 2026: Sat 14 Feb worked
        ("2026-12-03", 20, "2026-12-31"),  # the last 20-day deadline inside the data
    ],
)
def test_working_day_deadlines(start: str, amount: int, deadline: str) -> None:
    assert default_calendar().add(D(start), amount, "working_days") == D(deadline)
