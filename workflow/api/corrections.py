"""``POST /cases/{id}/rebook`` and ``POST /cases/{id}/correct``: a record put right (issue 13).

The same calls as ``cases rebook`` / ``cases correct``: the token's actor goes to the engine,
which applies the definition's ``corrections:`` roles and states and the scopes (A5.2); a case
outside the caller's scope is a 404 like a missing one, a refusal is 409 citing its article,
If-Match makes a stale write a 412 with nothing written, and the answer carries the new ETag.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from workflow.api.auth import Caller, Svc
from workflow.api.cases import ETAG_HEADER, MAX_ID, STEP_ERRORS, CaseId, IfMatch, answer
from workflow.api.cases import expected_version as if_match_version
from workflow.api.models import CaseOut, JsonObject, Text

router = APIRouter(prefix="/cases", tags=["cases"])


class RebookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is refused, not dropped

    batch_id: Annotated[int, Field(ge=1, le=MAX_ID, description="A batch of the same plan")]
    reason: Text = Field(description="Why the cadre moves; kept in the history (A19.1)")
    data: JsonObject = Field(
        default_factory=dict,
        description="Recorded fields amended with the move, as the definition allows "
        "(e.g. the insurance's dates, A7.3)",
        examples=[{"covered_from": "2024-06-10", "covered_until": "2024-06-16"}],
    )


class CorrectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: JsonObject = Field(
        description="Each recorded field to amend with its new value (A7.2)",
        examples=[{"agreement_no": "LC-2024-002"}],
    )
    reason: Text = Field(description="Why; kept in the history with both values (A19.1)")


@router.post(
    "/{case_id}/rebook",
    summary="Move the case to another batch of the same plan, its seat with it (A6.2)",
    responses={200: {"headers": ETAG_HEADER}, **STEP_ERRORS},
)
def rebook(
    *,
    case_id: CaseId,
    body: RebookIn,
    actor: Caller,
    svc: Svc,
    response: Response,
    if_match: IfMatch = None,
) -> CaseOut:
    view = svc.engine.rebook(
        case_id,
        body.batch_id,
        actor=actor,
        reason=body.reason,
        fields=body.data,
        expected_version=if_match_version(svc.engine, case_id, actor, if_match),
    )
    return answer(response, view)


@router.post(
    "/{case_id}/correct",
    summary="Amend evidence a step recorded, with a reason; the history keeps both (A7.2)",
    responses={200: {"headers": ETAG_HEADER}, **STEP_ERRORS},
)
def correct(
    *,
    case_id: CaseId,
    body: CorrectIn,
    actor: Caller,
    svc: Svc,
    response: Response,
    if_match: IfMatch = None,
) -> CaseOut:
    view = svc.engine.correct(
        case_id,
        body.data,
        actor=actor,
        reason=body.reason,
        expected_version=if_match_version(svc.engine, case_id, actor, if_match),
    )
    return answer(response, view)
