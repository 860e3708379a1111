"""``/plans``, ``/contractors`` and ``/batches``: annual plans, contractors and batches.

Reads and writes go through `workflow.plans.service`, so the API and the command line run the
same rules in the same transactions: a refused rule (A6.2 days, size and province, A10.2,
A12.1 staff, A13.1 plans, A14.1 papers, A18.3 exit score) is a 409 citing its article with
nothing written. Who may write what is `workflow.api.auth.PERMISSIONS`; on top of it a county
officer writes only its own county's plans and batches, contractor staff read and report
incidents only for their own contractor (their scope, A5.2). An A6.2 exception's approver is
the caller, and the definition decides whether that role may approve (A5.2, 403 otherwise).
Dates are ISO text (``2024-06-03``), money decimal text (``"60000.00"``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy.exc import IntegrityError

from workflow.api.auth import Caller, Services, Svc, require
from workflow.api.errors import Forbidden, responses
from workflow.api.models import (
    AgreementIn,
    AgreementOut,
    BatchDetailOut,
    BatchExceptionIn,
    BatchExceptionOut,
    BatchIn,
    BatchOut,
    ContractorDetailOut,
    ContractorIn,
    ContractorOut,
    EvaluationIn,
    EvaluationOut,
    IncidentIn,
    IncidentOut,
    PlanDetailOut,
    PlanIn,
    PlanOut,
    QualificationIn,
    QualificationOut,
)
from workflow.errors import InputError, Refusal, RuleRefused
from workflow.machine import Actor
from workflow.plans import service

router = APIRouter(tags=["plans"])

MAX_ID = 2**31 - 1
Key = Annotated[int, Path(ge=1, le=MAX_ID)]
MONEY_KEYS = ("budget", "actual_cost")
WRITE = responses(400, 401, 403, 404, 409, 422, 503)


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """Money as text: a Decimal must not turn into a binary float on its way to the client."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}


def _own_contractor(actor: Actor) -> int | None:
    """The contractor id a contractor_staff token is scoped to; None for every other role."""
    if actor.role != "contractor_staff":
        return None
    try:
        return int(actor.scope or "")
    except ValueError:
        return -1  # a scope that names no contractor id sees no batch


def _visible_batch(actor: Actor, batch: Mapping[str, Any]) -> None:
    own = _own_contractor(actor)
    theirs = batch["contractor_id"]
    if own is not None and theirs != own:
        raise RuleRefused(
            [
                Refusal(
                    "A5.2",
                    "out_of_scope",
                    f"{actor.name}的权限范围是承办单位“{actor.scope}”，批次 {batch['id']} "
                    f"属于承办单位“{theirs}”（缺少权限 read@{theirs}）",
                )
            ]
        )


@router.get("/plans", summary="Annual plans, oldest first", responses=responses(401, 403, 422, 503))
def list_plans(
    actor: Caller, svc: Svc, year: Annotated[int | None, Query(ge=1900, le=9999)] = None
) -> list[PlanOut]:
    require("plans:read", actor)
    return [PlanOut.model_validate(_plain(r)) for r in service.list_plans(svc.engine, year=year)]


@router.get(
    "/plans/{plan_id}",
    summary="One plan with its batches",
    responses=responses(401, 403, 404, 422, 503),
)
def show_plan(plan_id: Key, actor: Caller, svc: Svc) -> PlanDetailOut:
    require("plans:read", actor)
    plan = service.show_plan(svc.engine, plan_id)
    plan["batches"] = [
        _plain(b) for b in plan["batches"] if _own_contractor(actor) in (None, b["contractor_id"])
    ]
    return PlanDetailOut.model_validate(_plain(plan))


