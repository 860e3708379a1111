"""``convalescence plans | contractors | batches``: annual plans, contractors and their batches.

Thin shells over `workflow.plans.service`: the service runs the rules and refuses with the
article; these commands only parse options and print the stored rows as a table or ``--json``.

``--as ROLE:NAME@SCOPE`` (required) says who acts. The command is checked against the
definition's ``rules.permissions`` exactly as the API checks a token (`workflow.policy`, A5.2):
a county officer writes only its own county's plans and batches, contractor staff see and
report only for their own contractor, and a refusal exits 1 citing A5.2. Every write is
recorded in the admin log with that actor (A19.1): an A6.2 exception's approver and a
contractor evaluation's evaluator are the actor, never a name typed beside it.
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
from workflow.i18n import _
from workflow.machine import Actor
from workflow.plans import service
from workflow.plans.rules import BATCH_EXCEPTION_RULES


def _money(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(
            _("{value!r} 不是金额，应形如 60000.00").format(value=value)
        ) from None


def _contacts(
    _ctx: click.Context, _param: click.Parameter, items: tuple[str, ...]
) -> list[dict[str, str]]:
    """``NAME:PHONE`` per named person of a service team (A15.1)."""
    contacts = []
    for item in items:
        name, sep, phone = item.partition(":")
        if not sep or not name.strip() or not phone.strip():
            raise click.BadParameter(
                _("{item!r} 应形如 姓名:电话，如 王芳:0635-1234567").format(item=item)
            )
        contacts.append({"name": name.strip(), "phone": phone.strip()})
    return contacts


def _actor(_ctx: click.Context, _param: click.Parameter, value: str) -> Actor:
    try:
        return Actor.parse(value)
    except InputError as error:
        raise click.BadParameter(error.message) from None


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

as_option = click.option(
    "--as",
    "actor",
    required=True,
    callback=_actor,
    metavar="ROLE:NAME@SCOPE",
    help=_(
        "谁在操作（必填），如 county_officer:李娜@东昌府区；按流程定义的 rules.permissions "
        "检查，与 API 检查令牌相同（A5.2），并记入管理日志（A19.1）。"
    ),
)


def _allow(
    engine: Engine, actor: Actor, permission: str, target: policy.Target | None = None
) -> None:
    """Refuse citing A5.2 when ``actor`` lacks ``permission`` (on ``target``)."""
    refusal = service.permission_refusal(engine, actor, permission, target)
    if refusal is not None:
        raise RuleRefused([refusal])


def _on_batch(engine: Engine, actor: Actor, permission: str, batch_id: int) -> None:
    """The permission, then the actor's scope on the batch (its plan's county, contractor)."""
    _allow(engine, actor, permission)
    _allow(engine, actor, permission, service.batch_target(engine, batch_id))


def _visible(
    engine: Engine,
    actor: Actor,
    permission: str,
    rows: Sequence[Mapping[str, Any]],
    key: str,
) -> list[Mapping[str, Any]]:
    """The rows in the actor's scope (contractor staff: their own contractor's)."""
    rules = service.policy_rules(engine)
    return [r for r in rows if policy.sees(rules, permission, actor, r[key])]


def _who(actor: Actor, given: str | None) -> str:
    """``--by`` as given (who reported an incident), else the acting ``--as``."""
    return given if given is not None else str(actor)[:200]


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
    output.stdout().print(output.table(title, [_("字段"), _("值")], pairs, header=False))


# -- plans ------------------------------------------------------------------------------------


@click.group(help=_("年度计划（A9.1 周期）：市级或县级组织、预算、周期。"))
def plans() -> None:
    """The plan commands (help above, through the catalogue)."""


@plans.command(
    "create",
    help=_("新建年度计划。"),
    epilog=output.examples(
        "convalescence --now 2024-05-06T09:30 plans create --year 2024 --level county "
        "--county 东昌府区 "
        "--budget 60000.00 --cycle 2024-2025 --as county_officer:李娜@东昌府区",
    ),
)
@click.option("--year", type=int, required=True, help=_("计划年度。"))
@click.option(
    "--level",
    type=click.Choice(service.ORGANISER_LEVELS),
    required=True,
    help=_("组织层级：city 市级，county 县级。"),
)
@click.option("--county", help=_("县级计划必填：所属县（市、区）。"))
@click.option("--budget", required=True, callback=_money, metavar="AMOUNT", help=_("预算金额。"))
@click.option("--cycle", required=True, help=_("流程定义中的疗养周期编号（A9.1）。"))
@as_option
@output.json_option
def create_plan(
    *,
    year: int,
    level: str,
    county: str | None,
    budget: Decimal,
    cycle: str,
    actor: Actor,
    as_json: bool,
) -> None:
    """A county officer creates only its own county's plan (A5.2), checked before writing."""
    engine = open_engine()
    _allow(engine, actor, "plans:write")
    new = {"organiser_level": level, "county": county if level == "county" else None}
    _allow(engine, actor, "plans:write", policy.plan_target(new, "新计划"))
    plan = service.create_plan(
        engine,
        year=year,
        organiser_level=level,
        county=county,
        budget=budget,
        cycle=cycle,
        actor=actor,
    )
    _emit(
        plan,
        as_json,
        _("已新建计划 {id}（{year} 年，{level}，周期 {cycle}）").format(
            id=plan["id"], year=year, level=level, cycle=cycle
        ),
    )


