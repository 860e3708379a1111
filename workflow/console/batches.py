"""Plans, batches and contractors (issue 19 item 6): what a batch holds and whether it may start,
and the forms for what officers do there.

Every read and write goes through `workflow.plans.service`, the code behind ``convalescence
plans`` and ``/plans`` ``/batches`` ``/contractors``, so the console runs the same rules in the
same transactions: a refused rule is shown with its article (A6.2, A12.1, A13.1, A14.1, A15.1,
A18.3) and nothing is written. Who sees a page and who sees a form is the definition's
``rules.permissions`` (A5.2), asked exactly as the API asks it: a batch outside the viewer's
scope (another contractor's, for contractor staff) is the page of a missing one, and a form is
drawn only for a viewer whose role and scope the table allows, the viewer being the actor.

A batch page shows seats used against capacity, staff against the A12.1 ratio for the cadres
seated, the start conditions (A13.1 plans, A15.1 named contacts, A12.1 staff) each with its
article, the seated cadres, exceptions, incidents and the contractor's evaluation; the
printable roster is the report code's own document (`workflow.reports`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow import policy
from workflow.console.documents import document, download
from workflow.console.session import Viewer, check_csrf
from workflow.console.site import Console, ConsoleDep, FormDep, NavItem, ViewerDep, render, url
from workflow.definition.policy_rules import Limits
from workflow.errors import InputError, NotFoundError, Refusal, RuleRefused
from workflow.i18n import N_, _
from workflow.plans import service
from workflow.plans.rules import check_service_teams, check_staff, check_start, staff_bounds
from workflow.reports import batch_roster
from workflow.reports.files import roster_bytes, roster_name
from workflow.reports.html import render_roster

router = APIRouter()
NAV = (
    NavItem(
        "/batches",
        N_("计划与批次"),
        40,
        roles=frozenset(
            {"city_officer", "county_officer", "agency_officer", "auditor", "contractor_staff"}
        ),
    ),
)
MAX_ID = 2**31 - 1
CONTRACTOR_KINDS = {
    "own_resource": N_("自有资源"),
    "partner_unit": N_("合作单位"),
    "purchased_service": N_("购买服务"),
}


@dataclass
class Posted:
    """A form sent back: its values, each field's problem, the rule refusals, a whole-form
    problem."""

    name: str
    values: Mapping[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    refusals: tuple[Refusal, ...] = ()
    problem: str | None = None


def _id(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def _may(
    console: Console, viewer: Viewer, permission: str, target: policy.Target | None = None
) -> bool:
    return service.permission_refusal(console.engine, viewer.actor, permission, target) is None


def _readable_batch(console: Console, viewer: Viewer, text: str) -> int:
    """The batch's id if the viewer may read it; otherwise the batch is missing (A5.2)."""
    batch_id = _id(text)
    if batch_id is None or not _may(console, viewer, "batches:read"):
        raise NotFoundError("批次", text[:20])
    target = service.batch_target(console.engine, batch_id)  # NotFoundError when there is none
    if not _may(console, viewer, "batches:read", target):
        raise NotFoundError("批次", batch_id)
    return batch_id


# -- the list ------------------------------------------------------------------------------


@router.get("/batches", include_in_schema=False)
def batch_list(request: Request, console: ConsoleDep, viewer: ViewerDep) -> HTMLResponse:
    if not _may(console, viewer, "batches:read"):
        raise NotFoundError("页面", "batches")
    engine, actor = console.engine, viewer.actor
    rules = service.policy_rules(engine)
    limits = policy.limits(rules)
    batches = [
        b
        for b in service.list_batches(engine)
        if policy.sees(rules, "batches:read", actor, b["contractor_id"])
    ]
    contractors = {c["id"]: c for c in service.list_contractors(engine)}
    by_plan: dict[int, list[dict[str, Any]]] = {}
    for batch in batches:
        by_plan.setdefault(batch["plan_id"], []).append(batch)
    plans = [
        p
        for p in service.list_plans(engine)
        if p["id"] in by_plan or policy.holders(rules, "plans:read").get(actor.role) == "all"
    ]
    return render(
        request,
        "batches.html",
        viewer=viewer,
        title=_("计划与批次"),
        plans=[(p, by_plan.get(p["id"], [])) for p in plans],
        contractors=[
            c
            for c in contractors.values()
            if policy.sees(rules, "contractors:read", actor, c["id"])
        ],
        contractor_names={k: c["name"] for k, c in contractors.items()},
        kinds={k: _(v) for k, v in CONTRACTOR_KINDS.items()},
        staff_range=lambda b: staff_bounds(b["seats_taken"], limits),
        organiser=_organiser,
        may_create=_may(console, viewer, "batches:write"),
        done=request.query_params.get("done"),
    )


