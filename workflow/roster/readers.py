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
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from xml.etree.ElementTree import ParseError

import openpyxl
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

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

    def __init__(self, file: str, problems: Sequence[RowProblem]) -> None:
        self.file = file
        self.problems = tuple(problems)
        rows = {p.location for p in self.problems if p.location.kind in ("row", "record")}
        count = len(self.problems)
        within = (
            ngettext("（涉及{rows}行/条）", "（涉及{rows}行/条）", len(rows)).format(rows=len(rows))
            if rows
            else ""
        )
        self.summary = ngettext(
            "{file}：名册有{count}处错误{within}，未导入任何记录",
            "{file}：名册有{count}处错误{within}，未导入任何记录",
            count,
        ).format(file=file, count=count, within=within)
        first = self.problems[0].field if self.problems else None
        super().__init__(
            "\n".join([self.summary, *(str(problem) for problem in self.problems)]), field=first
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "error": "invalid_roster",
            "message": self.summary,
            "file": self.file,
            "problems": [problem.to_json() for problem in self.problems],
        }


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


def read_roster(path: Path, *, shown_as: str | None = None) -> list[RawRow]:
    """Every record of a roster file, by extension: ``.json``, ``.csv`` or ``.xlsx``.

    Raises `RosterError` when the file as a whole cannot be read (missing, not UTF-8, not a JSON
    array, no header, unknown columns): then no row can be trusted, skipping rows would not help.
    ``shown_as`` is how messages name the file (default: the path as given).
    """
    name = shown_as or str(path)
    suffix = path.suffix.lower()
    readers = {".json": _read_json, ".csv": _read_csv, ".xlsx": _read_xlsx}
    if suffix not in readers:
        hint = _("；旧版 .xls 请在 Excel 中另存为 .xlsx") if suffix == ".xls" else ""
        raise _fatal(
            name,
            WHOLE_FILE,
            "file",
            _("不支持的文件类型“{suffix}”，应为 .json、.csv 或 .xlsx").format(suffix=path.suffix)
            + hint,
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise _fatal(
            name, WHOLE_FILE, "file", _("无法读取文件：{reason}").format(reason=reason)
        ) from None
    return readers[suffix](data, name)


def _fatal(name: str, location: Location, field_name: str, reason: str) -> RosterError:
    return RosterError(name, [RowProblem(name, location, field_name, reason)])


# -- JSON -----------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(text: str, position: int) -> int:
    """The position of the next non-whitespace character (JSON's four whitespace characters)."""
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


def _read_json(data: bytes, name: str) -> list[RawRow]:
    """A JSON array of records, decoded one element at a time so that every record knows the
    line it starts on; duplicate keys, which `json` would silently resolve to the last, are
    reported, since one of the two values is a mistake."""
    text = _decode_utf8(data, name)
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    decoder = json.JSONDecoder(object_pairs_hook=pairs, parse_constant=_no_constant)
    position = _skip_space(text, 0)
    if position >= len(text) or text[position] != "[":
        raise _fatal(
            name,
            Location("line", _line_at(text, position)),
            "file",
            _("JSON 名册应为由记录组成的数组 [ … ]"),
        )
    rows: list[RawRow] = []
    position += 1
    line, counted = 1, 0
    while True:
        position = _skip_space(text, position)
        if position < len(text) and text[position] == "]" and not rows:
            position += 1
            break
        line += text.count("\n", counted, position)
        counted = position
        duplicates.clear()
        try:
            value, end = decoder.raw_decode(text, position)
        except (ValueError, RecursionError) as error:
            raise _json_error(name, text, position, error) from None
        problems = tuple(
            FieldProblem(printable(key), _("同一记录中出现两次")) for key in duplicates
        )
        rows.append(RawRow(Location("record", len(rows) + 1, line), value, problems))
        position = _skip_space(text, end)
        if position < len(text) and text[position] == ",":
            position += 1
            continue
        if position < len(text) and text[position] == "]":
            position += 1
            break
        raise _fatal(
            name,
            Location("line", _line_at(text, position)),
            "file",
            _("第{number}条记录之后应为“,”或“]”").format(number=len(rows)),
        )
    if _skip_space(text, position) != len(text):
        raise _fatal(
            name,
            Location("line", _line_at(text, position)),
            "file",
            _("数组结束后还有多余内容"),
        )
    return rows


def _no_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _json_error(name: str, text: str, position: int, error: Exception) -> RosterError:
    if isinstance(error, json.JSONDecodeError):
        return _fatal(
            name,
            Location("line", error.lineno),
            "file",
            _("JSON 语法错误（第{column}列）：{reason}").format(
                column=error.colno, reason=error.msg
            ),
        )
    reason = _("嵌套过深") if isinstance(error, RecursionError) else str(error)
    return _fatal(
        name,
        Location("line", _line_at(text, position)),
        "file",
        _("无法解析的 JSON：{reason}").format(reason=reason),
    )


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _decode_utf8(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise _fatal(
            name,
            Location("line", line),
            "file",
            _("文件不是 UTF-8 编码；在 Excel 中请另存为“CSV UTF-8（逗号分隔）”"),
        ) from None


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


Group = tuple[int, tuple[tuple[str, str], ...]]  # (n, ((part, column), ...))


@dataclass(frozen=True)
class _Header:
    """A validated header: the columns in file order with their kinds, and the numbered groups
    (with their column names worked out once, as a 100,000-row file repeats them every row)."""

    names: tuple[str, ...]
    kinds: tuple[Kind, ...]
    merits: tuple[Group, ...]
    honours: tuple[Group, ...]


def _groups(prefix: str, parts: tuple[str, ...], numbers: Iterable[int]) -> tuple[Group, ...]:
    return tuple(
        (n, tuple((part, f"{prefix}{n}_{part}") for part in parts)) for n in sorted(numbers)
    )


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
    return _Header(
        names,
        tuple(_kind(column) for column in names),
        _groups("merit", MERIT_PARTS, groups["merit"]),
        _groups("honour", HONOUR_PARTS, groups["honour"]),
    )


_GROUPED_COLUMNS = tuple(
    (key, tuple((part, f"{key}_{part}") for part in parts))
    for key, parts in (*_GROUPED.items(), ("health", tuple(HEALTH_DEFAULTS)))
)


def _row(header: _Header, cells: Sequence[Any], number: int) -> RawRow | None:
    """A spreadsheet row as a record of the JSON shape; None for a blank row (spreadsheets end
    with some). Cells are converted by column type where that is unambiguous; a cell that cannot
    be converted is passed on as it is, so the validator names it with the usual message."""
    problems: list[FieldProblem] = []
    row: dict[str, Any] = {}
    for column, kind, cell in zip(header.names, header.kinds, cells, strict=False):
        if isinstance(cell, str):
            text = _unquoted(cell.strip())
            if text:
                row[column] = text if kind == "text" else _convert(kind, column, text, problems)
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
    for key, groups in (("merits", header.merits), ("honours", header.honours)):
        items: list[dict[str, Any]] = []
        numbers: list[int] = []
        for n, columns in groups:
            item = {part: row[column] for part, column in columns if column in row}
            if not item or (item.keys() == {"wartime"} and item["wartime"] is False):
                continue  # an empty group, or nothing but a pre-filled 否 in 战时: no entry
            if key == "merits":
                item.setdefault("wartime", False)  # an empty 战时 cell means "not in wartime"
            items.append(item)
            numbers.append(n)
        values[key] = items
        used[key] = tuple(numbers)
    for key, columns in _GROUPED_COLUMNS:
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
        if isinstance(cell, str) and (match := _LOOSE_DATE.fullmatch(cell)):
            year, month, day = match.groups()
            return f"{year}-{int(month):02d}-{int(day):02d}"  # Excel shows 1946/3/12
        return cell
    if kind == "bool":
        if isinstance(cell, bool):
            return cell
        if isinstance(cell, int | float) and cell in (0, 1):
            return bool(cell)
        if isinstance(cell, str):
            word = cell.lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        return cell
    # "int": a class or a year
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    if isinstance(cell, str) and cell.isascii() and cell.isdigit():
        return int(cell)
    return cell


def _rows(
    header_cells: Sequence[Any] | None, body: Iterable[tuple[int, Sequence[Any]]], name: str
) -> list[RawRow]:
    if header_cells is None:
        raise _fatal(
            name,
            Location("row", 1),
            "file",
            _("文件为空，缺少表头行（第 1 行须为表头）"),
        )
    header = _header(header_cells, name)
    rows = []
    for number, cells in body:
        row = _row(header, cells, number)
        if row is not None:
            rows.append(row)
    return rows


# -- CSV ------------------------------------------------------------------------------------


def _read_csv(data: bytes, name: str) -> list[RawRow]:
    """UTF-8 with or without the BOM Excel writes. Row numbers count CSV records, which is what a
    spreadsheet shows even when a quoted cell spans several lines."""
    text = _decode_utf8(data, name)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as error:
        raise _fatal(
            name, WHOLE_FILE, "file", _("CSV 格式错误：{error}").format(error=error)
        ) from None
    if not records:
        return _rows(None, (), name)
    return _rows(records[0], enumerate(records[1:], 2), name)


# -- XLSX -----------------------------------------------------------------------------------


def _read_xlsx(data: bytes, name: str) -> list[RawRow]:
    """The first worksheet; row 1 is the header. Cached formula values are read, not formulas.

    openpyxl parses untrusted bytes here and fails in many ways on a damaged or mislabelled
    file (a .csv renamed .xlsx, a truncated download); each of those is reported as "not a
    readable workbook" naming the failure, the only thing an officer can act on. A workbook's
    XML never needs a DTD: openpyxl parses through defusedxml (a dependency), which refuses
    entity declarations, so an entity-expansion bomb or an external entity is refused too.
    """
    if not openpyxl.DEFUSEDXML:  # OPENPYXL_DEFUSEDXML=False in the environment, say
        raise _fatal(name, WHOLE_FILE, "file", _("XLSX 读取需要 defusedxml，未启用，拒绝读取"))
    unreadable = (
        ParseError,
        zipfile.BadZipFile,
        InvalidFileException,
        KeyError,
        ValueError,
        TypeError,
        IndexError,
        OSError,
        EOFError,
    )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except unreadable as error:
        raise _unreadable_workbook(name, error) from None
    try:
        if not workbook.worksheets:
            return _rows(None, (), name)
        iterator: Iterator[tuple[Any, ...]] = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(iterator, None)
        return _rows(header, enumerate(iterator, 2), name)
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
