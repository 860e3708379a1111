"""JSON rosters read one record at a time: the documented array ``[ {…}, {…} ]`` and JSON Lines
(``.jsonl``/``.ndjson``: one record per line), in constant memory whatever the file's size.

The array is decoded element by element with the standard library's C decoder over a window of
the text: when an element runs past the window's end, more text is read and the element decoded
again, so only one record (and at most a read's worth of text) is held at a time. Every record
knows the line it starts on, and a key given twice in one record is reported (`json` alone would
silently keep the last value, and one of the two is a mistake). A syntax error ends the read: no
later element can be trusted to start where the parser thinks it does.
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Iterator
from typing import Any, TextIO

from workflow.i18n import _
from workflow.roster.readers import SKIPPED, Location, RawRow, RosterError, Wanted, fatal_problem
from workflow.roster.record import FieldProblem, printable

READ = 1 << 18  # characters read at a time
MAX_RECORD = 1 << 22  # characters one record may span before its syntax error is reported
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SPACE = frozenset(" \t\n\r")


class _Decoder:
    """The record decoder: duplicate keys noted per record, NaN and Infinity refused. With
    ``plain`` (a row another process checks) it only finds where the record ends: the same C
    scanner, so the same syntax is accepted, without the per-object hook (half the time)."""

    def __init__(self, *, plain: bool = False) -> None:
        self.duplicates: list[str] = []
        hook = None if plain else self._pairs
        decoder = json.JSONDecoder(object_pairs_hook=hook, parse_constant=_no_constant)
        self.decode = decoder.raw_decode
        # the C scanner `raw_decode` wraps, for the common case (a syntax error raises
        # StopIteration or ValueError here; `_element` decodes again to word it)
        self.scan = json.scanner.make_scanner(decoder)  # type: ignore[arg-type]  # typeshed

    def _pairs(self, items: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(items)  # at C speed; the rare record with a repeated key is looked at again
        if len(result) != len(items):
            seen: set[str] = set()
            for key, _value in items:
                if key in seen:
                    self.duplicates.append(key)
                seen.add(key)
        return result

    def problems(self) -> tuple[FieldProblem, ...]:
        found = tuple(
            FieldProblem(printable(key), _("同一记录中出现两次")) for key in self.duplicates
        )
        self.duplicates.clear()
        return found


def _no_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


class _Window:
    """The part of the text being decoded: ``text[pos:]`` is unread, ``line`` is the line of
    ``text[counted]``; what lies before ``pos`` is dropped as reading goes on (a file written
    without line breaks is one line, so dropping only whole lines would keep all of it).
    ``offset`` is where ``text`` starts in the file and ``line_start`` where the line of
    ``text[0]`` starts, both in characters, for the column of a syntax error."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.text = ""
        self.pos = 0
        self.counted = 0
        self.line = 1
        self.offset = 0
        self.line_start = 0
        self.eof = False

    def more(self) -> bool:
        """Read more text (dropping what is done); False at the end of the file."""
        if self.eof:
            return False
        chunk = self.stream.read(READ)
        if not chunk:
            self.eof = True
            return False
        drop = self.pos
        if drop:
            self.line += self.text.count("\n", self.counted, drop)
            newline = self.text.rfind("\n", 0, drop)
            if newline >= 0:
                self.line_start = self.offset + newline + 1
            self.offset += drop
            self.text = self.text[drop:]
            self.pos = self.counted = 0
        self.text += chunk
        return True

    def column(self, position: int) -> int:
        """The 1-based column of ``text[position]`` in its line."""
        newline = self.text.rfind("\n", 0, position)
        if newline >= 0:
            return position - newline
        return self.offset + position - self.line_start + 1

    def skip_space(self) -> str:
        """The next non-whitespace character ("" at the end of the file), not consumed."""
        while True:
            match = _WHITESPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def line_at_pos(self) -> int:
        self.line += self.text.count("\n", self.counted, self.pos)
        self.counted = self.pos
        return self.line


