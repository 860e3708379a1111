"""``convalescence notifications``: deliver the outbox, look into it, revive dead letters.

Channels come from the environment (`ChannelSettings.from_env`): notices are written as files
under ``$CONVALESCENCE_NOTICES_DIR`` (default ``./notices``), e-mailed through
``$CONVALESCENCE_SMTP`` and posted to ``$CONVALESCENCE_WEBHOOK_URL`` when those are set. Every
address and error printed here is masked: the command is for telling notices apart, the notice
itself carries the full address to its recipient.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack

import click
from rich.table import Table

from notifications.channels import ChannelSettings, build_channels
from notifications.dispatch import DEFAULT_BATCH, DEFAULT_MAX_ATTEMPTS, DispatchReport, dispatch
from notifications.outbox import STATUSES, OutboxEntry, list_entries, retry_dead
from notifications.render import render, sample_context
from notifications.shipped import template_names
from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.cli.paging import print_page_end
from workflow.engine import Engine
from workflow.fields import INT_MAX
from workflow.i18n import _, ngettext
from workflow.observability import logs
from workflow.observability.metrics import Metrics
from workflow.observability.options import (
    log_format_option,
    metrics_address_option,
    serve_metrics,
)
from workflow.observability.records import count_into, log_batch
from workflow.paging import Page
from workflow.store.outbox import SqlOutbox

POLL_SECONDS = 10.0


@click.group(help=_("通知：从发件箱送出通知、列出通知、重试死信。"))
def notifications() -> None:
    """The notice commands (help above, through the catalogue)."""


def _ready_engine() -> Engine:
    """The engine, with its schema checked (and, on SQLite, created) before the outbox is used."""
    engine = open_engine()
    engine.ensure_schema()
    return engine


@notifications.command(
    "dispatch",
    help=_("经各自的渠道送出到期的通知；不加 --once 时持续轮询，直到按 Ctrl-C。"),
    epilog=output.examples(
        "convalescence notifications dispatch --once",
        "convalescence notifications dispatch --once --max-attempts 3 --json",
    ),
)
@click.option("--once", is_flag=True, help=_("送出当前到期的通知，然后退出。"))
@click.option(
    "--batch",
    type=click.IntRange(1, 1000),
    default=DEFAULT_BATCH,
    show_default=True,
    help=_("每轮最多领取的通知数。"),
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 100),
    default=DEFAULT_MAX_ATTEMPTS,
    show_default=True,
    help=_("通知成为死信之前的尝试次数。"),
)
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 3600),
    default=POLL_SECONDS,
    show_default=True,
    help=_("不加 --once 时两次轮询之间的秒数。"),
)
@log_format_option(None)
@metrics_address_option
@output.json_option
def dispatch_command(
    *,
    once: bool,
    batch: int,
    max_attempts: int,
    interval: float,
    log_format: str | None,
    metrics_address: tuple[str, int] | None,
    as_json: bool,
) -> None:
    """Channels come from the environment, so one command serves files, SMTP and webhooks.

    Polling (no ``--once``) it logs each batch (text unless ``--log-format json``) and counts
    its deliveries and failures (``--metrics-address`` serves them); ``--once`` logs only when
    ``--log-format`` is given."""
    engine = _ready_engine()
    channels = build_channels(ChannelSettings.from_env())
    outbox = SqlOutbox(engine.db)
    total = DispatchReport()
    with ExitStack() as stack:
        if log_format is not None or not once:
            stack.enter_context(logs.configured(log_format or "text"))
        metrics = Metrics()
        stack.callback(count_into(metrics))
        if metrics_address is not None:
            stack.callback(serve_metrics(metrics, metrics_address).shutdown)
        try:
            while True:
                report = dispatch(
                    outbox, channels, engine.clock, batch=batch, max_attempts=max_attempts
                )
                log_batch(report)
                total = total + report
                if not as_json and (report.claimed or report.abandoned):
                    _print_report(report)
                if report.claimed < batch:  # nothing more is due right now
                    if once:
                        break
                    time.sleep(interval)
        except KeyboardInterrupt:
            output.say(_("已停止"))
    if as_json:
        output.print_json(total.to_json())
    elif once:
        _print_report(total, final=True)


def _print_report(report: DispatchReport, *, final: bool = False) -> None:
    if report.failures:
        rows = [
            (
                f.id,
                f.channel,
                f.attempts,
                _("死信") if f.next_attempt_at is None else f.next_attempt_at.isoformat(),
                f.error,
            )
            for f in report.failures
        ]
        columns = ["id", _("渠道"), _("尝试次数"), _("下次尝试"), _("错误")]
        output.stdout().print(output.table(_("未送达"), columns, rows))
    summary = _("已发送 {sent} · 待重试 {retrying} · 死信 {dead}").format(
        sent=report.sent, retrying=report.retrying, dead=report.dead
    )
    if report.expired:
        summary += _(" · 领取超时 {count}").format(count=report.expired)
    if report.abandoned:
        summary += _(" · 已放弃 {count}").format(count=report.abandoned)
    if final or report.unrouted:
        output.say(summary, style="bold" if final else None)
    else:
        output.say(summary)
    if report.unrouted:
        output.say(
            ngettext(
                "{count} 条到期通知在等待未配置的渠道"
                "（请设置 CONVALESCENCE_SMTP / CONVALESCENCE_WEBHOOK_URL）",
                "{count} 条到期通知在等待未配置的渠道"
                "（请设置 CONVALESCENCE_SMTP / CONVALESCENCE_WEBHOOK_URL）",
                report.unrouted,
            ).format(count=report.unrouted),
            style="yellow",
        )


@notifications.command(
    "list",
    help=_("发件箱中的通知，最新的在前，地址已遮蔽。"),
    epilog=output.examples(
        "convalescence notifications list --status dead",
        "convalescence notifications list --case 1 --json",
    ),
)
@click.option("--status", type=click.Choice(STATUSES), help=_("只列此状态的通知。"))
@click.option("--case", "case_id", type=int, metavar="ID", help=_("只列此案件的通知。"))
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=100,
    show_default=True,
    help=_("最多列出的条数。"),
)
@click.option(
    "--after",
    type=click.IntRange(1, INT_MAX),
    metavar="ID",
    help=_("接着编号为 ID 的通知往下列更早的（上一页末尾提示的下一页）。"),
)
@output.json_option
def list_command(
    *, status: str | None, case_id: int | None, limit: int, after: int | None, as_json: bool
) -> None:
    """Addresses are masked: the list tells notices apart, the notice itself is the letter."""
    found = list_entries(
        SqlOutbox(_ready_engine().db),
        status=status,
        case_id=case_id,
        limit=limit + 1,  # one more says whether another page exists
        after=after,
    )
    page = Page.of(found, limit, key=lambda entry: entry.id)
    entries = page.items
    if as_json:
        output.print_json([entry.to_json() for entry in entries])
    elif entries:
        output.stdout().print(_entries_table(entries))
    count = len(entries)
    listed = ngettext("{count} 条通知", "{count} 条通知", count).format(count=count)
    print_page_end(listed, page.next_after, as_json=as_json)


def _entries_table(entries: Sequence[OutboxEntry]) -> Table:
    rows = [
        (
            e.id,
            e.case_id,
            e.template,
            f"{e.recipient_role}:{e.recipient_name}",
            e.channel,
            e.address,
            e.status,
            e.attempts,
            (e.sent_at or e.next_attempt_at).isoformat(timespec="minutes"),
            e.last_error,
        )
        for e in entries
    ]
    columns = [
        "id",
        _("案件"),
        _("模板"),
        _("收件人"),
        _("渠道"),
        _("地址"),
        _("状态"),
        _("尝试次数"),
        _("已发送 / 下次"),
        _("最近错误"),
    ]
    return output.table(_("通知发件箱"), columns, rows)


@notifications.command(
    "retry",
    help=_("把死信放回队列，立即到期，尝试次数清零。"),
    epilog=output.examples(
        "convalescence notifications retry --all-dead",
    ),
)
@click.argument("ids", nargs=-1, type=int, metavar="ID...")
@click.option("--all-dead", is_flag=True, help=_("全部死信。"))
@output.json_option
def retry_command(*, ids: tuple[int, ...], all_dead: bool, as_json: bool) -> None:
    """Only dead letters are revived; a notice still being tried keeps its schedule."""
    if ids and all_dead:
        raise click.UsageError(_("请给出 ID 或 --all-dead，不能两者都给"))
    engine = _ready_engine()
    revived = retry_dead(SqlOutbox(engine.db), engine.clock, ids, all_dead=all_dead)
    if as_json:
        output.print_json({"retried": revived})
        return
    shown = _("、").join(map(str, revived)) or _("无")
    count = len(revived)
    output.say(
        ngettext(
            "{count} 条通知已回到队列：{ids}", "{count} 条通知已回到队列：{ids}", count
        ).format(count=count, ids=shown)
    )


@notifications.command(
    "preview",
    help=_("用示例数据渲染通知模板 NAME，以便校对。"),
    epilog=output.examples(
        "convalescence notifications preview registration_received",
        "convalescence notifications preview approval_notice --html",
    ),
)
@click.argument("name", type=click.Choice(sorted(template_names())))
@click.option("--html", is_flag=True, help=_("输出 HTML 版本（如该通知有）。"))
def preview_command(*, name: str, html: bool) -> None:
    """The sample context ships with the template, so a preview needs no case."""
    rendered = render(name, sample_context(name), html=html)
    if html:
        click.echo(rendered.body_html or _("{name} 没有 HTML 版本").format(name=name))
        return
    subject = _("主题：{subject}").format(subject=rendered.subject)
    click.echo(f"{subject}\n\n{rendered.body}", nl=False)
