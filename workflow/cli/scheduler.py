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

import signal
from contextlib import ExitStack
from datetime import datetime, timedelta
from types import FrameType

import click

from workflow.calendar import CalendarDataError, WorkingCalendar
from workflow.cli import output
from workflow.cli.db import Settings, open_engine
from workflow.clock import as_shanghai, shanghai_date
from workflow.engine import Engine
from workflow.i18n import _
from workflow.observability import logs
from workflow.observability.metrics import CatalogTriggers, Metrics
from workflow.observability.options import (
    log_format_option,
    metrics_address_option,
    serve_metrics,
)
from workflow.observability.records import count_into
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
        raise click.BadParameter(
            _("{value!r} 不是日期时间，应形如 2024-05-01T09:00").format(value=value)
        ) from None


@click.group(help=_("按计划运行期限计时、重点走访慰问和通知发送（APScheduler，由一个节点执行）。"))
def scheduler() -> None:
    """The scheduler commands (help above, through the catalogue)."""


@scheduler.command(
    "run",
    help=_(
        "运行调度：作为服务在持有租约的节点上运行，或加 --once 按 --now 运行每个任务一次后退出。"
    ),
    epilog=output.examples(
        "convalescence scheduler run",
        "convalescence scheduler run --once --now 2024-05-06T10:00",
    ),
)
@click.option("--once", is_flag=True, help=_("按 --now 将每个任务运行一次，然后退出。"))
@click.option(
    "--now",
    "at",
    metavar="DATETIME",
    callback=_moment,
    help=_("任务据以运行的时刻（ISO 格式，未写时区即北京时间）；默认取系统时钟。"),
)
@click.option("--holder", metavar="NAME", help=_("本节点在租约中的名称；默认为 主机名:进程号。"))
@click.option(
    "--lease-seconds",
    type=click.FloatRange(1, 3600),
    default=DEFAULT_LEASE.total_seconds(),
    show_default=True,
    help=_("租约不续期时的有效秒数；每过三分之一即续期。"),
)
@click.option(
    "--every",
    type=click.FloatRange(0.1, 86400),
    help=_("每隔这么多秒运行每个任务，而不按其自身的计划（用于测试、演示）。"),
)
@log_format_option(None)
@metrics_address_option
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
    log_format: str | None,
    metrics_address: tuple[str, int] | None,
    as_json: bool,
) -> None:
    """Every node may run this: only the lease holder runs jobs, the others stand by.

    As a service it logs (text unless ``--log-format json``) each run with its id, job and
    outcome; ``--once`` prints its table and logs only when ``--log-format`` is given."""
    settings = ctx.ensure_object(Settings)
    if at is not None:
        settings.now = at
    engine = open_engine()
    engine.ensure_schema()  # checked (created on SQLite) before anything runs
    working = settings.calendar()
    with ExitStack() as stack:
        if log_format is not None or not once:
            stack.enter_context(logs.configured(log_format or "text"))
        if once:
            _run_once(ctx, engine, holder=holder, calendar=working, as_json=as_json)
            return
        # this process's counters: its runs, its dispatch batches, the steps its sweeps fired
        metrics = Metrics(known_triggers=CatalogTriggers(engine))
        engine.observers.add(metrics.step_ended)
        stack.callback(count_into(metrics))
        if metrics_address is not None:
            stack.callback(serve_metrics(metrics, metrics_address).shutdown)
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
        output.say(_("调度节点 {holder}：等待调度租约").format(holder=service.holder))
        service.run()
        output.say(_("已停止"))


def _run_once(
    ctx: click.Context,
    engine: Engine,
    *,
    holder: str | None,
    calendar: WorkingCalendar,
    as_json: bool,
) -> None:
    """``run --once``: every sweep as of the engine clock's moment, then a table or JSON."""
    results = run_due(engine, holder=holder or "once", context=JobContext(calendar=calendar))
    if as_json:
        output.print_json({"now": engine.clock.now().isoformat(), "jobs": results})
    else:
        rows = [
            (name, JOBS[name].label, _("跳过：本时段已运行") if r is None else _summary(r))
            for name, r in results.items()
        ]
        output.stdout().print(
            output.table(
                _("截至 {moment} 的任务").format(moment=engine.clock.now().isoformat()),
                [_("任务"), "", _("结果")],
                rows,
            )
        )
    _finish(ctx, results)


def _summary(result: dict[str, object]) -> str:
    shown = {k: v for k, v in result.items() if v and k not in ("calendar_warning", "exit_code")}
    return ", ".join(f"{k} {v}" for k, v in shown.items()) or _("无事可做")


def _finish(ctx: click.Context, results: dict[str, JobResult | None]) -> None:
    """Say what went wrong, Chinese first, and exit with the documented code for it."""
    for name, result in results.items():
        if result is None:
            continue
        for problem in result.get("problems", ()):
            output.warn(f"{name}: {problem}")
        if "error" in result:
            output.warn(_("任务 {name} 运行失败：{error}").format(name=name, error=result["error"]))
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


@scheduler.command("status", help=_("谁持有租约，以及每个任务上次何时运行。"))
@output.json_option
@click.pass_context
def status_command(ctx: click.Context, *, as_json: bool) -> None:
    """Reads the lease and the run records; runs nothing."""
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
        _("租约：尚无")
        if lease is None
        else _("租约：{holder}，至 {until}").format(holder=lease[0], until=lease[1].isoformat())
    )
    rows = [
        (name, "-", "-", "-")
        if name not in last
        else (name, last[name].slot, last[name].holder, _summary(last[name].result or {}))
        for name in JOBS
    ]
    columns = [_("任务"), _("时段"), _("节点"), _("结果")]
    output.stdout().print(output.table(_("上次运行"), columns, rows))
    covered = _("节假日数据覆盖 {first}–{last} 年").format(
        first=calendar.first_year, last=calendar.last_year
    )
    output.say(calendar.message or covered)
