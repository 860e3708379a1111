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

import click
from rich.table import Table

from notifications.channels import ChannelSettings, build_channels
from notifications.dispatch import DEFAULT_BATCH, DEFAULT_MAX_ATTEMPTS, DispatchReport, dispatch
from notifications.outbox import STATUSES, OutboxEntry, list_entries, retry_dead
from notifications.render import render, sample_context, template_names
from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.engine import Engine
from workflow.store.outbox import SqlOutbox

POLL_SECONDS = 10.0


@click.group()
def notifications() -> None:
    """Deliver notices from the outbox, list them, and retry dead letters."""


def _ready_engine() -> Engine:
    """The engine, with its schema checked (and, on SQLite, created) before the outbox is used."""
    engine = open_engine()
    engine.ensure_schema()
    return engine


@notifications.command("dispatch")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--batch", type=click.IntRange(1, 1000), default=DEFAULT_BATCH, show_default=True)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 100),
    default=DEFAULT_MAX_ATTEMPTS,
    show_default=True,
    help="Tries before a notice becomes a dead letter.",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 3600),
    default=POLL_SECONDS,
    show_default=True,
    help="Seconds between polls when not --once.",
)
@output.json_option
def dispatch_command(
    *, once: bool, batch: int, max_attempts: int, interval: float, as_json: bool
) -> None:
    """Deliver due notices through their channels; without --once, keep polling until Ctrl-C."""
    engine = _ready_engine()
    channels = build_channels(ChannelSettings.from_env())
    outbox = SqlOutbox(engine.db)
    total = DispatchReport()
    try:
        while True:
            report = dispatch(
                outbox, channels, engine.clock, batch=batch, max_attempts=max_attempts
            )
            total = total + report
            if not as_json and (report.claimed or report.abandoned):
                _print_report(report)
            if report.claimed < batch:  # nothing more is due right now
                if once:
                    break
                time.sleep(interval)
    except KeyboardInterrupt:
        output.say("stopped 已停止")
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
                "dead 死信" if f.next_attempt_at is None else f.next_attempt_at.isoformat(),
                f.error,
            )
            for f in report.failures
        ]
        columns = ["id", "channel", "attempts", "next try", "error"]
        output.stdout().print(output.table("未送达 failed", columns, rows))
    summary = (
        f"sent 已发送 {report.sent} · retrying 待重试 {report.retrying} · dead 死信 {report.dead}"
    )
    if report.expired:
        summary += f" · claim expired {report.expired}"
    if report.abandoned:
        summary += f" · abandoned {report.abandoned}"
    if final or report.unrouted:
        output.say(summary, style="bold" if final else None)
    else:
        output.say(summary)
    if report.unrouted:
        output.say(
            f"{report.unrouted} due notice(s) wait for a channel that is not configured "
            "(set CONVALESCENCE_SMTP / CONVALESCENCE_WEBHOOK_URL)",
            style="yellow",
        )


@notifications.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only notices in this status.")
@click.option("--case", "case_id", type=int, metavar="ID", help="Only this case's notices.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@output.json_option
def list_command(*, status: str | None, case_id: int | None, limit: int, as_json: bool) -> None:
    """Notices in the outbox, newest first, with masked addresses."""
    entries = list_entries(
        SqlOutbox(_ready_engine().db), status=status, case_id=case_id, limit=limit
    )
    if as_json:
        output.print_json([entry.to_json() for entry in entries])
        return
    if entries:
        output.stdout().print(_entries_table(entries))
    more = " (limit reached: raise --limit for more)" if len(entries) == limit else ""
    output.say(f"{len(entries)} notice(s){more}")


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
        "case",
        "template",
        "recipient",
        "channel",
        "address",
        "status",
        "attempts",
        "sent / next",
        "last error",
    ]
    return output.table("通知 outbox", columns, rows)


@notifications.command("retry")
@click.argument("ids", nargs=-1, type=int, metavar="ID...")
@click.option("--all-dead", is_flag=True, help="Every dead letter.")
@output.json_option
def retry_command(*, ids: tuple[int, ...], all_dead: bool, as_json: bool) -> None:
    """Put dead notices back in the queue, due now, with their attempts reset."""
    if ids and all_dead:
        raise click.UsageError("give IDs or --all-dead, not both")
    engine = _ready_engine()
    revived = retry_dead(SqlOutbox(engine.db), engine.clock, ids, all_dead=all_dead)
    if as_json:
        output.print_json({"retried": revived})
        return
    shown = ", ".join(map(str, revived)) or "none"
    output.say(f"{len(revived)} notice(s) back in the queue: {shown}")


@notifications.command("preview")
@click.argument("name", type=click.Choice(sorted(template_names())))
@click.option("--html", is_flag=True, help="Print the HTML version (if the notice has one).")
def preview_command(*, name: str, html: bool) -> None:
    """Render notice NAME against its sample context, to proofread a template."""
    rendered = render(name, sample_context(name), html=html)
    if html:
        click.echo(rendered.body_html or f"{name} has no HTML version")
        return
    click.echo(f"Subject: {rendered.subject}\n\n{rendered.body}", nl=False)
