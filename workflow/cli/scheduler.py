"""``convalescence scheduler``: run the scheduler as a service, or once as of a moment (A9.3).

``run`` keeps going until SIGTERM or Ctrl-C; run it on every node: only the holder of the
database lease runs jobs, the others stand by and take over when it expires. ``run --once
--now DATETIME`` runs every job once as of that moment and exits (the demo and the tests walk a
whole cycle with it). ``status`` shows the lease and each job's last run.

``run --once`` runs every job even when one fails, prints what each did, then exits with the
code of the first failure; 5 when the only trouble is holiday data missing for today's year
(working-day timers waited, everything else ran); 0 otherwise, with a warning from 1 November
while next year's notice is missing.
"""

from __future__ import annotations

import logging
import signal
from datetime import datetime, timedelta
from types import FrameType

import click

from workflow.calendar import CalendarDataError
from workflow.cli import output
from workflow.cli.db import Settings, open_engine
from workflow.clock import as_shanghai, shanghai_date
from workflow.scheduler import JOBS, SchedulerService, current_holder, run_due
from workflow.scheduler.calendar_watch import calendar_status, say_once_a_day
from workflow.scheduler.jobs import JobContext, JobResult
from workflow.scheduler.service import default_holder
from workflow.store.lease import DEFAULT_LEASE
from workflow.store.scheduler import read_last_runs


def _moment(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return as_shanghai(datetime.fromisoformat(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date-time such as 2024-05-01T09:00") from None


@click.group()
def scheduler() -> None:
    """Timers, condolence visits and notice delivery on a schedule (APScheduler, one node)."""


@scheduler.command("run")
@click.option("--once", is_flag=True, help="Run every job once as of --now, then exit.")
@click.option(
    "--now",
    "at",
    metavar="DATETIME",
    callback=_moment,
    help="The moment the jobs run as of (ISO, Asia/Shanghai if no zone); default the clock.",
)
@click.option("--holder", metavar="NAME", help="This node's name in the lease; default host:pid.")
@click.option(
    "--lease-seconds",
    type=click.FloatRange(1, 3600),
    default=DEFAULT_LEASE.total_seconds(),
    show_default=True,
    help="How long the lease lasts without renewal; renewed every third of it.",
)
@click.option(
    "--every",
    type=click.FloatRange(0.1, 86400),
    help="Run every job every this many seconds instead of its own schedule (tests, demos).",
)
@output.json_option
@click.pass_context
def run_command(
    ctx: click.Context,
    *,
    once: bool,
    at: datetime | None,
    holder: str | None,
    lease_seconds: float,
    every: float | None,
    as_json: bool,
) -> None:
    """Run the scheduler: as a service on the lease holder, or once with --once."""
    settings = ctx.ensure_object(Settings)
    if at is not None:
        settings.now = at
    engine = open_engine()
    engine.ensure_schema()  # checked (created on SQLite) before anything runs
    working = settings.calendar()
    if once:
        results = run_due(engine, holder=holder or "once", context=JobContext(calendar=working))
        if as_json:
            output.print_json({"now": engine.clock.now().isoformat(), "jobs": results})
        else:
            rows = [
                (name, JOBS[name].label, "skipped: already ran" if r is None else _summary(r))
                for name, r in results.items()
            ]
            output.stdout().print(
                output.table(
                    f"jobs as of {engine.clock.now().isoformat()}", ["job", "", "result"], rows
                )
            )
        _finish(ctx, results)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    say_once_a_day(calendar_status(working, shanghai_date(engine.clock.now())))
    service = SchedulerService(
        engine,
        holder=holder or default_holder(),
        lease=timedelta(seconds=lease_seconds),
        every=every,
        calendar=working,
    )

    def stop(_signal: int, _frame: FrameType | None) -> None:
        service.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    output.say(f"scheduler node {service.holder}: standing by for the lease 等待调度租约")
    service.run()
    output.say("stopped 已停止")


def _summary(result: dict[str, object]) -> str:
    shown = {k: v for k, v in result.items() if v and k not in ("calendar_warning", "exit_code")}
    return ", ".join(f"{k} {v}" for k, v in shown.items()) or "nothing to do"


def _finish(ctx: click.Context, results: dict[str, JobResult | None]) -> None:
    """Say what went wrong, Chinese first, and exit with the documented code for it."""
    for name, result in results.items():
        if result is None:
            continue
        for problem in result.get("problems", ()):
            output.warn(f"{name}: {problem}")
        if "error" in result:
            output.warn(f"任务 {name} 运行失败 / job {name} failed: {result['error']}")
    timers = results.get("timers") or {}
    if "calendar_warning" in timers:
        output.warn(str(timers["calendar_warning"]))
    failed = [r for r in results.values() if r is not None and "error" in r]
    if failed:
        ctx.exit(int(failed[0]["exit_code"]))
    partial = [r for r in results.values() if r is not None and r.get("problems")]
    if partial:
        ctx.exit(int(partial[0].get("exit_code") or 70))
    if "calendar_missing" in timers:
        settings = ctx.ensure_object(Settings)
        working = settings.calendar()
        missing = CalendarDataError.no_data(
            int(timers["calendar_missing"]), working.first_year, working.last_year
        )
        output.print_error(missing)
        ctx.exit(missing.exit_code)


@scheduler.command("status")
@output.json_option
@click.pass_context
def status_command(ctx: click.Context, *, as_json: bool) -> None:
    """Who holds the lease, and when each job last ran."""
    engine = open_engine()
    engine.ensure_schema()
    last = read_last_runs(engine.db)
    lease = current_holder(engine.db)
    calendar = calendar_status(
        ctx.ensure_object(Settings).calendar(), shanghai_date(engine.clock.now())
    )
    value = {
        "lease": None if lease is None else {"holder": lease[0], "expires_at": lease[1]},
        "calendar": calendar.to_json(),
        "jobs": {
            name: None
            if name not in last
            else {
                "slot": last[name].slot,
                "holder": last[name].holder,
                "started_at": last[name].started_at,
                "finished_at": last[name].finished_at,
                "result": last[name].result,
            }
            for name in JOBS
        },
    }
    if as_json:
        output.print_json(value)
        return
    output.say(
        "lease: none yet" if lease is None else f"lease: {lease[0]} until {lease[1].isoformat()}"
    )
    rows = [
        (name, "-", "-", "-")
        if name not in last
        else (name, last[name].slot, last[name].holder, _summary(last[name].result or {}))
        for name in JOBS
    ]
    output.stdout().print(output.table("last runs", ["job", "slot", "holder", "result"], rows))
    covered = f"{calendar.first_year}–{calendar.last_year}"
    output.say(calendar.message or f"节假日数据覆盖 {covered} 年 / holiday data covers {covered}")
