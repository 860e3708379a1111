"""``/cadres/{cadre_id}/unable``: record that a cadre cannot take part in a cycle (A9.3, 第九条),
and list such reports. The engine's `workflow.unable` decides (who may, in which scope, which
cycle and day); the condolence sweep then opens the visit from the report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field

from workflow.api.auth import Caller, Svc, require
from workflow.api.errors import responses
from workflow.api.models import NO_NUL, Text, _Strict
from workflow.unable import list_unable, record_unable

router = APIRouter(tags=["condolence visits"])

CadreId = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL)]
Cycle = Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)]


class UnableIn(_Strict):
    cycle: Cycle = Field(description="The cycle the cadre cannot take part in, e.g. 2024-2025")
    reason: Text = Field(description="Why (health or similar, art. 9)")
    occurred_on: date | None = Field(
        default=None, description="When it arose, inside the cycle; default today"
    )


class UnableOut(_Strict):
    id: int
    cadre_id: str
    cycle: str
    occurred_on: date
    reason: str
    reporter_role: str
    reporter_name: str
    reported_at: str
    hash: str


@router.post(
    "/cadres/{cadre_id}/unable",
    status_code=201,
    summary="Record that a cadre cannot take part in a cycle (A9.3; agency or county officer)",
    description="The condolence sweep then opens one focused visit for the cadre and cycle, "
    "late if the cycle has ended. One report per cadre and cycle (422 for a second); the "
    "officer's scope must cover the cadre (A5.2).",
    responses=responses(400, 401, 403, 404, 409, 422, 503),
)
def record(cadre_id: CadreId, body: UnableIn, actor: Caller, svc: Svc) -> UnableOut:
    report = record_unable(
        svc.engine,
        cadre_id,
        cycle=body.cycle,
        reason=body.reason,
        actor=actor,
        occurred_on=body.occurred_on,
    )
    return UnableOut.model_validate(report.to_json())


@router.get(
    "/unable-reports",
    summary="Unable-to-attend reports with their visit case (A9.3); scoped officers see their own",
    responses=responses(401, 403, 422, 503),
)
def reports(
    actor: Caller,
    svc: Svc,
    cycle: Annotated[str | None, Query(min_length=1, max_length=32, pattern=NO_NUL)] = None,
    cadre_id: Annotated[str | None, Query(min_length=1, max_length=64, pattern=NO_NUL)] = None,
) -> list[dict[str, Any]]:
    require("tasks:read", actor)  # the officers who read follow-up work read these
    return list_unable(svc.engine, viewer=actor, cycle=cycle, cadre_id=cadre_id)
