"""``/cases``: open, list, show, move a case by one step, read its history and eligibility.

Every call passes the token's actor to the engine, which applies the definition's roles and
scopes (A5.2) to steps and reads alike; a case or cadre outside the caller's scope is
answered exactly like a missing one (404, the same body). Optimistic concurrency is HTTP's
own: a case's version is its ETag, and If-Match on a write becomes the engine's
``expected_version``, so a stale write is 412 with nothing written.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from pydantic import Field

from workflow.api.auth import Caller, Svc
from workflow.api.errors import PreconditionFailed, outside_scope, responses
from workflow.api.models import (
    NO_NUL,
    CaseEligibilityOut,
    CaseOut,
    CasePage,
    ExceptionIn,
    ExplanationOut,
    HistoryOut,
    OpenCaseIn,
    StepIn,
)
from workflow.engine import Engine
from workflow.errors import NotFoundError, RuleRefused
from workflow.machine import Actor
from workflow.paging import Page
from workflow.views import CaseView

router = APIRouter(prefix="/cases", tags=["cases"])

MAX_PAGE = 500
MAX_ID = 2**31 - 1  # the id columns are 32-bit integers on PostgreSQL
ETAG = re.compile(r'^(?:"(\d{1,10})"|(\d{1,10}))$')

CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="The case's id")]
Trigger = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="A step of the case's definition, e.g. consent, approve",
        examples=["consent"],
    ),
]
Filter = Annotated[str | None, Query(min_length=1, max_length=200, pattern=NO_NUL)]
IfMatch = Annotated[
    str | None,
    Header(
        description='The ETag of the case as last read, e.g. "3": the write happens only if '
        "the case is still at that version, else 412 and nothing is written",
    ),
]
ETAG_HEADER = {
    "ETag": {"description": "The case's version, for If-Match", "schema": {"type": "string"}}
}

STEP_ERRORS = responses(400, 401, 403, 404, 409, 412, 422, 503)


class CaseListPage(CasePage):
    """A page of cases with the cursor to the next (issue 14): ``next`` as ``after``."""

    next: int | None = Field(
        None,
        description="Pass as after for the next page (keyset paging); null on the last page",
    )


def etag(view: CaseView) -> str:
    return f'"{view.version}"'


def expected_version(
    engine: Engine, case_id: int, actor: Actor, if_match: str | None
) -> int | None:
    """If-Match as the engine's ``expected_version``; ``*`` (any version) or no header: None.

    A header that names no version this case can have (a weak tag, which If-Match never
    matches, a list, anything else) fails the precondition; the case is read first, so an
    unknown or out-of-scope case is still a 404.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    match = ETAG.match(if_match.strip())
    if match is not None:
        return int(match.group(1) or match.group(2))
    current = engine.case(case_id, viewer=actor)
    raise PreconditionFailed(case_id, current.version, if_match)


def answer(response: Response, view: CaseView) -> CaseOut:
    """The case as a step left it, with its version as the ETag the next If-Match names."""
    response.headers["ETag"] = etag(view)
    return CaseOut.of(view)


@router.post(
    "",
    status_code=201,
    summary="Register a cadre: open a case (A7.1 个人报名)",
    responses={
        201: {"headers": {**ETAG_HEADER, "Location": {"schema": {"type": "string"}}}},
        **responses(400, 401, 403, 404, 409, 422, 503),
    },
)
def open_case(body: OpenCaseIn, actor: Caller, svc: Svc, response: Response) -> CaseOut:
    try:
        view = svc.engine.open_case(
            body.cadre_id,
            actor=actor,
            data=body.data,
            reason=body.reason,
            on_behalf_of=body.on_behalf_of,
        )
    except RuleRefused as refused:  # a cadre outside the scope: answered like a missing one
        if outside_scope(refused):
            raise NotFoundError("军休干部", body.cadre_id) from None
        raise
    response.headers["Location"] = f"/cases/{view.id}"
    return answer(response, view)


