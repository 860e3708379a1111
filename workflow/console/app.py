"""The console as an app of its own, mounted into the API's app at ``/console``; ``/`` leads to it.

A mounted app keeps the console's answers HTML (its own error handlers: a refusal, a missing
case, a database that is down each get a page) while the API around it keeps answering JSON.
The page modules listed in `PAGE_MODULES` each bring a ``router`` and their navigation entries
``NAV``; the log-in, log-out and error pages are here.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from workflow.api.tokens import TokenRegistry
from workflow.console.session import (
    CsrfRefused,
    LoginRequired,
    Viewer,
    check_csrf,
    check_login_form,
    clear_session_cookie,
    current_viewer,
    log_in,
    log_out,
    new_login_token,
    safe_next,
    set_login_cookie,
    set_session_cookie,
)
from workflow.console.site import (
    SECURITY_HEADERS,
    SELF_SERVICE_ROLES,
    Console,
    ConsoleDep,
    FormDep,
    NavItem,
    ViewerDep,
    console_of,
    render,
    url,
)
from workflow.engine import Engine
from workflow.errors import ConflictError, InputError, NotFoundError, RuleRefused, WorkflowError
from workflow.i18n import _
from workflow.store.connectivity import DatabaseUnreachable, StorageFailure
from workflow.store.errors import ConstraintViolation

MOUNT = "/console"
STATIC = Path(__file__).parent / "static"

# Each module has ``router`` (an APIRouter of its pages) and ``NAV`` (its NavItems). A new page
# area (roster, plans, visits, reports, self-service) is one module and one line here.
PAGE_MODULES = (
    "workflow.console.inbox",
    "workflow.console.cases",
    # issue 19 items 5-9: the page areas beside the core's
    "workflow.console.roster",
    "workflow.console.batches",
    "workflow.console.visits",
    "workflow.console.reports",
    "workflow.console.selfservice",
)


def console_app(engine: Engine, tokens: TokenRegistry) -> FastAPI:
    """The console's app over the API's engine and token registry."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console = Console(engine=engine, tokens=tokens)
    app.state.console = console
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name in PAGE_MODULES:
        module = import_module(name)
        app.include_router(module.router)
        nav: tuple[NavItem, ...] = getattr(module, "NAV", ())
        console.navigation.extend(nav)
    _own_routes(app)
    _error_pages(app)
    return app


def install(app: FastAPI, engine: Engine, tokens: TokenRegistry) -> None:
    """Mount the console at `MOUNT` and send a visitor of ``/`` there."""
    app.mount(MOUNT, console_app(engine, tokens), name="console")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{MOUNT}/", status_code=303)


def home_of(role: str) -> str:
    """Where a role starts: a cadre or a family member on their own page (item 9), seeing no
    officer's inbox or case list; an officer on the inbox."""
    return "/self" if role in SELF_SERVICE_ROLES else "/inbox"


def _own_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def home(request: Request, viewer: ViewerDep) -> RedirectResponse:
        return RedirectResponse(url(request, home_of(viewer.actor.role)), status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, console: ConsoleDep, next: str = "") -> Response:
        known = current_viewer(request, console.engine, console.tokens)
        if known is not None:
            return RedirectResponse(url(request, home_of(known.actor.role)), status_code=303)
        return _login_page(request, next_path=next, notice=request.query_params.get("why"))

    @app.post("/login", include_in_schema=False)
    def login(request: Request, console: ConsoleDep, form: FormDep) -> Response:
        check_login_form(request, form)
        started = log_in(console.engine, console.tokens, form.get("token", "").strip())
        if started is None:
            return _login_page(
                request,
                next_path=form.get("next", ""),
                error=_("令牌无效、已过期或已吊销：请核对后重新输入"),
                status=401,
            )
        cookie, viewer = started
        home = url(request, home_of(viewer.actor.role))
        target = safe_next(form.get("next"), home)
        if not target.startswith(url(request, "/")):
            target = home
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(request, response, cookie)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, viewer: ViewerDep, form: FormDep) -> Response:
        check_csrf(viewer, form)
        log_out(console_of(request).engine, viewer)
        response = RedirectResponse(url(request, "/login", {"why": "out"}), status_code=303)
        clear_session_cookie(request, response)
        return response


def _login_page(
    request: Request,
    *,
    next_path: str = "",
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    token = new_login_token()
    notices = {"out": _("您已退出登录。"), "expired": _("会话已结束，请重新登录。")}
    page = render(
        request,
        "login.html",
        viewer=None,
        status=status,
        title=_("登录"),
        next_path=next_path,
        error=error,
        notice=notices.get(notice or ""),
        login_csrf=token,
    )
    set_login_cookie(request, page, token)
    return page


def maybe_viewer(request: Request) -> Viewer | None:
    """The viewer for a page that must render whatever happens (an error page): None when the
    session cannot even be read."""
    try:
        console = console_of(request)
        return current_viewer(request, console.engine, console.tokens)
    except (WorkflowError, DatabaseUnreachable, StorageFailure):
        return None


def _error_pages(app: FastAPI) -> None:
    """Every failure is a page in the layout, never JSON and never a traceback."""

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, error: Exception) -> Response:
        assert isinstance(error, LoginRequired)
        return RedirectResponse(
            url(request, "/login", {"next": error.next_path}),
            status_code=303,
            headers=SECURITY_HEADERS,
        )

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _error: Exception) -> HTMLResponse:
        return render(
            request,
            "error.html",
            viewer=maybe_viewer(request),
            status=403,
            title=_("表单已失效"),
            message=_("表单缺少有效的安全令牌（CSRF），未写入任何内容。请回到页面刷新后重新提交。"),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, StarletteHTTPException)
        message = _("找不到此页面。") if error.status_code == 404 else _("请求无法处理。")
        return render(
            request,
            "error.html",
            viewer=maybe_viewer(request),
            status=error.status_code,
            title=_("出错了"),
            message=message,
        )

    @app.exception_handler(WorkflowError)
    async def workflow_error(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, WorkflowError)
        status = 500
        if isinstance(error, NotFoundError):
            status = 404
        elif isinstance(error, RuleRefused):
            status = 403
        elif isinstance(error, ConflictError):
            status = 409
        elif isinstance(error, InputError):
            status = 422
        return render(
            request,
            "error.html",
            viewer=maybe_viewer(request),
            status=status,
            title=_("出错了"),
            message=str(error),
        )

    @app.exception_handler(ConstraintViolation)
    @app.exception_handler(DatabaseUnreachable)
    @app.exception_handler(StorageFailure)
    async def unavailable(request: Request, _error: Exception) -> HTMLResponse:
        return render(
            request,
            "error.html",
            viewer=None,
            status=503,
            title=_("数据库暂不可用"),
            message=_("暂时无法连接数据库，未写入任何内容。请稍后重试。"),
        )
