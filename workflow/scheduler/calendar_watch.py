"""The scheduler's watch over its holiday data: it says when the data runs out, before and after.

Working-day deadlines (A7.1 reminders, A9.3 visit follow-ups) need the State Council's notice of
every year they reach into, and the notice for next year appears in November or December. The
scheduler keeps running whatever the data says:

- while today is covered, a deadline beyond the data is simply not due yet
  (`WorkingCalendar.is_due`);
- from 1 November, while next year's notice is missing, every run reports a warning (so do
  ``/ready`` and ``convalescence calendar``) and the city officer gets one task asking for it;
- when today itself is beyond the data, working-day timers wait (calendar-day timers, condolence
  visits and notice delivery go on), the log says so once a day in Chinese, the run's exit code
  is 5 ("calendar data missing"), and the city officer gets one task. Once the office supplies
  the year (``--holidays FILE``), the next run catches up every deadline that came due meanwhile,
  and both tasks close by themselves.

`calendar_status` and `alarm_rows` are pure; `workflow.store.tasks.record_alarms` writes the
tasks in the sweep's own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from workflow.calendar import HOLIDAYS_VAR, WorkingCalendar
from workflow.definition.model import Definition
from workflow.i18n import N_, _

log = logging.getLogger(__name__)

ALARM_PREFIX = "calendar:"
ALARM_ROLE = "city_officer"  # the city sets the office's calendar, as it sets its annual plans
HOW_TO_SUPPLY = N_(
    "请按国务院办公厅公布的节假日安排通知编写节假日文件（YAML），用全局选项 --holidays FILE "
    "或环境变量 {variable} 提供给调度服务和 API 服务（见 README“Working days”一节）"
)


def how_to_supply() -> str:
    return _(HOW_TO_SUPPLY).format(variable=HOLIDAYS_VAR)


@dataclass(frozen=True)
class CalendarStatus:
    """What the holiday data means for the scheduler on ``today``.

    ``missing_today``: today's year has no data, so working-day timers cannot run.
    ``missing_next``: from 1 November, next year's notice is still missing.
    ``affected_from``: the first day a deadline of the longest working-day timer would reach
    into the missing year (``None`` when no timer counts working days).
    """

    today: date
    first_year: int
    last_year: int
    missing_today: int | None = None
    missing_next: int | None = None
    affected_from: date | None = None

    @property
    def message(self) -> str | None:
        """The sentence an operator reads, in the catalogue's language (Chinese by default);
        ``None`` when all is well."""
        if self.missing_today is not None:
            return _(
                "节假日数据缺失：没有 {year} 年的法定节假日和调休安排（现有 {first}–{last} 年），"
                "按工作日计算的提醒、督办和走访期限暂停计算（按自然日计算的照常运行）。{how}；"
                "补上后，下一次运行会补办期间到期的事项。"
            ).format(
                year=self.missing_today,
                first=self.first_year,
                last=self.last_year,
                how=how_to_supply(),
            )
        if self.missing_next is not None:
            reach = (
                _(
                    "自 {day} 起报名或进入新环节的案件，其按工作日计算的期限将落入 {year} 年；"
                ).format(day=self.affected_from, year=self.missing_next)
                if self.affected_from is not None
                else ""
            )
            return _(
                "提醒：还没有 {year} 年的法定节假日和调休安排数据。{reach}"
                "{year} 年 1 月 1 日起，如仍无数据，按工作日计算的期限将暂停。{how}。"
            ).format(year=self.missing_next, reach=reach, how=how_to_supply())
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "covered_years": [self.first_year, self.last_year],
            "missing_today": self.missing_today,
            "missing_next": self.missing_next,
            "affected_from": None if self.affected_from is None else self.affected_from.isoformat(),
            "message": self.message,
        }


def longest_working_days(definitions: Iterable[Definition]) -> int | None:
    """The largest ``after`` of any working-day timer: the deadline that first leaves the data."""
    amounts = [
        timer.after
        for definition in definitions
        for state in definition.states
        for timer in state.timers
        if timer.unit == "working_days"
    ]
    return max(amounts, default=None)


def calendar_status(
    calendar: WorkingCalendar, today: date, longest: int | None = None
) -> CalendarStatus:
    """The data's state as of ``today``; ``longest`` is `longest_working_days` of the timers."""
    missing_today = None if calendar.covers(today) else today.year
    missing_next = None if missing_today is not None else calendar.missing_next_year(today)
    affected_from = None
    if missing_next is not None and longest is not None:
        last = calendar.last_start_within(longest, "working_days")
        affected_from = None if last is None else date.fromordinal(last.toordinal() + 1)
    return CalendarStatus(
        today=today,
        first_year=calendar.first_year,
        last_year=calendar.last_year,
        missing_today=missing_today,
        missing_next=missing_next,
        affected_from=affected_from,
    )


def alarm_key(kind: str, year: int) -> str:
    return f"{ALARM_PREFIX}{kind}:{year}"


def alarm_rows(status: CalendarStatus, now: datetime) -> list[dict[str, Any]]:
    """The city officer's task for the status, if it calls for one (one per year and kind)."""
    message = status.message
    if message is None:
        return []
    if status.missing_today is not None:
        key, due = alarm_key("missing", status.missing_today), status.today
    else:
        assert status.missing_next is not None
        key, due = alarm_key("next", status.missing_next), date(status.today.year, 12, 31)
    return [
        {
            "key": key,
            "kind": "calendar",
            "case_id": None,
            "state": None,
            "assignee_role": ALARM_ROLE,
            "county": "",
            "agency": "",
            "title": message,  # in the scheduler's language (Chinese unless it runs in English)
            "article": None,
            "due_on": due,
            "created_at": now,
        }
    ]


_said: set[tuple[date, int | None, int | None]] = set()


def say_once_a_day(status: CalendarStatus) -> None:
    """Log the status's message at most once per day per process: a service sweeping every
    hour should not bury the log under the same sentence."""
    message = status.message
    if message is None:
        return
    key = (status.today, status.missing_today, status.missing_next)
    if key in _said:
        return
    _said.add(key)
    log.warning("%s", message)
