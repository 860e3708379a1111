"""``convalescence plans | contractors | batches``: annual plans, contractors and their batches.

Thin shells over `workflow.plans.service`: the service runs the rules and refuses with the
article; these commands only parse options and print the stored rows as a table or ``--json``.

``--as ROLE:NAME@SCOPE`` says who acts. Given, the command is checked against the definition's
``rules.permissions`` exactly as the API checks a token (`workflow.policy`, A5.2): a county
officer writes only its own county's plans and batches, contractor staff see and report only
for their own contractor, and a refusal exits 1 citing A5.2. Without it the command acts as the
database's operator (whoever holds the database, as for ``db upgrade``), as it always has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from workflow import policy
from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.cli.output import iso_date
from workflow.engine import Engine
from workflow.errors import InputError, RuleRefused
from workflow.machine import Actor
from workflow.plans import service
from workflow.plans.rules import BATCH_EXCEPTION_RULES


def _money(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not an amount such as 60000.00") from None


def _contacts(
    _ctx: click.Context, _param: click.Parameter, items: tuple[str, ...]
) -> list[dict[str, str]]:
    """``NAME:PHONE`` per named person of a service team (A15.1)."""
    contacts = []
    for item in items:
        name, sep, phone = item.partition(":")
        if not sep or not name.strip() or not phone.strip():
            raise click.BadParameter(f"{item!r} must look like NAME:PHONE, e.g. 王芳:0635-1234567")
        contacts.append({"name": name.strip(), "phone": phone.strip()})
    return contacts


def _approver(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[str, str] | None:
    if value is None:
        return None
    role, sep, name = value.partition(":")
    if not sep:
        raise click.BadParameter(f"{value!r} must look like ROLE:NAME, e.g. city_officer:赵敏")
    return role, name


def _actor(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Actor | None:
    if value is None:
        return None
    try:
        return Actor.parse(value)
    except InputError as error:
        raise click.BadParameter(error.message) from None


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

as_option = click.option(
    "--as",
    "actor",
    callback=_actor,
    metavar="ROLE:NAME@SCOPE",
    help="Who acts, e.g. county_officer:李娜@东昌府区; checked against the definition's "
    "rules.permissions as the API checks a token (A5.2). Omitted: the database's operator.",
)


def _allow(
    engine: Engine, actor: Actor | None, permission: str, target: policy.Target | None = None
) -> None:
    """Refuse citing A5.2 when ``actor`` lacks ``permission`` (on ``target``)."""
    if actor is None:
        return
    refusal = service.permission_refusal(engine, actor, permission, target)
    if refusal is not None:
        raise RuleRefused([refusal])


def _on_batch(engine: Engine, actor: Actor | None, permission: str, batch_id: int) -> None:
    """The permission, then the actor's scope on the batch (its plan's county, contractor)."""
    if actor is not None:
        _allow(engine, actor, permission)
        _allow(engine, actor, permission, service.batch_target(engine, batch_id))


def _visible(
    engine: Engine,
    actor: Actor | None,
    permission: str,
    rows: Sequence[Mapping[str, Any]],
    key: str,
) -> list[Mapping[str, Any]]:
    """The rows in the actor's scope (contractor staff: their own contractor's)."""
    if actor is None:
        return list(rows)
    rules = service.policy_rules(engine)
    return [r for r in rows if policy.sees(rules, permission, actor, r[key])]


def _who(actor: Actor | None, given: str | None, option: str) -> str:
    """``--by`` as given, else the acting ``--as`` (as the API records the caller)."""
    if given is not None:
        return given
    if actor is None:
        raise click.UsageError(f"{option} is required without --as")
    return str(actor)[:200]


def date_option(name: str, help_text: str, *, required: bool = True) -> Decorator:
    return click.option(name, required=required, metavar="DATE", callback=iso_date, help=help_text)


def _emit(row: Mapping[str, Any], as_json: bool, message: str) -> None:
    if as_json:
        output.print_json(dict(row))
    else:
        output.say(message)


def _print_rows(title: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    output.stdout().print(output.table(title, columns, ([r[c] for c in columns] for r in rows)))


def _print_record(title: str, row: Mapping[str, Any]) -> None:
    pairs = [(key, value) for key, value in row.items()]
    output.stdout().print(output.table(title, ["field", "value"], pairs, header=False))


# -- plans ------------------------------------------------------------------------------------


@click.group()
def plans() -> None:
    """Annual plans (A9.1 cycles): city or county organiser, budget, cycle."""


@plans.command("create")
@click.option("--year", type=int, required=True)
@click.option("--level", type=click.Choice(service.ORGANISER_LEVELS), required=True)
@click.option("--county", help="Required for a county plan.")
@click.option("--budget", required=True, callback=_money, metavar="AMOUNT")
@click.option("--cycle", required=True, help="A cycle id of the policy definition (A9.1).")
@as_option
@output.json_option
def create_plan(
    *,
    year: int,
    level: str,
    county: str | None,
    budget: Decimal,
    cycle: str,
    actor: Actor | None,
    as_json: bool,
) -> None:
    """Create an annual plan."""
    engine = open_engine()
    _allow(engine, actor, "plans:write")
    new = {"organiser_level": level, "county": county if level == "county" else None}
    _allow(engine, actor, "plans:write", policy.plan_target(new, "新计划"))
    plan = service.create_plan(
        engine, year=year, organiser_level=level, county=county, budget=budget, cycle=cycle
    )
    _emit(plan, as_json, f"plan {plan['id']} created ({year}, {level}, cycle {cycle})")


@plans.command("list")
@click.option("--year", type=int)
@as_option
@output.json_option
def list_plans(year: int | None, actor: Actor | None, as_json: bool) -> None:
    """List plans, oldest first."""
    engine = open_engine()
    _allow(engine, actor, "plans:read")
    rows = service.list_plans(engine, year=year)
    if as_json:
        output.print_json(rows)
        return
    _print_rows("Plans", ["id", "year", "organiser_level", "county", "cycle", "budget"], rows)


@plans.command("show")
@click.argument("plan_id", type=int)
@as_option
@output.json_option
def show_plan(plan_id: int, actor: Actor | None, as_json: bool) -> None:
    """Show a plan and its batches."""
    engine = open_engine()
    _allow(engine, actor, "plans:read")
    plan = service.show_plan(engine, plan_id)
    plan["batches"] = _visible(engine, actor, "plans:read", plan["batches"], "contractor_id")
    if as_json:
        output.print_json(plan)
        return
    batch_rows = plan.pop("batches")
    _print_record(f"Plan {plan_id}", plan)
    _print_rows("Batches", _BATCH_COLUMNS, batch_rows)


# -- contractors ------------------------------------------------------------------------------


@click.group()
def contractors() -> None:
    """Contractors (A10.1, A14.1, A18.3): kind, qualifications, agreements, evaluations."""


@contractors.command("create")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(service.CONTRACTOR_KINDS), required=True)
@click.option("--why-purchased", help="Why own resources are insufficient (A10.2).")
@click.option("--exit-threshold", callback=_money, metavar="SCORE", help="Override (A18.3).")
@as_option
@output.json_option
def create_contractor(
    *,
    name: str,
    kind: str,
    why_purchased: str | None,
    exit_threshold: Decimal | None,
    actor: Actor | None,
    as_json: bool,
) -> None:
    """Register a contractor; a name already registered is refused naming it (exit 2)."""
    engine = open_engine()
    _allow(engine, actor, "contractors:write")
    row = service.create_contractor(
        engine,
        name=name,
        kind=kind,
        why_purchased=why_purchased,
        exit_threshold_override=exit_threshold,
    )
    _emit(row, as_json, f"contractor {row['id']} created ({name}, {kind})")


@contractors.command("qualify")
@click.argument("contractor_id", type=int)
@click.option("--name", required=True, help="The qualification, e.g. 医疗机构执业许可证.")
@date_option("--from", "Valid from.")
@date_option("--until", "Valid until (inclusive).")
@as_option
@output.json_option
def qualify(
    contractor_id: int, name: str, actor: Actor | None, as_json: bool, **dates: date
) -> None:
    """Record a qualification with its validity (A14.1)."""
    engine = open_engine()
    _allow(engine, actor, "contractors:write")
    row = service.add_qualification(
        engine,
        contractor_id,
        name=name,
        valid_from=dates["from"],
        valid_until=dates["until"],
    )
    _emit(row, as_json, f"qualification {row['id']} recorded for contractor {contractor_id}")


@contractors.command("agree")
@click.argument("contractor_id", type=int)
@click.option("--plan", "plan_id", type=int, required=True)
@click.option("--no", "agreement_no", required=True, help="The agreement number.")
@date_option("--signed", "Signed on.")
@date_option("--from", "Valid from.")
@date_option("--until", "Valid until (inclusive).")
@as_option
@output.json_option
def agree(
    contractor_id: int,
    plan_id: int,
    agreement_no: str,
    actor: Actor | None,
    as_json: bool,
    **dates: date,
) -> None:
    """Record the agreement signed with a contractor for a plan (A14.1)."""
    engine = open_engine()
    if actor is not None:
        _allow(engine, actor, "agreements:write")
        _allow(engine, actor, "agreements:write", service.plan_target(engine, plan_id))
    row = service.add_agreement(
        engine,
        contractor_id,
        plan_id=plan_id,
        agreement_no=agreement_no,
        signed_on=dates["signed"],
        valid_from=dates["from"],
        valid_until=dates["until"],
    )
    _emit(row, as_json, f"agreement {agreement_no} recorded for plan {plan_id}")


@contractors.command("list")
@as_option
@output.json_option
def list_contractors(actor: Actor | None, as_json: bool) -> None:
    """List contractors."""
    engine = open_engine()
    _allow(engine, actor, "contractors:read")
    rows = _visible(engine, actor, "contractors:read", service.list_contractors(engine), "id")
    if as_json:
        output.print_json(rows)
        return
    _print_rows("Contractors", ["id", "name", "kind", "why_purchased"], rows)


@contractors.command("show")
@click.argument("contractor_id", type=int)
@as_option
@output.json_option
def show_contractor(contractor_id: int, actor: Actor | None, as_json: bool) -> None:
    """Show a contractor, its papers and its average evaluation (A18.3)."""
    engine = open_engine()
    _allow(engine, actor, "contractors:read")
    target = policy.Target(label=f"承办单位 {contractor_id}", contractor_id=contractor_id)
    _allow(engine, actor, "contractors:read", target)
    row = service.show_contractor(engine, contractor_id)
    if as_json:
        output.print_json(row)
        return
    quals, agreements = row.pop("qualifications"), row.pop("agreements")
    _print_record(f"Contractor {contractor_id}", row)
    _print_rows("Qualifications", ["name", "valid_from", "valid_until"], quals)
    _print_rows(
        "Agreements",
        ["plan_id", "agreement_no", "signed_on", "valid_from", "valid_until"],
        agreements,
    )


# -- batches ----------------------------------------------------------------------------------

_BATCH_COLUMNS = [
    "id",
    "plan_id",
    "contractor_id",
    "province",
    "place",
    "start_date",
    "end_date",
    "capacity",
    "seats_taken",
    "staff_count",
    "started_at",
]
approver_option = click.option(
    "--approver",
    callback=_approver,
    metavar="ROLE:NAME",
    help="Who approved the exception (the definition names who may, A5.2); default: --as.",
)


@click.group()
def batches() -> None:
    """Batches (A6): dates, place, capacity and seats, staff, plans, contacts, costs."""


@batches.command("add")
@click.option("--plan", "plan_id", type=int, required=True)
@click.option("--contractor", "contractor_id", type=int, required=True)
@click.option("--province", default="山东", show_default=True)
@click.option("--place", required=True)
@date_option("--start", "First day, travel included.")
@date_option("--end", "Last day, travel included (at most 7 days, A6.2).")
@click.option("--capacity", type=int, required=True)
@click.option("--staff", type=int, required=True, help="Support staff (A12.1: 1:5 to 1:10).")
@click.option("--safety-plan", help="Safety plan document reference (A13.1).")
@click.option("--emergency-plan", help="Emergency plan document reference (A13.1).")
@click.option("--organiser-contact", multiple=True, callback=_contacts, metavar="NAME:PHONE")
@click.option("--contractor-contact", multiple=True, callback=_contacts, metavar="NAME:PHONE")
@click.option("--budget", callback=_money, metavar="AMOUNT")
@click.option("--exception", "exceptions", multiple=True, type=click.Choice(BATCH_EXCEPTION_RULES))
@approver_option
@click.option("--reason", help="Why the exception is granted (A6.2).")
@as_option
@output.json_option
def add_batch(
    as_json: bool,
    exceptions: tuple[str, ...],
    approver: tuple[str, str] | None,
    reason: str | None,
    actor: Actor | None,
    **options: Any,
) -> None:
    """Add a batch to a plan; refused with the article if a rule says no."""
    approver = approver or ((actor.role, actor.name) if actor else None)
    grants = []
    for rule in exceptions:
        if approver is None or reason is None:
            raise click.UsageError("--exception needs --approver (or --as) and --reason")
        grants.append(service.ExceptionGrant(rule, approver[0], approver[1], reason))
    engine = open_engine()
    if actor is not None:
        _allow(engine, actor, "batches:write")
        _allow(engine, actor, "batches:write", service.plan_target(engine, options["plan_id"]))
    row = service.create_batch(
        engine,
        plan_id=options["plan_id"],
        contractor_id=options["contractor_id"],
        province=options["province"],
        place=options["place"],
        start_date=options["start"],
        end_date=options["end"],
        capacity=options["capacity"],
        staff_count=options["staff"],
        safety_plan_ref=options["safety_plan"],
        emergency_plan_ref=options["emergency_plan"],
        organiser_contacts=options["organiser_contact"],
        contractor_contacts=options["contractor_contact"],
        budget=options["budget"],
        exceptions=grants,
    )
    _emit(row, as_json, f"batch {row['id']} added to plan {row['plan_id']}")


@batches.command("list")
@click.option("--plan", "plan_id", type=int)
@as_option
@output.json_option
def list_batches(plan_id: int | None, actor: Actor | None, as_json: bool) -> None:
    """List batches, optionally of one plan."""
    engine = open_engine()
    _allow(engine, actor, "batches:read")
    rows = _visible(
        engine,
        actor,
        "batches:read",
        service.list_batches(engine, plan_id=plan_id),
        "contractor_id",
    )
    if as_json:
        output.print_json(rows)
        return
    _print_rows("Batches", _BATCH_COLUMNS, rows)


@batches.command("show")
@click.argument("batch_id", type=int)
@as_option
@output.json_option
def show_batch(batch_id: int, actor: Actor | None, as_json: bool) -> None:
    """Show a batch with its seats, exceptions, incidents and evaluation."""
    engine = open_engine()
    _on_batch(engine, actor, "batches:read", batch_id)
    row = service.show_batch(engine, batch_id)
    if as_json:
        output.print_json(row)
        return
    details = {key: row.pop(key) for key in ("exceptions", "seats", "incidents", "evaluations")}
    _print_record(f"Batch {batch_id}", row)
    _print_rows("Seats", ["case_id", "at"], details["seats"])
    _print_rows(
        "Exceptions",
        ["rule", "article", "approver_role", "approver_name", "reason"],
        details["exceptions"],
    )
    _print_rows("Incidents", ["at", "case_id", "description", "reported_by"], details["incidents"])
    _print_rows("Evaluations", ["score", "by", "at"], details["evaluations"])


@batches.command("start")
@click.argument("batch_id", type=int)
@as_option
@output.json_option
def start(batch_id: int, actor: Actor | None, as_json: bool) -> None:
    """Mark a batch started; needs both plans (A13.1) and staff for the seated (A12.1)."""
    engine = open_engine()
    _on_batch(engine, actor, "batches:write", batch_id)
    row = service.start_batch(engine, batch_id)
    _emit(row, as_json, f"batch {batch_id} started at {row['started_at']}")


@batches.command("exception")
@click.argument("batch_id", type=int)
@click.option("--rule", type=click.Choice(BATCH_EXCEPTION_RULES), required=True)
@approver_option
@click.option("--reason", required=True, help="Why (A6.2: never a silent pass).")
@as_option
@output.json_option
def exception(
    *,
    batch_id: int,
    rule: str,
    approver: tuple[str, str] | None,
    reason: str,
    actor: Actor | None,
    as_json: bool,
) -> None:
    """Record an A6.2 exception (over 50 cadres, out of province) on a batch."""
    approver = approver or ((actor.role, actor.name) if actor else None)
    if approver is None:
        raise click.UsageError("--approver (or --as) is required")
    engine = open_engine()
    _on_batch(engine, actor, "batches:write", batch_id)
    grant = service.ExceptionGrant(rule, approver[0], approver[1], reason)
    row = service.record_exception(engine, batch_id, grant)
    _emit(row, as_json, f"exception {rule} recorded on batch {batch_id}")


@batches.command("evaluate")
@click.argument("batch_id", type=int)
@click.option("--score", type=click.IntRange(0, 100), required=True)
@click.option("--by", help="Who evaluates; default: --as.")
@as_option
@output.json_option
def evaluate(batch_id: int, score: int, by: str | None, actor: Actor | None, as_json: bool) -> None:
    """Evaluate the batch's contractor (A18.3)."""
    who = _who(actor, by, "--by")
    engine = open_engine()
    _on_batch(engine, actor, "batches:evaluate", batch_id)
    row = service.evaluate_contractor(engine, batch_id, score=score, by=who)
    _emit(row, as_json, f"contractor {row['contractor_id']} scored {score} for batch {batch_id}")


@batches.command("incident")
@click.argument("batch_id", type=int)
@click.option("--case", "case_id", type=int, help="The case concerned, if any.")
@click.option("--description", required=True)
@click.option("--by", "reported_by", help="Who reports; default: --as.")
@as_option
@output.json_option
def incident(
    *,
    batch_id: int,
    case_id: int | None,
    description: str,
    reported_by: str | None,
    actor: Actor | None,
    as_json: bool,
) -> None:
    """Log an incident against a batch and optionally a case (A13.2)."""
    who = _who(actor, reported_by, "--by")
    engine = open_engine()
    _on_batch(engine, actor, "incidents:write", batch_id)
    row = service.record_incident(
        engine, batch_id, description=description, reported_by=who, case_id=case_id
    )
    _emit(row, as_json, f"incident {row['id']} logged on batch {batch_id}")


def register(main: click.Group) -> None:
    """Add the three groups to the top-level command (one line in ``main.py``)."""
    for group in (plans, contractors, batches):
        main.add_command(group)