@plans.command(
    "list",
    help=_("列出年度计划，最早的在前。"),
    epilog=output.examples("convalescence plans list --year 2024 --json --as auditor:审计员"),
)
@click.option("--year", type=int, help=_("只列此年度的计划。"))
@as_option
@output.json_option
def list_plans(year: int | None, actor: Actor, as_json: bool) -> None:
    """Every role reading plans sees all of them (rules.permissions plans:read)."""
    engine = open_engine()
    _allow(engine, actor, "plans:read")
    rows = service.list_plans(engine, year=year)
    if as_json:
        output.print_json(rows)
        return
    _print_rows(_("年度计划"), ["id", "year", "organiser_level", "county", "cycle", "budget"], rows)


@plans.command(
    "show",
    help=_("查看计划 PLAN_ID 及其批次。"),
    epilog=output.examples("convalescence plans show 1 --as county_officer:李娜@东昌府区"),
)
@click.argument("plan_id", type=int)
@as_option
@output.json_option
def show_plan(plan_id: int, actor: Actor, as_json: bool) -> None:
    """Contractor staff see only their own contractor's batches of the plan."""
    engine = open_engine()
    _allow(engine, actor, "plans:read")
    plan = service.show_plan(engine, plan_id)
    plan["batches"] = _visible(engine, actor, "plans:read", plan["batches"], "contractor_id")
    if as_json:
        output.print_json(plan)
        return
    batch_rows = plan.pop("batches")
    _print_record(_("计划 {id}").format(id=plan_id), plan)
    _print_rows(_("批次"), _BATCH_COLUMNS, batch_rows)


# -- contractors ------------------------------------------------------------------------------


@click.group(help=_("承办单位（A10.1、A14.1、A18.3）：类型、资质、协议、评价。"))
def contractors() -> None:
    """The contractor commands (help above, through the catalogue)."""


@contractors.command(
    "create",
    help=_("登记承办单位；名称已登记的被拒绝并指出名称（退出状态 2）。"),
    epilog=output.examples(
        "convalescence contractors create --name 聊城颐养院 --kind purchased_service "
        "--why-purchased 自有资源床位不足 --as city_officer:赵敏",
    ),
)
@click.option("--name", required=True, help=_("承办单位名称。"))
@click.option(
    "--kind",
    type=click.Choice(service.CONTRACTOR_KINDS),
    required=True,
    help=_(
        "类型（A10.1）：own_resource 自有资源，partner_unit 合作单位，purchased_service 购买服务。"
    ),
)
@click.option("--why-purchased", help=_("自有资源为何不足（A10.2）。"))
@click.option(
    "--exit-threshold",
    callback=_money,
    metavar="SCORE",
    help=_("退出分数线，替代流程定义中的设置（A18.3）。"),
)
@as_option
@output.json_option
def create_contractor(
    *,
    name: str,
    kind: str,
    why_purchased: str | None,
    exit_threshold: Decimal | None,
    actor: Actor,
    as_json: bool,
) -> None:
    """Contractors serve every organiser (A14.1), so only the city writes them."""
    engine = open_engine()
    _allow(engine, actor, "contractors:write")
    row = service.create_contractor(
        engine,
        name=name,
        kind=kind,
        why_purchased=why_purchased,
        exit_threshold_override=exit_threshold,
        actor=actor,
    )
    _emit(
        row,
        as_json,
        _("已登记承办单位 {id}（{name}，{kind}）").format(id=row["id"], name=name, kind=kind),
    )


