"""Issue 15: the scheduler across the turn of 2026/2027, when the built-in holiday data ends
with 2026. A simulated month and a half, every day, on SQLite and PostgreSQL, in three offices:
one that never supplies 2027, one that has its 2027 file from the start, one that adds it in
mid-January. Every day's run completes (no job fails, notices are delivered); a working-day
deadline in 2027 is "not due yet" in 2026; on days beyond the data working-day timers wait while
calendar-day timers go on and the city officer has one task about it; once the file is given,
every deadline comes due on its real date, or at once if that date has passed (A7.1, A9.3).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from factories import cadre

from notifications.channels import FileChannel
from workflow import Engine
from workflow.calendar import WorkingCalendar, default_calendar
from workflow.clock import SHANGHAI, SimulatedClock
from workflow.scheduler import run_due
from workflow.scheduler.jobs import JobContext
from workflow.store.schema import tasks, timer_marks

pytestmark = pytest.mark.slow

PROBE = """\
name: year_turn_probe
version: 1
title: 跨年计时测试流程
policy:
  title: 测试
  document: 测试〔2026〕1号
  effective_from: 2023-01-01
  effective_until: 2030-12-31
roles:
  clerk: 经办人
  agency_officer: 军休机构工作人员
  city_officer: 市级退役军人事务部门工作人员
  scheduler: 定时任务
initial: waiting
open:
  label: 开始
  roles: [clerk]
  requires: {}
states:
  - name: waiting
    label: 等待中
    timers:
      - {after: 5, unit: working_days, action: remind, role: agency_officer,
         template: consent_reminder}
      - {after: 10, unit: working_days, action: escalate, role: agency_officer,
         template: consent_escalation}
      - {after: 20, unit: working_days, action: remind, role: agency_officer}
      - {after: 7, unit: calendar_days, action: remind, role: agency_officer,
         template: consent_reminder}
  - name: done
    label: 已办结
    terminal: true
transitions:
  - {trigger: finish, label: 办结, source: waiting, dest: done, roles: [clerk], requires: {}}
"""
TIMERS = [(5, "working_days"), (10, "working_days"), (20, "working_days"), (7, "calendar_days")]

# Illustrative 2027 data in the shape of a notice (the real 2027 notice is not in this test's
# sources): New Year Fri 1 Jan to Sun 3 Jan off, a Spring Festival week, a make-up Sunday.
HOLIDAYS_2027 = """\
years:
  2027:
    holidays: [2027-01-01, 2027-01-02, 2027-01-03,
               2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09, 2027-02-10,
               2027-02-11, 2027-02-12, 2027-02-13]
    workdays: [2027-02-14]
