"""Reading roster files (JSON, CSV, XLSX) into located raw records of the JSON shape.

A reader only parses: it turns each row into the dict that roster-format.md describes and says
where that row is (``row 7`` of a spreadsheet, header = row 1; ``record 3 (line 41)`` of a JSON
array), so `workflow.roster.record` is the one place that decides what is valid. What a reader
can tell on its own (a cell Excel has turned into a number, a duplicate key, a column nobody
knows) it reports as a located problem too.

The flat CSV/XLSX columns are documented in docs/roster-formats.md. In short: one column per
scalar field under its JSON name (``id``, ``name``, ``birth_date`` …), nested objects flattened
with an underscore (``health_self_care``, ``recommendation_by``, ``family_contact_phone``) and
merits and honours as numbered groups of columns (``merit1_class``, ``merit1_wartime``,
``merit1_year``, ``merit2_class`` …; ``honour1_kind`` …), as many groups as the header has. A
clerk fills one cell per fact and can pick values from a drop-down; an empty cell means "not
given", so an empty group is no merit and empty health cells take the format's defaults.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TextIO
from xml.etree.ElementTree import ParseError

from workflow.errors import InputError
from workflow.i18n import _, ngettext
from workflow.roster.record import FieldProblem, printable
from workflow.roster.vocabulary import HEALTH_DEFAULTS

# -- where a problem is -------------------------------------------------------------------

LocationKind = Literal["row", "record", "line", "file"]


@dataclass(frozen=True)
class Location:
    """A place in a roster file, as the officer's own tool shows it: a spreadsheet row number
    (header = row 1), a JSON array position (1-based) with its line where known, a line of a
    file that could not be parsed at all, or the file as a whole."""

    kind: LocationKind
    number: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.kind == "file" or self.number is None:
            return ""
        if self.kind == "record" and self.line is not None:
            return f"record {self.number} (line {self.line})"
        return f"{self.kind} {self.number}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "number": self.number, "line": self.line}


WHOLE_FILE = Location("file")


@dataclass(frozen=True)
class RowProblem:
    """One located problem of a roster file: ``FILE:ROW: field: reason``."""

    file: str
    location: Location
    field: str
    reason: str

    def __str__(self) -> str:
        where = str(self.location)
        return (
            f"{self.file}:{where}: {self.field}: {self.reason}"
            if where
            else (f"{self.file}: {self.field}: {self.reason}")
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "where": str(self.location) or None,
            **self.location.to_json(),
            "field": self.field,
            "reason": self.reason,
        }


class RosterError(InputError):
    """A roster file cannot be imported as it is; nothing was written.

    ``problems`` holds every problem found (row, field, reason), so an officer fixes the whole
    file in one round instead of one error per attempt.
    """

    def __init__(
        self,
        file: str,
        problems: Sequence[RowProblem],
        *,
        unlisted: int = 0,
        bad_rows: int | None = None,
        encoding: str | None = None,
    ) -> None:
        """``unlisted``: further problems found but not listed (a streamed import lists the first
        `MAX_LISTED_PROBLEMS` and counts the rest); ``bad_rows``: how many rows have problems,
        when not all are listed; ``encoding``: the text encoding the file was read in."""
        self.file = file
        self.problems = tuple(problems)
        self.unlisted = unlisted
        self.encoding = encoding
        rows = {p.location for p in self.problems if p.location.kind in ("row", "record")}
        row_count = len(rows) if bad_rows is None else bad_rows
        count = len(self.problems) + unlisted
        within = (
            ngettext("（涉及{rows}行/条）", "（涉及{rows}行/条）", row_count).format(rows=row_count)
            if row_count
            else ""
        )
        self.summary = ngettext(
            "{file}：名册有{count}处错误{within}，未导入任何记录",
            "{file}：名册有{count}处错误{within}，未导入任何记录",
            count,
        ).format(file=file, count=count, within=within)
        if unlisted:
            self.summary += _("；只列出了前 {listed} 处").format(listed=len(self.problems))
        first = self.problems[0].field if self.problems else None
        super().__init__(
            "\n".join([self.summary, *(str(problem) for problem in self.problems)]), field=first
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "error": "invalid_roster",
            "message": self.summary,
            "file": self.file,
            "encoding": self.encoding,
            "problems": [problem.to_json() for problem in self.problems],
            "unlisted": self.unlisted,
        }


MAX_LISTED_PROBLEMS = 10_000  # problems an import lists; more are counted (memory stays bounded)


# -- what a reader yields -----------------------------------------------------------------


@dataclass(frozen=True)
class RawRow:
    """One record as read, before validation: its place in the file, its values in the JSON
    shape, what the reader already found wrong, and (for CSV/XLSX) which numbered groups the
    merits and honours came from, so messages name the column the clerk sees."""

    location: Location
    values: object
    problems: tuple[FieldProblem, ...] = ()
    flat: bool = False  # a CSV/XLSX row: ``health.mental`` is the column ``health_mental``
    groups: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # numbers of used groups

    def name_of(self, path: str) -> str:
        """What the file calls the field at ``path``: the path itself for JSON, the column for
        CSV/XLSX (``merits[1].year`` is ``merit2_year`` when the merit1 columns were empty)."""
        if not self.flat:
            return path
        match = _ITEM_PATH.fullmatch(path)
        if match:
            key, index, part = match.group(1), int(match.group(2)), match.group(3)
            numbers = self.groups.get(key, ())
            if 1 <= index <= len(numbers):
                column = f"{key[:-1]}{numbers[index - 1]}"
                return f"{column}_{part}" if part else column
        return path.replace(".", "_")


_ITEM_PATH = re.compile(r"(merits|honours)\[([0-9]+)\](?:\.([a-z_]+))?")

# Which rows a reader hands over in full: called with a row's place among the file's rows (1, 2,
# … as `workflow.roster.importer` numbers them, blank spreadsheet rows not counted). A row it
# turns down is still read, as far as finding the next row needs (its syntax is checked, so
# every reader of a file meets the same whole-file problems at the same place), and comes back
# as `SKIPPED`: another process checks it (`workflow.roster.parallel`).
Wanted = Callable[[int], bool]
SKIPPED = RawRow(Location("record", 0), None)  # a row turned down by ``wanted``


SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv", ".xlsx")


def read_roster(path: Path, *, shown_as: str | None = None) -> list[RawRow]:
    """Every record of a roster file, by extension (`SUFFIXES`), in memory: for a small file
    (the console's upload, the tests). An import streams it instead (`open_roster`).

    Raises `RosterError` when the file as a whole cannot be read (missing, in no encoding we
    read, not a JSON array, no header, unknown columns): then no row can be trusted, skipping
    rows would not help. ``shown_as`` is how messages name the file (default: the path).
    """
    with open_roster(path, shown_as=shown_as) as source:
        return list(source)


class RosterFile:
    """A roster file open for reading one row at a time (`open_roster`); close it when done.

    ``encoding`` is the text encoding it is read in (`workflow.roster.encoding`; None for a
    workbook); ``size`` its bytes and `position` how many of them were read so far, for a
    progress bar (0 for a workbook, whose rows are not in file order). Iterating raises
    `RosterError` as soon as the file turns out unreadable as a whole."""

    def __init__(
        self,
        name: str,
        rows: Iterator[RawRow],
        *,
        encoding: str | None,
        size: int,
        handle: io.BufferedReader | None,
    ) -> None:
        self.name = name
        self.encoding = encoding
        self.size = size
        self._rows = rows
        self._handle = handle

    def __iter__(self) -> Iterator[RawRow]:
        return self._rows

    def position(self) -> int:
        handle = self._handle
        return 0 if handle is None or handle.closed else handle.tell()

    def close(self) -> None:
        close = getattr(self._rows, "close", None)
        if close is not None:
            close()
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> RosterFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_roster(
    path: Path, *, shown_as: str | None = None, wanted: Wanted | None = None
) -> RosterFile:
    """Open a roster file for streaming: JSON (an array, or JSON Lines as ``.jsonl``/
    ``.ndjson``) and CSV are decoded a chunk at a time, XLSX read with openpyxl's read-only
    mode. CSV may be UTF-8 or GB18030, JSON must be UTF-8; a UTF-8 BOM is allowed in both.
    With ``wanted`` (text formats only, `PARTIAL_SUFFIXES`) the rows it turns down come back
    as `SKIPPED`, read only as far as finding the next row needs.

    Raises `RosterError` when the type is not supported or the file cannot be opened or decoded.
    """
    from workflow.roster import encoding as encodings  # noqa: PLC0415  # both import this module

    name = shown_as or str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        hint = _("；旧版 .xls 请在 Excel 中另存为 .xlsx") if suffix == ".xls" else ""
        raise _fatal(
            name,
            WHOLE_FILE,
            "file",
            _("不支持的文件类型“{suffix}”，应为 .json、.jsonl、.csv 或 .xlsx").format(
                suffix=path.suffix
            )
            + hint,
        )
    try:
        handle = path.open("rb")
    except OSError as error:
        raise _unreadable(name, error) from None
    try:
        size = path.stat().st_size
        if suffix == ".xlsx":
            if wanted is not None:
                raise ValueError("a workbook is read whole: `wanted` is for text formats")
            return RosterFile(
                name,
                _guarded(_xlsx_rows(handle, name), name),
                encoding=None,
                size=size,
                handle=None,
            )
        encoding = encodings.detect(path, gb18030=suffix == ".csv")
    except encodings.Undecodable as undecodable:
        handle.close()
        raise _fatal(name, Location("line", undecodable.line), "file", undecodable.reason) from None
    except OSError as error:
        handle.close()
        raise _unreadable(name, error) from None
    except BaseException:
        handle.close()
        raise
    text = io.TextIOWrapper(handle, encoding=encoding, newline="")
    rows = _guarded(_text_reader(suffix)(text, name, wanted), name)
    return RosterFile(name, rows, encoding=encoding, size=size, handle=handle)


PARTIAL_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")  # formats `wanted` can thin out


def _text_reader(suffix: str) -> Callable[[TextIO, str, Wanted | None], Iterator[RawRow]]:
    from workflow.roster import json_stream  # noqa: PLC0415  # it imports this module

    if suffix == ".json":
        return json_stream.json_array
    if suffix == ".csv":
        return _csv_rows
    return json_stream.json_lines


def _guarded(rows: Iterator[RawRow], name: str) -> Iterator[RawRow]:
    """A read that fails half-way (the file changed or vanished while being read) is one
    problem of the whole file, like a file that could not be opened."""
    try:
        yield from rows
    except UnicodeDecodeError:
        raise _fatal(
            name, WHOLE_FILE, "file", _("文件在读取过程中被改动，编码已不一致；请重新导入")
        ) from None
    except OSError as error:
        raise _unreadable(name, error) from None


def _unreadable(name: str, error: OSError) -> RosterError:
    reason = error.strerror or type(error).__name__
    return _fatal(name, WHOLE_FILE, "file", _("无法读取文件：{reason}").format(reason=reason))


def fatal_problem(name: str, location: Location, field_name: str, reason: str) -> RosterError:
    """A `RosterError` of one problem: the file as a whole cannot be read."""
    return RosterError(name, [RowProblem(name, location, field_name, reason)])


_fatal = fatal_problem


# -- flat columns (CSV and XLSX) -------------------------------------------------------------

DATE_COLUMNS = ("birth_date", "placed_on", "recommendation_date")
BOOL_COLUMNS = tuple(f"health_{key}" for key in HEALTH_DEFAULTS)
REQUIRED_COLUMNS = (
    "id",
    "name",
    "gender",
    "birth_date",
    "category",
    "branch",
    "county",
    "agency",
    "placed_on",
)
# the order of the example files and of `flat_columns`
SCALAR_COLUMNS = (
    "id",
    "name",
    "gender",
    "birth_date",
    "id_card",
    "category",
    "branch",
    "county",
    "agency",
    "placed_on",
)
TAIL_COLUMNS = (
    "recommendation_by",
    "recommendation_reason",
    "recommendation_date",
    *BOOL_COLUMNS,
    "phone",
    "family_contact_name",
    "family_contact_relation",
    "family_contact_phone",
)
MERIT_PARTS = ("class", "wartime", "year")
HONOUR_PARTS = ("kind", "level", "year")
_GROUP = re.compile(r"(merit|honour)([1-9][0-9]?)_([a-z]+)", re.ASCII)
_GROUPED = {
    "recommendation": ("by", "reason", "date"),
    "family_contact": ("name", "relation", "phone"),
}

TRUE_WORDS = frozenset({"true", "是", "yes", "y", "1", "√"})
FALSE_WORDS = frozenset({"false", "否", "no", "n", "0"})
_LOOSE_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", re.ASCII)


def flat_columns(merits: int = 3, honours: int = 3) -> list[str]:
    """The header of a CSV/XLSX roster with room for that many merits and honours."""
    return [
        *SCALAR_COLUMNS,
        *(f"merit{n}_{part}" for n in range(1, merits + 1) for part in MERIT_PARTS),
        *(f"honour{n}_{part}" for n in range(1, honours + 1) for part in HONOUR_PARTS),
        *TAIL_COLUMNS,
    ]


def flatten(record: Mapping[str, Any], columns: Sequence[str]) -> list[Any]:
    """One row of cells for a record of the JSON shape (the inverse of the readers): what the
    examples, the benchmark and the tests write, so the column design lives in this module."""
    cells: dict[str, Any] = {}
    for key in SCALAR_COLUMNS:
        cells[key] = record.get(key)
    for prefix, key, parts in (
        ("merit", "merits", MERIT_PARTS),
        ("honour", "honours", HONOUR_PARTS),
    ):
        for n, item in enumerate(record.get(key) or [], 1):
            for part in parts:
                cells[f"{prefix}{n}_{part}"] = item[part]
    for key, parts in _GROUPED.items():
        group = record.get(key) or {}
        for part in parts:
            cells[f"{key}_{part}"] = group.get(part)
    for key, value in (record.get("health") or {}).items():
        cells[f"health_{key}"] = value
    cells["phone"] = record.get("phone")
    missing = [column for column in cells if cells[column] is not None and column not in columns]
    if missing:
        raise ValueError(f"the header has no room for {missing}")
    return [cells.get(column) for column in columns]


def write_csv(
    path: Path, records: Iterable[Mapping[str, Any]], *, merits: int = 3, honours: int = 3
) -> None:
    """A UTF-8 CSV roster with a BOM, which is what Excel needs to show Chinese correctly.

    A text starting the way a formula or DDE call may (``= + - @``, tab, CR) is written behind
    an apostrophe, so a spreadsheet opening the file shows it as text instead of running it;
    the readers take that apostrophe off again, so the file still round-trips."""
    columns = flat_columns(merits, honours)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in records:
            writer.writerow(
                ["" if cell is None else _csv_text(cell) for cell in flatten(record, columns)]
            )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _csv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return str(value)


def _unquoted(text: str) -> str:
    """A text cell without the apostrophe `write_csv` (or a careful clerk) put before it."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


Kind = Literal["text", "id_card", "date", "bool", "int"]
_KIND_OF_PART: dict[str, Kind] = {
    "class": "int",
    "year": "int",
    "wartime": "bool",
    "kind": "text",
    "level": "text",
}


def _kind(column: str) -> Kind:
    """How a column's cells are converted; decided once per header, not once per cell."""
    if column == "id_card":
        return "id_card"
    if column in DATE_COLUMNS:
        return "date"
    if column in BOOL_COLUMNS:
        return "bool"
    match = _GROUP.fullmatch(column)
    return _KIND_OF_PART[match.group(3)] if match else "text"


# (n, ((part, column), ...), those columns as a set)
Group = tuple[int, tuple[tuple[str, str], ...], frozenset[str]]


@dataclass(frozen=True)
class _Header:
    """A validated header: the columns in file order with their kinds, and the numbered groups
    (with their column names worked out once, as a 100,000-row file repeats them every row)."""

    names: tuple[str, ...]
    kinds: tuple[Kind, ...]
    merits: tuple[Group, ...]
    honours: tuple[Group, ...]
    from_text: tuple[Callable[[str], Any] | None, ...]  # each column's `_FROM_TEXT`


def _groups(prefix: str, parts: tuple[str, ...], numbers: Iterable[int]) -> tuple[Group, ...]:
    columns = ((n, tuple((part, f"{prefix}{n}_{part}") for part in parts)) for n in sorted(numbers))
    return tuple((n, named, frozenset(column for _part, column in named)) for n, named in columns)


def _header(cells: Sequence[Any], name: str) -> _Header:
    """Check the header row (row 1) as a whole: every column known, none twice, the required
    ones present, and each numbered group complete. A bad header spoils every row, so it is
    reported on its own and nothing else is read."""
    names = tuple("" if cell is None else printable(str(cell).strip().lower()) for cell in cells)
    while names and not names[-1]:
        names = names[:-1]
    problems: list[RowProblem] = []
    header = Location("row", 1)
    known = {*SCALAR_COLUMNS, *TAIL_COLUMNS}
    groups: dict[str, dict[int, set[str]]] = {"merit": {}, "honour": {}}
    seen: set[str] = set()
    for position, column in enumerate(names, 1):
        if not column:
            problems.append(RowProblem(name, header, f"column {position}", _("表头为空")))
            continue
        if column in seen:
            problems.append(RowProblem(name, header, column, _("列名重复")))
        seen.add(column)
        match = _GROUP.fullmatch(column)
        if match:
            prefix, number, part = match.group(1), int(match.group(2)), match.group(3)
            parts = MERIT_PARTS if prefix == "merit" else HONOUR_PARTS
            if part in parts:
                groups[prefix].setdefault(number, set()).add(part)
                continue
        if column not in known:
            problems.append(
                RowProblem(
                    name,
                    header,
                    column,
                    _("未知列名；可用的列见 docs/roster-formats.md"),
                )
            )
    for column in REQUIRED_COLUMNS:
        if column not in seen:
            problems.append(RowProblem(name, header, column, _("缺少必需的列")))
    for prefix, parts in (("merit", MERIT_PARTS), ("honour", HONOUR_PARTS)):
        for number, present in sorted(groups[prefix].items()):
            for part in parts:
                if part not in present:
                    problems.append(
                        RowProblem(
                            name,
                            header,
                            f"{prefix}{number}_{part}",
                            _("缺少该列：{group} 的各列（{parts}）需同时存在").format(
                                group=f"{prefix}{number}", parts=", ".join(parts)
                            ),
                        )
                    )
    if problems:
        raise RosterError(name, problems)
    kinds = tuple(_kind(column) for column in names)
    return _Header(
        names,
        kinds,
        _groups("merit", MERIT_PARTS, groups["merit"]),
        _groups("honour", HONOUR_PARTS, groups["honour"]),
        tuple(_FROM_TEXT[kind] for kind in kinds),
    )


_GROUPED_COLUMNS = tuple(
    (key, columns, frozenset(column for _part, column in columns))
    for key, columns in (
        (key, tuple((part, f"{key}_{part}") for part in parts))
        for key, parts in (*_GROUPED.items(), ("health", tuple(HEALTH_DEFAULTS)))
    )
)


def _row(header: _Header, cells: Sequence[Any], number: int) -> RawRow | None:
    """A spreadsheet row as a record of the JSON shape; None for a blank row (spreadsheets end
    with some). Cells are converted by column type where that is unambiguous; a cell that cannot
    be converted is passed on as it is, so the validator names it with the usual message."""
    problems: list[FieldProblem] = []
    row: dict[str, Any] = {}
    for column, kind, from_text, cell in zip(
        header.names, header.kinds, header.from_text, cells, strict=False
    ):
        if isinstance(cell, str):
            text = cell.strip() if cell else cell  # most cells of a wide header are empty
            if text:
                if text[0] == "'":
                    text = _unquoted(text)
                row[column] = text if from_text is None else from_text(text)
        elif cell is not None:
            row[column] = _convert(kind, column, cell, problems)
    width = len(header.names)
    if len(cells) > width and any(_present(cell) for cell in cells[width:]):
        problems.append(
            FieldProblem(
                f"column {width + 1}",
                _("该行的单元格多于表头的列"),
            )
        )
    if not row and not problems:
        return None
    values: dict[str, Any] = {column: row[column] for column in SCALAR_COLUMNS if column in row}
    used: dict[str, tuple[int, ...]] = {}
    present = row.keys()
    for key, groups in (("merits", header.merits), ("honours", header.honours)):
        items: list[dict[str, Any]] = []
        numbers: list[int] = []
        for n, columns, named in groups:
            if present.isdisjoint(named):
                continue  # an empty group, found at C speed
            item = {part: row[column] for part, column in columns if column in row}
            if not item or (item.keys() == {"wartime"} and item["wartime"] is False):
                continue  # an empty group, or nothing but a pre-filled 否 in 战时: no entry
            if key == "merits":
                item.setdefault("wartime", False)  # an empty 战时 cell means "not in wartime"
            items.append(item)
            numbers.append(n)
        values[key] = items
        used[key] = tuple(numbers)
    for key, columns, named in _GROUPED_COLUMNS:
        if present.isdisjoint(named):
            continue
        group = {part: row[column] for part, column in columns if column in row}
        if group:
            values[key] = group
    if "phone" in row:
        values["phone"] = row["phone"]
    return RawRow(Location("row", number), values, tuple(problems), flat=True, groups=used)


def _present(cell: Any) -> bool:
    return cell is not None and not (isinstance(cell, str) and not cell.strip())


def _convert(kind: Kind, column: str, cell: Any, problems: list[FieldProblem]) -> Any:
    """A non-empty cell (text already stripped) as the JSON value of its column; a cell that
    cannot be converted passes through unchanged for the validator to name."""
    if isinstance(cell, str):
        from_text = _FROM_TEXT[kind]
        return cell if from_text is None else from_text(cell)
    if kind == "id_card" and isinstance(cell, int | float) and not isinstance(cell, bool):
        problems.append(
            FieldProblem(
                column,
                _("身份证号码被 Excel 存成了数字，末几位可能已丢失；请把该列设为文本后重新输入"),
            )
        )
        return None
    if kind in ("text", "id_card"):
        if isinstance(cell, int) and not isinstance(cell, bool):
            return str(cell)  # a phone number typed into a number cell
        if isinstance(cell, float) and cell.is_integer():
            return str(int(cell))
        return cell
    if kind == "date":
        if isinstance(cell, datetime):
            midnight = cell.time() == datetime.min.time()
            return cell.date().isoformat() if midnight else cell.isoformat()
        if isinstance(cell, date):
            return cell.isoformat()
        return cell
    if kind == "bool":
        if isinstance(cell, bool):
            return cell
        if isinstance(cell, int | float) and cell in (0, 1):
            return bool(cell)
        return cell
    # "int": a class or a year
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    return cell


def _date_text(text: str) -> str:
    match = _LOOSE_DATE.fullmatch(text)
    if match:
        year, month, day = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"  # Excel shows 1946/3/12
    return text


def _bool_text(text: str) -> Any:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return text


def _int_text(text: str) -> Any:
    return int(text) if text.isascii() and text.isdigit() else text


# A text cell's conversion by column kind (None: the text itself). Every CSV cell is text, so a
# CSV row takes these straight from the header (`_Header.from_text`), one call a cell at most.
_FROM_TEXT: dict[Kind, Callable[[str], Any] | None] = {
    "text": None,
    "id_card": None,
    "date": _date_text,
    "bool": _bool_text,
    "int": _int_text,
}


def _rows(
    header_cells: Sequence[Any] | None,
    body: Iterable[tuple[int, Sequence[Any]]],
    name: str,
    wanted: Wanted | None = None,
) -> Iterator[RawRow]:
    if header_cells is None:
        raise _fatal(
            name,
            Location("row", 1),
            "file",
            _("文件为空，缺少表头行（第 1 行须为表头）"),
        )
    header = _header(header_cells, name)
    if wanted is None:
        for number, cells in body:
            row = _row(header, cells, number)
            if row is not None:
                yield row
        return
    seq = 0
    for number, cells in body:
        if _blank(cells):
            continue  # what `_row` makes None
        seq += 1
        if not wanted(seq):
            yield SKIPPED
            continue
        row = _row(header, cells, number)
        if row is None:  # cannot be: not blank
            raise AssertionError(f"row {number} is blank and not blank")
        yield row


def _blank(cells: Sequence[Any]) -> bool:
    """Whether `_row` finds nothing in ``cells`` (a blank row), without converting them: every
    cell empty or spaces (CSV cells are all text, joined at C speed)."""
    try:
        return not "".join(cells).strip()
    except TypeError:  # a workbook's numbers and dates
        return not any(map(_present, cells))


# -- CSV ------------------------------------------------------------------------------------


def _csv_rows(stream: TextIO, name: str, wanted: Wanted | None = None) -> Iterator[RawRow]:
    """Row numbers count CSV records, which is what a spreadsheet shows even when a quoted cell
    spans several lines. The encoding was settled before (`workflow.roster.encoding`)."""
    records = csv.reader(stream, strict=True)
    try:
        yield from _rows(next(records, None), enumerate(records, 2), name, wanted)
    except csv.Error as error:
        raise _fatal(
            name, WHOLE_FILE, "file", _("CSV 格式错误：{error}").format(error=error)
        ) from None


# -- XLSX -----------------------------------------------------------------------------------

_UNREADABLE_WORKBOOK: tuple[type[BaseException], ...] = (
    ParseError,
    zipfile.BadZipFile,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    OSError,
    EOFError,
)


def _xlsx_rows(handle: io.BufferedReader, name: str) -> Iterator[RawRow]:
    """The first worksheet, row by row (openpyxl's read-only mode); row 1 is the header. Cached
    formula values are read, not formulas. ``handle`` is closed when the rows are done.

    openpyxl parses untrusted bytes here and fails in many ways on a damaged or mislabelled
    file (a .csv renamed .xlsx, a truncated download); each of those is reported as "not a
    readable workbook" naming the failure, the only thing an officer can act on. A workbook's
    XML never needs a DTD: openpyxl parses through defusedxml (a dependency), which refuses
    entity declarations, so an entity-expansion bomb or an external entity is refused too.
    """
    import openpyxl  # noqa: PLC0415  # only a workbook needs it: 70 ms the other readers save
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    unreadable = (*_UNREADABLE_WORKBOOK, InvalidFileException)
    with handle:
        if not openpyxl.DEFUSEDXML:  # OPENPYXL_DEFUSEDXML=False in the environment, say
            raise _fatal(name, WHOLE_FILE, "file", _("XLSX 读取需要 defusedxml，未启用，拒绝读取"))
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except unreadable as error:
            raise _unreadable_workbook(name, error) from None
        try:
            if not workbook.worksheets:
                yield from _rows(None, (), name)
                return
            cells: Iterator[tuple[Any, ...]] = workbook.worksheets[0].iter_rows(values_only=True)
            yield from _rows(next(cells, None), enumerate(cells, 2), name)
        except unreadable as error:
            raise _unreadable_workbook(name, error) from None
        finally:
            workbook.close()


def _unreadable_workbook(name: str, error: Exception) -> RosterError:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ParseError) or type(cause).__module__.startswith("defusedxml"):
            reason = _("工作簿的 XML 含有 DTD 或实体声明（可能是恶意文件），拒绝读取")
            return _fatal(name, WHOLE_FILE, "file", reason)
        cause = cause.__cause__ or cause.__context__
    return _fatal(
        name,
        WHOLE_FILE,
        "file",
        _("不是有效的 .xlsx 文件（{error}）").format(error=type(error).__name__),
    )