@router.get(
    "",
    summary="Cases by filter, oldest first, one page at a time",
    responses=responses(401, 403, 422, 503),
)
def list_cases(
    *,
    actor: Caller,
    svc: Svc,
    state: Filter = None,
    county: Filter = None,
    agency: Filter = None,
    cadre_id: Filter = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[
        int, Query(ge=0, le=MAX_ID, description="Cases to skip: slower the more it skips")
    ] = 0,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_ID,
            description="Start after this case id: the `next` of the previous page (keyset "
            "paging, every page as fast as the first)",
        ),
    ] = None,
) -> CaseListPage:
    """A scoped caller sees only its own scope (A5.2): a filter naming another scope gives an
    empty page, not an error."""
    views = svc.engine.cases(
        state=state,
        county=county,
        agency=agency,
        cadre_id=cadre_id,
        open_only=open_only,
        limit=limit + 1,  # one more tells whether another page exists
        offset=offset,
        after=after,
        viewer=actor,
    )
    page = Page.of(views, limit, key=lambda view: view.id)
    more = page.next_after is not None
    return CaseListPage(
        items=[CaseOut.of(v) for v in page.items],
        limit=limit,
        offset=offset,
        # an offset counts from the cursor when both are given: only offset paging gets one
        next_offset=offset + limit if more and after is None else None,
        next=page.next_after,
    )


@router.get(
    "/{case_id}",
    summary="One case; its ETag is its version",
    responses={200: {"headers": ETAG_HEADER}, **responses(401, 403, 404, 422, 503)},
)
def show_case(case_id: CaseId, actor: Caller, svc: Svc, response: Response) -> CaseOut:
    return answer(response, svc.engine.case(case_id, viewer=actor))


@router.post(
    "/{case_id}/steps/{trigger}",
    summary="Move the case by one step (A7.1); refusals cite their articles",
    responses={200: {"headers": ETAG_HEADER}, **STEP_ERRORS},
)
def fire(
    *,
    case_id: CaseId,
    trigger: Trigger,
    body: StepIn,
    actor: Caller,
    svc: Svc,
    response: Response,
    if_match: IfMatch = None,
) -> CaseOut:
    view = svc.engine.fire(
        case_id,
        trigger,
        actor=actor,
        data=body.data,
        reason=body.reason,
        on_behalf_of=body.on_behalf_of,
        expected_version=expected_version(svc.engine, case_id, actor, if_match),
    )
    return answer(response, view)


@router.post(
    "/{case_id}/exceptions",
    summary="Record an exception to an in-principle rule (A8.2, A9.2) with a reason",
    responses={200: {"headers": ETAG_HEADER}, **STEP_ERRORS},
)
def grant_exception(
    *,
    case_id: CaseId,
    body: ExceptionIn,
    actor: Caller,
    svc: Svc,
    response: Response,
    if_match: IfMatch = None,
) -> CaseOut:
    view = svc.engine.grant_exception(
        case_id,
        body.rule,
        actor=actor,
        reason=body.reason,
        expected_version=expected_version(svc.engine, case_id, actor, if_match),
    )
    return answer(response, view)


@router.get(
    "/{case_id}/history",
    summary="The case's append-only history (A19.1)",
    responses=responses(401, 403, 404, 422, 503),
)
def history(case_id: CaseId, actor: Caller, svc: Svc) -> list[HistoryOut]:
    return [HistoryOut.of(entry) for entry in svc.engine.history(case_id, viewer=actor)]


@router.get(
    "/{case_id}/eligibility",
    summary="The eligibility explanation stored when the case was opened (A4.2)",
    responses=responses(401, 403, 404, 422, 503),
)
def eligibility(case_id: CaseId, actor: Caller, svc: Svc) -> CaseEligibilityOut:
    stored = svc.engine.eligibility(case_id, viewer=actor)
    explanation = ExplanationOut.model_validate(stored) if stored is not None else None
    return CaseEligibilityOut(case_id=case_id, explanation=explanation)
