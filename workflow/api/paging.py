"""The next page of a listing whose answer is a bare JSON list (``/tasks``,
``/notifications``): clients already read those lists, so the cursor goes in headers, a
``Link`` with ``rel="next"`` (RFC 8288; httpx and requests parse it) and ``X-Next-After`` with
the id to pass as ``after``. ``/cases`` answers with an envelope and carries ``next`` in it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

NEXT_HEADERS: dict[str, Any] = {
    "Link": {
        "description": 'The next page, rel="next" (absent on the last page)',
        "schema": {"type": "string"},
    },
    "X-Next-After": {
        "description": "The id to pass as after for the next page (absent on the last page)",
        "schema": {"type": "string"},
    },
}


def link_next(request: Request, response: Response, next_after: int | None) -> None:
    """Point ``response`` at the page after ``next_after``, with the request's filters."""
    if next_after is None:
        return
    url = request.url.include_query_params(after=next_after)
    response.headers["Link"] = f'<{url}>; rel="next"'
    response.headers["X-Next-After"] = str(next_after)
