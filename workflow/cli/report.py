"""``convalescence report``: the annual performance report (A18.2), a batch's printable roster
and the condolence-visit list (A9.3).

Each command writes one file (HTML by default, or XLSX) and prints its path on stdout, so a
script can pick the file up; ``--json`` prints the figures instead and writes nothing. Bad input
(a year out of range, an unknown cycle, a missing output directory) is an `InputError` (exit 2)
naming the option; an unknown batch is `NotFoundError` (exit 4). The error boundary in
`workflow.cli.main` prints both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.i18n import _
from workflow.reports import batch_roster, performance_report, visit_list
from workflow.reports.files import (
    FORMATS,
    Format,
    performance_bytes,
    performance_name,
    roster_bytes,
    roster_name,
    target,
    visits_bytes,
    visits_name,
    write_bytes,
)


def _file_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--format`` and ``--out``, the same on every report."""
    function = click.option(
        "--out",
        type=click.Path(path_type=Path),
        help=_("要写入的文件，或一个已有目录（用默认文件名）；默认为当前目录。"),
    )(function)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="html",
        show_default=True,
        help=_("html：一个可打印的文件，含图表；xlsx：每张表一个工作表。"),
    )(function)


@click.group(help=_("报表：年度绩效（A18.2）、批次名单、走访慰问（A9.3）。"))
def report() -> None:
    """The report commands (help above, through the catalogue)."""


@report.command(
    "performance",
    help=_(
        "按组织方、县和承办单位统计计划与实到、完成率、满意度、例外和走访慰问（A18.2）；输出所写文件的路径。"
    ),
    epilog=output.examples(
        "convalescence report performance --year 2024",
        "convalescence report performance --year 2024 --format xlsx --out 绩效2024.xlsx",
        "convalescence report performance --year 2024 --json",
    ),
)
@click.option("--year", type=int, required=True, help=_("计划年度，如 2024。"))
@_file_options
@output.json_option
def performance(year: int, fmt: Format, out: Path | None, as_json: bool) -> None:
    """The path goes to stdout alone, so a script can pick the file up."""
    engine = open_engine()
    if as_json:
        output.print_json(performance_report(engine, year).to_json())
        return
    path = target(out, performance_name(year, fmt))
    click.echo(str(write_bytes(path, performance_bytes(engine, year, fmt))))


@report.command(
    "batch-roster",
    help=_("一个批次的可打印干部名单（身份证号已遮蔽）及批次概况。"),
    epilog=output.examples("convalescence report batch-roster --batch 1"),
)
@click.option("--batch", "batch_id", type=int, required=True, help=_("批次编号。"))
@_file_options
@output.json_option
def roster(batch_id: int, fmt: Format, out: Path | None, as_json: bool) -> None:
    """ID numbers are masked because the list is printed and handed round on the trip."""
    engine = open_engine()
    if as_json:
        output.print_json(batch_roster(engine, batch_id).to_json())
        return
    path = target(out, roster_name(batch_id, fmt))
    click.echo(str(write_bytes(path, roster_bytes(engine, batch_id, fmt))))


@report.command(
    "visits",
    help=_("走访慰问任务（A9.3），含期限、走访人和是否按时。"),
    epilog=output.examples("convalescence report visits --cycle 2024-2025 --overdue"),
)
@click.option("--cycle", help=_("只列政策的此周期（A9.1），如 2024-2025。"))
@click.option("--overdue", is_flag=True, help=_("只列到周期结束仍未记录的走访。"))
@_file_options
@output.json_option
def visits(cycle: str | None, overdue: bool, fmt: Format, out: Path | None, as_json: bool) -> None:
    """Read from the condolence-visit cases, so the list is what the scheduler opened."""
    engine = open_engine()
    if as_json:
        output.print_json(visit_list(engine, cycle=cycle, overdue=overdue).to_json())
        return
    path = target(out, visits_name(cycle, overdue, fmt))
    click.echo(str(write_bytes(path, visits_bytes(engine, cycle, overdue, fmt))))
