"""``convalescence tasks list``: the follow-up work the scheduler hands officers (A9.3)."""

from __future__ import annotations

from datetime import date

import click

from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.cli.output import iso_date
from workflow.clock import shanghai_date
from workflow.store.tasks import read_tasks


@click.group()
def tasks() -> None:
    """Reminders, escalations and condolence visits waiting for an officer."""


@tasks.command("list")
@click.option("--role", metavar="ROLE", help="Only tasks for this role, e.g. agency_officer.")
@click.option("--county", metavar="NAME", help="Only tasks of cases in this county.")
@click.option("--agency", metavar="NAME", help="Only tasks of cases of this agency.")
@click.option("--due-before", metavar="DATE", callback=iso_date, help="Only tasks due before DATE.")
@click.option("--overdue", is_flag=True, help="Only open tasks past their due date.")
@click.option("--all", "include_done", is_flag=True, help="Include done tasks.")
@click.option("--case", "case_id", type=int, metavar="ID", help="Only this case's tasks.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
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
    as_json: bool,
) -> None:
    """Open tasks, soonest due first (as of --now when given)."""
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
        limit=limit,
    )
    if as_json:
        output.print_json([task.to_json(today) for task in found])
        return
    rows = [
        (
            t.id,
            t.due_on,
            "逾期 overdue" if t.overdue_on(today) else ("done" if t.done_at else ""),
            t.assignee_role,
            t.county,
            t.agency,
            t.case_id,
            t.title,
        )
        for t in found
    ]
    if rows:
        columns = ["id", "due", "", "role", "county", "agency", "case", "task"]
        output.stdout().print(output.table("任务 tasks", columns, rows))
    more = " (limit reached: raise --limit for more)" if len(found) == limit else ""
    output.say(f"{len(found)} task(s){more}")
