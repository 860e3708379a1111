"""What every console page shares: the console's state, the viewer, the navigation, rendering.

A page module gets the `Console` and the `Viewer` through the dependencies below and answers
with `render`, which fills the layout (``base.html``): the navigation entries its viewer's role
may see, the actor banner (role, name, scope), the CSRF token for its forms, and the headers
that keep a browser from running anything the page did not ship (Content-Security-Policy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from workflow.access import SCOPE_LABELS
from workflow.api.tokens import TokenRegistry
from workflow.clock import shanghai_date
from workflow.console.session import LoginRequired, Viewer, current_viewer
from workflow.engine import Engine
from workflow.i18n import _, current_language
from workflow.machine import Actor

MAX_FORM_FIELDS = 100

# the browser may load nothing but the console's own files, run no inline script, and send
# forms only back here; no page may be framed (clickjacking)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


SELF_SERVICE_ROLES = frozenset({"cadre", "family"})  # their own page only (item 9)
OFFICER_ROLES = frozenset(
    {"city_officer", "county_officer", "agency_officer", "contractor_staff", "auditor"}
)


@dataclass(frozen=True)
class NavItem:
    """One entry of the navigation bar: ``path`` under the console, a label marked with
    ``N_`` (translated when shown), its place (``order``, lowest first), and the roles that
    see it (None: everyone logged in)."""

    path: str
    label: str
    order: int
    roles: frozenset[str] | None = None

    def shown_to(self, actor: Actor) -> bool:
        return self.roles is None or actor.role in self.roles


@dataclass
class Console:
    """The console's state on its app (``app.state.console``): the engine, the token registry
    the API uses, and the navigation the page modules registered."""

    engine: Engine
    tokens: TokenRegistry
    navigation: list[NavItem] = field(default_factory=list)

    def listing_scopes(self) -> dict[str, str]:
        """Role → scope kind over every definition (A5.2), for lists spanning definitions."""
        merged: dict[str, str] = {}
        for definition in self.engine.catalog:
            for role, kind in definition.scopes.items():
                merged.setdefault(role, kind)
        return merged

    def role_label(self, role: str) -> str:
        for definition in self.engine.catalog:
            if role in definition.roles:
                return definition.roles[role]
        return role

    def today(self) -> date:
        return shanghai_date(self.engine.clock.now())


def console_of(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def viewer_of(request: Request) -> Viewer:
    """The logged-in viewer; anyone else is sent to the log-in page (`LoginRequired`)."""
    console = console_of(request)
    viewer = current_viewer(request, console.engine, console.tokens)
    if viewer is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(back if request.method == "GET" else url(request, "/"))
    return viewer


async def form_of(request: Request) -> dict[str, str]:
    """The posted form (``application/x-www-form-urlencoded``; the console's forms post
    nothing else), each field's first value; anything else is an empty form, which the CSRF
    check then refuses."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    body = await request.body()
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return {}
    found: dict[str, str] = {}
    for key, value in pairs:
        found.setdefault(key, value.replace("\x00", ""))
    return found


ConsoleDep = Annotated[Console, Depends(console_of)]
ViewerDep = Annotated[Viewer, Depends(viewer_of)]
FormDep = Annotated[dict[str, str], Depends(form_of)]


def url(request: Request, path: str, query: Mapping[str, Any] | None = None) -> str:
    """``path`` under the console's mount point, with ``query`` (None values left out)."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    text = root + (path if path.startswith("/") else "/" + path)
    shown = {k: v for k, v in (query or {}).items() if v not in (None, "", False)}
    return text + (f"?{urlencode(shown)}" if shown else "")


def _moment(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


ENVIRONMENT = Environment(
    loader=PackageLoader("workflow.console", "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.globals["_"] = _
ENVIRONMENT.filters["moment"] = _moment


def actor_banner(console: Console, actor: Actor) -> dict[str, str]:
    """Role, name and scope as the banner shows them (the scope with what kind it is)."""
    kind = console.listing_scopes().get(actor.role)
    scope = ""
    if actor.scope:
        scope = f"{_(SCOPE_LABELS[kind])}：{actor.scope}" if kind in SCOPE_LABELS else actor.scope
    return {"role": console.role_label(actor.role), "name": actor.name, "scope": scope}


def render(
    request: Request,
    template: str,
    *,
    viewer: Viewer | None,
    status: int = 200,
    title: str = "",
    **context: Any,
) -> HTMLResponse:
    """A page in the layout: navigation, actor banner and CSRF token for ``viewer``."""
    console = console_of(request)
    navigation: Iterable[NavItem] = ()
    banner = None
    if viewer is not None:
        navigation = [n for n in console.navigation if n.shown_to(viewer.actor)]
        banner = actor_banner(console, viewer.actor)

    def link(path: str, **query: Any) -> str:
        return url(request, path, query)

    html = ENVIRONMENT.get_template(template).render(
        request=request,
        viewer=viewer,
        banner=banner,
        navigation=sorted(navigation, key=lambda n: n.order),
        current=request.url.path,
        csrf=viewer.csrf if viewer is not None else "",
        url=link,
        lang="en" if current_language() == "en" else "zh-CN",
        title=title,
        today=console.today(),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