def _kind(kind: str) -> str:
    return _(CONTRACTOR_KINDS[kind]) if kind in CONTRACTOR_KINDS else kind


def _organiser(plan: Mapping[str, Any]) -> str:
    if plan["organiser_level"] == "city":
        return _("市级")
    return _("县级：{county}").format(county=plan["county"] or "")


# -- one batch -----------------------------------------------------------------------------


def _start_conditions(
    batch: Mapping[str, Any], limits: Limits
) -> list[tuple[str, str, Refusal | None]]:
    """Each condition of starting (label, article, why not or None), as `start_batch` checks
    them."""
    return [
        (
            _("安全预案和应急预案已备案"),
            "A13.1",
            check_start(batch["safety_plan_ref"], batch["emergency_plan_ref"]),
        ),
        (
            _("组织方和承办方服务团队各有具名联系人"),
            "A15.1",
            check_service_teams(
                batch["organiser_contacts"] or (), batch["contractor_contacts"] or ()
            ),
        ),
        (
            _("工作人员与已安排人数相称（1:5 至 1:10）"),
            "A12.1",
            check_staff(batch["staff_count"], batch["seats_taken"], limits),
        ),
    ]


def batch_page(
    request: Request,
    console: Console,
    viewer: Viewer,
    batch_id: int,
    *,
    posted: Posted | None = None,
    status: int = 200,
) -> HTMLResponse:
    engine = console.engine
    batch = service.show_batch(engine, batch_id)
    target = service.batch_target(engine, batch_id)
    plan = service.show_plan(engine, batch["plan_id"])
    contractor = service.show_contractor(engine, batch["contractor_id"])
    roster = batch_roster(engine, batch_id)
    limits = policy.limits(service.policy_rules(engine))
    low, high = staff_bounds(batch["seats_taken"], limits)
    cap_low, cap_high = staff_bounds(batch["capacity"], limits)
    conditions = _start_conditions(batch, limits)
    done = request.query_params.get("done")
    return render(
        request,
        "batch.html",
        viewer=viewer,
        status=status,
        title=_("批次 {id}").format(id=batch_id),
        batch=batch,
        plan=plan,
        organiser=_organiser(plan),
        contractor=contractor,
        kind=_kind(contractor["kind"]),
        roster=roster,
        staff=(low, high),
        staff_planned=(cap_low, cap_high),
        ratio=(batch["seats_taken"] / batch["staff_count"]) if batch["staff_count"] else None,
        conditions=conditions,
        ready=all(why is None for _label, _article, why in conditions),
        may_start=batch["started_at"] is None and _may(console, viewer, "batches:write", target),
        may_evaluate=not batch["evaluations"] and _may(console, viewer, "batches:evaluate", target),
        may_report=_may(console, viewer, "incidents:write", target),
        posted=posted or Posted(name=""),
        done={
            "start": _("批次已开始"),
            "evaluate": _("已记录对承办单位的评价"),
            "incident": _("已记录事件"),
            "created": _("批次已建立"),
        }.get(done or ""),
    )


@router.get("/batches/new", include_in_schema=False)
def new_batch_page(request: Request, console: ConsoleDep, viewer: ViewerDep) -> HTMLResponse:
    plans = _writable_plans(console, viewer)
    return _new_page(request, console, viewer, plans, posted=Posted(name="create"))


