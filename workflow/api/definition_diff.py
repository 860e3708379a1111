"""``/definitions/diff``: what changed between two definition versions, in policy terms
(issue 13 item 2), as ``convalescence definitions diff --json`` prints it.

``GET`` compares two versions the server knows (``NAME@VERSION``: the bundled files and the
versions published into the database). ``POST`` compares a draft successor, sent as the YAML
body, with a version the server knows, so an office can review a draft before it publishes it:
the draft is checked as ``definitions validate`` checks a file and never stored. A server never
reads a file named by a caller. Who may read definitions is the definition's own
``rules.permissions`` (``definitions:read``, A5.2), as for every other read of the API.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from notifications.shipped import ShippedTemplates
from workflow.api.auth import Caller, Services, Svc
from workflow.api.errors import Forbidden, responses
from workflow.api.models import NO_NUL
from workflow.definition.diff import diff_report, parse_reference
from workflow.definition.loader import load_definition_text
from workflow.definition.model import Definition
from workflow.errors import DefinitionError, InputError, problem_json
from workflow.i18n import _
from workflow.machine import Actor
from workflow.plans import service

router = APIRouter(tags=["definitions"])

READ = "definitions:read"  # the permission in the definition's rules.permissions (A5.2)
DRAFT_SOURCE = "draft"  # what the problems of a posted draft name as their file

Reference = Annotated[
    str,
    Query(
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="NAME@VERSION, e.g. honor_convalescence@1 (NAME alone: its latest version)",
    ),
]


class SideOut(BaseModel):
    name: str
    version: int
    document: str
    source: str = Field(description="The file, or where a published version came from")
    content_hash: str


class ChangeOut(BaseModel):
    section: str = Field(
        description="policy, tiers, limits, cycles, exceptions, permissions, steps, roles, "
        "states or migration"
    )
    item: str = Field(description="What changed within the section, e.g. age_limit")
    before: Any = Field(description="The value in a; null when the item is new")
    after: Any = Field(description="The value in b; null when the item is gone")


class DiffOut(BaseModel):
    a: SideOut
    b: SideOut
    identical: bool = Field(description="True when the two say the same in policy terms")
    changes: list[ChangeOut]


def _allow(svc: Services, actor: Actor) -> None:
    refusal = service.permission_refusal(svc.engine, actor, READ)
    if refusal is not None:
        raise Forbidden(READ, refusal.message)


def _known(svc: Services, reference: str, field: str) -> Definition:
    try:
        name, version = parse_reference(reference)
    except InputError as error:
        raise InputError(error.message, field=field) from None
    return svc.engine.catalog.get(name, version)


@router.get(
    "/definitions/diff",
    summary="What changed between two definition versions, in policy terms (A21.1)",
    description="Sections: the policy document and window, tiers and criteria, limits, cycles, "
    "exceptions, permissions, steps (roles, guards, notices, articles, fields), roles, states "
    "and timers, the migration map. 404 names a version the server does not know.",
    responses=responses(401, 403, 404, 422, 503),
)
def diff_versions(a: Reference, b: Reference, actor: Caller, svc: Svc) -> DiffOut:
    _allow(svc, actor)
    before, after = _known(svc, a, "a"), _known(svc, b, "b")
    return DiffOut.model_validate(diff_report(before, after))


@router.post(
    "/definitions/diff",
    response_model=DiffOut,
    summary="What a draft successor (the YAML body) changes against a known version",
    description='The body is the draft\'s YAML text (UTF-8; or JSON `{"text": ...}` as '
    "`POST /definitions/versions` takes it), checked as `definitions validate` checks a file: "
    "422 lists every problem with its line and column. `a` names the version to compare with; "
    "by default the latest version of the draft's own name. Nothing is stored.",
    responses=responses(400, 401, 403, 404, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"text": {"type": "string"}},
                        "required": ["text"],
                    }
                },
            },
        }
    },
)
async def diff_draft(request: Request, actor: Caller, svc: Svc, a: Reference | None = None) -> Any:
    text = _draft_text(await request.body(), request.headers.get("content-type", ""))
    return await run_in_threadpool(_diff_draft, svc, actor, text, a)


def _draft_text(raw: bytes, content_type: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(_("草稿须为 UTF-8 编码的 YAML 文本"), field="body") from None
    if content_type.split(";", maxsplit=1)[0].strip().lower() != "application/json":
        return text
    try:
        body = json.loads(text)
    except ValueError:
        raise InputError(_("请求体不是有效的 JSON"), field="body") from None
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or set(body) - {"text"}:
        raise InputError(_("JSON 请求体应只有 text 一个键，其值为草稿的 YAML 文本"), field="text")
    draft: str = body["text"]
    return draft


def _diff_draft(svc: Services, actor: Actor, text: str, a: str | None) -> Any:
    """Checked and compared in a worker thread: the YAML checks take a few milliseconds, and
    the catalog may read the database for newly published versions."""
    _allow(svc, actor)
    if not text.strip():
        raise InputError(_("请求体为空：应为草稿的 YAML 文本"), field="body")
    try:
        draft = load_definition_text(text, DRAFT_SOURCE, templates=ShippedTemplates())
    except DefinitionError as error:
        # the draft's problems, as POST /definitions/versions lists them: bad input (422), not
        # the server's own definitions in conflict (503)
        return JSONResponse(
            {
                "error": "invalid_definition",
                "message": error.message,
                "problems": [problem_json(p) for p in error.problems],
                "refusals": [],
            },
            status_code=422,
        )
    before = _known(svc, a, "a") if a is not None else svc.engine.catalog.get(draft.name)
    return DiffOut.model_validate(diff_report(before, draft))
