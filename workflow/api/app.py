"""`create_app`: the REST API for host back offices, over one `Engine` and one token registry.

The engine is synchronous, so the routes are plain ``def`` functions: FastAPI runs each in its
thread pool, and the engine's connection pool and compare-and-set writes keep concurrent
requests apart (two officers moving one case: one wins, the other gets 409/412).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from workflow.api import (
    cases,
    eligibility,
    followup,
    notices,
    offline_docs,
    plans,
    published,
    unable,
)
from workflow.api import errors as api_errors
from workflow.api import whatif as policy_whatif
from workflow.api.auth import Services
from workflow.api.bulk import router as bulk_router
from workflow.api.cadres import router as cadres_router
from workflow.api.carry_over import router as carry_over_router
from workflow.api.corrections import router as corrections_router
from workflow.api.cycles import router as cycles_router
from workflow.api.definition_diff import router as definition_diff_router
from workflow.api.limits import MAX_BODY_BYTES, BodyLimit
from workflow.api.models import HealthOut, ReadyOut
from workflow.api.tokens import TokenRegistry
from workflow.calendar import WorkingCalendar, default_calendar
from workflow.clock import shanghai_date
from workflow.engine import Engine
from workflow.errors import InputError
from workflow.i18n import _
from workflow.observability.database import DatabaseCollector
from workflow.observability.http import RequestObserver
from workflow.observability.metrics import CatalogTriggers, Metrics
from workflow.scheduler.calendar_watch import calendar_status
from workflow.store.connectivity import readiness
from workflow.store.migrate import current_revision

DESCRIPTION = """\
Cases of honorary convalescence (荣誉疗养) for retired military cadres, under the Liaocheng
rules (聊退役军人发〔2023〕2号). Authenticate with `Authorization: Bearer <token>`; each token
acts as one role, name and scope (A5.1, A5.2). Every refusal is JSON citing its article;
a case's ETag is its version, and If-Match on a write makes a stale write a 412.
"""


def refuse_unknown_query(request: Request) -> None:
    """A misspelt filter (``?stat=insured``) must not silently list every case: any query
    parameter the route does not declare is a 422 naming it."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = {param.alias for param in route.dependant.query_params}
    for sub in route.dependant.dependencies:
        known |= {param.alias for param in sub.query_params}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise InputError(
            _("未知的查询参数 {unknown}；此路由接受的参数：{known}").format(
                unknown=", ".join(map(repr, unknown)), known=", ".join(sorted(known)) or _("无")
            ),
            field=unknown[0],
        )


def create_app(
    engine: Engine,
    tokens: TokenRegistry,
    *,
    calendar: WorkingCalendar | None = None,
    console: bool = True,
) -> FastAPI:
    """The app; the caller keeps ownership of ``engine`` (close it after the server stops).

    ``calendar`` is the working-day calendar ``/ready`` reports on (``None``: the built-in
    notices); ``convalescence serve`` passes the one its ``--holidays`` file extends.
    ``console``: mount the officer console at ``/console`` with ``/`` leading to it (issue 19;
    ``serve --no-console`` leaves it out)."""
    working = calendar or default_calendar()
    roles = {role for definition in engine.catalog for role in definition.roles}
    scopes = {r: k for definition in engine.catalog for r, k in definition.scopes.items()}
    tokens.check_roles(roles, scopes)
    app = FastAPI(
        title="convalescence",
        version="1",
        description=DESCRIPTION,
        dependencies=[Depends(refuse_unknown_query)],
        docs_url=None,  # /docs with Swagger UI's files from the package (offline_docs)
        redoc_url=None,
    )
    app.state.services = Services(engine=engine, tokens=tokens)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    # issue 18: request id, access log line and request metrics; outermost, so a 413 is logged
    metrics = Metrics(known_triggers=CatalogTriggers(engine))
    metrics.add_collector(DatabaseCollector(engine.db, engine.clock))
    engine.observers.add(metrics.step_ended)
    app.state.metrics = metrics
    app.add_middleware(RequestObserver, metrics=metrics)
    api_errors.install(app)
    app.include_router(carry_over_router)  # /cases/migrate (issue 13), before /cases/{id}
    app.include_router(cases.router)
    app.include_router(bulk_router)  # /cases/fire-many, /bulk-runs (issue 13)
    app.include_router(corrections_router)  # /cases/{id}/rebook, /correct (issue 13)
    app.include_router(eligibility.router)
    app.include_router(plans.router)
    app.include_router(notices.router)
    app.include_router(followup.router)
    app.include_router(unable.router)
    app.include_router(policy_whatif.router)
    app.include_router(published.router)
    app.include_router(definition_diff_router)
    app.include_router(cycles_router)  # /cycles, /cycles/{id}/close (issue 13)
    offline_docs.install(app)  # /docs served offline (issue 19)
    if console:  # the officer console at /console, / leads there (issue 19)
        # imported here: the console's modules import the API's (tokens, errors)
        from workflow.console.app import install as install_console  # noqa: PLC0415

        install_console(app, engine, tokens)
    app.include_router(cadres_router)  # /cadres, /cadres/{id} (issue 19 item 5)

    @app.get("/health", tags=["service"], summary="Liveness and schema revision; no token")
    def health() -> HealthOut:
        return HealthOut(status="ok", schema_revision=current_revision(engine.db))

    @app.get(
        "/ready",
        tags=["service"],
        summary="Readiness: database reachable, schema current, holiday data; no token",
        response_model=ReadyOut,
        responses={503: {"model": ReadyOut}},
    )
    def ready() -> JSONResponse:
        """503 when the database cannot be reached or its schema is not the engine's; 200
        otherwise, with ``warnings`` when holiday data is missing for next year (from
        1 November) or for today (working-day timers wait; the API itself is unaffected)."""
        revision, problems = readiness(engine.db)
        status = calendar_status(working, shanghai_date(engine.clock.now()))
        body = ReadyOut(
            status="not_ready" if problems else "ready",
            schema_revision=revision,
            problems=problems,
            warnings=[status.message] if status.message else [],
            calendar=status.to_json(),
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503 if problems else 200)

    @app.get("/metrics", tags=["service"], include_in_schema=False)
    def metrics_text() -> Response:
        """Prometheus text format, no token (README: Operating it): this process's counters
        and the database's figures read now. Not in the OpenAPI document: it is for Prometheus,
        not for back-office clients."""
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return app
