"""Importing an agency roster: check the whole file, then write it in one transaction.

The order is the point. Every row is read and validated before the database is touched, so a
file with one bad row writes nothing (an officer fixes the file and imports it again, rather
than untangling which half went in); ``skip_invalid`` is the explicit choice to import the good
rows and get the bad ones back as a list. The write itself is one transaction that reads the
stored records of the file's ids, inserts the new cadres, updates the changed ones and leaves
identical ones alone, recording a field-level diff per created or updated cadre in
``cadre_changes`` (A19.1: who changed what is never lost).

An import streams (issue 14 item 4): a city or province roster of a million rows is read one
row at a time (`workflow.roster.readers.open_roster`), each checked row goes to a scratch spool
(`workflow.store.roster.RosterSpool`) with its record already serialised
(`workflow.roster.checking`), the spool finds the ids the file repeats, and the write
transaction copies the good rows from it inside the database, so memory stays flat whatever
the size. A large text file is checked by more than one process (`workflow.roster.parallel`),
with the same outcome. At most `MAX_LISTED_PROBLEMS` problems are listed, the rest counted.
`check_roster` is the same check in this process keeping the records in memory, for callers
that want them (the console's upload, the tests). The statements are in `workflow.store.roster`;
what to write is decided here.
"""

from __future__ import annotations

import functools
import gc
import heapq
import itertools
import json
import logging
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workflow.clock import shanghai_date
from workflow.i18n import N_, _
from workflow.roster import parallel
from workflow.roster.checking import CHECK_BATCH, CheckedBatch, checked_batches
from workflow.roster.readers import (
    MAX_LISTED_PROBLEMS,
    Location,
    LocationKind,
    RosterError,
    RowProblem,
    open_roster,
)
from workflow.roster.record import CadreRecord
from workflow.roster.vocabulary import ADMIN_LIST, AdminList
from workflow.store import roster as store

if TYPE_CHECKING:
    from workflow.engine import Engine

log = logging.getLogger(__name__)

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
    encoding: str | None = "utf-8"  # see `ImportReport`
    unlisted: int = 0  # problems found beyond the listed ones


@dataclass(frozen=True)
class ImportReport:
    """What an import did. ``skipped`` rows (only with ``skip_invalid``) are listed in
    ``problems`` with their row and field, so the officer can fix and re-import just those
    (the first `MAX_LISTED_PROBLEMS`; ``unlisted`` counts the rest). ``encoding`` is the text
    encoding the file was read in: ``utf-8``, ``utf-8-sig`` (UTF-8 with a BOM) or ``gb18030``
    (a CSV as Chinese Excel saves it); None for a workbook."""

    file: str
    created: int
    updated: int
    unchanged: int
    skipped: int
    problems: tuple[RowProblem, ...] = ()
    encoding: str | None = "utf-8"
    unlisted: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "encoding": self.encoding,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "problems": [problem.to_json() for problem in self.problems],
            "unlisted": self.unlisted,
        }


@dataclass(frozen=True)
class Progress:
    """How far an import is, for a progress bar: in the ``check`` phase ``rows`` read so far and
    ``done`` of ``total`` bytes (0 of 0 for a workbook); in the ``write`` phase ``rows`` written
    of ``total`` good rows (``done`` = ``rows``). ``problems`` is how many were found so far
    (repeated ids are found only at the end of reading)."""

    phase: Literal["check", "write"]
    rows: int
    problems: int
    done: int
    total: int


ProgressHook = Callable[[Progress], None]
# rows between two progress reports (while helper processes check, more often: after each of
# this process's batches of `parallel.BATCH` rows, with the helpers' rows counted as they come)
PROGRESS_EVERY = store.SPOOL_BATCH


def check_roster(
    path: Path, *, today: date, shown_as: str | None = None, admin: AdminList = ADMIN_LIST
) -> CheckedRoster:
    """Read and validate every row of a roster file without touching any database; county and
    agency are checked against ``admin`` (the shipped administrative list by default). The good
    records are kept in memory: an import of a large file streams instead (`import_roster`).

    Raises `RosterError` only when the file as a whole is unreadable; problems of single rows,
    including an id (or ID number) that occurs in more than one row, come back in the result.
    """
    name = shown_as or str(path)
    with _cyclic_gc_paused(), store.RosterSpool() as spool:
        scan = _scan(path, spool, today=today, name=name, admin=admin, keep=True)
        records = tuple(scan.kept[seq] for seq in spool.good_seqs())
    return CheckedRoster(
        file=name,
        source=path.name,
        records=records,
        problems=scan.problems,
        bad_rows=scan.bad_rows,
        encoding=scan.encoding,
        unlisted=scan.unlisted,
    )


