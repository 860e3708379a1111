"""``convalescence calendar``: which years of holiday data the scheduler has, and one year's days.

An office adding next year's notice writes a small YAML file, then checks it here before giving
it to the scheduler: ``convalescence --holidays 2027.yaml calendar show 2027`` lists the rest
days and make-up working days as the calendar now reads them, to compare with the notice line by
line; ``calendar status`` says whether today and next year are covered (exit 5 when today is
not).
"""

from __future__ import annotations

from datetime import date, timedelta

import click

from workflow.calendar import CalendarDataError, WorkingCalendar
from workflow.cli import output
from workflow.cli.settings import Settings
from workflow.clock import shanghai_date
from workflow.scheduler.calendar_watch import calendar_status

WEEKDAYS = "一二三四五六日"


@click.group()
def calendar() -> None:
    """Working-day calendar: covered years, next year's notice, one year's days."""


@calendar.command("status")
@output.json_option
@click.pass_context
def status_command(ctx: click.Context, *, as_json: bool) -> None:
    """Years covered; are today's and next year's notices there (exit 5 if not today's)."""
    settings = ctx.ensure_object(Settings)
    working = settings.calendar()
    today = shanghai_date(settings.clock().now())
    status = calendar_status(working, today)
    value = {
        "today": today.isoformat(),
        "holidays_file": None if settings.holidays is None else str(settings.holidays),
        **status.to_json(),
    }
    if as_json:
        output.print_json(value)
    else:
        source = f"，另加 {settings.holidays}" if settings.holidays else ""
        output.say(
            f"节假日数据覆盖 {working.first_year}–{working.last_year} 年（内置通知{source}）"
            f" / holiday data covers {working.first_year}-{working.last_year}"
        )
        output.say(status.message or f"{today}：今年和明年的数据均已具备 / all present")
    if status.missing_today is not None:
        raise CalendarDataError.no_data(today.year, working.first_year, working.last_year)


@calendar.command("show")
@click.argument("year", type=click.IntRange(1900, 2200))
@output.json_option
@click.pass_context
def show_command(ctx: click.Context, year: int, *, as_json: bool) -> None:
    """YEAR's rest days and make-up working days as the calendar reads them (weekends aside)."""
    working = ctx.ensure_object(Settings).calendar()
    if not working.covers(date(year, 1, 1)):
        raise CalendarDataError.no_data(year, working.first_year, working.last_year)
    rest, worked = _exceptions(working, year)
    if as_json:
        output.print_json(
            {
                "year": year,
                "holidays_on_weekdays": [d.isoformat() for d in rest],
                "make_up_working_days": [d.isoformat() for d in worked],
                "working_days": sum(map(working.is_working_day, _days(year))),
            }
        )
        return
    rows = [(d.isoformat(), f"周{WEEKDAYS[d.weekday()]}", "放假 rest") for d in rest]
    rows += [(d.isoformat(), f"周{WEEKDAYS[d.weekday()]}", "调休上班 worked") for d in worked]
    rows.sort()
    output.stdout().print(output.table(f"{year} 年与平常周末不同的日子", ["日期", "", ""], rows))
    total = sum(map(working.is_working_day, _days(year)))
    output.say(f"{year} 年共 {total} 个工作日 / {total} working days")


def _days(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


def _exceptions(working: WorkingCalendar, year: int) -> tuple[list[date], list[date]]:
    """Weekdays that are rest days, and weekend days that are worked: what a notice changes."""
    rest = [d for d in _days(year) if d.weekday() < 5 and not working.is_working_day(d)]
    worked = [d for d in _days(year) if d.weekday() >= 5 and working.is_working_day(d)]
    return rest, worked
