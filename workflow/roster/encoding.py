"""Which text encoding a roster file is in: UTF-8 (with or without the BOM Excel writes), or,
for CSV, GB18030, which is what Chinese Excel's plain "CSV (逗号分隔)" writes (GBK is a subset).

The whole file is decoded once, a megabyte at a time, before any row is read: a streamed import
must know the encoding before its first row, and an undecodable byte found at row 900,000 could
not be answered by going back. Decoding in C costs a fraction of a second for a 240 MB file.
UTF-8 is tried first because text in it almost never happens to be valid GB18030 too
(the reverse is common: GB18030 accepts most byte pairs), so a file that is valid UTF-8 is
UTF-8. What was chosen is reported with the import, so mojibake from a wrong guess can be told
from a bad roster at a glance.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Literal

from workflow.i18n import _

Encoding = Literal["utf-8", "utf-8-sig", "gb18030"]
CHUNK = 1 << 20
# how messages and the report show each encoding
SHOWN: dict[str, str] = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)", "gb18030": "GB18030"}


class Undecodable(Exception):
    """The file is in none of the encodings tried; ``line`` is where UTF-8 first failed."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def detect(path: Path, *, gb18030: bool) -> Encoding:
    """The encoding to read ``path`` in; GB18030 is a candidate only with ``gb18030``.

    Raises `OSError` when the file cannot be read and `Undecodable` when no candidate fits."""
    with path.open("rb") as handle:
        bom = handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    failed_at = _first_failure(path, "utf-8")
    if failed_at is None:
        return "utf-8-sig" if bom else "utf-8"
    if gb18030 and not bom and _first_failure(path, "gb18030") is None:
        return "gb18030"
    reason = (
        _("文件既不是 UTF-8 也不是 GB18030 编码；在 Excel 中请另存为“CSV UTF-8（逗号分隔）”")
        if gb18030
        else _("文件不是 UTF-8 编码；在 Excel 中请另存为“CSV UTF-8（逗号分隔）”")
    )
    raise Undecodable(failed_at, reason)


def _first_failure(path: Path, encoding: str) -> int | None:
    """The line of the first byte ``path`` cannot be decoded at in ``encoding``, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 1  # line of the first byte of the current chunk
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                # the failing position is within the bytes the decoder held back plus this chunk
                held = decoder.getstate()[0] if encoding == "utf-8" else b""
                start = max(error.start - len(held), 0)
                return lines + chunk[:start].count(b"\n")
            if not chunk:
                return None
            lines += chunk.count(b"\n")
