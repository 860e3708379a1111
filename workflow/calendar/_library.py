"""The State Council notices shipped in the ``chinese-calendar`` package, as ``YearNotice``s.

Only the package's two data tables (``holidays``, ``workdays``) are read; its functions raise
``NotImplementedError`` outside their years, and that must never reach a deadline computation.
Reading the tables makes the covered range explicit: a year is covered when the package lists
holidays in it, and every year between the first and the last one must be listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from functools import cache

import chinese_calendar  # type: ignore[import-untyped]  # the package ships no type hints

from workflow.calendar._notice import YearNotice


@cache
def library_notices() -> Mapping[int, YearNotice]:
    holidays: dict[int, set[date]] = defaultdict(set)
    workdays: dict[int, set[date]] = defaultdict(set)
    for day in chinese_calendar.holidays:
        holidays[day.year].add(day)
    for day in chinese_calendar.workdays:
        workdays[day.year].add(day)
    return {
        year: YearNotice(frozenset(holidays[year]), frozenset(workdays.get(year, ())))
        for year in sorted(holidays.keys() | workdays.keys())
    }