@router.get("/batches", summary="Batches, oldest first", responses=responses(401, 403, 422, 503))
def list_batches(
    actor: Caller,
    svc: Svc,
    plan_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[BatchOut]:
    require("batches:read", actor)
    own = _own_contractor(actor)
    rows = service.list_batches(svc.engine, plan_id=plan_id)
    return [BatchOut.model_validate(_plain(r)) for r in rows if own in (None, r["contractor_id"])]


@router.get(
    "/batches/{batch_id}",
    summary="One batch with its exceptions, seats, incidents and evaluations",
    responses=responses(401, 403, 404, 422, 503),
)
def show_batch(batch_id: Key, actor: Caller, svc: Svc) -> BatchDetailOut:
    require("batches:read", actor)
    batch = service.show_batch(svc.engine, batch_id)
    _visible_batch(actor, batch)
    return BatchDetailOut.model_validate(_plain(batch))


# -- writes -----------------------------------------------------------------------------------


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _who(actor: Actor) -> str:
    return str(actor)[:200]  # the column's width; a token's name is rarely that long


@contextmanager
def _unique(field: str, what: str) -> Iterator[None]:
    """A uniqueness or reference the database enforces (a contractor's name, an agreement
    number, a case id) is a 422 naming the field, not a server error."""
    try:
        yield
    except IntegrityError as error:
        raise InputError(f"{what}（{field}）", field=field) from error


def _county_may(actor: Actor, plan: Mapping[str, Any], permission: str) -> None:
    """A county officer writes only under a county plan of its own county (A5.2)."""
    if actor.role != "county_officer":
        return
    if plan["organiser_level"] == "county" and plan["county"] == actor.scope:
        return
    target = plan["county"] if plan["organiser_level"] == "county" else "市级"
    raise Forbidden(
        permission,
        f"{actor.name}的权限范围是“{actor.scope}”，计划 {plan['id']} 属于“{target}”"
        f"（缺少权限 {permission}@{target}）",
    )


def _batch_for(actor: Actor, svc: Services, batch_id: int, permission: str) -> dict[str, Any]:
    """The batch, after the permission and the caller's scope on it (county, contractor)."""
    require(permission, actor)
    batch = service.show_batch(svc.engine, batch_id)
    if actor.role == "county_officer":
        _county_may(actor, service.show_plan(svc.engine, batch["plan_id"]), permission)
    own = _own_contractor(actor)
    if own is not None and batch["contractor_id"] != own:
        raise Forbidden(
            permission,
            f"{actor.name}的权限范围是承办单位“{actor.scope}”，批次 {batch_id} 属于承办单位"
            f"“{batch['contractor_id']}”（缺少权限 {permission}@{batch['contractor_id']}）",
        )
    return batch


@router.post(
    "/plans",
    status_code=201,
    summary="Create an annual plan (city officer; county officer: its own county's plan)",
    description="Needs `plans:write`: the city officer, or a county officer for a county plan "
    "of its own county. The cycle must be one of the definition's (A9.1).",
    responses=WRITE,
)
def create_plan(body: PlanIn, actor: Caller, svc: Svc) -> PlanOut:
    require("plans:write", actor)
    county = body.county if body.organiser_level == "county" else None
    _county_may(
        actor,
        {"id": "（新）", "organiser_level": body.organiser_level, "county": county},
        "plans:write",
    )
    row = service.create_plan(
        svc.engine,
        year=body.year,
        organiser_level=body.organiser_level,
        budget=Decimal(body.budget),
        cycle=body.cycle,
        county=county,
    )
    return PlanOut.model_validate(_plain(row))


@router.post(
    "/contractors",
    status_code=201,
    summary="Register a contractor (city officer)",
    description="Needs `contractors:write` (city officer). Own resources and partner units "
    "come first (A10.1); a purchased service must say why (A10.2, 409 otherwise).",
    responses=WRITE,
)
def create_contractor(body: ContractorIn, actor: Caller, svc: Svc) -> ContractorOut:
    require("contractors:write", actor)
    with _unique("name", "已有同名承办单位"):
        row = service.create_contractor(
            svc.engine,
            name=body.name,
            kind=body.kind,
            why_purchased=body.why_purchased,
            exit_threshold_override=_money(body.exit_threshold_override),
        )
    return ContractorOut.model_validate(_plain(row))


def _visible_contractor(actor: Actor, contractor_id: int) -> None:
    own = _own_contractor(actor)
    if own is not None and own != contractor_id:
        raise Forbidden(
            "contractors:read",
            f"{actor.name}的权限范围是承办单位“{actor.scope}”"
            f"（缺少权限 contractors:read@{contractor_id}）",
        )


@router.get(
    "/contractors",
    summary="Contractors, oldest first (contractor staff: their own)",
    responses=responses(401, 403, 422, 503),
)
def list_contractors(actor: Caller, svc: Svc) -> list[ContractorOut]:
    require("contractors:read", actor)
    own = _own_contractor(actor)
    return [
        ContractorOut.model_validate(_plain(r))
        for r in service.list_contractors(svc.engine)
        if own in (None, r["id"])
    ]


@router.get(
    "/contractors/{contractor_id}",
    summary="One contractor with its qualifications, agreements and A18.3 standing",
    responses=responses(401, 403, 404, 422, 503),
)
def show_contractor(contractor_id: Key, actor: Caller, svc: Svc) -> ContractorDetailOut:
    require("contractors:read", actor)
    _visible_contractor(actor, contractor_id)
    row = service.show_contractor(svc.engine, contractor_id)
    return ContractorDetailOut.model_validate(_plain(row))


@router.post(
    "/contractors/{contractor_id}/qualifications",
    status_code=201,
    summary="Record a contractor's qualification with its validity (A14.1; city officer)",
    description="Needs `contractors:write` (city officer).",
    responses=WRITE,
)
def add_qualification(
    contractor_id: Key, body: QualificationIn, actor: Caller, svc: Svc
) -> QualificationOut:
    require("contractors:write", actor)
    row = service.add_qualification(
        svc.engine,
        contractor_id,
        name=body.name,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    return QualificationOut.model_validate(row)


@router.post(
    "/contractors/{contractor_id}/agreements",
    status_code=201,
    summary="Record the agreement with a contractor for one plan (A14.1)",
    description="Needs `agreements:write`: the city officer, or a county officer for a county "
    "plan of its own county.",
    responses=WRITE,
)
def add_agreement(contractor_id: Key, body: AgreementIn, actor: Caller, svc: Svc) -> AgreementOut:
    require("agreements:write", actor)
    if actor.role == "county_officer":
        _county_may(actor, service.show_plan(svc.engine, body.plan_id), "agreements:write")
    with _unique("agreement_no", "该承办单位在本计划已有此协议编号"):
        row = service.add_agreement(
            svc.engine,
            contractor_id,
            plan_id=body.plan_id,
            agreement_no=body.agreement_no,
            signed_on=body.signed_on,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
        )
    return AgreementOut.model_validate(row)


def _grant(actor: Actor, body: BatchExceptionIn) -> service.ExceptionGrant:
    return service.ExceptionGrant(
        rule=body.rule, approver_role=actor.role, approver_name=actor.name, reason=body.reason
    )


@router.post(
    "/batches",
    status_code=201,
    summary="Create a batch under a plan, assigned to a contractor, after every batch rule",
    description="Needs `batches:write`: the city officer, or a county officer under a county "
    "plan of its own county. Refused with 409 citing A6.1/A6.2 (dates, at most 7 days, over 50 "
    "or out of province without an exception), A12.1 (staff 1:5 to 1:10 of capacity), A14.1 "
    "(qualification and agreement valid on the batch dates) or A18.3 (contractor below the "
    "exit score). `exceptions` are A6.2 exceptions approved by the caller, recorded in the same "
    "transaction; a role the definition does not name as approver is refused (403, A5.2).",
    responses=WRITE,
)
def create_batch(body: BatchIn, actor: Caller, svc: Svc) -> BatchOut:
    require("batches:write", actor)
    if actor.role == "county_officer":
        _county_may(actor, service.show_plan(svc.engine, body.plan_id), "batches:write")
    row = service.create_batch(
        svc.engine,
        plan_id=body.plan_id,
        contractor_id=body.contractor_id,
        province=body.province,
        place=body.place,
        start_date=body.start_date,
        end_date=body.end_date,
        capacity=body.capacity,
        staff_count=body.staff_count,
        safety_plan_ref=body.safety_plan_ref,
        emergency_plan_ref=body.emergency_plan_ref,
        organiser_contacts=body.organiser_contacts,
        contractor_contacts=body.contractor_contacts,
        itinerary=body.itinerary,
        budget=_money(body.budget),
        actual_cost=_money(body.actual_cost),
        exceptions=[_grant(actor, e) for e in body.exceptions],
    )
    return BatchOut.model_validate(_plain(row))


@router.post(
    "/batches/{batch_id}/exceptions",
    status_code=201,
    summary="Record an A6.2 exception on a batch, approved by the caller",
    description="Needs `batches:write` on the batch; the approver is the caller, and the "
    "definition names who may approve (the city officer; others 403, A5.2). One exception per "
    "rule and batch (422 otherwise).",
    responses=WRITE,
)
def record_exception(
    batch_id: Key, body: BatchExceptionIn, actor: Caller, svc: Svc
) -> BatchExceptionOut:
    _batch_for(actor, svc, batch_id, "batches:write")
    with _unique("rule", "该批次已有此例外"):
        row = service.record_exception(svc.engine, batch_id, _grant(actor, body))
    return BatchExceptionOut.model_validate(row)


@router.post(
    "/batches/{batch_id}/start",
    summary="Start a batch: safety and emergency plans on record (A13.1), staff fit (A12.1)",
    description="Needs `batches:write` on the batch. Starting twice is a 422.",
    responses=WRITE,
)
def start_batch(batch_id: Key, actor: Caller, svc: Svc) -> BatchOut:
    _batch_for(actor, svc, batch_id, "batches:write")
    return BatchOut.model_validate(_plain(service.start_batch(svc.engine, batch_id)))


@router.post(
    "/batches/{batch_id}/evaluation",
    status_code=201,
    summary="Score the batch's contractor, once per batch (A18.3)",
    description="Needs `batches:evaluate`: city officer, or a county officer for its own "
    "county's batches. A contractor whose average falls below the exit score takes no new "
    "batches (409 citing A18.3 on the next POST /batches).",
    responses=WRITE,
)
def evaluate_contractor(
    batch_id: Key, body: EvaluationIn, actor: Caller, svc: Svc
) -> EvaluationOut:
    _batch_for(actor, svc, batch_id, "batches:evaluate")
    with _unique("batch_id", "该批次已评价过承办单位"):
        row = service.evaluate_contractor(svc.engine, batch_id, score=body.score, by=_who(actor))
    return EvaluationOut.model_validate(row)


@router.post(
    "/batches/{batch_id}/incidents",
    status_code=201,
    summary="Log an incident against a batch and optionally a case (A13.2)",
    description="Needs `incidents:write`: city officer, county officer (its own county's "
    "batches), agency officers, and contractor staff of the batch's own contractor.",
    responses=WRITE,
)
def record_incident(batch_id: Key, body: IncidentIn, actor: Caller, svc: Svc) -> IncidentOut:
    _batch_for(actor, svc, batch_id, "incidents:write")
    with _unique("case_id", "没有这个案件"):
        row = service.record_incident(
            svc.engine,
            batch_id,
            description=body.description,
            reported_by=_who(actor),
            case_id=body.case_id,
        )
    return IncidentOut.model_validate(row)
