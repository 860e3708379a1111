"""The one place engine errors become HTTP answers, so every route fails the same way.

Status codes (the error class decides, as it decides the CLI's exit code):

* 401 ``unauthorized``: no token, or a token the registry does not know (WWW-Authenticate).
* 403 ``forbidden``: the role may not do this (whatever the id); the message names the missing
  permission and every refusal cites A5.2. Something outside the caller's scope is a 404.
* 404 ``not_found``: no such case, cadre, plan, batch or definition.
* 409 ``refused``: a policy rule said no (the refusals carry their articles, e.g. A8.2), or the
  step does not apply to the case's state (A7.1). 409 rather than 422 because the request is
  well formed and would be accepted for another case or on another day: it conflicts with the
  state of the case and the policy, not with the API's grammar.
* 409 ``conflict``: someone moved the case between the caller's read and write (no If-Match
  sent); 412 ``precondition_failed`` when the caller sent If-Match with a stale version.
* 422 ``bad_input``: a malformed request, including step evidence the definition rejects;
  400 ``bad_input`` when the body cannot even be parsed.
* 413 ``too_large``: a request body over `workflow.api.limits.MAX_BODY_BYTES`, nothing read.
* 503 ``database_not_ready`` / ``database_unavailable``: schema not migrated, database down,
  disk full, file unreadable.

A case outside the caller's scope (A5.2) is answered exactly like a case that does not exist
(404, the same body): a caller must not learn from the status which ids exist elsewhere. The
same holds wherever a request names one thing by its id: a case's notices
(``/notifications?case_id=``), a cadre to register (``POST /cases``), a batch contractor staff
may not read (``GET /batches/{id}``). A 403 stays for what a role may not do at all, whatever
the id.

Constraint violations are the store's to name (`workflow.store.errors`), which turns them into
`InputError` naming the field; one that a store left unmapped is still answered 422 through the
same translation, never a 500 with the driver's text.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from workflow.api.models import ErrorOut
from workflow.errors import (
    ConflictError,
    DatabaseNotReadyError,
    DefinitionError,
    InputError,
    NotFoundError,
    RuleRefused,
    WorkflowError,
    error_json,
)
from workflow.store.connectivity import DatabaseUnreachable, StorageFailure
from workflow.store.errors import ConstraintViolation, ValueOutOfRange, out_of_range, translate

PERMISSION_ARTICLE = "A5.2"
BEARER_CHALLENGE = 'Bearer realm="convalescence"'


class Unauthorized(Exception):
    """No usable token: the caller is nobody yet, so nothing about the resource is said."""

    def __init__(self, message: str, *, invalid: bool) -> None:
        super().__init__(message)
        self.message = message
        self.invalid = invalid


class Forbidden(Exception):
    """The caller's role lacks an API permission the definition does not govern (reading plans,
    batches, notices, explaining eligibility): answered like a scope refusal, citing A5.2."""

    def __init__(self, permission: str, message: str) -> None:
        super().__init__(message)
        self.permission = permission
        self.message = message


class PreconditionFailed(Exception):
    """If-Match named no version this case can have (a weak tag, a list, garbage)."""

    def __init__(self, case_id: int, actual_version: int, sent: str) -> None:
        self.case_id = case_id
        self.actual_version = actual_version
        self.message = (
            f'If-Match {sent!r} 不是案件 {case_id} 的当前 ETag（当前为 "{actual_version}"）：'
            "本次操作未写入，请先 GET 案件再重试。"
        )
        super().__init__(self.message)


def status_of(error: WorkflowError, request: Request) -> int:
    if isinstance(error, RuleRefused):
        permission = all(r.article == PERMISSION_ARTICLE for r in error.refusals)
        return 403 if permission and error.refusals else 409
    if isinstance(error, ConflictError):
        # "*" promises nothing about the version, so losing a race under it is a plain 409
        return 412 if request.headers.get("if-match", "*").strip() != "*" else 409
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, DatabaseNotReadyError | DefinitionError):
        return 503
    if isinstance(error, InputError):
        return 422
    return 500


SCOPE_RULES = frozenset({"out_of_scope", "role_not_in_workflow"})


def outside_scope(error: BaseException) -> bool:
    """Whether ``error`` says only that the thing lies outside the caller's scope (A5.2): such a
    refusal is answered as the missing thing's 404 (see the module docstring)."""
    return (
        isinstance(error, RuleRefused)
        and bool(error.refusals)
        and all(r.rule in SCOPE_RULES for r in error.refusals)
    )