@contractors.command(
    "qualify",
    help=_("为承办单位 CONTRACTOR_ID 记录一项资质及其有效期（A14.1）。"),
    epilog=output.examples(
        "convalescence contractors qualify 1 --name 医疗机构执业许可证 "
        "--from 2024-01-01 --until 2026-12-31 --as city_officer:赵敏",
    ),
)
@click.argument("contractor_id", type=int)
@click.option("--name", required=True, help=_("资质名称，如 医疗机构执业许可证。"))
@date_option("--from", _("有效期起。"))
@date_option("--until", _("有效期止（含当日）。"))
@as_option
@output.json_option
def qualify(contractor_id: int, name: str, actor: Actor, as_json: bool, **dates: date) -> None:
    """A batch is checked against these dates when it is added (A14.1)."""
    engine = open_engine()
    _allow(engine, actor, "contractors:write")
    row = service.add_qualification(
        engine,
        contractor_id,
        name=name,
        valid_from=dates["from"],
        valid_until=dates["until"],
        actor=actor,
    )
    _emit(
        row,
        as_json,
        _("已为承办单位 {contractor} 记录资质 {id}").format(contractor=contractor_id, id=row["id"]),
    )


@contractors.command(
    "agree",
    help=_("记录与承办单位 CONTRACTOR_ID 为某一计划签订的协议（A14.1）。"),
    epilog=output.examples(
        "convalescence contractors agree 1 --plan 1 --no LC-2024-07 --signed 2024-03-01 "
        "--from 2024-03-01 --until 2024-12-31 --as county_officer:李娜@东昌府区",
    ),
)
@click.argument("contractor_id", type=int)
@click.option("--plan", "plan_id", type=int, required=True, help=_("协议所属的计划。"))
@click.option("--no", "agreement_no", required=True, help=_("协议编号。"))
@date_option("--signed", _("签订日期。"))
@date_option("--from", _("有效期起。"))
@date_option("--until", _("有效期止（含当日）。"))
@as_option
@output.json_option
def agree(
    contractor_id: int,
    plan_id: int,
    agreement_no: str,
    actor: Actor,
    as_json: bool,
    **dates: date,
) -> None:
    """The agreement belongs to the plan, so the plan's organiser writes it (A5.2)."""
    engine = open_engine()
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
        actor=actor,
    )
    _emit(
        row,
        as_json,
        _("已为计划 {plan} 记录协议 {no}").format(plan=plan_id, no=agreement_no),
    )


@contractors.command(
    "list",
    help=_("列出承办单位。"),
    epilog=output.examples("convalescence contractors list --json --as city_officer:赵敏"),
)
@as_option
@output.json_option
def list_contractors(actor: Actor, as_json: bool) -> None:
    """Contractor staff see only their own contractor."""
    engine = open_engine()
    _allow(engine, actor, "contractors:read")
    rows = _visible(engine, actor, "contractors:read", service.list_contractors(engine), "id")
    if as_json:
        output.print_json(rows)
        return
    _print_rows(_("承办单位"), ["id", "name", "kind", "why_purchased"], rows)


