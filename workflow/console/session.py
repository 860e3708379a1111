"""Who is looking at the console: log-in with an API token, a session cookie, CSRF tokens.

Officers log in with the token the API already knows (the token file's digest → actor, its
``expires`` day, ``tokens revoke``), so the console adds no second list of people. A session is
a database row (`workflow.store.console`, revision 0018): the cookie holds a random id and the
row only its SHA-256, so log-out ends the session on every worker and a copy of the database
opens nothing. Every request re-checks the token behind the session: revoked, expired or
removed from the file, the session ends with it.

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it),
scoped to the console's path and Secure over HTTPS. Every form carries the session's CSRF token
as well, checked before anything is read from the form; the log-in form, which has no session
yet, carries a token that must match a short-lived cookie of its own (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from fastapi import Request, Response

from workflow.api.tokens import TokenRegistry, hash_token
from workflow.clock import SHANGHAI, shanghai_date
from workflow.engine import Engine
from workflow.machine import Actor
from workflow.store import console as store
from workflow.store import tokens as token_store

COOKIE = "cv_session"
LOGIN_COOKIE = "cv_login"  # the log-in form's CSRF token (double submit)
LIFETIME = timedelta(hours=8)  # a working day; log in again the next morning
LOGIN_FORM_LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class Viewer:
    """The logged-in actor, the session's CSRF token and the session's stored id."""

    actor: Actor
    csrf: str
    session: str


class LoginRequired(Exception):
    """No live session: the visitor is sent to the log-in page, then back to ``next``."""

    def __init__(self, next_path: str, reason: str | None = None) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.reason = reason  # "expired" | "ended" | None


class CsrfRefused(Exception):
    """A form without its CSRF token (or with another session's): nothing is read from it."""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def base_path(request: Request) -> str:
    """The console's own path (its mount point, e.g. ``/console``)."""
    return str(request.scope.get("root_path", "")) or "/"


def current_viewer(request: Request, engine: Engine, tokens: TokenRegistry) -> Viewer | None:
    """The viewer of a live session, or None (no cookie, unknown, ended, expired, or its
    token revoked, expired or gone from the token file)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or len(cookie) > 200:
        return None
    with engine.transaction(single_read=True) as connection:
        row = store.find_session(connection, _digest(cookie))
    now = engine.clock.now()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    actor = tokens.actors.get(row.token_digest)
    last_day = tokens.expires.get(row.token_digest)
    if actor is None or (last_day is not None and shanghai_date(now) > last_day):
        return None
    if not token_store.used(engine.transaction, row.token_digest, now):
        return None  # revoked since log-in
    return Viewer(actor=actor, csrf=row.csrf, session=row.id_hash)


def log_in(engine: Engine, tokens: TokenRegistry, token: str) -> tuple[str, Viewer] | None:
    """A new session for ``token`` (the cookie value and the viewer), or None when the token
    is unknown, expired or revoked; the session ends with the token's last valid day."""
    now = engine.clock.now()
    today = shanghai_date(now)
    actor = tokens.actor_for(token, today)
    if actor is None:
        return None
    digest = hash_token(token)
    if not token_store.used(engine.transaction, digest, now):
        return None
    expires = now + LIFETIME
    last_day = tokens.expires.get(digest)
    if last_day is not None:
        expires = min(expires, datetime.combine(last_day + timedelta(days=1), time(), SHANGHAI))
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with engine.transaction(write=True) as connection:
        store.start_session(
            connection,
            {
                "id_hash": _digest(cookie),
                "token_digest": digest,
                "actor": str(actor)[:200],
                "csrf": csrf,
                "created_at": now,
                "expires_at": expires,
                "ended_at": None,
            },
        )
    return cookie, Viewer(actor=actor, csrf=csrf, session=_digest(cookie))


def log_out(engine: Engine, viewer: Viewer) -> None:
    with engine.transaction(write=True) as connection:
        store.end_session(connection, viewer.session, engine.clock.now())


def set_session_cookie(request: Request, response: Response, cookie: str) -> None:
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(LIFETIME.total_seconds()),
        path=base_path(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE,
        path=base_path(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def set_login_cookie(request: Request, response: Response, token: str) -> None:
    """The log-in form's token as its cookie (double submit: the form must send it back)."""
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=int(LOGIN_FORM_LIFETIME.total_seconds()),
        path=base_path(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def check_login_form(request: Request, form: Mapping[str, str]) -> None:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, form.get("csrf", "")):
        raise CsrfRefused


def check_csrf(viewer: Viewer, form: Mapping[str, str]) -> None:
    """Refuse a form whose ``csrf`` field is not this session's token."""
    if not hmac.compare_digest(viewer.csrf, form.get("csrf", "")):
        raise CsrfRefused


def safe_next(value: str | None, default: str) -> str:
    """Where to go after log-in: a path of this console only (no ``//host``, no scheme)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 32 for c in value) or len(value) > 1000:
        return default
    return value
