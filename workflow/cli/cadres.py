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
from workflow.roster import ImportReport, RosterError, RowProblem, import_roster


@click.group()
def cadres() -> None:
    """The cadre roster (军休干部名册): import the files agencies hand over."""


@cadres.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE")
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the valid rows and report the invalid ones as skipped (exit 0); without it "
    "one invalid row means nothing is imported (exit 2).",
)
@output.json_option
@click.pass_context
def import_file(ctx: click.Context, file: Path, skip_invalid: bool, as_json: bool) -> None:
    """Import a roster FILE (.json, .csv or .xlsx; see docs/roster-formats.md).

    Every row is checked first; new cadres are created, changed ones updated and identical ones
    left alone, in one transaction, and each change is kept in the cadre's change log.
    Problems are printed one per line as FILE:ROW: field: reason.
    """
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
        f"{report.file}: 新增 created {report.created}, 更新 updated {report.updated}, "
        f"未变 unchanged {report.unchanged}, 跳过 skipped {report.skipped}",
        style="bold",
    )
    if report.skipped:
        output.say(
            f"{report.skipped} 行因错误被跳过，见上方各行 / {report.skipped} invalid row(s) were "
            "skipped, listed above: fix them and import the file again"
        )