@router.get("/batches/{batch_id}", include_in_schema=False)
def show_batch(
    request: Request, batch_id: str, console: ConsoleDep, viewer: ViewerDep
) -> HTMLResponse:
    return batch_page(request, console, viewer, _readable_batch(console, viewer, batch_id))


@router.get("/batches/{batch_id}/roster.html", include_in_schema=False)
def printable_roster(
    request: Request, batch_id: str, console: ConsoleDep, viewer: ViewerDep
) -> HTMLResponse:
    number = _readable_batch(console, viewer, batch_id)
    return document(render_roster(batch_roster(console.engine, number)))


@router.get("/batches/{batch_id}/roster.xlsx", include_in_schema=False)
def roster_workbook(
    request: Request, batch_id: str, console: ConsoleDep, viewer: ViewerDep
) -> Response:
    number = _readable_batch(console, viewer, batch_id)
    return download(roster_bytes(console.engine, number, "xlsx"), roster_name(number, "xlsx"))


# -- what officers do on a batch -------------------------------------------------------------


def _act(
    request: Request,
    console: Console,
    viewer: Viewer,
    batch_id: int,
    *,
    posted: Posted,
    action: Callable[[], object],
) -> Response:
    """Run ``action``; back to the batch page with ``done`` when it went through, or the page
    with the form's refusals or problem (nothing was written)."""
    if posted.errors:
        return batch_page(request, console, viewer, batch_id, posted=posted, status=422)
    try:
        action()
    except RuleRefused as refused:
        posted.refusals = refused.refusals
        return batch_page(request, console, viewer, batch_id, posted=posted, status=409)
    except InputError as problem:
        if problem.field and problem.field in posted.values:
            posted.errors[problem.field] = problem.message
        else:
            posted.problem = problem.message
        return batch_page(request, console, viewer, batch_id, posted=posted, status=422)
    target = url(request, f"/batches/{batch_id}", {"done": posted.name})
    return RedirectResponse(target, status_code=303)


def _writing(
    console: Console, viewer: Viewer, text: str, permission: str
) -> tuple[int, policy.Target]:
    """The batch, if the viewer may read it and holds ``permission`` on it; a form the page
    did not offer is refused as the API refuses it, citing A5.2."""
    batch_id = _readable_batch(console, viewer, text)
    target = service.batch_target(console.engine, batch_id)
    refusal = service.permission_refusal(console.engine, viewer.actor, permission, target)
    if refusal is not None:
        raise RuleRefused([refusal])
    return batch_id, target


@router.post("/batches/{batch_id}/start", include_in_schema=False)
def start(
    request: Request, batch_id: str, console: ConsoleDep, viewer: ViewerDep, form: FormDep
) -> Response:
    check_csrf(viewer, form)
    number, _target = _writing(console, viewer, batch_id, "batches:write")
    return _act(
        request,
        console,
        viewer,
        number,
        posted=Posted(name="start"),
        action=lambda: service.start_batch(console.engine, number, actor=viewer.actor),
    )


@router.post("/batches/{batch_id}/evaluation", include_in_schema=False)
def evaluate(
    request: Request, batch_id: str, console: ConsoleDep, viewer: ViewerDep, form: FormDep
) -> Response:
    check_csrf(viewer, form)
    number, _target = _writing(console, viewer, batch_id, "batches:evaluate")
    values = {"score": form.get("score", "").strip()}
    posted = Posted(name="evaluate", values=values)
    score = _integer(values["score"], 0, 100)
    if score is None:
        posted.errors["score"] = _("“评分”须为 0 至 100 之间的整数")
    return _act(
        request,
        console,
        viewer,
        number,
        posted=posted,
        action=lambda: service.evaluate_contractor(
            console.engine, number, score=score or 0, actor=viewer.actor
        ),
    )