"""
REST_DAYS = {date(2027, 1, 1)}  # the only weekday off between 2026-12-01 and 2027-01-31
FIRST, LAST = date(2026, 12, 1), date(2027, 1, 31)
FILE_GIVEN_LATE = date(2027, 1, 15)


def working(day: date) -> bool:
    """Independent of the calendar module: December 2026 has no holiday; 1 Jan 2027 is off."""
    return day.weekday() < 5 and day not in REST_DAYS


def expected_deadline(start: date, amount: int, unit: str) -> date:
    if unit == "calendar_days":
        return start + timedelta(days=amount)
    day = start
    while amount:
        day += timedelta(days=1)
        amount -= working(day)
    return day


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.mark.parametrize("office", ["no_2027_file", "file_from_the_start", "file_given_late"])
def test_a_daily_scheduler_across_the_turn_of_the_year(
    office: str, db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "year_turn_probe.yaml").write_text(PROBE, encoding="utf-8")
    holidays = tmp_path / "holidays-2027.yaml"
    holidays.write_text(HOLIDAYS_2027, encoding="utf-8")
    built_in, extended = default_calendar(), default_calendar(holidays)
    channels = {"file": FileChannel(tmp_path / "notices")}
    clock = SimulatedClock(at(FIRST, 9))
    opened: dict[int, date] = {}
    results: dict[date, dict[str, Any]] = {}
    with Engine(db_url, clock=clock, definition_dirs=[tmp_path / "defs"]) as engine:
        engine.upgrade_schema()
        engine.put_cadres([cadre(f"C-{day:%m%d}") for day in days(FIRST, date(2026, 12, 31))])
        for day in days(FIRST, LAST):
            if day.year == 2026 and working(day):  # a case enters the state every working day
                clock.set(at(day, 9))
                case = engine.open_case(
                    f"C-{day:%m%d}", actor="clerk:李", definition="year_turn_probe"
                )
                opened[case.id] = day
            clock.set(at(day, 10))
            calendar = _calendar_of(office, day, built_in, extended)
            context = JobContext(channels=channels, calendar=calendar)
            day_results = run_due(engine, holder="sim", context=context)
            assert all(r is not None for r in day_results.values()), (day, day_results)
            results[day] = {name: r for name, r in day_results.items() if r is not None}
        marks = _marks(engine)
        alarms = _alarms(engine)

    # every day's run completed: no job failed, no timer failed, notices went out every day
    for day, ran in results.items():
        assert not any("error" in r for r in ran.values()), (day, ran)
        assert not ran["timers"].get("problems"), (day, ran["timers"])
        assert ran["dispatch"]["dead"] == 0, (day, ran["dispatch"])
    # notices went out in both years, beyond the data too
    assert sum(r["dispatch"]["sent"] for d, r in results.items() if d.year == 2026) > 0
    assert sum(r["dispatch"]["sent"] for d, r in results.items() if d.year == 2027) > 0

    # the warning from 1 November: one task for the city officer while 2027 is missing,
    # closed once the file covers the year
    if office == "file_from_the_start":
        assert alarms == {}
    else:
        assert alarms["calendar:next:2027"] == ("city_officer", office == "no_2027_file")
        assert results[FIRST]["timers"]["calendar_warning"].startswith("提醒：还没有 2027 年")

    beyond = [day for day in results if day.year == 2027]
    for day in beyond:
        missing = results[day]["timers"].get("calendar_missing")
        if office == "no_2027_file" or (office == "file_given_late" and day < FILE_GIVEN_LATE):
            assert missing == 2027, day
            assert results[day]["timers"]["waiting"] == 3  # the three working-day timers
        else:
            assert missing is None, day
    if office != "file_from_the_start":  # one task for the whole gap, closed once covered
        assert alarms["calendar:missing:2027"] == ("city_officer", office == "no_2027_file")

    # each (case, timer) fired exactly once, on its deadline, or when it could be computed
    for case_id, entered in opened.items():
        for index, (amount, unit) in enumerate(TIMERS):
            deadline = expected_deadline(entered, amount, unit)
            mark = marks.get((case_id, index))
            if deadline > LAST or (
                office == "no_2027_file" and unit == "working_days" and deadline.year == 2027
            ):
                assert mark is None, (entered, amount, unit, mark)
                continue
            assert mark is not None, (entered, amount, unit)
            due_on, fired_on = mark
            assert due_on == deadline, (entered, amount, unit)
            caught_up = office == "file_given_late" and unit == "working_days"
            if caught_up and deadline.year == 2027 and deadline < FILE_GIVEN_LATE:
                assert fired_on == FILE_GIVEN_LATE, (entered, amount, unit)
            else:
                assert fired_on == deadline, (entered, amount, unit)


def _calendar_of(
    office: str, day: date, built_in: WorkingCalendar, extended: WorkingCalendar
) -> WorkingCalendar:
    if office == "file_from_the_start" or (office == "file_given_late" and day >= FILE_GIVEN_LATE):
        return extended
    return built_in


def _marks(engine: Engine) -> dict[tuple[int, int], tuple[date, date]]:
    with engine.transaction() as connection:
        rows = connection.execute(sa.select(timer_marks)).all()
    found = {}
    for row in rows:
        fired = row.fired_at.astimezone(SHANGHAI).date()
        found[(row.case_id, row.timer_index)] = (row.due_on, fired)
    return found


def _alarms(engine: Engine) -> dict[str, tuple[str, bool]]:
    """Calendar alarm tasks: key → (assignee, still open)."""
    with engine.transaction() as connection:
        rows = connection.execute(sa.select(tasks).where(tasks.c.kind == "calendar")).all()
    assert all(row.case_id is None for row in rows)
    return {row.key: (row.assignee_role, row.done_at is None) for row in rows}