def import_roster(
    engine: Engine,
    path: Path | str,
    *,
    skip_invalid: bool = False,
    shown_as: str | None = None,
    progress: ProgressHook | None = None,
    processes: int | None = None,
) -> ImportReport:
    """Import a roster file (JSON, JSON Lines, CSV or XLSX) into the cadres table, all or nothing,
    streaming it in bounded memory (module note).

    Raises `RosterError` carrying the problems (row, field, reason) and writes nothing when any
    row is invalid, unless ``skip_invalid`` is set: then the valid rows are imported and the
    invalid ones reported as skipped. Dates are checked against the engine's clock, county and
    agency against its administrative list (`Engine.admin_list`). ``progress`` is called every
    `PROGRESS_EVERY` rows of each phase. ``processes`` is how many processes check the rows
    (`workflow.roster.parallel`): 1 this one alone; None (the default) as many as there are
    cores for a large text file.
    """
    path = Path(path)
    name = shown_as or str(path)
    today = shanghai_date(engine.clock.now())
    with store.RosterSpool() as spool:  # the collector stays on: see _cyclic_gc_paused
        check = functools.partial(
            _scan, path, spool, today=today, name=name, admin=engine.admin_list, progress=progress
        )
        wanted = parallel.processes_for(path, processes)
        try:
            scan = check(processes=wanted)
        except parallel.HelperLost as lost:
            log.warning("roster %s: checked in one process after all: %s", name, lost)
            spool.clear()
            scan = check()
        if scan.problems and not skip_invalid:
            raise RosterError(
                name,
                scan.problems,
                unlisted=scan.unlisted,
                bad_rows=scan.bad_rows if scan.unlisted else None,
                encoding=scan.encoding,
            )
        engine.ensure_schema()
        good = scan.rows - scan.bad_rows
        found = len(scan.problems) + scan.unlisted

        def written(rows: int) -> None:
            if progress is not None:
                progress(Progress("write", rows, found, rows, good))

        totals = store.import_spooled(
            engine.db,
            spool,
            _decide,
            now=engine.clock.now(),
            source=path.name,
            progress=written,
        )
    return ImportReport(
        file=name,
        created=totals.created,
        updated=totals.updated,
        unchanged=totals.written - totals.created - totals.updated,
        skipped=scan.bad_rows,
        problems=scan.problems,
        encoding=scan.encoding,
        unlisted=scan.unlisted,
    )


# -- reading and checking into the spool --------------------------------------------------------

_to_json_text = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode  # as the store writes


@dataclass
class _Scan:
    """What checking a file found: its encoding, its rows, the listed problems (file order) and
    how many more there were, the rows with problems, and (``keep``) the valid records."""

    encoding: str | None = None
    rows: int = 0
    problems: tuple[RowProblem, ...] = ()
    unlisted: int = 0
    bad_rows: int = 0
    kept: dict[int, CadreRecord] = field(default_factory=dict)