@router.post("/batches/{batch_id}/incidents", include_in_schema=False)
def incident(
    request: Request, batch_id: str, console: ConsoleDep, viewer: ViewerDep, form: FormDep
) -> Response:
    check_csrf(viewer, form)
    number, _target = _writing(console, viewer, batch_id, "incidents:write")
    values = {
        "description": form.get("description", "").strip()[:4000],
        "case_id": form.get("case_id", "").strip(),
    }
    posted = Posted(name="incident", values=values)
    if not values["description"]:
        posted.errors["description"] = _("“事件经过”必填")
    case_id = _id(values["case_id"]) if values["case_id"] else None
    if values["case_id"] and case_id is None:
        posted.errors["case_id"] = _("“涉及的案件编号”应为正整数")
    seated = {entry.case_id for entry in batch_roster(console.engine, number).entries}
    if case_id is not None and case_id not in seated:
        posted.errors["case_id"] = _("案件 {id} 不在本批次中").format(id=case_id)
    return _act(
        request,
        console,
        viewer,
        number,
        posted=posted,
        action=lambda: service.record_incident(
            console.engine,
            number,
            description=values["description"],
            reported_by=str(viewer.actor)[:200],
            case_id=case_id,
            actor=viewer.actor,
        ),
    )


def _integer(text: str, low: int, high: int) -> int | None:
    stripped = text.strip().lstrip("+")
    if not stripped.isdigit() or len(stripped) > 6:
        return None
    value = int(stripped)
    return value if low <= value <= high else None


# -- a new batch ---------------------------------------------------------------------------

NEW_FIELDS = (
    "plan_id",
    "contractor_id",
    "province",
    "place",
    "start_date",
    "end_date",
    "capacity",
    "staff_count",
    "safety_plan_ref",
    "emergency_plan_ref",
    "organiser_name",
    "organiser_phone",
    "contractor_name",
    "contractor_phone",
    "budget",
)


def _writable_plans(console: Console, viewer: Viewer) -> list[dict[str, Any]]:
    """The plans the viewer may put a batch under (``batches:write`` on the plan, A5.2); none
    at all is the page of a missing one."""
    if not _may(console, viewer, "batches:write"):
        raise NotFoundError("页面", "batches/new")
    return [
        p
        for p in service.list_plans(console.engine)
        if _may(console, viewer, "batches:write", policy.plan_target(p))
    ]


def _new_page(
    request: Request,
    console: Console,
    viewer: Viewer,
    plans: list[dict[str, Any]],
    *,
    posted: Posted,
    status: int = 200,
) -> HTMLResponse:
    rules = service.policy_rules(console.engine)
    contractors = [
        c
        for c in service.list_contractors(console.engine)
        if policy.sees(rules, "contractors:read", viewer.actor, c["id"])
    ]
    values = {"province": "山东", **posted.values}
    return render(
        request,
        "batch_new.html",
        viewer=viewer,
        status=status,
        title=_("新建批次"),
        plans=[(p["id"], f"{p['id']} · {p['year']} · {_organiser(p)}") for p in plans],
        contractors=[(c["id"], f"{c['id']} · {c['name']}") for c in contractors],
        values=values,
        errors=posted.errors,
        refusals=posted.refusals,
        problem=posted.problem,
    )


