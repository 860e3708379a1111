"""``/cadres``: the roster, read in the caller's scope (issue 19 item 5, A5.2).

The same reads as ``convalescence cadres list | search | show`` (`workflow.cadre_views`): a
county officer's token lists its county's cadres, an agency officer's its agency's, a cadre's
its own record. Pages go by cadre id: ``next`` is the ``after`` of the next page (null on the
last). A cadre outside the caller's scope is a 404 with the body of a missing one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from workflow.api.auth import Caller, Svc
from workflow.api.errors import responses
from workflow.api.models import NO_NUL, ExplanationOut
from workflow.cadre_views import DEFAULT_LIMIT, MAX_LIMIT, list_cadres, show_cadre

router = APIRouter(tags=["cadres"])

CadreId = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=NO_NUL, description="The cadre's roster id"),
]
Filter = Annotated[str | None, Query(min_length=1, max_length=200, pattern=NO_NUL)]


class CadreOut(BaseModel):
    """A cadre as a listing shows it; ``age`` and ``tier`` (art. 4) are as of today."""

    id: str
    name: str
    county: str
    agency: str
    birth_date: date
    age: int = Field(description="Full years (周岁) today")
    tier: str = Field(description="The art. 4 tier today: city, county or none (A4.2)")
    updated_at: datetime


class CadrePageOut(BaseModel):
    items: list[CadreOut]
    limit: int
    next: str | None = Field(
        description="Pass as after for the next page; null when this page is the last"
    )
    examined: int = Field(description="Cadres read to fill the page (more with a tier filter)")


class CadreEligibilityOut(ExplanationOut):
    """The art. 4 tier today and why, at the plan level admitting most tiers (A4.4)."""

    definition: str
    definition_version: int
    decided_by: str | None = Field(description="The art. 4 criterion that gives the tier")
    why: str | None = Field(description="That criterion's sentence")
    sentences: list[str] = Field(description="The explanation as read aloud to the cadre")


class CadreCaseOut(BaseModel):
    id: int
    definition: str
    definition_version: int
    state: str
    state_label: str
    terminal: bool
    cycle: str | None
    tier: str | None
    opened_at: datetime
    updated_at: datetime
    taking_part_in: str | None = Field(description="The cycle it takes part in (A9.2)")
    claim: str | None = Field(description="A9.2, or null when let in by an exception")


class CycleOut(BaseModel):
    cycle: str
    cases: list[int]
    taking_part: list[int]
    unable_reported: bool
    visit_case: int | None


class VisitOut(BaseModel):
    cycle: str
    case_id: int | None
    state: str | None
    state_label: str
    terminal: bool | None
    late: bool = Field(description="Opened after the cycle ended (A9.3)")
    source_case_id: int | None
    unable_report_id: int | None
    opened_at: datetime


class UnableReportOut(BaseModel):
    id: int
    cycle: str
    occurred_on: date
    reason: str
    reporter: str
    reported_at: datetime


class ChangeOut(BaseModel):
    at: datetime
    source: str
    kind: str = Field(description="created or updated")
    changes: dict[str, Any] = Field(description="field -> [old, new], personal numbers masked")


class CadreDetailOut(CadreOut):
    record: dict[str, Any] = Field(description="The roster record, personal numbers masked")
    eligibility: CadreEligibilityOut
    cases: list[CadreCaseOut]
    cycles: list[CycleOut]
    visits: list[VisitOut]
    unable_reports: list[UnableReportOut]
    changes_total: int
    changes: list[ChangeOut] = Field(description="The latest import changes, newest first")


@router.get(
    "/cadres",
    summary="Cadres in the caller's scope by id, one keyset page at a time (A5.2)",
    responses=responses(401, 403, 422, 503),
)
def list_route(
    *,
    actor: Caller,
    svc: Svc,
    county: Filter = None,
    agency: Filter = None,
    tier: Annotated[
        str | None,
        Query(min_length=1, max_length=16, pattern=NO_NUL, description="city, county or none"),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=NO_NUL,
            description="A part of the id (any case) or of the name",
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=NO_NUL, description="The previous `next`"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> CadrePageOut:
    """A filter naming another scope than the caller's gives an empty page, not an error;
    ``tier`` is computed from each record (at most 2,000 examined a page, then ``next``)."""
    found = list_cadres(
        svc.engine, actor, county=county, agency=agency, tier=tier, text=q, after=after, limit=limit
    )
    return CadrePageOut.model_validate(found.to_json())


@router.get(
    "/cadres/{cadre_id}",
    summary="One cadre: tier and why, age, cases, cycles, visits, unable reports, changes",
    responses=responses(401, 403, 404, 422, 503),
)
def show_route(cadre_id: CadreId, actor: Caller, svc: Svc) -> CadreDetailOut:
    return CadreDetailOut.model_validate(show_cadre(svc.engine, actor, cadre_id).to_json())
