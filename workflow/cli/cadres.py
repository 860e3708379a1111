"""``convalescence cadres``: import an agency roster (JSON, CSV or XLSX) into the cadre table.

The command is a shell over `workflow.roster.import_roster`. It renders a `RosterError` itself
instead of leaving it to the group's error boundary, for one reason: an officer fixes a roster
with the file open beside the terminal, so every problem gets its own ``FILE:ROW: field: reason``
line (greppable, one per problem) and ``--json`` carries the same list, which the generic
one-message rendering of the boundary cannot show. The exit status is still the error's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from rich.text import Text

from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.i18n import _, ngettext
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
