"""One year's holiday arrangement, as the State Council's yearly notice publishes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

SATURDAY = 5


@dataclass(frozen=True)
class YearNotice:
    """The rest days and make-up working days (调休上班) of one year, complete.

    A notice is taken whole: weekdays not listed are working days, weekends not listed are rest
    days. That is why an override file replaces a year rather than patching single dates: a
    half-copied notice would otherwise pass for a complete one.
    """

    holidays: frozenset[date]
    workdays: frozenset[date]

    def problems(self, year: int) -> list[tuple[date, str]]:
        """Each date that cannot belong to a notice for ``year``, with the reason."""
        found: list[tuple[date, str]] = []
        for day in sorted(self.holidays | self.workdays):
            if day.year != year:
                found.append((day, f"{day} is not in year {year}"))
        for day in sorted(self.holidays & self.workdays):
            found.append((day, f"{day} is listed both as a holiday and as a working day"))
        for day in sorted(self.workdays):
            if day.weekday() < SATURDAY:
                found.append(
                    (
                        day,
                        f"{day} is a weekday; only a Saturday or Sunday can be a make-up "
                        "working day (调休上班)",
                    )
                )
        return found