@contractors.command(
    "show",
    help=_("查看承办单位 CONTRACTOR_ID、其资质与协议及平均评价分（A18.3）。"),
    epilog=output.examples("convalescence contractors show 1 --as county_officer:李娜@东昌府区"),
)
@click.argument("contractor_id", type=int)
@as_option
@output.json_option
def show_contractor(contractor_id: int, actor: Actor, as_json: bool) -> None:
    """The average is what A18.3's exit threshold is compared with."""
    engine = open_engine()
    _allow(engine, actor, "contractors:read")
    label = _("承办单位 {id}").format(id=contractor_id)
    target = policy.Target(label=label, contractor_id=contractor_id)
    _allow(engine, actor, "contractors:read", target)
    row = service.show_contractor(engine, contractor_id)
    if as_json:
        output.print_json(row)
        return
    quals, agreements = row.pop("qualifications"), row.pop("agreements")
    _print_record(_("承办单位 {id}").format(id=contractor_id), row)
    _print_rows(_("资质"), ["name", "valid_from", "valid_until"], quals)
    _print_rows(
        _("协议"),
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


@click.group(help=_("疗养批次（A6）：日期、地点、名额与座位、工作人员、预案、联系人、费用。"))
def batches() -> None:
    """The batch commands (help above, through the catalogue)."""


@batches.command(
    "add",
    help=_("为计划添加一个批次；规则不允许时被拒绝并引用条款。"),
    epilog=output.examples(
        "convalescence --now 2024-05-06T09:30 batches add --plan 1 --contractor 1 "
        "--place 威海市荣成 "
        "--start 2024-06-03 --end 2024-06-09 --capacity 40 --staff 4 "
        "--organiser-contact 王芳:0635-1234567 --as county_officer:李娜@东昌府区",
    ),
)
@click.option("--plan", "plan_id", type=int, required=True, help=_("所属计划。"))
@click.option("--contractor", "contractor_id", type=int, required=True, help=_("承办单位。"))
@click.option("--province", default="山东", show_default=True, help=_("疗养地所在省份（A6.2）。"))
@click.option("--place", required=True, help=_("疗养地点。"))
@date_option("--start", _("第一天，含往返程。"))
@date_option("--end", _("最后一天，含往返程（不超过 7 天，A6.2）。"))
@click.option("--capacity", type=int, required=True, help=_("名额。"))
@click.option(
    "--staff", type=int, required=True, help=_("保障工作人员人数（A12.1：1:5 至 1:10）。")
)
@click.option("--safety-plan", help=_("安全预案文件编号（A13.1）。"))
@click.option("--emergency-plan", help=_("应急预案文件编号（A13.1）。"))
@click.option(
    "--organiser-contact",
    multiple=True,
    callback=_contacts,
    metavar="NAME:PHONE",
    help=_("组织方服务团队联系人（A15.1），可重复。"),
)
@click.option(
    "--contractor-contact",
    multiple=True,
    callback=_contacts,
    metavar="NAME:PHONE",
    help=_("承办方服务团队联系人（A15.1），可重复。"),
)
@click.option("--budget", callback=_money, metavar="AMOUNT", help=_("批次预算金额。"))
@click.option(
    "--exception",
    "exceptions",
    multiple=True,
    type=click.Choice(BATCH_EXCEPTION_RULES),
    help=_("经 --as 批准的例外（A6.2），可重复；需 --reason。"),
)
@click.option("--reason", help=_("批准例外的理由（A6.2）。"))
@as_option
@output.json_option
def add_batch(
    as_json: bool,
    exceptions: tuple[str, ...],
    reason: str | None,
    actor: Actor,
    **options: Any,
) -> None:
    """Exceptions given here are granted in the same write as the batch, never after."""
    grants = []
    for rule in exceptions:
        if reason is None:
            raise click.UsageError(_("--exception 需要 --reason"))
        grants.append(service.ExceptionGrant(rule, actor.role, actor.name, reason))
    engine = open_engine()
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
        actor=actor,
    )
    _emit(
        row,
        as_json,
        _("已为计划 {plan} 添加批次 {id}").format(plan=row["plan_id"], id=row["id"]),
    )


@batches.command(
    "list",
    help=_("列出批次，可只列某一计划的。"),
    epilog=output.examples("convalescence batches list --plan 1 --as contractor_staff:李强@1"),
)
@click.option("--plan", "plan_id", type=int, help=_("只列此计划的批次。"))
@as_option
@output.json_option
def list_batches(plan_id: int | None, actor: Actor, as_json: bool) -> None:
    """Contractor staff see only their own contractor's batches."""
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
    _print_rows(_("批次"), _BATCH_COLUMNS, rows)


