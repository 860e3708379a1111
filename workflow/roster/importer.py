"""Importing an agency roster: validate the whole file, then write it in one transaction.

The order is the point. Every row is read and validated before the database is touched, so a
file with one bad row writes nothing (an officer fixes the file and imports it again, rather
than untangling which half went in); ``skip_invalid`` is the explicit choice to import the good
rows and get the bad ones back as a list. The write itself is one transaction that reads the
stored records of the file's ids, inserts the new cadres, updates the changed ones and leaves
identical ones alone, recording a field-level diff per created or updated cadre in
``cadre_changes`` (A19.1: who changed what is never lost). Rows go to the database in bulk
(executemany), because a city roster of 100,000 cadres must import in seconds, not minutes.
The statements are in `workflow.store.roster`; what to write is decided here.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow.clock import shanghai_date
from workflow.i18n import N_, _
from workflow.roster.readers import Location, RawRow, RosterError, RowProblem, read_roster
from workflow.roster.record import CadreRecord, InvalidRecord, parse_record
from workflow.roster.vocabulary import ADMIN_LIST, AdminList
from workflow.store import roster as store

if TYPE_CHECKING:
    from workflow.engine import Engine

MAX_LISTED = 5  # other rows named in a duplicate-id message


@dataclass(frozen=True)
class CheckedRoster:
    """A roster file after validation: the good records in file order, every problem found, and
    how many rows had problems (a row may have several)."""

    file: str
    source: str
    records: tuple[CadreRecord, ...]
    problems: tuple[RowProblem, ...]
    bad_rows: int


@dataclass(frozen=True)
class ImportReport:
    """What an import did. ``skipped`` rows (only with ``skip_invalid``) are listed in
    ``problems`` with their row and field, so the officer can fix and re-import just those."""

    file: str
    created: int
    updated: int
    unchanged: int
    skipped: int
    problems: tuple[RowProblem, ...] = ()

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "problems": [problem.to_json() for problem in self.problems],
        }


def check_roster(
    path: Path, *, today: date, shown_as: str | None = None, admin: AdminList = ADMIN_LIST
) -> CheckedRoster:
    """Read and validate every row of a roster file without touching any database; county and
    agency are checked against ``admin`` (the shipped administrative list by default).

    Raises `RosterError` only when the file as a whole is unreadable; problems of single rows,
    including an id (or ID number) that occurs in more than one row, come back in the result.
    """
    with _cyclic_gc_paused():
        return _check(path, today, shown_as or str(path), admin)


def _check(path: Path, today: date, name: str, admin: AdminList) -> CheckedRoster:
    rows = read_roster(path, shown_as=name)
    by_row: dict[Location, list[RowProblem]] = defaultdict(list)
    records: dict[Location, CadreRecord] = {}
    for row in rows:
        for problem in row.problems:
            by_row[row.location].append(_located(name, row, problem.field, problem.reason))
        try:
            record = parse_record(row.values, today=today, admin=admin)
        except InvalidRecord as invalid:
            for problem in invalid.problems:
                by_row[row.location].append(_located(name, row, problem.field, problem.reason))
            continue
        if not row.problems:
            records[row.location] = record
    for location, field, reason in _duplicates(rows, records):
        by_row[location].append(RowProblem(name, location, field, reason))
    problems = [problem for row in rows for problem in by_row.get(row.location, ())]
    good = tuple(
        records[row.location]
        for row in rows
        if row.location in records and row.location not in by_row
    )
    return CheckedRoster(
        file=name,
        source=path.name,
        records=good,
        problems=tuple(problems),
        bad_rows=sum(1 for row in rows if row.location in by_row),
    )


def import_roster(
    engine: Engine, path: Path | str, *, skip_invalid: bool = False, shown_as: str | None = None
) -> ImportReport:
    """Import a roster file (JSON, CSV or XLSX) into the cadres table, all or nothing.

    Raises `RosterError` carrying every problem (row, field, reason) and writes nothing when any
    row is invalid, unless ``skip_invalid`` is set: then the valid rows are imported and the
    invalid ones reported as skipped. Dates are checked against the engine's clock, county and
    agency against its administrative list (`Engine.admin_list`).
    """
    path = Path(path)
    today = shanghai_date(engine.clock.now())
    checked = check_roster(path, today=today, shown_as=shown_as, admin=engine.admin_list)
    if checked.problems and not skip_invalid:
        raise RosterError(checked.file, checked.problems)
    return write_roster(engine, checked)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause CPython's cycle collector while a roster is imported.

    An import allocates a few hundred thousand small dicts and lists that all stay alive until
    the end, and none of them form cycles (reference counting frees them). With the collector
    on, every few hundred allocations it walks all of them again: measured on 20,000 rows, that
    more than doubled the time of the whole import. The collector is switched back on (if it
    was on) however the import ends; another thread importing at the same time at worst finds
    it on again and runs slower, never wrong.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def write_roster(engine: Engine, checked: CheckedRoster) -> ImportReport:
    """Write the valid records of a checked roster in one transaction (see the module doc)."""
    now = engine.clock.now()

    def decide(stored: Mapping[str, Any]) -> store.RosterWrites:
        """Inserts, updates and change-log rows for the records against what is stored;
        identical records are left alone."""
        writes = store.RosterWrites()
        for record in checked.records:
            new = record.to_json()
            old = stored.get(record.id)
            if old is None:
                writes.inserts.append({**record.columns(new), "updated_at": now})
                diff = {key: [None, value] for key, value in new.items()}
                writes.changes.append(_change(record.id, now, checked.source, "created", diff))
            elif old != new:  # equal is the common case of a re-import, decided at C speed
                writes.updates.append({**record.columns(new), "updated_at": now})
                changed = _diff(old, new)
                writes.changes.append(_change(record.id, now, checked.source, "updated", changed))
        return writes

    engine.ensure_schema()
    with _cyclic_gc_paused():
        writes = store.import_cadres(engine.db, [record.id for record in checked.records], decide)
    created, updated = len(writes.inserts), len(writes.updates)
    return ImportReport(
        file=checked.file,
        created=created,
        updated=updated,
        unchanged=len(checked.records) - created - updated,
        skipped=checked.bad_rows,
        problems=checked.problems,
    )


def _diff(old: Any, new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Top-level fields that differ, as ``{field: [old, new]}``; a field missing on one side
    shows as null there (e.g. a phone number given for the first time)."""
    if not isinstance(old, Mapping):
        return {key: [None, value] for key, value in new.items()}
    return {
        key: [old.get(key), new.get(key)]
        for key in sorted(set(old) | set(new), key=_key_order(new))
        if old.get(key) != new.get(key) or (key in old) != (key in new)
    }


