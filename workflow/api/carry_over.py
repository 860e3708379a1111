"""``POST /cases/migrate``: carry open cases over to a successor definition (A21.1).

The same service as ``convalescence cases migrate`` (`workflow.carry_over`), under the same
permission (the definition's ``cases:migrate``, A5.2): the body names the target version, the
optional state and county filters, the reason and whether it is a dry run; the answer is the
per-case report. A report is a 200 whatever each case came to (its ``counts`` say it); only a
request that cannot run at all (bad target, no reason, no permission) is a 4xx.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from workflow import carry_over
from workflow.api.auth import Caller, Svc
from workflow.api.errors import responses

router = APIRouter(tags=["definitions"])


class MigrateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Annotated[str, Field(min_length=3, max_length=100, examples=["honor_convalescence@2"])]
    states: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] = []
    county: Annotated[str | None, Field(max_length=100)] = None
    reason: Annotated[str | None, Field(max_length=2000)] = None
    dry_run: bool = False


@router.post(
    "/cases/migrate",
    summary="Carry open cases over to a successor definition version (city officer)",
    responses=responses(400, 401, 403, 404, 409, 422, 503),
)
def migrate(body: MigrateIn, actor: Caller, svc: Svc) -> dict[str, Any]:
    report = carry_over.carry_over(
        svc.engine,
        body.to,
        actor=actor,
        states=body.states,
        county=body.county,
        reason=body.reason,
        dry_run=body.dry_run,
    )
    return report.to_json()
