"""``/plans`` and ``/batches``: the annual plans and their batches, read-only over HTTP.

Creating plans and batches stays on the command line for now (``convalescence plans create``,
``batches add``): their rules need exceptions and papers recorded by the city department.
Contractor staff see only their own contractor's batches (their scope, A5.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from workflow.api.auth import Caller, Svc, require
from workflow.api.errors import responses
from workflow.api.models import BatchDetailOut, BatchOut, PlanDetailOut, PlanOut
from workflow.errors import Refusal, RuleRefused
from workflow.machine import Actor
from workflow.plans import service

router = APIRouter(tags=["plans"])

MAX_ID = 2**31 - 1
Key = Annotated[int, Path(ge=1, le=MAX_ID)]
MONEY_KEYS = ("budget", "actual_cost")


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
