"""``POST /policy/what-if``: the ``policy what-if`` of the command line, for the city office's
own tools: the draft YAML is the request body, ``on`` a query parameter, the answer the report's
JSON. Only the city officer may ask (A5.1: drafting the city's policy is the city's), since the
answer lists every cadre whose eligibility changes and every open case a draft would stop.

A draft that fails validation is a 422 listing every problem with its line and column, named
after the request body (``draft.yaml``), never the 503 a stored definition's conflict gets. The
run takes seconds at a city's size and holds no lock, so it runs in the thread pool like every
other route.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from workflow.api.auth import Caller, Svc
from workflow.api.errors import Forbidden, responses
from workflow.errors import DefinitionError, InputError, problem_json
from workflow.i18n import _
from workflow.whatif import load_draft_text, what_if

router = APIRouter(tags=["policy"])

PERMISSION = "policy:what-if"
ROLES = ("city_officer",)
DRAFT_NAME = "draft.yaml"  # how problems name the request body


@router.post(
    "/policy/what-if",
    summary="What a draft successor policy would change (issue 13): roster and open cases",
    responses=responses(400, 401, 403, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/yaml": {"schema": {"type": "string"}}},
            "description": "The draft definition file (YAML, UTF-8)",
        }
    },
)
async def policy_what_if(
    request: Request,
    actor: Caller,
    svc: Svc,
    on: Annotated[
        date | None, Query(description="The day to judge on; default: today in Asia/Shanghai")
    ] = None,
) -> JSONResponse:
    """200 with the report's JSON (``workflow.whatif.model.WhatIfReport.to_json``)."""
    if actor.role not in ROLES:
        raise Forbidden(
            PERMISSION,
            _("角色 {role} 无权访问（缺少权限 {permission}；可访问角色：{roles}）").format(
                role=actor.role, permission=PERMISSION, roles="、".join(ROLES)
            ),
        )
    body = await request.body()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            _("请求体不是 UTF-8 文本（第 {byte} 字节）").format(byte=error.start), field="body"
        ) from None
    if not text.strip():
        raise InputError(_("请求体为空：须为流程定义草案（YAML）"), field="body")
    try:
        draft = await run_in_threadpool(load_draft_text, text, DRAFT_NAME)
    except DefinitionError as error:
        return _invalid(error)
    report = await run_in_threadpool(what_if, svc.engine, draft, on=on)
    return JSONResponse(report.to_json())


def _invalid(error: DefinitionError) -> JSONResponse:
    body: dict[str, Any] = {
        "error": "invalid_definition",
        "message": error.message,
        "problems": [problem_json(p) for p in error.problems],
        "refusals": [],
    }
    return JSONResponse(body, status_code=422)
