"""``convalescence tasks list``: the follow-up work the scheduler hands officers (A9.3)."""

from __future__ import annotations

from datetime import date

import click

from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.cli.output import iso_date
from workflow.cli.paging import print_page_end
from workflow.clock import shanghai_date
from workflow.fields import INT_MAX
from workflow.i18n import _, ngettext
from workflow.paging import Page
from workflow.store.tasks import read_tasks


@click.group(help=_("等待经办人处理的提醒、督办和重点走访慰问任务。"))
def tasks() -> None:
    """The task commands (help above, through the catalogue)."""


@tasks.command(
    "list",
    help=_("未办结的任务，到期早的在前（给出 --now 时按该时刻）。"),
    epilog=output.examples(
        "convalescence tasks list --role agency_officer --overdue",
        "convalescence tasks list --county 东昌府区 --due-before 2024-07-01 --json",
    ),
)
@click.option("--role", metavar="ROLE", help=_("只列此角色的任务，如 agency_officer。"))
@click.option("--county", metavar="NAME", help=_("只列该县（市、区）案件的任务。"))
@click.option("--agency", metavar="NAME", help=_("只列该军休服务管理机构案件的任务。"))
@click.option(
    "--due-before", metavar="DATE", callback=iso_date, help=_("只列 DATE 之前到期的任务。")
)
@click.option("--overdue", is_flag=True, help=_("只列已过期仍未办结的任务。"))
@click.option("--all", "include_done", is_flag=True, help=_("包括已办结的任务。"))
@click.option("--case", "case_id", type=int, metavar="ID", help=_("只列此案件的任务。"))
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=100,
    show_default=True,
    help=_("最多列出的条数。"),
)
@click.option(
    "--after",
    type=click.IntRange(1, INT_MAX),
    metavar="ID",
    help=_("接着编号为 ID 的任务往下列（上一页末尾提示的下一页）。"),
)
@output.json_option
def list_command(
    *,
    role: str | None,
    county: str | None,
    agency: str | None,
    due_before: date | None,
    overdue: bool,
    include_done: bool,
    case_id: int | None,
    limit: int,
    after: int | None,
    as_json: bool,
) -> None:
    """Reads the store as of the engine's clock, so --now shows what will be overdue then."""
    engine = open_engine()
    today = shanghai_date(engine.clock.now())
    engine.ensure_schema()
    found = read_tasks(
        engine.db,
        today=today,
        role=role,
        county=county,
        agency=agency,
        due_before=due_before,
        overdue=overdue,
        include_done=include_done,
        case_id=case_id,
        limit=limit + 1,  # one more says whether another page exists
        after=after,
    )
    page = Page.of(found, limit, key=lambda task: task.id)
    found = page.items
    if as_json:
        output.print_json([task.to_json(today) for task in found])
        print_page_end("", page.next_after, as_json=True)
        return
    rows = [
        (
            t.id,
            t.due_on,
            _("逾期") if t.overdue_on(today) else (_("已办结") if t.done_at else ""),
            t.assignee_role,
            t.county,
            t.agency,
            t.case_id,
            t.title,
        )
        for t in found
    ]
    if rows:
        columns = [
            _("编号"),
            _("到期日"),
            "",
            _("角色"),
            _("县（市、区）"),
            _("机构"),
            _("案件"),
            _("任务"),
        ]
        output.stdout().print(output.table(_("任务"), columns, rows))
    count = ngettext("{count} 项任务", "{count} 项任务", len(found)).format(count=len(found))
    print_page_end(count, page.next_after, as_json=False)
