"""``/cases/fire-many`` and ``/bulk-runs``: one step fired on a cohort of cases, with a report.

The same runs as ``convalescence cases fire-many`` (`workflow.bulk`): the cohort is narrowed to
the token's scope (A5.2), the run and its cases are recorded before anything is fired, each case
is fired in a transaction of its own, and the answer is the report of every case (200 whatever
the outcomes: the request itself succeeded; ``exit_code`` and ``counts`` say how the cases
fared). A run an interrupted request left half done is continued with ``/bulk-runs/{id}/resume``
by the officer who started it; a run is readable by that officer and by the unscoped roles
(city officer, auditor), and answered like a missing one (404) to anyone else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from workflow import bulk
from workflow.api.auth import Caller, Svc
from workflow.api.errors import responses
from workflow.api.models import NO_NUL, JsonObject, Text, _Strict
from workflow.engine import Engine
from workflow.errors import NotFoundError
from workflow.machine import Actor

router = APIRouter(tags=["bulk runs"])

MAX_COHORT = 1000  # a request answers within a proxy's timeout; larger cohorts: the CLI
MAX_ID = 2**31 - 1

RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="The bulk run's id")]
Word = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Filter = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class WhereIn(_Strict):
    """The cohort's filters; the token's scope narrows them further (A5.2)."""

    state: Word = Field(description="The state the cases are in", examples=["registered"])
    county: Filter | None = None
    agency: Filter | None = None
    definition: Filter | None = Field(
        default=None, description="NAME or NAME@VERSION", examples=["honor_convalescence@1"]
    )
    cycle: Filter | None = Field(default=None, examples=["2024-2025"])


class FireManyIn(_Strict):
    trigger: Word = Field(description="The step to fire on every case", examples=["reject"])
    where: WhereIn
    data: JsonObject = Field(
        default_factory=dict,
        description="The step's evidence, the same for every case (A7.2)",
        examples=[{"article": "A21.1"}],
    )
    reason: Text | None = None


class CohortIn(_Strict):
    trigger: Word
    where: WhereIn


class CandidateOut(BaseModel):
    case_id: int
    version: int
    state: str
    cadre_id: str
    county: str
    agency: str
    definition: str
    definition_version: int
    cycle: str | None


class CohortOut(BaseModel):
    trigger: str
    filters: dict[str, Any]
    count: int
    cases: list[CandidateOut]


class BulkItemOut(BaseModel):
    position: int
    case_id: int
    expected_version: int = Field(description="The case's version when it was chosen")
    outcome: str = Field(
        description="succeeded, refused, conflict, not_found, bad_input, or pending"
    )
    new_state: str | None
    new_version: int | None
    article: str | None = Field(description="The article a refusal rests on, e.g. A8.2")
    rule: str | None
    message: str | None
    detail: dict[str, Any] | None = Field(
        description="The error as the single-case route answers it; a conflict adds moved_by"
    )
    finished_at: datetime | None


class BulkRunOut(BaseModel):
    id: int | None = Field(description="None when no case matched (nothing recorded)")
    trigger: str
    actor: str
    filters: dict[str, Any]
    data: dict[str, Any]
    reason: str | None
    created_at: datetime
    finished_at: datetime | None
    total: int
    counts: dict[str, int]
    exit_code: int = Field(
        description="The CLI's exit code for this report: the highest among the outcomes "
        "(0 succeeded, 1 refused, 2 bad input, 3 conflict, 4 not found)"
    )
    items: list[BulkItemOut]

    @classmethod
    def of(cls, report: bulk.Report) -> BulkRunOut:
        return cls.model_validate(report.to_json())


def _filters(where: WhereIn) -> bulk.Filters:
    given = {key: value for key, value in where.model_dump().items() if value is not None}
    return bulk.Filters.parse(given)


@router.post(
    "/cases/fire-many",
    summary="Fire one step on every case matching the filters, each in its own transaction",
    responses={
        200: {"headers": {"Location": {"schema": {"type": "string"}}}},
        **responses(400, 401, 403, 404, 409, 422, 503),
    },
)
def fire_many(body: FireManyIn, actor: Caller, svc: Svc, response: Response) -> BulkRunOut:
    """The run is recorded with its cases before anything is fired; the answer reports every
    case (succeeded with its new state, refused citing the rule's article, conflict, ...).
    Evidence the step does not take, or a role that may not take it, is refused with nothing
    written (422, 403)."""
    started = bulk.start(
        svc.engine,
        trigger=body.trigger,
        filters=_filters(body.where),
        actor=actor,
        data=body.data,
        reason=body.reason,
        limit=MAX_COHORT,
    )
    if started.id is None:
        return BulkRunOut.of(started)
    response.headers["Location"] = f"/bulk-runs/{started.id}"
    return BulkRunOut.of(bulk.fire_pending(svc.engine, started.id))


@router.post(
    "/cases/fire-many/dry-run",
    summary="The cases a bulk step would be fired on; nothing is written",
    responses=responses(400, 401, 403, 422, 503),
)
def dry_run(body: CohortIn, actor: Caller, svc: Svc) -> CohortOut:
    filters = _filters(body.where)
    chosen = bulk.choose(
        svc.engine, trigger=body.trigger, filters=filters, actor=actor, limit=MAX_COHORT
    )
    return CohortOut(
        trigger=body.trigger,
        filters=filters.to_json(),
        count=len(chosen),
        cases=[CandidateOut(**c.to_json()) for c in chosen],
    )


@router.get(
    "/bulk-runs/{run_id}",
    summary="A bulk run's report as recorded",
    responses=responses(401, 404, 422, 503),
)
def show(run_id: RunId, actor: Caller, svc: Svc) -> BulkRunOut:
    return BulkRunOut.of(_visible(svc.engine, run_id, actor))


@router.post(
    "/bulk-runs/{run_id}/resume",
    summary="Continue a bulk run: fire only its pending cases (the officer who started it)",
    responses=responses(401, 403, 404, 422, 503),
)
def resume(run_id: RunId, actor: Caller, svc: Svc) -> BulkRunOut:
    _visible(svc.engine, run_id, actor)
    bulk.resume(svc.engine, run_id, actor=actor)
    return BulkRunOut.of(bulk.fire_pending(svc.engine, run_id))


def _visible(engine: Engine, run_id: int, actor: Actor) -> bulk.Report:
    """The run, or the 404 of a missing one for a caller who may not read it (A5.2)."""
    found = bulk.report(engine, run_id)
    if not bulk.visible(found, actor, bulk.listing_scopes(engine)):
        raise NotFoundError(bulk.RUN_KIND, run_id)
    return found