@batches.command(
    "show",
    help=_("查看批次 BATCH_ID 及其座位、例外、事件和评价。"),
    epilog=output.examples("convalescence batches show 1 --json --as county_officer:李娜@东昌府区"),
)
@click.argument("batch_id", type=int)
@as_option
@output.json_option
def show_batch(batch_id: int, actor: Actor, as_json: bool) -> None:
    """The actor's scope is checked on the batch itself (its plan's county, contractor)."""
    engine = open_engine()
    _on_batch(engine, actor, "batches:read", batch_id)
    row = service.show_batch(engine, batch_id)
    if as_json:
        output.print_json(row)
        return
    details = {key: row.pop(key) for key in ("exceptions", "seats", "incidents", "evaluations")}
    # read as text, not as the stored lists (A11.1 itinerary, A15.1 contacts); the reports
    # package (Jinja2, openpyxl) is loaded only here, not at every command's start
    from workflow.reports._model import itinerary_line  # noqa: PLC0415

    row["itinerary"] = "\n".join(itinerary_line(item) for item in row["itinerary"] or ())
    for key in ("organiser_contacts", "contractor_contacts"):
        row[key] = "\n".join(
            " ".join(str(c.get(f) or "") for f in ("name", "phone")).strip() for c in row[key] or ()
        )
    _print_record(_("批次 {id}").format(id=batch_id), row)
    _print_rows(_("座位"), ["case_id", "at"], details["seats"])
    _print_rows(
        _("例外"),
        ["rule", "article", "approver_role", "approver_name", "reason"],
        details["exceptions"],
    )
    _print_rows(_("事件"), ["at", "case_id", "description", "reported_by"], details["incidents"])
    _print_rows(_("评价"), ["score", "by", "at"], details["evaluations"])


@batches.command(
    "start",
    help=_(
        "标记批次 BATCH_ID 已开始；须已有两项预案（A13.1）、组织方和承办方服务小组的负责人"
        "（A15.1），且工作人员与已入座人数相称（A12.1）。"
    ),
)
@click.argument("batch_id", type=int)
@as_option
@output.json_option
def start(batch_id: int, actor: Actor, as_json: bool) -> None:
    """The checks run on the seats taken at the moment of starting, not the capacity."""
    engine = open_engine()
    _on_batch(engine, actor, "batches:write", batch_id)
    row = service.start_batch(engine, batch_id, actor=actor)
    _emit(
        row,
        as_json,
        _("批次 {id} 已于 {at} 开始").format(id=batch_id, at=row["started_at"]),
    )


@batches.command(
    "update",
    help=_(
        "开始前更正批次 BATCH_ID：工作人员（A12.1）、安全与应急预案（A13.1）、"
        "服务小组联系人（A15.1）；开始后不能更改。"
    ),
    epilog=output.examples(
        "convalescence batches update 1 --staff 5 --contractor-contact 李强:0631-7654321 "
        "--as county_officer:李娜@东昌府区",
    ),
)
@click.argument("batch_id", type=int)
@click.option("--staff", type=int, help=_("保障工作人员人数（A12.1：1:5 至 1:10）。"))
@click.option("--safety-plan", help=_("安全预案文件编号（A13.1）。"))
@click.option("--emergency-plan", help=_("应急预案文件编号（A13.1）。"))
@click.option(
    "--organiser-contact",
    multiple=True,
    callback=_contacts,
    metavar="NAME:PHONE",
    help=_("组织方服务团队联系人（A15.1），可重复；给出时取代原有名单。"),
)
@click.option(
    "--contractor-contact",
    multiple=True,
    callback=_contacts,
    metavar="NAME:PHONE",
    help=_("承办方服务团队联系人（A15.1），可重复；给出时取代原有名单。"),
)
@as_option
@output.json_option
def update(
    *,
    batch_id: int,
    staff: int | None,
    safety_plan: str | None,
    emergency_plan: str | None,
    organiser_contact: list[dict[str, str]],
    contractor_contact: list[dict[str, str]],
    actor: Actor,
    as_json: bool,
) -> None:
    """Fewer cadres seated than planned: the staff are corrected to fit them (A12.1)."""
    engine = open_engine()
    _on_batch(engine, actor, "batches:write", batch_id)
    row = service.update_batch(
        engine,
        batch_id,
        staff_count=staff,
        safety_plan_ref=safety_plan,
        emergency_plan_ref=emergency_plan,
        organiser_contacts=organiser_contact or None,
        contractor_contacts=contractor_contact or None,
        actor=actor,
    )
    _emit(row, as_json, _("已更正批次 {id}").format(id=batch_id))