def _hidden(error: WorkflowError, request: Request) -> WorkflowError:
    """A case outside the caller's scope, as if it did not exist (see the module docstring)."""
    case_id = request.path_params.get("case_id")
    if outside_scope(error) and case_id is not None:
        return NotFoundError("案件", int(case_id))
    return error


def body_of(error: WorkflowError, status: int) -> dict[str, Any]:
    body = error_json(error)
    body.setdefault("refusals", [])
    if status == 403:
        body["error"] = "forbidden"
    elif status == 412:
        body["error"] = "precondition_failed"
    elif isinstance(error, DefinitionError):
        body = {"error": "definition_conflict", "message": error.message, "refusals": []}
    if "key" in body and not isinstance(body["key"], int | str | None):
        body["key"] = str(body["key"])
    return body


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers; anything not handled here is a bug and stays a 500."""

    @app.exception_handler(WorkflowError)
    async def workflow_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, WorkflowError)
        error = _hidden(error, request)
        status = status_of(error, request)
        return _json(status, body_of(error, status))

    @app.exception_handler(Unauthorized)
    async def unauthorized(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Unauthorized)
        challenge = BEARER_CHALLENGE + (', error="invalid_token"' if error.invalid else "")
        return _json(
            401,
            {"error": "unauthorized", "message": error.message, "refusals": []},
            {"WWW-Authenticate": challenge},
        )

    @app.exception_handler(Forbidden)
    async def forbidden(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Forbidden)
        refusal = {
            "article": PERMISSION_ARTICLE,
            "rule": "api_permission",
            "message": error.message,
        }
        return _json(
            403,
            {
                "error": "forbidden",
                "message": error.message,
                "permission": error.permission,
                "refusals": [refusal],
            },
        )

    @app.exception_handler(PreconditionFailed)
    async def precondition(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, PreconditionFailed)
        body = {
            "error": "precondition_failed",
            "message": error.message,
            "case_id": error.case_id,
            "actual_version": error.actual_version,
            "refusals": [],
        }
        return _json(412, body)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = error.errors()
        first = problems[0] if problems else {}
        field = ".".join(str(part) for part in first.get("loc", ()))
        message = "; ".join(
            f"{'.'.join(str(p) for p in problem.get('loc', ()))}: {problem.get('msg', '')}"
            for problem in problems
        )
        return _json(
            422, {"error": "bad_input", "message": message, "field": field or None, "refusals": []}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        kinds = {
            400: "bad_input",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }
        body = {
            "error": kinds.get(error.status_code, "http_error"),
            "message": str(error.detail),
            "refusals": [],
        }
        return _json(error.status_code, body, dict(error.headers or {}))

    @app.exception_handler(ConstraintViolation)
    async def constraint(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ConstraintViolation)
        mapped = translate(error)
        status = status_of(mapped, request)
        return _json(status, body_of(mapped, status))

    @app.exception_handler(ValueOutOfRange)
    @app.exception_handler(OverflowError)
    async def value_out_of_range(request: Request, error: Exception) -> JSONResponse:
        mapped = out_of_range(error)
        if mapped is None:  # an OverflowError of our own making: a bug, answered as one
            return _json(500, {"error": "failed", "message": "internal error", "refusals": []})
        return _json(422, body_of(mapped, 422))

    @app.exception_handler(DatabaseUnreachable)
    @app.exception_handler(StorageFailure)
    async def unavailable(_request: Request, error: Exception) -> JSONResponse:
        # The driver's text may name the host and user; the officer needs only the fact.
        message = "the database cannot be reached; try again shortly (nothing was written)"
        return _json(503, {"error": "database_unavailable", "message": message, "refusals": []})


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route can give, all with `ErrorOut`."""
    described = {
        400: "The body could not be read (not UTF-8 JSON)",
        401: "No token, or an unknown token",
        403: "The role or scope does not allow this (A5.2)",
        404: "Not found",
        409: "Refused by a policy rule (articles in refusals), or a concurrent change",
        412: "If-Match named a stale version; nothing was written",
        413: "The request body is larger than the API accepts (256 KiB); nothing was read",
        422: "Malformed request or evidence",
        503: "Database not ready or unreachable",
    }
    return {status: {"model": ErrorOut, "description": described[status]} for status in statuses}
