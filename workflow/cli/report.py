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
        help="File to write, or an existing directory for the default name; default: here.",
    )(function)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="html",
        show_default=True,
        help="html: one printable file with charts; xlsx: one sheet per table.",
    )(function)


@click.group()
def report() -> None:
    """Reports: annual performance (A18.2), batch roster, condolence visits (A9.3)."""


@report.command("performance")
@click.option("--year", type=int, required=True, help="The plan year, e.g. 2024.")
@_file_options
@output.json_option
def performance(year: int, fmt: Format, out: Path | None, as_json: bool) -> None:
    """Planned vs attended, completion, satisfaction, exceptions and condolence visits per
    organiser, county and contractor (A18.2); prints the written file's path."""
    engine = open_engine()
    if as_json:
        output.print_json(performance_report(engine, year).to_json())
        return
    path = target(out, performance_name(year, fmt))
    click.echo(str(write_bytes(path, performance_bytes(engine, year, fmt))))


@report.command("batch-roster")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
@_file_options
@output.json_option
def roster(batch_id: int, fmt: Format, out: Path | None, as_json: bool) -> None:
    """The printable list of a batch's cadres (ID numbers masked) and the batch's facts."""
    engine = open_engine()
    if as_json:
        output.print_json(batch_roster(engine, batch_id).to_json())
        return
    path = target(out, roster_name(batch_id, fmt))
    click.echo(str(write_bytes(path, roster_bytes(engine, batch_id, fmt))))


@report.command("visits")
@click.option("--cycle", help="Only this cycle of the policy (A9.1), e.g. 2024-2025.")
@click.option("--overdue", is_flag=True, help="Only visits not recorded by the end of their cycle.")
@_file_options
@output.json_option
def visits(cycle: str | None, overdue: bool, fmt: Format, out: Path | None, as_json: bool) -> None:
    """Condolence-visit tasks (A9.3) with due date, visitor and whether on time."""
    engine = open_engine()
    if as_json:
        output.print_json(visit_list(engine, cycle=cycle, overdue=overdue).to_json())
        return
    path = target(out, visits_name(cycle, overdue, fmt))
    click.echo(str(write_bytes(path, visits_bytes(engine, cycle, overdue, fmt))))