@router.post("/batches/new", include_in_schema=False)
def create(request: Request, console: ConsoleDep, viewer: ViewerDep, form: FormDep) -> Response:
    check_csrf(viewer, form)
    plans = _writable_plans(console, viewer)
    values = {name: form.get(name, "").strip()[:200] for name in NEW_FIELDS}
    posted = Posted(name="create", values=values)
    parsed = _parse_new(values, posted.errors)
    if parsed.get("plan_id") is not None and parsed["plan_id"] not in {p["id"] for p in plans}:
        posted.errors["plan_id"] = _("您不能在计划 {id} 下建立批次（A5.2）").format(
            id=parsed["plan_id"]
        )
    if posted.errors:
        return _new_page(request, console, viewer, plans, posted=posted, status=422)
    contacts = {
        side: [{"name": values[f"{side}_name"], "phone": values[f"{side}_phone"]}]
        if values[f"{side}_name"]
        else []
        for side in ("organiser", "contractor")
    }
    try:
        made = service.create_batch(
            console.engine,
            plan_id=parsed["plan_id"],
            contractor_id=parsed["contractor_id"],
            province=values["province"],
            place=values["place"],
            start_date=parsed["start_date"],
            end_date=parsed["end_date"],
            capacity=parsed["capacity"],
            staff_count=parsed["staff_count"],
            safety_plan_ref=values["safety_plan_ref"] or None,
            emergency_plan_ref=values["emergency_plan_ref"] or None,
            organiser_contacts=contacts["organiser"],
            contractor_contacts=contacts["contractor"],
            budget=parsed.get("budget"),
            actor=viewer.actor,
        )
    except RuleRefused as refused:
        posted.refusals = refused.refusals
        return _new_page(request, console, viewer, plans, posted=posted, status=409)
    except (InputError, NotFoundError) as problem:
        named = getattr(problem, "field", None)
        if named in values:
            posted.errors[str(named)] = problem.message
        else:
            posted.problem = problem.message
        return _new_page(request, console, viewer, plans, posted=posted, status=422)
    target = url(request, f"/batches/{made['id']}", {"done": "created"})
    return RedirectResponse(target, status_code=303)


def _parse_new(values: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """Typed values of the new-batch form; each problem under its field, in Chinese."""
    parsed: dict[str, Any] = {}
    labels = {
        "plan_id": _("计划"),
        "contractor_id": _("承办单位"),
        "province": _("省份"),
        "place": _("地点"),
        "start_date": _("开始日期"),
        "end_date": _("结束日期"),
        "capacity": _("名额"),
        "staff_count": _("工作人员数"),
    }
    for name, label in labels.items():
        if not values[name]:
            errors[name] = _("“{field}”必填").format(field=label)
    for name in ("plan_id", "contractor_id"):
        if values[name]:
            parsed[name] = _id(values[name])
            if parsed[name] is None:
                errors[name] = _("请从列表中选择“{field}”").format(field=labels[name])
    for name in ("start_date", "end_date"):
        if values[name]:
            try:
                parsed[name] = date.fromisoformat(values[name])
            except ValueError:
                errors[name] = _("“{field}”应为日期，如 2024-06-03").format(field=labels[name])
    for name, low in (("capacity", 1), ("staff_count", 0)):
        if values[name]:
            parsed[name] = _integer(values[name], low, 100_000)
            if parsed[name] is None:
                errors[name] = _("“{field}”应为不小于 {low} 的整数").format(
                    field=labels[name], low=low
                )
    if values["budget"]:
        try:
            parsed["budget"] = Decimal(values["budget"])
            if not parsed["budget"].is_finite() or parsed["budget"] < 0:
                raise InvalidOperation
        except InvalidOperation:
            errors["budget"] = _("“预算”应为不小于 0 的金额，如 60000.00")
    return parsed


# -- contractors ---------------------------------------------------------------------------


@router.get("/contractors/{contractor_id}", include_in_schema=False)
def contractor_page(
    request: Request, contractor_id: str, console: ConsoleDep, viewer: ViewerDep
) -> HTMLResponse:
    number = _id(contractor_id)
    target = policy.Target(label=f"承办单位 {contractor_id}", contractor_id=number)
    if number is None or not _may(console, viewer, "contractors:read", target):
        raise NotFoundError("承办单位", contractor_id[:20])
    contractor = service.show_contractor(console.engine, number)
    rules = service.policy_rules(console.engine)
    batches = [
        b
        for b in service.list_batches(console.engine)
        if b["contractor_id"] == number and policy.sees(rules, "batches:read", viewer.actor, number)
    ]
    return render(
        request,
        "contractor.html",
        viewer=viewer,
        title=contractor["name"],
        contractor=contractor,
        kind=_kind(contractor["kind"]),
        batches=batches,
        below=contractor["average_score"] is not None
        and contractor["average_score"] < contractor["exit_threshold"],
    )
