"""The reports' own documents served from the console: the printable batch roster (A6.1, A12.1,
A15.1) and the A18.2 performance report as the self-contained HTML files `workflow.reports`
writes, and their workbooks as downloads.

A report's HTML carries its print stylesheet inline (it must open offline, mailed or archived,
as one file), which the console's pages forbid (``style-src 'self'``). Each document is
therefore answered with a policy of its own that allows exactly its one ``<style>`` element,
by the element's SHA-256, and nothing else: no script, no other source, no framing.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import quote

from fastapi.responses import HTMLResponse, Response

from workflow.console.site import SECURITY_HEADERS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_BODY = re.compile(r"<body>(.*)</body>", re.S)


def _style_hashes(html: str) -> str:
    digests = (
        "'sha256-" + base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode() + "'"
        for style in _STYLE.findall(html)
    )
    return " ".join(digests) or "'none'"


def document(html: str) -> HTMLResponse:
    """A report's own HTML file as a page: its inline stylesheet allowed by hash only."""
    policy = (
        f"default-src 'none'; style-src {_style_hashes(html)}; img-src data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": policy}
    return HTMLResponse(html, headers=headers)


def body_of(html: str) -> str:
    """The ``<body>`` of a report's HTML, to show inside a console page (already escaped by
    the report's own templates; the console's stylesheet dresses it)."""
    found = _BODY.search(html)
    return found.group(1) if found else ""


def download(content: bytes, filename: str) -> Response:
    """A workbook as an attachment named ``filename``."""
    disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
    headers = {**SECURITY_HEADERS, "Content-Disposition": disposition}
    return Response(content, media_type=XLSX, headers=headers)
