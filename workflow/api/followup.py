"""``/tasks`` and ``/reports/performance/{year}``: officers' follow-up work and the A18.2 report.

Tasks are rows the scheduler writes (reminders, escalations, condolence visits, A9.3); a county
or agency officer sees only its own county's or agency's (A5.2), a city officer or auditor all.
The performance report spans every organiser, so only unscoped roles read it; its HTML and
XLSX forms stay with ``convalescence report``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from workflow.api.auth import Caller, Svc, require
from workflow.api.errors import responses
from workflow.api.models import NO_NUL, TaskOut
from workflow.api.paging import NEXT_HEADERS, link_next
from workflow.clock import shanghai_date
from workflow.paging import Page
from workflow.reports.performance import performance_report
from workflow.store.tasks import read_tasks

router = APIRouter(tags=["follow-up"])

MAX_ID = 2**31 - 1
Filter = Annotated[str | None, Query(min_length=1, max_length=200, pattern=NO_NUL)]


@router.get(
    "/tasks",
    summary="Open follow-up tasks, soonest due first (A9.3), a page at a time",
    responses={200: {"headers": NEXT_HEADERS}, **responses(401, 403, 404, 422, 503)},
)
def tasks(
    *,
    actor: Caller,
    svc: Svc,
    request: Request,
    response: Response,
    role: Filter = None,
    county: Filter = None,
    agency: Filter = None,
    case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    overdue: bool = False,
    include_done: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="Continue after this task (X-Next-After of the previous page); 404 "
            "if there is no such task",
        ),
    ] = None,
) -> list[TaskOut]:
    require("tasks:read", actor)
    if actor.role == "county_officer":
        if county not in (None, actor.scope):
            return []
        county = actor.scope
    elif actor.role == "agency_officer":
        if agency not in (None, actor.scope):
            return []
        agency = actor.scope
    today = shanghai_date(svc.engine.clock.now())
    svc.engine.ensure_schema()
    found = read_tasks(
        svc.engine.db,
        today=today,
        role=role,
        county=county,
        agency=agency,
        overdue=overdue,
        include_done=include_done,
        case_id=case_id,
        limit=limit + 1,  # one more tells whether another page exists
        after=after,
    )
    page = Page.of(found, limit, key=lambda task: task.id)
    link_next(request, response, page.next_after)
    return [TaskOut.model_validate(task.to_json(today)) for task in page.items]


@router.get(
    "/reports/performance/{year}",
    summary="The annual performance report (A18.2) as JSON",
    responses=responses(401, 403, 422, 503),
)
def performance(
    year: Annotated[int, Path(ge=2000, le=2100)], actor: Caller, svc: Svc
) -> dict[str, Any]:
    require("reports:read", actor)
    report: dict[str, Any] = performance_report(svc.engine, year).to_json()
    return report