def json_array(stream: TextIO, name: str, wanted: Wanted | None = None) -> Iterator[RawRow]:
    """The records of a JSON array, in order, as `RawRow`s located ``record N (line L)``; those
    ``wanted`` turns down as `SKIPPED` (`workflow.roster.readers.Wanted`)."""
    window = _Window(stream)
    full, plain = _Decoder(), _Decoder(plain=True)
    first = window.skip_space()
    if first != "[":
        raise _fatal(name, window.line_at_pos(), _("JSON 名册应为由记录组成的数组 [ … ]"))
    window.pos += 1
    number = 0
    if window.skip_space() == "]":
        window.pos += 1
    else:
        duplicates = full.duplicates
        space = _WHITESPACE.match
        while True:
            decoder = full if wanted is None or wanted(number + 1) else plain
            # the common case inline: a record that lies wholly in the window
            text, pos = window.text, window.pos
            if pos < len(text) and text[pos] in _SPACE:
                pos = window.pos = space(text, pos).end()  # type: ignore[union-attr]  # [ ]* matches
            if pos >= len(text):
                window.skip_space()
                text, pos = window.text, window.pos
            if decoder is full:  # a skipped record's lines are counted with the next one's
                line = window.line = window.line + text.count("\n", window.counted, pos)
                window.counted = pos
            try:
                value, end = decoder.scan(text, pos)
                whole = end < len(text)
            except (ValueError, RecursionError, StopIteration):
                whole = False
            if whole:
                window.pos = end
            else:  # runs past the window, or is wrong: read more, or say what is wrong
                duplicates.clear()
                value = _element(window, decoder, name)
            number += 1
            yield (
                SKIPPED
                if decoder is plain
                else RawRow(
                    Location("record", number, line),
                    value,
                    decoder.problems() if duplicates else (),
                )
            )
            text, pos = window.text, window.pos
            after = text[pos] if pos < len(text) else ""
            if not after or after in _SPACE:
                after = window.skip_space()
            if after == ",":
                window.pos += 1
                continue
            if after == "]":
                window.pos += 1
                break
            raise _fatal(
                name,
                window.line_at_pos(),
                _("第{number}条记录之后应为“,”或“]”").format(number=number),
            )
    if window.skip_space():
        raise _fatal(name, window.line_at_pos(), _("数组结束后还有多余内容"))


def _element(window: _Window, decoder: _Decoder, name: str) -> Any:
    """Decode the element at the window's position, reading more text while it runs past the
    end (a value ending exactly at the end might go on, as a number would)."""
    while True:
        try:
            value, end = decoder.decode(window.text, window.pos)
        except json.JSONDecodeError as error:
            if len(window.text) - window.pos < MAX_RECORD and window.more():
                decoder.duplicates.clear()
                continue
            raise _syntax(name, window, error) from None
        except (ValueError, RecursionError) as error:
            reason = _("嵌套过深") if isinstance(error, RecursionError) else str(error)
            raise _fatal(
                name,
                window.line_at_pos(),
                _("无法解析的 JSON：{reason}").format(reason=reason),
            ) from None
        if end == len(window.text) and window.more():
            decoder.duplicates.clear()
            continue
        window.pos = end
        return value


def json_lines(stream: TextIO, name: str, wanted: Wanted | None = None) -> Iterator[RawRow]:
    """JSON Lines: each non-blank line one record, located ``record N (line L)``; those
    ``wanted`` turns down as `SKIPPED`."""
    full, plain = _Decoder(), _Decoder(plain=True)
    number = 0
    for line_number, line in enumerate(stream, 1):
        text = line.rstrip("\r\n")
        match = _WHITESPACE.match(text)
        start = match.end() if match else 0
        if start == len(text):
            continue
        skip = wanted is not None and not wanted(number + 1)
        decoder = plain if skip else full
        try:
            value, end = decoder.decode(text, start)
        except json.JSONDecodeError as error:
            raise _fatal(
                name,
                line_number,
                _("JSON 语法错误（第{column}列）：{reason}").format(
                    column=error.colno, reason=error.msg
                ),
            ) from None
        except (ValueError, RecursionError) as error:
            reason = _("嵌套过深") if isinstance(error, RecursionError) else str(error)
            raise _fatal(
                name, line_number, _("无法解析的 JSON：{reason}").format(reason=reason)
            ) from None
        if text[end:].strip(" \t\r\n"):
            raise _fatal(name, line_number, _("JSON Lines 每行只能有一条记录"))
        number += 1
        yield (
            SKIPPED
            if skip
            else RawRow(Location("record", number, line_number), value, decoder.problems())
        )


def _syntax(name: str, window: _Window, error: json.JSONDecodeError) -> RosterError:
    window.line_at_pos()
    line = window.line + window.text.count("\n", window.counted, error.pos)
    column = window.column(error.pos)
    return _fatal(
        name,
        line,
        _("JSON 语法错误（第{column}列）：{reason}").format(column=column, reason=error.msg),
    )


def _fatal(name: str, line: int, reason: str) -> RosterError:
    return fatal_problem(name, Location("line", line), "file", reason)
