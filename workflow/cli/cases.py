"""``convalescence cases``: open a case, move it one step, and read cases and their history.

Each command is a thin shell over one `Engine` call; the engine decides and explains, the command
only turns text options into arguments and the result into a table or JSON.
"""

from __future__ import annotations

from collections.abc import Sequence

import click
from rich.table import Table

from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.engine import DEFAULT_DEFINITION
from workflow.errors import InputError
from workflow.machine import Actor
from workflow.records import CaseView, HistoryEntry


def parse_actor(_ctx: click.Context, _param: click.Parameter, value: str) -> Actor:
    """``--as ROLE:NAME``, refused at the edge with the engine's own explanation."""
    try:
        return Actor.parse(value)
    except InputError as error:
        raise click.BadParameter(error.message) from None


def parse_data(
    _ctx: click.Context, _param: click.Parameter, items: tuple[str, ...]
) -> dict[str, str]:
    """``--data KEY=VALUE`` items as the step's evidence (A7.2).

    Values stay text: the step's declared field types coerce them. A key given twice is a typo,
    not an override, so it is refused rather than one value picked silently.
    """
    data: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{item!r} must look like KEY=VALUE, e.g. relation=女儿")
        if key in data:
            raise click.BadParameter(f"{key!r} is given more than once")
        data[key] = value
    return data


actor_option = click.option(
    "--as",
    "actor",
    required=True,
    metavar="ROLE:NAME",
    callback=parse_actor,
    help="Who acts, as ROLE:NAME (e.g. agency_officer:王芳); the role must be allowed (A5.2).",
)
data_option = click.option(
    "--data",
    "data",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_data,
    help="Evidence the step records (A7.2), one KEY=VALUE per option; repeat as needed.",
)
reason_option = click.option("--reason", help="Why, kept in the case history (A19.1).")


@click.group()
def cases() -> None:
    """Open cases, move them through the policy's steps, and read them."""


@cases.command("open")
@click.option("--cadre", "cadre_id", required=True, metavar="ID", help="The cadre's roster id.")
@actor_option
@click.option("--definition", default=DEFAULT_DEFINITION, show_default=True, metavar="NAME")
@data_option
@reason_option
@output.json_option
def open_case(
    *,
    cadre_id: str,
    actor: Actor,
    definition: str,
    data: dict[str, str],
    reason: str | None,
    as_json: bool,
) -> None:
    """Register a cadre for convalescence (A7.1) under the policy version in force today."""
    view = open_engine().open_case(
        cadre_id, actor=actor, definition=definition, data=data, reason=reason
    )
    _print_case(view, as_json)


@cases.command()
@click.argument("case_id", type=int, metavar="CASE_ID")
@click.argument("trigger")
@actor_option
@data_option
@reason_option
@click.option(
    "--expect-version",
    type=click.IntRange(min=1),
    metavar="N",
    help="Refuse (exit 3) if the case is no longer at version N: someone acted first.",
)
@output.json_option
def fire(
    *,
    case_id: int,
    trigger: str,
    actor: Actor,
    data: dict[str, str],
    reason: str | None,
    expect_version: int | None,
    as_json: bool,
) -> None:
    """Move case CASE_ID one step by TRIGGER (see `cases show` for the steps open to it)."""
    view = open_engine().fire(
        case_id,
        trigger,
        actor=actor,
        data=data,
        reason=reason,
        expected_version=expect_version,
    )
    _print_case(view, as_json)


@cases.command()
@click.argument("case_id", type=int, metavar="CASE_ID")
@output.json_option
def show(case_id: int, as_json: bool) -> None:
    """A case's state, recorded evidence and the steps open to it, with who may take them."""
    _print_case(open_engine().case(case_id), as_json)


@cases.command()
@click.argument("case_id", type=int, metavar="CASE_ID")
@output.json_option
def history(case_id: int, as_json: bool) -> None:
    """Every step the case took: who, when, from where to where, what was recorded, why."""
    entries = open_engine().history(case_id)
    if as_json:
        output.print_json([entry.to_json() for entry in entries])
        return
    output.stdout().print(_history_table(case_id, entries))


@cases.command("list")
@click.option("--state", metavar="STATE", help="Only cases in this state.")
@click.option("--county", metavar="COUNTY", help="Only cases filed under this county.")
@click.option("--agency", metavar="AGENCY", help="Only cases filed under this agency.")
@click.option("--cadre", "cadre_id", metavar="ID", help="Only this cadre's cases.")
@click.option("--open", "open_only", is_flag=True, help="Only cases not yet ended.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@output.json_option
def list_cases(
    *,
    state: str | None,
    county: str | None,
    agency: str | None,
    cadre_id: str | None,
    open_only: bool,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List cases in case-number order, filtered by the database; page with --limit/--offset."""
    views = open_engine().cases(
        state=state,
        county=county,
        agency=agency,
        cadre_id=cadre_id,
        open_only=open_only,
        limit=limit,
        offset=offset,
    )
    if as_json:
        output.print_json([view.to_json() for view in views])
        return
    if views:
        output.stdout().print(_list_table(views))
    more = " (limit reached: use --offset for more)" if len(views) == limit else ""
    output.say(f"{len(views)} case(s){more}")


# -- rendering ----------------------------------------------------------------------------


def _print_case(view: CaseView, as_json: bool) -> None:
    if as_json:
        output.print_json(view.to_json())
        return
    console = output.stdout()
    output.say(
        f"案件 case {view.id} · {view.definition} v{view.definition_version} · "
        f"军休干部 {view.cadre_id} · {view.county} / {view.agency}"
    )
    output.say(
        f"状态 state: {view.state}（{view.state_label}） · version {view.version}"
        + (" · 已结案 closed" if view.terminal else ""),
        style="bold",
    )
    if view.evidence:
        console.print(output.table("证据 evidence", ["field", "value"], view.evidence.items()))
    if view.next_steps:
        rows = [(s.trigger, s.label, s.dest, ", ".join(s.roles)) for s in view.next_steps]
        columns = ["trigger", "说明 label", "to", "roles (--as ROLE:NAME)"]
        console.print(output.table("下一步 next steps", columns, rows))


def _history_table(case_id: int, entries: Sequence[HistoryEntry]) -> Table:
    rows = [
        (
            e.seq,
            e.at.isoformat(timespec="minutes"),
            e.trigger,
            f"{e.from_state or '—'} → {e.to_state}",
            f"{e.role}:{e.actor}",
            "\n".join(f"{key}={value}" for key, value in e.data.items()),
            e.reason,
        )
        for e in entries
    ]
    columns = ["#", "at", "trigger", "state", "actor", "data", "reason"]
    return output.table(f"案件 {case_id} 历史 history (A19.1)", columns, rows)


def _list_table(views: Sequence[CaseView]) -> Table:
    rows = [
        (
            v.id,
            v.cadre_id,
            v.county,
            v.agency,
            v.state,
            v.state_label,
            v.version,
            v.updated_at.isoformat(timespec="minutes"),
        )
        for v in views
    ]
    columns = ["case", "cadre", "county", "agency", "state", "说明 label", "version", "updated"]
    return output.table("案件 cases", columns, rows)