@batches.command(
    "cost",
    help=_("疗养结束后登记批次 BATCH_ID 的实际费用（A16.1），报告中与预算对照（A18.2）。"),
    epilog=output.examples(
        "convalescence batches cost 1 --actual 58230.50 --as county_officer:李娜@东昌府区"
    ),
)
@click.argument("batch_id", type=int)
@click.option(
    "--actual", required=True, callback=_money, metavar="AMOUNT", help=_("实际费用金额。")
)
@as_option
@output.json_option
def cost(batch_id: int, actual: Decimal, actor: Actor, as_json: bool) -> None:
    """Only after the batch's last day (A16.1)."""
    engine = open_engine()
    _on_batch(engine, actor, "batches:write", batch_id)
    row = service.record_actual_cost(engine, batch_id, actual_cost=actual, actor=actor)
    _emit(
        row,
        as_json,
        _("批次 {id} 实际费用 {amount}").format(id=batch_id, amount=row["actual_cost"]),
    )


@batches.command(
    "exception",
    help=_("为批次 BATCH_ID 记录一项 A6.2 例外（超过 50 人、省外）。"),
    epilog=output.examples(
        "convalescence batches exception 1 --rule out_of_province "
        "--reason 省内疗养地已满 --as city_officer:赵敏",
    ),
)
@click.argument("batch_id", type=int)
@click.option(
    "--rule", type=click.Choice(BATCH_EXCEPTION_RULES), required=True, help=_("例外的规则。")
)
@click.option("--reason", required=True, help=_("理由（A6.2：例外从不默默放行）。"))
@as_option
@output.json_option
def exception(
    *,
    batch_id: int,
    rule: str,
    reason: str,
    actor: Actor,
    as_json: bool,
) -> None:
    """The grant names its approver and reason, so an auditor can read why (A6.2)."""
    engine = open_engine()
    _on_batch(engine, actor, "batches:write", batch_id)
    grant = service.ExceptionGrant(rule, actor.role, actor.name, reason)
    row = service.record_exception(engine, batch_id, grant)
    _emit(
        row,
        as_json,
        _("已为批次 {id} 记录例外 {rule}").format(id=batch_id, rule=rule),
    )


@batches.command(
    "evaluate",
    help=_("批次 BATCH_ID 结束后为其承办单位评分（A18.3）。"),
    epilog=output.examples(
        "convalescence batches evaluate 1 --score 88 --as county_officer:李娜@东昌府区"
    ),
)
@click.argument("batch_id", type=int)
@click.option("--score", type=click.IntRange(0, 100), required=True, help=_("分数，0 至 100。"))
@as_option
@output.json_option
def evaluate(batch_id: int, score: int, actor: Actor, as_json: bool) -> None:
    """Scores feed the contractor's average, compared with A18.3's exit threshold; the
    evaluator is the --as actor, checked like every other (A5.2), never a typed name."""
    engine = open_engine()
    _on_batch(engine, actor, "batches:evaluate", batch_id)
    row = service.evaluate_contractor(engine, batch_id, score=score, actor=actor)
    _emit(
        row,
        as_json,
        _("承办单位 {contractor} 在批次 {id} 得分 {score}").format(
            contractor=row["contractor_id"], id=batch_id, score=score
        ),
    )


@batches.command(
    "incident",
    help=_("为批次 BATCH_ID 登记一起事件，可关联一个案件（A13.2）。"),
    epilog=output.examples(
        "convalescence batches incident 1 --description 晕车，已就医 "
        "--as agency_officer:王芳@东昌府区军休所",
    ),
)
@click.argument("batch_id", type=int)
@click.option("--case", "case_id", type=int, help=_("相关的案件（如有）。"))
@click.option("--description", required=True, help=_("事件经过。"))
@click.option("--by", "reported_by", help=_("报告人；默认为 --as。"))
@as_option
@output.json_option
def incident(
    *,
    batch_id: int,
    case_id: int | None,
    description: str,
    reported_by: str | None,
    actor: Actor,
    as_json: bool,
) -> None:
    """Any role on the ground may report (A13.2); the auditor only reads."""
    who = _who(actor, reported_by)
    engine = open_engine()
    _on_batch(engine, actor, "incidents:write", batch_id)
    row = service.record_incident(
        engine, batch_id, description=description, reported_by=who, case_id=case_id, actor=actor
    )
    _emit(
        row,
        as_json,
        _("已为批次 {batch} 登记事件 {id}").format(batch=batch_id, id=row["id"]),
    )


def register(main: click.Group) -> None:
    """Add the three groups to the top-level command (one line in ``main.py``)."""
    for group in (plans, contractors, batches):
        main.add_command(group)
