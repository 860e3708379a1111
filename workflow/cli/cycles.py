"""``convalescence cycles``: the policy's cycles (A9.1), what is still open in each, and closing
one when its work is done (A18.2's final report and the audit digest archived in one folder).

Thin shells over `workflow.cycles`, which refuses with the article (exit 1) while anything is
open, naming it; an unknown cycle is exit 4 naming the known ones; an ``--out`` folder that
exists and is not empty is exit 2. ``close`` needs ``--as city_officer:NAME`` (A5.2) and is
recorded with that actor in the admin log (A19.1).
"""

from __future__ import annotations

from pathlib import Path

import click

from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.errors import InputError
from workflow.i18n import N_, _
from workflow.machine import Actor

KIND_TITLES = {  # translated with `_` when shown
    "cases": N_("未结案件"),
    "visits": N_("未办结的重点走访慰问"),
    "visits_to_open": N_("须走访慰问而尚未立案的军休干部"),
    "batches": N_("未评价承办单位的批次"),
    "tasks": N_("待办任务"),
}


def _actor(_ctx: click.Context, _param: click.Parameter, value: str) -> Actor:
    try:
        return Actor.parse(value)
    except InputError as error:
        raise click.BadParameter(error.message) from None


@click.group(help=_("疗养周期（A9.1）：列出、查看未了结事项、关闭并归档终期报告（A18.2）。"))
def cycles() -> None:
    """The cycle commands (help above, through the catalogue)."""


@cycles.command(
    "list",
    short_help=_("列出疗养周期及其状态。"),
    help=_("列出流程定义中的疗养周期：起止日期、是否已关闭、尚未了结的事项数。"),
    epilog=output.examples("convalescence cycles list", "convalescence cycles list --json"),
)
@output.json_option
def list_command(*, as_json: bool) -> None:
    """Earliest cycle first."""
    from workflow.cycles import cycle_statuses  # noqa: PLC0415 (--help loads no engine)

    found = cycle_statuses(open_engine())
    if as_json:
        output.print_json([status.to_json() for status in found])
        return
    states = {"closed": _("已关闭"), "running": _("进行中"), "ended": _("已结束，未关闭")}
    rows = [
        [
            s.cycle.id,
            s.cycle.start.isoformat(),
            s.cycle.end.isoformat(),
            states[s.state],
            "" if s.closure is None else s.closure.actor,
            "" if s.closure is None else s.closure.closed_at.strftime("%Y-%m-%d %H:%M"),
            sum(kind.total for kind in s.open),
        ]
        for s in found
    ]
    columns = [_("周期"), _("起"), _("止"), _("状态"), _("关闭人"), _("关闭时间"), _("未了结")]
    output.stdout().print(output.table(_("疗养周期"), columns, rows))


@cycles.command(
    "status",
    short_help=_("一个周期尚未了结的事项或其关闭记录。"),
    help=_("一个周期尚未了结的事项（未结案件、未评价批次、逾期走访、待办任务），或其关闭记录。"),
    epilog=output.examples(
        "convalescence cycles status 2024-2025", "convalescence cycles status 2024-2025 --json"
    ),
)
@click.argument("cycle")
@output.json_option
def status_command(*, cycle: str, as_json: bool) -> None:
    """Exit 0 whether or not the cycle can close: the list is the answer."""
    from workflow.cycles import LIST_LIMIT, cycle_status  # noqa: PLC0415

    status = cycle_status(open_engine(), cycle)
    if as_json:
        output.print_json(status.to_json())
        return
    window = _("{cycle} 疗养周期（{start} 至 {end}）").format(
        cycle=cycle, start=status.cycle.start.isoformat(), end=status.cycle.end.isoformat()
    )
    if status.closure is not None:
        closure = status.closure
        output.say(
            _("{window}已由 {by} 于 {at} 关闭；审计摘要 {digest}，归档清单摘要 {archive}").format(
                window=window,
                by=closure.actor,
                at=closure.closed_at.strftime("%Y-%m-%d %H:%M"),
                digest=closure.audit_digest,
                archive=closure.archive_digest,
            )
        )
        return
    if status.closable:
        output.say(_("{window}没有未了结的事项，可以关闭。").format(window=window))
        return
    output.say(_("{window}尚有未了结的事项：").format(window=window))
    for kind in status.open:
        title = _("{what}（{article}）：共 {count} 项").format(
            what=_(KIND_TITLES[kind.kind]), article=kind.article, count=kind.total
        )
        if kind.total > LIST_LIMIT:
            title += _("（列出前 {limit} 项）").format(limit=LIST_LIMIT)
        rows = ([line] for line in kind.lines)
        output.stdout().print(output.table(title, [""], rows, header=False))


@cycles.command(
    "close",
    short_help=_("关闭周期并归档终期报告（仅市级）。"),
    help=_(
        "关闭一个疗养周期（仅市级主管部门）：有未了结事项时拒绝并列出；关闭后该周期的案件和批次"
        "不能再办理，终期绩效报告（A18.2）、走访名单和审计摘要写入一个归档目录。"
    ),
    epilog=output.examples(
        "convalescence --now 2026-01-05T09:00 cycles close 2024-2025 --as city_officer:赵敏",
        "convalescence cycles close 2024-2025 --as city_officer:赵敏 --out 归档-2024-2025",
    ),
)
@click.argument("cycle")
@click.option(
    "--as",
    "actor",
    required=True,
    callback=_actor,
    metavar="ROLE:NAME@SCOPE",
    help=_("谁在关闭（必填，须为市级主管部门 city_officer），记入管理日志（A19.1）。"),
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help=_("归档目录；默认为当前目录下的 cycle-周期编号，已存在且不为空时拒绝。"),
)
@output.json_option
def close_command(*, cycle: str, actor: Actor, out: Path | None, as_json: bool) -> None:
    """The folder is put in place only once the closing is recorded."""
    from workflow.cycles import close_cycle  # noqa: PLC0415

    closed = close_cycle(open_engine(), cycle, actor=actor, out=out)
    if as_json:
        output.print_json(closed.to_json())
        return
    closure = closed.closure
    output.say(
        _("已关闭 {cycle} 疗养周期（{by}，{at}）。").format(
            cycle=closure.cycle, by=closure.actor, at=closure.closed_at.strftime("%Y-%m-%d %H:%M")
        )
    )
    output.say(_("归档目录 {folder}").format(folder=closed.folder))
    rows = [[f["name"], f["bytes"], f["sha256"]] for f in closed.files]
    output.stdout().print(output.table(_("归档文件"), [_("文件名"), _("字节"), "SHA-256"], rows))
    output.say(_("审计摘要 {digest}").format(digest=closure.audit_digest))
    output.say(_("归档清单（manifest.json）摘要 {digest}").format(digest=closure.archive_digest))
