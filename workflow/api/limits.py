"""A cap on request bodies: the API refuses a body larger than any request it serves needs.

The biggest legitimate body (a batch with its contacts and itinerary) is a few KiB; without a
cap a caller can make the server read, parse and validate megabytes before anything refuses
them, and evidence that got through would stay in the append-only history for ever. A declared
``Content-Length`` over the cap is answered 413 before the body is read; a chunked body is
counted as it arrives and refused once it passes the cap.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from workflow.i18n import _

MAX_BODY_BYTES = 256 * 1024

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


def too_large_message(limit: int) -> str:
    return _("请求体超过 {limit} 字节，未处理").format(limit=limit)


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, nothing of it handled."""

    def __init__(self, app: App, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _refuse(send, self.limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI passes an HTTPException from reading the body on as it is; the
                    # API's handler answers it as JSON
                    raise HTTPException(413, too_large_message(self.limit))
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": "too_large", "message": too_large_message(limit), "refusals": []},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