def _key_order(new: Mapping[str, Any]) -> Any:
    order = {key: index for index, key in enumerate(new)}
    return lambda key: (order.get(key, len(order)), key)


def _change(
    cadre_id: str, now: datetime, source: str, kind: str, diff: Mapping[str, Any]
) -> dict[str, Any]:
    return {"cadre_id": cadre_id, "at": now, "source": source, "kind": kind, "changes": dict(diff)}


def _located(name: str, row: RawRow, path: str, reason: str) -> RowProblem:
    return RowProblem(name, row.location, row.name_of(path), reason)


def _duplicates(
    rows: Sequence[RawRow], records: Mapping[Location, CadreRecord]
) -> Iterator[tuple[Location, str, str]]:
    """An id must be unique in the file: when it repeats, no row can be trusted to be the right
    one, so every row carrying it is a problem (and with ``skip_invalid`` none is imported).
    The same goes for an ID number given for two different rows."""
    by_id: dict[str, list[Location]] = defaultdict(list)
    for row in rows:
        raw_id = row.values.get("id") if isinstance(row.values, Mapping) else None
        if isinstance(raw_id, str) and raw_id.strip():
            by_id[raw_id.strip()].append(row.location)
    repeated = {
        location for locations in by_id.values() if len(locations) > 1 for location in locations
    }
    by_card: dict[str, list[Location]] = defaultdict(list)
    for location, record in records.items():
        if record.id_card is not None and location not in repeated:  # a repeated row says it once
            by_card[record.id_card].append(location)
    for field, groups, what in (
        ("id", by_id, N_("编号")),
        ("id_card", by_card, N_("身份证号码")),
    ):
        for locations in groups.values():
            if len(locations) < 2:
                continue
            for location in locations:
                others = [str(other) for other in locations if other != location]
                listed = ", ".join(others[:MAX_LISTED]) + ("…" if len(others) > MAX_LISTED else "")
                count = len(locations)
                yield (
                    location,
                    field,
                    _(
                        "同一{what}在文件中出现{count}次（另见 {listed}）："
                        "{what}不能重复，请改正或删去多余的行"
                    ).format(what=_(what), count=count, listed=listed),
                )
