"""The ``convalescence`` group: global options, the command groups, and the one error boundary.

Every failure the engine raises on purpose is a `WorkflowError` whose class carries its exit
code, so the boundary below is the only place that turns errors into exit statuses: commands
never catch, print and exit on their own, and no traceback reaches an officer.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from workflow.calendar import HOLIDAYS_VAR
from workflow.cli import output
from workflow.cli import plans as plan_commands
from workflow.cli import serve as serve_commands
from workflow.cli.audit import audit
from workflow.cli.cadres import cadres
from workflow.cli.calendar import calendar
from workflow.cli.cases import cases
from workflow.cli.db import Settings, db
from workflow.cli.definitions import definitions
from workflow.cli.demo import demo
from workflow.cli.eligibility import eligibility
from workflow.cli.notifications import notifications
from workflow.cli.report import report
from workflow.cli.scheduler import scheduler
from workflow.cli.tasks import tasks
from workflow.clock import as_shanghai
from workflow.errors import WorkflowError, error_json
from workflow.store.connectivity import DatabaseUnreachable, masked_url, unreachable_reason

EXIT_CODES = """\b
Exit codes:
  0  ok
  1  refused by a rule (message cites the article)
  2  bad input or usage
  3  conflict (someone changed the case first; nothing was written)
  4  not found
  5  calendar data missing: no holiday notice for today's year (add it with --holidays)
  6  audit chain broken (names the first tampered record, A19.1)
"""
BAD_INPUT = 2


def parse_moment(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> datetime | None:
    """``--now``: an ISO date-time, read as Shanghai wall time when it names no zone."""
    if value is None:
        return None
    try:
        return as_shanghai(datetime.fromisoformat(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date-time such as 2024-05-01T09:00") from None


class ErrorBoundary(click.Group):
    """Turns the engine's errors and an unreachable database into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WorkflowError as error:
            output.print_error(error)
            if output.wants_json(ctx):
                output.print_json(error_json(error))
            ctx.exit(error.exit_code)
        except DatabaseUnreachable as error:
            _report_unreachable(ctx, error)
            ctx.exit(BAD_INPUT)


def _report_unreachable(ctx: click.Context, error: DatabaseUnreachable) -> None:
    """One line naming the database and the driver's reason; the password never shows."""
    url = ctx.ensure_object(Settings).url
    reason, shown = unreachable_reason(url, error), masked_url(url)
    output.print_database_error(shown, reason)
    if output.wants_json(ctx):
        output.print_json(output.database_error_json(shown, reason))


@click.group(cls=ErrorBoundary, epilog=EXIT_CODES)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="Database URL; default $CONVALESCENCE_DB, else sqlite:///convalescence.db here.",
)
@click.option(
    "--now",
    metavar="DATETIME",
    callback=parse_moment,
    help="Act as if it were this moment (ISO, Asia/Shanghai if no zone); default the clock.",
)
@click.option(
    "--holidays",
    metavar="FILE",
    envvar=HOLIDAYS_VAR,
    type=click.Path(path_type=Path, dir_okay=False),
    help=f'Holiday notices for years the built-in data lacks (YAML; README "Working days"); '
    f"default ${HOLIDAYS_VAR}.",
)
@click.pass_context
def main(
    ctx: click.Context, db_url: str | None, now: datetime | None, holidays: Path | None
) -> None:
    """Honorary convalescence (荣誉疗养) of retired military cadres: cases, steps, definitions."""
    # the CLI prints what an officer needs itself; library warnings reach a log only where one
    # is configured (the scheduler service configures one), never Python's bare stderr fallback
    for name in ("workflow", "notifications"):
        logging.getLogger(name).addHandler(logging.NullHandler())
    ctx.obj = Settings(db=db_url, now=now, holidays=holidays)
    if holidays is not None:
        ctx.obj.calendar()  # a bad file stops every command at once, naming each problem


main.add_command(db)
main.add_command(definitions)
main.add_command(cases)
main.add_command(demo)
main.add_command(eligibility)
main.add_command(cadres)
main.add_command(notifications)
main.add_command(scheduler)
main.add_command(tasks)
main.add_command(report)
main.add_command(audit)
main.add_command(calendar)
plan_commands.register(main)
serve_commands.register(main)
