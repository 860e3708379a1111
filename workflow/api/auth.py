"""Who is calling (bearer token → `Actor`) and what the API lets each role read.

Steps are governed by the definition: which role may fire which step, and in which scope, is
data (``roles:`` per step and ``scopes:``), checked by the engine, which refuses citing A5.2.
What the definition does not cover are the API's own reads of plans, batches, notices and
the eligibility explainer; `PERMISSIONS` lists which roles hold those, so a cadre's token
cannot browse other people's batches or the outbox.

Writing plans, contractors and batches (the rules themselves, A6.2, A10, A12.1, A13.1, A14.1,
A18.3, are the service's and answer 409 citing their article):

* ``plans:write`` (``POST /plans``): the city officer; a county officer only for a county plan
  of its own county (its token's scope).
* ``contractors:write`` (contractors and their qualifications): the city officer only, since a
  contractor serves every organiser and its papers are checked for every plan (A14.1).
* ``agreements:write`` and ``batches:write`` (create, record an A6.2 exception, start): the
  city officer; a county officer only for its own county's plans and their batches. Who may
  *approve* an A6.2 exception is the definition's (the city, A5.2): the caller is recorded as
  the approver, so a county officer's exception is refused by the service citing A5.2.
* ``batches:evaluate`` (A18.3): city and county officers, a county officer for its own county's
  batches.
* ``incidents:write`` (A13.2): the officers who run batches (city; county for its own county's
  batches), agency officers (they accompany their cadres) and the contractor's staff for their
  own contractor's batches; the auditor stays read-only.
* ``contractors:read``: every officer, contractor staff their own contractor only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from workflow.api.errors import Forbidden, Unauthorized
from workflow.api.tokens import TokenRegistry
from workflow.engine import Engine
from workflow.machine import Actor

OFFICERS = ("city_officer", "county_officer", "agency_officer", "auditor")

# permission → roles holding it (A5.1 roles; auditor is read-only, A5.1)
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "plans:read": (*OFFICERS, "contractor_staff"),
    "batches:read": (*OFFICERS, "contractor_staff"),
    "eligibility:explain": OFFICERS,
    "tasks:read": OFFICERS,  # county and agency officers: their own scope only
    "reports:read": ("city_officer", "auditor"),  # the report spans every organiser
    "contractors:read": (*OFFICERS, "contractor_staff"),  # staff: their own contractor only
    # writes; county officers: their own county's plans and batches only (see above)
    "plans:write": ("city_officer", "county_officer"),
    "contractors:write": ("city_officer",),
    "agreements:write": ("city_officer", "county_officer"),
    "batches:write": ("city_officer", "county_officer"),
    "batches:evaluate": ("city_officer", "county_officer"),
    "incidents:write": ("city_officer", "county_officer", "agency_officer", "contractor_staff"),
}


@dataclass(frozen=True)
class Services:
    """What every route needs, kept on ``app.state`` (no module globals: one process may serve
    two apps on two databases, as the tests do)."""

    engine: Engine
    tokens: TokenRegistry


bearer = HTTPBearer(auto_error=False, description="An API token from the token file")


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The actor behind the bearer token; 401 before anything else is looked at."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("需要 API 令牌：Authorization: Bearer <token>", invalid=False)
    actor = services(request).tokens.actor_for(credentials.credentials)
    if actor is None:
        raise Unauthorized("API 令牌无效或已停用", invalid=True)
    return actor


def require(permission: str, actor: Actor) -> None:
    """403 naming the permission the role lacks, citing A5.2 as the engine does."""
    roles = PERMISSIONS[permission]
    if actor.role not in roles:
        raise Forbidden(
            permission,
            f"角色 {actor.role} 无权访问（缺少权限 {permission}；可访问角色：{'、'.join(roles)}）",
        )


Caller = Annotated[Actor, Depends(caller)]
Svc = Annotated[Services, Depends(services)]
