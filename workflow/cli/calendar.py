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
from workflow.i18n import N_, _
from workflow.scheduler.calendar_watch import calendar_status

WEEKDAYS = (N_("周一"), N_("周二"), N_("周三"), N_("周四"), N_("周五"), N_("周六"), N_("周日"))


@click.group(help=_("工作日日历：已覆盖的年份、明年的通知、某一年的日子。"))
def calendar() -> None:
    """The calendar commands (help above, through the catalogue)."""


@calendar.command(
    "status",
    help=_("已覆盖的年份；今年和明年的通知是否具备（缺今年的退出状态为 5）。"),
    epilog=output.examples("convalescence calendar status --now 2026-11-02T09:00"),
)
@output.json_option
@click.pass_context
def status_command(ctx: click.Context, *, as_json: bool) -> None:
    """The same check the scheduler makes each day, asked on purpose."""
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
        source = _("，另加 {file}").format(file=settings.holidays) if settings.holidays else ""
        output.say(
            _("节假日数据覆盖 {first}–{last} 年（内置通知{source}）").format(
                first=working.first_year, last=working.last_year, source=source
            )
        )
        output.say(status.message or _("{today}：今年和明年的数据均已具备").format(today=today))
    if status.missing_today is not None:
        missing = CalendarDataError.no_data(today.year, working.first_year, working.last_year)
        if as_json:  # the JSON above already says so: one document, then the exit code
            ctx.exit(missing.exit_code)
        raise missing


@calendar.command(
    "show",
    help=_("按日历所读列出 YEAR 年的放假日和调休上班日（平常周末除外）。"),
    epilog=output.examples(
        "convalescence calendar show 2025",
        "convalescence --holidays 2027.yaml calendar show 2027",
    ),
)
@click.argument("year", type=click.IntRange(1900, 2200))
@output.json_option
@click.pass_context
def show_command(ctx: click.Context, year: int, *, as_json: bool) -> None:
    """What a notice changes, to compare with the notice line by line."""
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
    rows = [(d.isoformat(), _weekday(d), _("放假")) for d in rest]
    rows += [(d.isoformat(), _weekday(d), _("调休上班")) for d in worked]
    rows.sort()
    title = _("{year} 年与平常周末不同的日子").format(year=year)
    output.stdout().print(output.table(title, [_("日期"), "", ""], rows))
    total = sum(map(working.is_working_day, _days(year)))
    output.say(_("{year} 年共 {total} 个工作日").format(year=year, total=total))


def _weekday(day: date) -> str:
    return _(WEEKDAYS[day.weekday()])


def _days(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


def _exceptions(working: WorkingCalendar, year: int) -> tuple[list[date], list[date]]:
    """Weekdays that are rest days, and weekend days that are worked: what a notice changes."""
    rest = [d for d in _days(year) if d.weekday() < 5 and not working.is_working_day(d)]
    worked = [d for d in _days(year) if d.weekday() >= 5 and working.is_working_day(d)]
    return rest, worked
