"""Who is calling (bearer token → `Actor`) and what the API lets each role read.

Steps are governed by the definition: which role may fire which step, and in which scope, is
data (``roles:`` per step and ``scopes:``), checked by the engine, which refuses citing A5.2.
Plans, contractors and batches are governed by the definition too: its ``rules.permissions``
table (role × scope per permission), read through `workflow.policy` by the API and the command
line alike (`workflow.api.plans`). What no definition covers are the API's own reads of tasks,
reports and the eligibility explainer; `PERMISSIONS` lists which roles hold those, so a cadre's
token cannot browse the officers' work lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from workflow.api.errors import Forbidden, Unauthorized
from workflow.api.tokens import TokenRegistry, hash_token
from workflow.clock import shanghai_date
from workflow.engine import Engine
from workflow.machine import Actor
from workflow.store import tokens as token_store

OFFICERS = ("city_officer", "county_officer", "agency_officer", "auditor")

# permission → roles holding it (A5.1 roles; auditor is read-only, A5.1); plans, contractors
# and batches are the definition's (``rules.permissions``), not listed here
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "eligibility:explain": OFFICERS,
    "tasks:read": OFFICERS,  # county and agency officers: their own scope only
    "reports:read": ("city_officer", "auditor"),  # the report spans every organiser
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
    """The actor behind the bearer token; 401 before anything else is looked at: no token, an
    unknown or expired one (the file's ``expires``), or one revoked in the database (``tokens
    revoke``). Each accepted use is recorded as the token's last use (issue 17)."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("需要 API 令牌：Authorization: Bearer <token>", invalid=False)
    svc = services(request)
    now = svc.engine.clock.now()
    actor = svc.tokens.actor_for(credentials.credentials, shanghai_date(now))
    if actor is None:
        raise Unauthorized("API 令牌无效或已停用", invalid=True)
    if not token_store.used(svc.engine.transaction, hash_token(credentials.credentials), now):
        raise Unauthorized("API 令牌无效或已停用", invalid=True)
    request.state.actor = actor  # the access log line names who called (workflow.observability)
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
