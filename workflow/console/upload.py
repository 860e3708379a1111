"""A file posted from a console form (``multipart/form-data``), read without another dependency.

The console's only upload is a roster file (`workflow.console.roster`). Starlette parses
multipart bodies only with the ``python-multipart`` package, which the server extra does not
carry; a browser's form body is a MIME message, which the standard library's e-mail parser
reads. The body is read up to `MAX_BYTES` and no further, so a huge post costs the server
nothing beyond that; the form's text fields come back beside the file, the CSRF token among
them, and the caller checks it before reading anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP

from fastapi import Request

MAX_BYTES = 20 * 1024 * 1024  # a city roster of 50,000 cadres as CSV is about 15 MB
MAX_FIELDS = 20


class TooLarge(Exception):
    """The body is larger than `MAX_BYTES`: nothing of it was kept."""


@dataclass(frozen=True)
class Uploaded:
    """The posted file: its name as the officer's computer gave it, and its bytes."""

    filename: str
    data: bytes


async def read_form(request: Request) -> tuple[dict[str, str], Uploaded | None]:
    """The form's text fields and its first file (None when no file was chosen); a body that
    is not multipart is an empty form (the CSRF check then refuses it)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        return {}, None
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BYTES:
            raise TooLarge
    return parse_multipart(content_type, bytes(body))


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], Uploaded | None]:
    """Split a ``multipart/form-data`` body into text fields and the first file part."""
    header = content_type.encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(
        b"MIME-Version: 1.0\r\nContent-Type: " + header + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    found: Uploaded | None = None
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        return fields, None
    for number, part in enumerate(message.iter_parts()):
        if number >= MAX_FIELDS:
            break
        name = _text(part.get_param("name", header="content-disposition"))
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if filename is not None:
            if found is None and (filename or data):
                found = Uploaded(filename=_text(filename), data=data)
            continue
        if name and name not in fields:
            fields[name] = data.decode("utf-8", "replace").replace("\x00", "")
    return fields, found


def _text(value: object) -> str:
    """A header parameter as text: browsers send UTF-8 file names as raw bytes, which the
    parser keeps as surrogate escapes."""
    if isinstance(value, tuple):  # an RFC 2231 parameter: (charset, language, value)
        value = value[2]
    text = str(value or "")
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")
