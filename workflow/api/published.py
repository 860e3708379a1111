"""``/definitions/versions``: the definition versions an office publishes (A21.1), over HTTP.

The same service as ``convalescence definitions publish`` and ``definitions list``
(`workflow.publishing`), with the same checks and the same permission table (the definition's
``rules.permissions``: ``definitions:publish`` and ``definitions:read``, A5.2). A text that fails
validation, or clashes with the versions already known, is a 422 listing every problem with its
line and column, and nothing is written.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from workflow import publishing
from workflow.api.auth import Caller, Svc
from workflow.api.errors import responses
from workflow.errors import DefinitionError, problem_json

router = APIRouter(tags=["definitions"])

# characters: the bundled definition has ~12,000; even escaped as JSON's \uXXXX pairs a text of
# this length stays under the API's body limit, so an overlong one is a 422 naming the field
MAX_TEXT = 20_000


class PublishIn(BaseModel):
    """A definition version to publish: the YAML text as an officer would write the file."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    source_name: Annotated[str, Field(min_length=1, max_length=200)] = "published.yaml"
    cut_short_previous_reason: Annotated[str | None, Field(max_length=2000)] = None


@router.get(
    "/definitions/versions",
    summary="Every definition version, its window and how many cases run on it",
    responses=responses(401, 403, 503),
)
def list_versions(actor: Caller, svc: Svc) -> list[dict[str, Any]]:
    return [row.to_json() for row in publishing.versions(svc.engine, actor=actor)]


@router.post(
    "/definitions/versions",
    status_code=201,
    summary="Publish a definition version (city officer); 422 lists every problem",
    responses=responses(400, 401, 403, 409, 422, 503),
)
def publish_version(body: PublishIn, actor: Caller, svc: Svc) -> Any:
    try:
        outcome = publishing.publish(
            svc.engine,
            body.text,
            body.source_name,
            actor=actor,
            cut_short_reason=body.cut_short_previous_reason,
        )
    except DefinitionError as error:
        return JSONResponse(
            {
                "error": "invalid_definition",
                "message": error.message,
                "problems": [problem_json(p) for p in error.problems],
                "refusals": [],
            },
            status_code=422,
        )
    return JSONResponse(outcome.to_json(), status_code=200 if outcome.already else 201)
