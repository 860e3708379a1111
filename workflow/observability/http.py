"""`RequestObserver`: the ASGI middleware that gives each API request an id, a log line and
its place in the metrics.

The id is the caller's ``X-Request-ID`` when it is a plain token (letters, digits and
``._:/+=-``, at most 128 characters: a proxy's or a client's trace id), else a fresh one: an id
with spaces or line breaks would let a caller write fake lines into the log. It goes back in the
response's ``X-Request-ID`` header, onto every log line written while the request is answered,
and into the access line with the actor (`workflow.api.auth.caller` leaves it on
``request.state``), the method, the path (no query string: it may carry names), the status
and the duration. The metrics count by route template (``/cases/{case_id}``), never the raw
path, so each case does not become a time series of its own.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from workflow.observability.logs import REQUEST_ID
from workflow.observability.metrics import Metrics

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

HEADER = b"x-request-id"
GIVEN_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
UNMATCHED = "unmatched"  # the route label of a request no route answered (a 404 on any path)

log = logging.getLogger("workflow.api.access")


def request_id(given: bytes | None) -> str:
    """The caller's id if it is a plain token, else a new random one."""
    if given is not None:
        text = given.decode("latin-1")
        if GIVEN_ID.fullmatch(text):
            return text
    return uuid.uuid4().hex


class RequestObserver:
    """ASGI middleware around the whole API: request id, access log line, request metrics."""

    def __init__(self, app: App, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(dict(scope.get("headers") or ()).get(HEADER))
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        status = 500  # what the server answers if the app raises before it starts a response

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode("latin-1"))]}
            await send(message)

        token = REQUEST_ID.set(rid)
        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            method = str(scope.get("method", ""))
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.request_done(method, route, status, seconds)
            actor = state.get("actor")
            path = str(scope.get("path", ""))
            log.log(
                logging.WARNING if status >= 500 else logging.INFO,
                "%s %s %s",
                method,
                path,
                status,
                extra={
                    "request_id": rid,
                    "actor": None if actor is None else str(actor),
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            REQUEST_ID.reset(token)
