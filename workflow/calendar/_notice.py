"""One year's holiday arrangement, as the State Council's yearly notice publishes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from workflow.i18n import _

SATURDAY = 5
DECEMBER = 12


def in_notice(day: date, year: int) -> bool:
    """Whether the notice for ``year`` may list ``day``: its own year, or the December before."""
    return day.year == year or (day.year == year - 1 and day.month == DECEMBER)


@dataclass(frozen=True)
class YearNotice:
    """The rest days and make-up working days (调休上班) of one year, complete.

    A notice is taken whole: weekdays not listed are working days, weekends not listed are rest
    days. That is why an override file replaces a year rather than patching single dates: a
    half-copied notice would otherwise pass for a complete one.

    A notice may also restate days of the previous December, as the one for 2019 did for New
    Year's Day (2018-12-29 worked, 12-30 and 12-31 off): those days belong to the notice of the
    year it covers and, being later, override what the previous year's notice said of them.
    """

    holidays: frozenset[date]
    workdays: frozenset[date]

    def problems(self, year: int) -> list[tuple[date, str]]:
        """Each date that cannot belong to a notice for ``year``, with the reason."""
        found: list[tuple[date, str]] = []
        for day in sorted(self.holidays | self.workdays):
            if not in_notice(day, year):
                found.append(
                    (
                        day,
                        _("{day} 不在 {year} 年，也不是可以改定的 {previous} 年 12 月").format(
                            day=day, year=year, previous=year - 1
                        ),
                    )
                )
        for day in sorted(self.holidays & self.workdays):
            found.append(
                (
                    day,
                    _("{day} 既列为放假日又列为调休上班日").format(day=day),
                )
            )
        for day in sorted(self.workdays):
            if day.weekday() < SATURDAY:
                found.append(
                    (
                        day,
                        _("{day} 是工作日（周一至周五），只有周六、周日才能调休上班").format(
                            day=day
                        ),
                    )
                )
        return found
