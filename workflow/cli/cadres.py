"""``convalescence cadres``: import an agency roster (JSON, CSV or XLSX) into the cadre table.

The command is a shell over `workflow.roster.import_roster`. It renders a `RosterError` itself
instead of leaving it to the group's error boundary, for one reason: an officer fixes a roster
with the file open beside the terminal, so every problem gets its own ``FILE:ROW: field: reason``
line (greppable, one per problem) and ``--json`` carries the same list, which the generic
one-message rendering of the boundary cannot show. The exit status is still the error's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click
from rich.text import Text

from workflow.cli import output
from workflow.cli.cases import parse_actor
from workflow.cli.db import open_engine
from workflow.i18n import _, ngettext
from workflow.machine import Actor
from workflow.roster import ImportReport, RosterError, RowProblem, import_roster


@click.group(help=_("军休干部名册：导入各军休机构交来的名册文件。"))
def cadres() -> None:
    """The roster commands (help above, through the catalogue)."""


@cadres.command(
    "import",
    help=_(
        "导入名册文件 FILE（.json、.csv 或 .xlsx，格式见 docs/roster-formats.md）。\n\n"
        "先检查每一行；新干部新建、有变化的更新、相同的不动，在一个事务内完成，"
        "每项变更记入该干部的变更记录。问题逐行输出，格式为 文件:行: 字段: 原因。"
    ),
    epilog=output.examples(
        "convalescence cadres import roster.xlsx",
        "convalescence cadres import roster.csv --skip-invalid --json",
    ),
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE")
@click.option(
    "--skip-invalid",
    is_flag=True,
    help=_(
        "导入有效的行，无效的行报告为已跳过（退出状态 0）；"
        "不加此项时，有一行无效即全部不导入（退出状态 2）。"
    ),
)
@output.json_option
@click.pass_context
def import_file(ctx: click.Context, file: Path, skip_invalid: bool, as_json: bool) -> None:
    """A RosterError is rendered here, not at the boundary: one line per problem (module note)."""
    engine = open_engine()
    try:
        report = import_roster(engine, file, skip_invalid=skip_invalid, shown_as=str(file))
    except RosterError as error:
        _print_problems(error.problems)
        output.stderr().print(Text(error.summary, style="red"))
        if as_json:
            output.print_json(error.to_json())
        ctx.exit(error.exit_code)
    _print_problems(report.problems)
    if as_json:
        output.print_json(report.to_json())
        return
    _print_report(report)


def _print_problems(problems: Sequence[RowProblem]) -> None:
    """Messages for people go to stderr, one unwrapped line each, so ``--json`` stays parseable."""
    console = output.stderr()
    for problem in problems:
        console.print(Text(str(problem), style="yellow"))


def _print_report(report: ImportReport) -> None:
    output.say(
        _("{file}：新增 {created}，更新 {updated}，未变 {unchanged}，跳过 {skipped}").format(
            file=report.file,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            skipped=report.skipped,
        ),
        style="bold",
    )
    if report.skipped:
        output.say(
            ngettext(
                "{count} 行因错误被跳过，见上方各行：改正后重新导入该文件",
                "{count} 行因错误被跳过，见上方各行：改正后重新导入该文件",
                report.skipped,
            ).format(count=report.skipped)
        )


# -- A9.3: a cadre who cannot take part in a cycle ---------------------------------------------


@cadres.command(
    "unable",
    help=_(
        "登记军休干部 CADRE_ID 因身体健康等原因无法参加某一疗养周期（第九条，A9.3）。\n\n"
        "由军休机构或县级部门工作人员在本人职责范围内登记（A5.2），写明原因；"
        "不需要报名案件。定时任务随后为其开启一项重点走访慰问；周期结束后补登的，"
        "走访补开并标记为逾期。每名干部每个周期只登记一次，登记不可修改。"
    ),
)
@click.argument("cadre_id", metavar="CADRE_ID")
@click.option("--cycle", required=True, metavar="CYCLE", help=_("疗养周期编号，如 2024-2025。"))
@click.option("--reason", required=True, help=_("无法参加的原因，如 因脑梗住院治疗。"))
@click.option(
    "--on",
    "occurred_on",
    metavar="DATE",
    callback=output.iso_date,
    help=_("无法参加的情况发生的日期（须在该周期内）；不写为今天。"),
)
@click.option(
    "--as",
    "actor",
    required=True,
    metavar="ROLE:NAME@SCOPE",
    callback=parse_actor,
    help=_("登记人，如 agency_officer:王芳@东昌府区军休所 或 county_officer:赵局长@东昌府区。"),
)
@output.json_option
def unable(
    *,
    cadre_id: str,
    cycle: str,
    reason: str,
    occurred_on: date | None,
    actor: Actor,
    as_json: bool,
) -> None:
    from workflow.unable import record_unable  # noqa: PLC0415  # help loads no engine

    report = record_unable(
        open_engine(), cadre_id, cycle=cycle, reason=reason, actor=actor, occurred_on=occurred_on
    )
    if as_json:
        output.print_json(report.to_json())
        return
    output.say(
        _("已登记：{cadre} 在周期 {cycle} 无法参加疗养（登记编号 {id}，{who}）").format(
            cadre=report.cadre_id, cycle=report.cycle, id=report.id, who=report.reporter_name
        ),
        style="bold",
    )


@cadres.command(
    "unable-list",
    help=_("列出无法参加疗养的登记及其重点走访慰问案件（第九条，A9.3）。"),
    epilog=output.examples(
        "convalescence cadres unable-list --cycle 2024-2025",
        "convalescence cadres unable-list --cadre LC-DCF-0001 --json",
    ),
)
@click.option("--cycle", metavar="CYCLE", help=_("只列出该周期。"))
@click.option("--cadre", "cadre_id", metavar="CADRE_ID", help=_("只列出该干部。"))
@output.json_option
def unable_list(*, cycle: str | None, cadre_id: str | None, as_json: bool) -> None:
    from workflow.unable import list_unable  # noqa: PLC0415  # help loads no engine

    rows = list_unable(open_engine(), cycle=cycle, cadre_id=cadre_id)
    if as_json:
        output.print_json(rows)
        return
    output.stdout().print(
        output.table(
            _("无法参加疗养登记（A9.3）"),
            [_("编号"), _("周期"), _("干部"), _("日期"), _("原因"), _("登记人"), _("走访案件")],
            [
                (
                    r["id"],
                    r["cycle"],
                    f"{r['cadre_id']} {r['name']}",
                    r["occurred_on"],
                    r["reason"],
                    r["reporter_name"],
                    _("{case}（逾期）").format(case=r["visit_case_id"])
                    if r["visit_late"]
                    else r["visit_case_id"],
                )
                for r in rows
            ],
        )
    )
