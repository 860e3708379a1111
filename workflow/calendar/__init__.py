"""Working days on the Chinese official calendar: the unit of the scheduler's deadlines.

Timers such as "family consent pending 5 working days → remind" (A7.1) and the A9.3
condolence-visit follow-ups count 工作日, so they need the State Council's yearly holiday notices.
The built-in notices come from the ``chinese-calendar`` package; an office adds a year the
package does not know yet with an override file (see ``WorkingCalendar.from_yaml``). Dates are
Asia/Shanghai calendar dates (``workflow.clock.shanghai_date``); nothing here reads a clock.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from workflow.calendar._calendar import Unit, WorkingCalendar
from workflow.calendar._errors import HOLIDAYS_VAR, CalendarDataError, CalendarFileError
from workflow.calendar._library import library_notices
from workflow.calendar._notice import YearNotice

__all__ = [
    "HOLIDAYS_VAR",
    "CalendarDataError",
    "CalendarFileError",
    "Unit",
    "WorkingCalendar",
    "YearNotice",
    "default_calendar",
]


@cache
def _built_in() -> WorkingCalendar:
    return WorkingCalendar.from_notices(library_notices())


def default_calendar(extra: str | Path | None = None) -> WorkingCalendar:
    """The built-in notices, with the years of the override file ``extra`` laid over them.

    The file is read on every call with ``extra`` so an edited file takes effect on the next
    build; the built-in calendar itself is built once per process.
    """
    if extra is None:
        return _built_in()
    return WorkingCalendar.from_yaml(extra, base=_built_in())
