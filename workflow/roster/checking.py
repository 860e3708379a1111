"""Checking a roster's rows: each row read becomes one row of the import's spool.

`checked_batches` is the loop every import runs, in-process or in a helper process
(`workflow.roster.parallel`): a row's problems are its reader's, then its record's
(`parse_record`); a valid row goes to the spool (`workflow.store.roster.RosterSpool`) with its
record and its change-log entry already serialised (`record_texts`), a row with problems with
the id it gives, so the rows repeating an id can be found among all of them. Batches of
`CHECK_BATCH` rows go out as they fill, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from workflow.roster.readers import (
    MAX_LISTED_PROBLEMS,
    SKIPPED,
    Location,
    RawRow,
    RosterFile,
    RowProblem,
)
from workflow.roster.record import REQUIRED_KEYS, CadreRecord, InvalidRecord, parse_record
from workflow.roster.vocabulary import AdminList

CHECK_BATCH = 1_000  # rows checked between two hand-overs (to the spool, or from a helper)
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)  # as the store writes
_to_json_text = _JSON.encode
_text = json.encoder.encode_basestring  # a str as `_JSON` encodes it (C, Chinese kept)
_BOOL = {True: "true", False: "false"}


def record_texts(record: CadreRecord) -> tuple[str, str]:
    """The record as the store writes it (``_to_json_text(record.to_json())``: keys sorted,
    Chinese kept) and its change-log entry should it turn out new (``{key: [null, value]}``),
    written straight from the record's typed fields in the sorted key order instead of through
    `CadreRecord.to_json` and the generic encoder: a third of the time of a row's serialising
    went to building the dict and dispatching on its values. Every text a record can hold is
    encoded by the encoder's own C function, numbers and flags are of the types `parse_record`
    checked; `tests/test_roster_texts.py` compares the text with the generic
    encoding."""
    merits = ", ".join(
        [
            f'{{"class": {merit.class_!r}, "wartime": {_BOOL[merit.wartime]}, '
            f'"year": {merit.year!r}}}'
            for merit in record.merits
        ]
    )
    honours = ", ".join(
        [
            f'{{"kind": {_text(honour.kind)}, "level": {_text(honour.level)}, '
            f'"year": {honour.year!r}}}'
            for honour in record.honours
        ]
    )
    health = record.health
    keys = ["agency", "birth_date", "branch", "category", "county"]
    values = [
        _text(record.agency),
        f'"{record.birth_date.isoformat()}"',
        _text(record.branch),
        _text(record.category),
        _text(record.county),
    ]
    if (contact := record.family_contact) is not None:
        keys.append("family_contact")
        values.append(
            f'{{"name": {_text(contact.name)}, "phone": {_text(contact.phone)}, '
            f'"relation": {_text(contact.relation)}}}'
        )
    keys += ["gender", "health", "honours", "id"]
    values += [
        _text(record.gender),
        f'{{"critical": {_BOOL[health.critical]}, "infectious": {_BOOL[health.infectious]}, '
        f'"mental": {_BOOL[health.mental]}, "self_care": {_BOOL[health.self_care]}}}',
        f"[{honours}]",
        _text(record.id),
    ]
    if record.id_card is not None:
        keys.append("id_card")
        values.append(_text(record.id_card))
    keys += ["merits", "name"]
    values += [f"[{merits}]", _text(record.name)]
    if record.phone is not None:
        keys.append("phone")
        values.append(_text(record.phone))
    recommendation = record.recommendation
    keys += ["placed_on", "recommendation"]
    values += [
        f'"{record.placed_on.isoformat()}"',
        "null"
        if recommendation is None
        else f'{{"by": {_text(recommendation.by)}, '
        f'"date": "{recommendation.date.isoformat()}", '
        f'"reason": {_text(recommendation.reason)}}}',
    ]
    stored, created = _PREFIXES[tuple(keys)]
    return (
        "{" + ", ".join(map(operator.add, stored, values)) + "}",
        "{" + "], ".join(map(operator.add, created, values)) + "]}",
    )


def _prefixes(keys: tuple[str, ...]) -> tuple[list[str], list[str]]:
    return [f'"{key}": ' for key in keys], [f'"{key}": [null, ' for key in keys]


# the key texts of `record_texts` for each set of optional keys a record has, sorted
_PREFIXES = {
    keys: _prefixes(keys)
    for keys in (
        tuple(sorted({*REQUIRED_KEYS, "health", "recommendation", *optional}))
        for size in range(4)
        for optional in itertools.combinations(("family_contact", "id_card", "phone"), size)
    )
}


_NO_ROW = (None,) * 7  # a row with problems has no record columns


def spool_row(seq: int, where: Location, record: CadreRecord) -> tuple[Any, ...]:
    """A valid row as the spool keeps it, its JSON written once: the record as the store writes
    it (keys sorted, Chinese kept: `workflow.store.schema.json_dumps`), and its change-log entry
    should it turn out new (every field from null), both by `record_texts`."""
    text, created = record_texts(record)
    return (
        seq,
        where.kind,
        where.number,
        where.line,
        record.id,  # NFKC-normalised: "ＬＣ-1" and "LC-1" are one id, and repeat each other
        record.id_card,
        1,
        record.id,
        record.name,
        record.county,
        record.agency,
        record.birth_date.isoformat(),
        text,
        created,
    )


@dataclass
class CheckedBatch:
    """Up to `CHECK_BATCH` checked rows: their spool rows (`spool_row`), the first of their
    problems as ``(seq, 0, problem)`` (while the checker's `MAX_LISTED_PROBLEMS` last), how many
    problems they had in all, and how far the file was read: ``seq`` rows and ``position`` bytes.
    The last batch of a file is ``done`` (it may hold no rows)."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    listed: list[tuple[int, int, RowProblem]] = field(default_factory=list)
    found: int = 0
    seq: int = 0
    position: int = 0
    done: bool = False


def checked_batches(
    source: RosterFile,
    *,
    today: date,
    name: str,
    admin: AdminList,
    kept: dict[int, CadreRecord] | None = None,
    size: int = CHECK_BATCH,
) -> Iterator[CheckedBatch]:
    """Check the rows of ``source`` (`SKIPPED` ones are another process's) in batches of
    ``size`` rows; with ``kept`` the valid records are also put there by their place in the
    file."""
    room = MAX_LISTED_PROBLEMS
    batch = CheckedBatch()
    seq = 0
    for seq, row in enumerate(source, 1):
        if row is SKIPPED:
            continue
        problems = (
            [located(name, row, p.field, p.reason) for p in row.problems] if row.problems else []
        )
        record: CadreRecord | None = None
        try:
            record = parse_record(row.values, today=today, admin=admin)
        except InvalidRecord as invalid:
            problems.extend(located(name, row, p.field, p.reason) for p in invalid.problems)
        where = row.location
        if problems or record is None:
            values = row.values  # the id as given, to find the rows repeating it
            raw = values.get("id") if isinstance(values, Mapping) else None
            raw_id = _storable(raw.strip()) if isinstance(raw, str) and raw.strip() else None
            batch.found += len(problems)
            listed = problems[:room]
            room -= len(listed)
            batch.listed.extend((seq, 0, problem) for problem in listed)
            batch.rows.append(
                (seq, where.kind, where.number, where.line, raw_id, None, 0, *_NO_ROW)
            )
        else:
            batch.rows.append(spool_row(seq, where, record))
            if kept is not None:
                kept[seq] = record
        if len(batch.rows) >= size:
            batch.seq, batch.position = seq, source.position()
            yield batch
            batch = CheckedBatch()
    batch.seq, batch.position, batch.done = seq, source.size, True
    yield batch


def _storable(raw_id: str) -> str | None:
    """The id a bad row gives, as the spool can store it to find the rows repeating it; None
    for one the spool cannot store (an unpaired surrogate from a ``\\ud800`` escape): no valid
    row can carry it, and the row's own problem names it already."""
    try:
        raw_id.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return raw_id


def located(name: str, row: RawRow, path: str, reason: str) -> RowProblem:
    return RowProblem(name, row.location, row.name_of(path), reason)
