"""``/notifications``: the outbox as officers see it, addresses and errors masked.

The outbox has no county or agency of its own, only the case it belongs to. So unscoped roles
(city officers, auditors) may list all of it, and a scoped role must name a case it may read:
the engine's read check on that case is the scope check for its notices (A5.2), and a case
outside the caller's scope is answered exactly like a missing one (404, the same body).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from notifications.outbox import STATUSES, list_entries
from workflow.api.auth import Caller, Svc
from workflow.api.errors import Forbidden, outside_scope, responses
from workflow.api.models import NotificationOut
from workflow.api.paging import NEXT_HEADERS, link_next
from workflow.errors import NotFoundError, RuleRefused
from workflow.paging import Page
from workflow.store.outbox import SqlOutbox

router = APIRouter(tags=["notifications"])

MAX_ID = 2**31 - 1


@router.get(
    "/notifications",
    summary="Notices in the outbox, newest first, masked, a page at a time",
    responses={200: {"headers": NEXT_HEADERS}, **responses(401, 403, 404, 422, 503)},
)
def list_notifications(
    *,
    actor: Caller,
    svc: Svc,
    request: Request,
    response: Response,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="Continue with the notices older than this id (X-Next-After of the "
            "previous page)",
        ),
    ] = None,
) -> list[NotificationOut]:
    engine = svc.engine
    if case_id is not None:
        try:
            engine.case(case_id, viewer=actor)
        except RuleRefused as refused:  # outside the scope: answered like a missing case
            if outside_scope(refused):
                raise NotFoundError("案件", case_id) from None
            raise
    elif actor.scope is not None:
        raise Forbidden(
            "notifications:read",
            f"{actor.name}的权限限于“{actor.scope}”：请用 case_id 指明本范围内的案件"
            "（缺少权限 notifications:read@全部）",
        )
    entries = list_entries(
        SqlOutbox(engine.db),
        status=status,
        case_id=case_id,
        limit=limit + 1,  # one more tells whether another page exists
        after=after,
    )
    page = Page.of(entries, limit, key=lambda entry: entry.id)
    link_next(request, response, page.next_after)
    return [NotificationOut.model_validate(entry.to_json()) for entry in page.items]