def _scan(
    path: Path,
    spool: store.RosterSpool,
    *,
    today: date,
    name: str,
    admin: AdminList,
    keep: bool = False,
    progress: ProgressHook | None = None,
    processes: int = 1,
) -> _Scan:
    """Check every row of ``path`` into ``spool``, then settle the repeated ids and ID numbers;
    with ``processes`` > 1, helper processes check part of the rows (`workflow.roster.parallel`;
    `parallel.HelperLost` when one fails, with ``spool`` to be cleared).

    A row's problems are its reader's, then its record's (`parse_record`), then a repeated id or
    ID number; problems are listed in file order, the first `MAX_LISTED_PROBLEMS` of them."""
    scan = _Scan()
    listed: list[tuple[int, int, RowProblem]] = []
    found = 0

    def take(batch: CheckedBatch) -> None:
        nonlocal found
        spool.add(batch.rows)
        listed.extend(batch.listed)
        found += batch.found

    with ExitStack() as stack:
        helpers: parallel.Helpers | None = None
        if processes > 1:
            helpers = stack.enter_context(
                parallel.Helpers(path, name=name, today=today, admin=admin, processes=processes)
            )
            helpers.start()
        wanted = helpers.claims.wanted() if helpers is not None else None
        with open_roster(path, shown_as=name, wanted=wanted) as source:
            scan.encoding = source.encoding
            for batch in checked_batches(
                source,
                today=today,
                name=name,
                admin=admin,
                kept=scan.kept if keep else None,
                size=parallel.BATCH if helpers is not None else CHECK_BATCH,
            ):
                take(batch)
                if helpers is not None:
                    for other in helpers.poll():
                        take(other)
                if progress is not None:
                    progress(Progress("check", batch.seq, found, batch.position, source.size))
        if helpers is not None:
            for other in helpers.finish(batch.seq):
                take(other)
    scan.rows = batch.seq
    if helpers is not None:  # in file order, as one process lists them
        listed.sort(key=operator.itemgetter(0))
        del listed[MAX_LISTED_PROBLEMS:]
    scan.bad_rows = spool.settle()
    merged = heapq.merge(
        listed,
        _repeated(spool, name, "id", N_("编号")),
        _repeated(spool, name, "id_card", N_("身份证号码")),
        key=lambda item: item[:2],
    )
    scan.problems = tuple(
        problem for _seq, _order, problem in itertools.islice(merged, MAX_LISTED_PROBLEMS)
    )
    total = found + spool.repeated_rows("id") + spool.repeated_rows("id_card")
    scan.unlisted = total - len(scan.problems)
    return scan


def _repeated(
    spool: store.RosterSpool, name: str, field_name: str, what: str
) -> Iterator[tuple[int, int, RowProblem]]:
    """An id must be unique in the file: when it repeats, no row can be trusted to be the right
    one, so every row carrying it is a problem (and with ``skip_invalid`` none is imported).
    The same goes for an ID number given for two different rows (checked among valid rows whose
    id is not repeated: a repeated row says it once)."""
    order = 1 if field_name == "id" else 2
    for found in spool.repeated(field_name, MAX_LISTED + 1):
        location = _location(found.location)
        others = [str(other) for other in map(_location, found.group) if other != location]
        listed = ", ".join(others[:MAX_LISTED]) + ("…" if found.count - 1 > MAX_LISTED else "")
        reason = _(
            "同一{what}在文件中出现{count}次（另见 {listed}）：{what}不能重复，请改正或删去多余的行"
        ).format(what=_(what), count=found.count, listed=listed)
        yield found.seq, order, RowProblem(name, location, field_name, reason)


def _location(spooled: store.SpooledLocation) -> Location:
    kind, number, line = spooled
    return Location(_KINDS[kind], number, line)  # a kind the spool was given by a Location


_KINDS: dict[str, LocationKind] = {"row": "row", "record": "record", "line": "line", "file": "file"}


def _decide(chunk: Sequence[store.SpooledRow], stored: Mapping[str, Any]) -> store.BulkWrites:
    """What a chunk of good rows writes against the stored records of its ids: new cadres are
    inserted, changed ones updated with their diff logged, identical ones left alone."""
    writes = store.BulkWrites()
    for row in chunk:
        old = stored.get(row.id)
        if old is None:
            writes.inserts.append(row[:6])
            writes.changes.append((row.id, "created", row.created))
            continue
        new = json.loads(row.record)
        if old != new:  # equal is the common case of a re-import, decided at C speed
            writes.updates.append(row[:6])
            writes.changes.append((row.id, "updated", _to_json_text(_diff(old, new))))
    return writes


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause CPython's cycle collector while a roster is checked into memory (`check_roster`)
    or written from it (`write_roster`).

    Those allocate a few hundred thousand small dicts and lists that all stay alive until the
    end, and none of them form cycles (reference counting frees them). With the collector on,
    every few hundred allocations it walks all of them again: measured on 20,000 rows, that
    more than doubled the time of the whole import. The collector is switched back on (if it
    was on) however the import ends; another thread importing at the same time at worst finds
    it on again and runs slower, never wrong.

    A streamed import (`import_roster`) keeps it on: it holds a chunk at a time, so the walks
    are short (the same CPU time measured on 300,000 rows), while the few cycles each chunk's
    statements leave behind would pile up for the whole import without it (peak RSS 142 MB
    instead of a flat 122 MB at 300,000 rows, 180 MB at a million)."""
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
        encoding=checked.encoding,
        unlisted=checked.unlisted,
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
