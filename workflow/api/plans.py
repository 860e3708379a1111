"""``/plans``, ``/contractors`` and ``/batches``: annual plans, contractors and batches.

Reads and writes go through `workflow.plans.service`, so the API and the command line run the
same rules in the same transactions: a refused rule (A6.2 days, size and province, A10.2,
A12.1 staff, A13.1 plans, A14.1 papers, A18.3 exit score) is a 409 citing its article with
nothing written. Who may read and write what, and within which scope (a county officer only its
own county's plans and batches, contractor staff only their own contractor's), is the
definition's ``rules.permissions``, read through `workflow.policy` exactly as the command line
reads it (A5.2; 403 naming the permission; a batch outside the caller's scope is read as a
404 exactly like a missing one). An A6.2 exception's approver is the caller, and the
definition decides whether that role may approve (A5.2, 403 otherwise). A duplicate name,
number or evaluation is a 422 naming the field (`workflow.store.errors`).
Dates are ISO text (``2024-06-03``), money decimal text (``"60000.00"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from workflow import policy
from workflow.api.auth import Caller, Services, Svc
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
from workflow.errors import NotFoundError
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


def _allow(
    svc: Services, actor: Actor, permission: str, target: policy.Target | None = None
) -> None:
    """403 naming the permission, when the definition's table (A5.2) says no."""
    refusal = service.permission_refusal(svc.engine, actor, permission, target)
    if refusal is not None:
        raise Forbidden(permission, refusal.message)


def _sees(svc: Services, actor: Actor, permission: str, contractor_id: int) -> bool:
    return policy.sees(service.policy_rules(svc.engine), permission, actor, contractor_id)


@router.get("/plans", summary="Annual plans, oldest first", responses=responses(401, 403, 422, 503))
def list_plans(
    actor: Caller, svc: Svc, year: Annotated[int | None, Query(ge=1900, le=9999)] = None
) -> list[PlanOut]:
    _allow(svc, actor, "plans:read")
    return [PlanOut.model_validate(_plain(r)) for r in service.list_plans(svc.engine, year=year)]


@router.get(
    "/plans/{plan_id}",
    summary="One plan with its batches",
    responses=responses(401, 403, 404, 422, 503),
)
def show_plan(plan_id: Key, actor: Caller, svc: Svc) -> PlanDetailOut:
    _allow(svc, actor, "plans:read")
    plan = service.show_plan(svc.engine, plan_id)
    plan["batches"] = [
        _plain(b) for b in plan["batches"] if _sees(svc, actor, "plans:read", b["contractor_id"])
    ]
    return PlanDetailOut.model_validate(_plain(plan))


@router.get("/batches", summary="Batches, oldest first", responses=responses(401, 403, 422, 503))
def list_batches(
    actor: Caller,
    svc: Svc,
    plan_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[BatchOut]:
    _allow(svc, actor, "batches:read")
    rows = service.list_batches(svc.engine, plan_id=plan_id)
    return [
        BatchOut.model_validate(_plain(r))
        for r in rows
        if _sees(svc, actor, "batches:read", r["contractor_id"])
    ]


@router.get(
    "/batches/{batch_id}",
    summary="One batch with its exceptions, seats, incidents and evaluations",
    responses=responses(401, 403, 404, 422, 503),
)
def show_batch(batch_id: Key, actor: Caller, svc: Svc) -> BatchDetailOut:
    _allow(svc, actor, "batches:read")
    batch = service.show_batch(svc.engine, batch_id)  # 404 when there is no such batch
    target = service.batch_target(svc.engine, batch_id)
    if service.permission_refusal(svc.engine, actor, "batches:read", target) is not None:
        # another contractor's batch is answered exactly like a missing one (A5.2)
        raise NotFoundError("批次", batch_id)
    return BatchDetailOut.model_validate(_plain(batch))


# -- writes -----------------------------------------------------------------------------------


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _who(actor: Actor) -> str:
    return str(actor)[:200]  # the column's width; a token's name is rarely that long


def _batch_for(actor: Actor, svc: Services, batch_id: int, permission: str) -> None:
    """The permission, and the caller's scope on the batch (its plan's county, its contractor)."""
    _allow(svc, actor, permission)
    _allow(svc, actor, permission, service.batch_target(svc.engine, batch_id))


@router.post(
    "/plans",
    status_code=201,
    summary="Create an annual plan (city officer; county officer: its own county's plan)",
    description="Needs `plans:write`: the city officer, or a county officer for a county plan "
    "of its own county. The cycle must be one of the definition's (A9.1).",
    responses=WRITE,
)
def create_plan(body: PlanIn, actor: Caller, svc: Svc) -> PlanOut:
    county = body.county if body.organiser_level == "county" else None
    _allow(svc, actor, "plans:write")
    new = {"organiser_level": body.organiser_level, "county": county}
    _allow(svc, actor, "plans:write", policy.plan_target(new, "新计划"))
    row = service.create_plan(
        svc.engine,
        year=body.year,
        organiser_level=body.organiser_level,
        budget=Decimal(body.budget),
        cycle=body.cycle,
        county=county,
        actor=actor,
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
    _allow(svc, actor, "contractors:write")
    row = service.create_contractor(
        svc.engine,
        name=body.name,
        kind=body.kind,
        why_purchased=body.why_purchased,
        exit_threshold_override=_money(body.exit_threshold_override),
        actor=actor,
    )
    return ContractorOut.model_validate(_plain(row))


@router.get(
    "/contractors",
    summary="Contractors, oldest first (contractor staff: their own)",
    responses=responses(401, 403, 422, 503),
)
def list_contractors(actor: Caller, svc: Svc) -> list[ContractorOut]:
    _allow(svc, actor, "contractors:read")
    return [
        ContractorOut.model_validate(_plain(r))
        for r in service.list_contractors(svc.engine)
        if _sees(svc, actor, "contractors:read", r["id"])
    ]


@router.get(
    "/contractors/{contractor_id}",
    summary="One contractor with its qualifications, agreements and A18.3 standing",
    responses=responses(401, 403, 404, 422, 503),
)
def show_contractor(contractor_id: Key, actor: Caller, svc: Svc) -> ContractorDetailOut:
    _allow(svc, actor, "contractors:read")
    target = policy.Target(label=f"承办单位 {contractor_id}", contractor_id=contractor_id)
    _allow(svc, actor, "contractors:read", target)
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
    _allow(svc, actor, "contractors:write")
    row = service.add_qualification(
        svc.engine,
        contractor_id,
        name=body.name,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        actor=actor,
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
    _allow(svc, actor, "agreements:write")
    _allow(svc, actor, "agreements:write", service.plan_target(svc.engine, body.plan_id))
    row = service.add_agreement(
        svc.engine,
        contractor_id,
        plan_id=body.plan_id,
        agreement_no=body.agreement_no,
        signed_on=body.signed_on,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        actor=actor,
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
    _allow(svc, actor, "batches:write")
    _allow(svc, actor, "batches:write", service.plan_target(svc.engine, body.plan_id))
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
        actor=actor,
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
    return BatchOut.model_validate(_plain(service.start_batch(svc.engine, batch_id, actor=actor)))


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
    row = service.evaluate_contractor(svc.engine, batch_id, score=body.score, actor=actor)
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
    row = service.record_incident(
        svc.engine,
        batch_id,
        description=body.description,
        reported_by=_who(actor),
        case_id=body.case_id,
        actor=actor,
    )
    return IncidentOut.model_validate(row)
