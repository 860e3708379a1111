"""The cadres table as a roster import writes it: read the stored records of a file's ids,
then insert, update and log the changes, all in one write transaction. And the roster's reads
(issue 19 item 5): one page of cadres by id, one cadre with its cases, participations, visits
and changes, each on a connection the caller's transaction owns.

What to write is decided by the caller (`workflow.roster.importer`), between the read and the
writes, by a pure function of the stored records: the import stays one transaction (a file
goes in whole or not at all) and this module holds only the statements. Rows go in bulk
(executemany, or copied inside the database from the import's spool), because a province's
roster of a million cadres must import in a minute or two, not hours.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError

from workflow.store.database import WRITE
from workflow.store.errors import integrity
from workflow.store.prepared import listened
from workflow.store.schema import (
    batch_seats,
    batches,
    cadre_changes,
    cadres,
    cases,
    definitions,
    participations,
    visit_keys,
)

_RACED = (
    "另一次导入同时写入了同一编号的军休干部，本次导入未写入任何记录，请重新导入"
    " / another import wrote the same cadre id at the same time; nothing of this file was"
    " written: import it again"
)
CHUNK = 500  # ids per IN (...) query: far below SQLite's and PostgreSQL's parameter limits
UPDATED_COLUMNS = ("name", "county", "agency", "birth_date", "record", "updated_at")


@dataclass
class RosterWrites:
    """What an import writes: new cadre rows, changed ones (by ``id``, the columns above), and
    one ``cadre_changes`` row per created or updated cadre (A19.1)."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)


def import_cadres(
    db: sa.Engine,
    ids: Sequence[str],
    decide: Callable[[Mapping[str, Any]], RosterWrites],
) -> RosterWrites:
    """Read the stored ``record`` of each of ``ids`` (id → record), let ``decide`` say what to
    write, and write it, in one transaction that takes SQLite's write lock up front (BEGIN
    IMMEDIATE): the records decided on cannot change before the writes land.

    On PostgreSQL two imports of the same new cadre can still both decide to insert it; the
    second then breaks the primary key and gets an `InputError` naming ``id`` with nothing
    of its file written (all or nothing), never a driver's traceback."""
    with integrity({"id": _RACED}), db.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            writes = decide(_stored_records(connection, ids))
            if writes.inserts:
                connection.execute(sa.insert(cadres), writes.inserts)
            if writes.updates:
                binds = [
                    {f"b_{key}": value for key, value in row.items()} for row in writes.updates
                ]
                connection.execute(_UPDATE, binds)
            if writes.changes:
                connection.execute(sa.insert(cadre_changes), writes.changes)
    return writes


# one statement executed with many parameter sets; bind names differ from the column names, as
# SQLAlchemy reserves those for the SET clause
_UPDATE = (
    sa.update(cadres)
    .where(cadres.c.id == sa.bindparam("b_id"))
    .values(
        {
            column: sa.bindparam(f"b_{column}", type_=cadres.c[column].type)
            for column in UPDATED_COLUMNS
        }
    )
)


def _stored_records(connection: sa.Connection, ids: Sequence[str]) -> dict[str, Any]:
    stored: dict[str, Any] = {}
    for chunk in _chunks(ids, CHUNK):
        query = sa.select(cadres.c.id, cadres.c.record).where(cadres.c.id.in_(chunk))
        stored.update((cadre_id, record) for cadre_id, record in connection.execute(query))
    return stored


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- reads (issue 19 item 5: cadres list | show | search, GET /cadres) --------------------------

# what a listing row carries: the record too, as the tier (art. 4) is computed from it
_LISTED = (
    cadres.c.id,
    cadres.c.name,
    cadres.c.county,
    cadres.c.agency,
    cadres.c.birth_date,
    cadres.c.record,
    cadres.c.updated_at,
)
_LIKE_ESCAPE = "\\"


@dataclass(frozen=True)
class RosterFilter:
    """Which cadres a read may return: equal columns (``county``, ``agency``, the cadre's own
    ``cadre_id``), cadres with a case seated in a batch of ``contractor_id``, and ``text``, a
    substring of the id (any case) or of the name. None: no condition."""

    county: str | None = None
    agency: str | None = None
    cadre_id: str | None = None
    contractor_id: str | None = None
    text: str | None = None


def page(
    connection: sa.Connection, where: RosterFilter, *, after: str | None, limit: int
) -> Sequence[Any]:
    """Up to ``limit`` cadres with ids after ``after``, by id (keyset paging). A county or agency
    filter reads the (county, id) or (agency, id) index from ``after`` on (revision 0019), the
    others the primary key, so a page costs its own rows, never an OFFSET's walk; a ``text``
    search reads ids in order until the page is full."""
    query = sa.select(*_LISTED).order_by(cadres.c.id).limit(limit)
    if after is not None:
        query = query.where(cadres.c.id > after)
    return connection.execute(query.where(*_conditions(where))).all()


def cadre(connection: sa.Connection, cadre_id: str, where: RosterFilter) -> Any | None:
    """One cadre's row (with its record) if it passes ``where``, else None: a cadre outside the
    reader's scope reads exactly like one that does not exist."""
    query = sa.select(*_LISTED).where(cadres.c.id == cadre_id, *_conditions(where))
    return connection.execute(query).first()


def cadre_cases(connection: sa.Connection, cadre_id: str, where: RosterFilter) -> Sequence[Any]:
    """The cadre's cases (every workflow) that pass ``where`` as a case listing would (county,
    agency and contractor of the case), oldest first, with their definition's name and
    version and the participation (A9.2 claim) each holds, if any."""
    query = (
        sa.select(
            cases.c.id,
            definitions.c.name.label("definition"),
            definitions.c.version.label("definition_version"),
            cases.c.county,
            cases.c.agency,
            cases.c.state,
            cases.c.terminal,
            cases.c.cycle,
            cases.c.tier,
            cases.c.opened_at,
            cases.c.updated_at,
            participations.c.cycle.label("taking_part_in"),
            participations.c.claim,
        )
        .join(definitions, definitions.c.id == cases.c.definition_id)
        .outerjoin(participations, participations.c.case_id == cases.c.id)
        .where(cases.c.cadre_id == cadre_id)
        .order_by(cases.c.id)
    )
    for column, value in ((cases.c.county, where.county), (cases.c.agency, where.agency)):
        if value is not None:
            query = query.where(column == value)
    if where.contractor_id is not None:
        query = query.where(_seated_with(where.contractor_id, cases.c.id))
    return connection.execute(query).all()


def cadre_visits(connection: sa.Connection, cadre_id: str) -> Sequence[Any]:
    """The condolence visits opened for the cadre (A9.3), one per cycle, with the visit case's
    state; the caller shows only those whose case it may see."""
    query = (
        sa.select(
            visit_keys.c.cycle,
            visit_keys.c.case_id,
            visit_keys.c.source_case_id,
            visit_keys.c.unable_report_id,
            visit_keys.c.late,
            visit_keys.c.created_at,
            cases.c.state,
            cases.c.terminal,
        )
        .outerjoin(cases, cases.c.id == visit_keys.c.case_id)
        .where(visit_keys.c.cadre_id == cadre_id)
        .order_by(visit_keys.c.cycle)
    )
    return connection.execute(query).all()


def cadre_changes_of(
    connection: sa.Connection, cadre_id: str, *, limit: int
) -> tuple[int, Sequence[Any]]:
    """How many times imports created or changed the cadre (A19.1), and the latest ``limit``
    of those changes, newest first."""
    total = connection.execute(
        sa.select(sa.func.count()).where(cadre_changes.c.cadre_id == cadre_id)
    ).scalar_one()
    latest = connection.execute(
        sa.select(
            cadre_changes.c.at,
            cadre_changes.c.source,
            cadre_changes.c.kind,
            cadre_changes.c.changes,
        )
        .where(cadre_changes.c.cadre_id == cadre_id)
        .order_by(cadre_changes.c.id.desc())
        .limit(limit)
    ).all()
    return int(total), latest


def _conditions(where: RosterFilter) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = []
    for column, value in (
        (cadres.c.county, where.county),
        (cadres.c.agency, where.agency),
        (cadres.c.id, where.cadre_id),
    ):
        if value is not None:
            found.append(column == value)
    if where.contractor_id is not None:
        seated = sa.select(cases.c.id).where(
            cases.c.cadre_id == cadres.c.id, _seated_with(where.contractor_id, cases.c.id)
        )
        found.append(seated.exists())
    if where.text is not None:
        pattern = "%" + _escaped(where.text) + "%"
        found.append(
            sa.or_(
                cadres.c.id.ilike(pattern, escape=_LIKE_ESCAPE),
                cadres.c.name.ilike(pattern, escape=_LIKE_ESCAPE),
            )
        )
    return found


def _seated_with(contractor_id: str, case_id: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """The case holds a seat in a batch of the contractor (contractor staff's scope, A5.2)."""
    if not (contractor_id.isascii() and contractor_id.isdigit() and len(contractor_id) <= 9):
        return sa.false()  # no contractor has such an id (a 32-bit integer column)
    return (
        sa.select(batch_seats.c.id)
        .join(batches, batches.c.id == batch_seats.c.batch_id)
        .where(batch_seats.c.case_id == case_id, batches.c.contractor_id == int(contractor_id))
        .exists()
    )


def _escaped(text: str) -> str:
    """``text`` taken literally by LIKE: its %, _ and the escape character itself escaped."""
    return text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")


# -- the streaming import (issue 14 item 4) ---------------------------------------------------
#
# A roster of a million rows cannot be held in memory (5.2 GB before) nor checked row by row
# against a write transaction that stays open while the file is read. So the import works in two
# phases. Reading and checking the file fills a `RosterSpool`: a scratch SQLite file of the
# standard library's in a private directory (deleted when closed; no journal, no fsync), one row
# per roster row with what writing it needs, already serialised. The spool finds the ids and ID
# numbers the file repeats with GROUP BY, so no set of a million ids lives in Python either. Only
# then does one write transaction on the engine's database (`import_spooled`) copy the good rows
# in: nothing half-written on either database, and SQLite's write lock is held for the writes
# alone.

SPOOL_BATCH = 1_000  # good rows per span of the write (a progress report each)
_SPOOL_CACHE_KIB = 32_768  # the spool's page cache; past it SQLite spills to a temporary file

# Two tables: ``rows`` is narrow (where a row is, the ids it gives, whether it is good), so
# finding the repeated ids and counting reads a few MB, not the records of every row (~1.2 kB a
# row, past a GB at a million rows); ``records`` holds what writing a valid row needs.
_SPOOL_SCHEMA = (
    """
CREATE TABLE rows (
    seq INTEGER PRIMARY KEY,  -- the row's place in the file, 1, 2, ...
    kind TEXT NOT NULL, number INTEGER, line INTEGER,  -- its Location
    raw_id TEXT,  -- the id of a valid row; as written (stripped) for the others
    card TEXT,  -- the checked ID number, of valid rows only
    ok INTEGER NOT NULL  -- 1: valid and, once settled, not repeated
)""",
    """
CREATE TABLE records (  -- valid rows only
    seq INTEGER PRIMARY KEY,
    id TEXT, name TEXT, county TEXT, agency TEXT, birth_date TEXT,
    record TEXT,  -- the record as the cadres table stores it (JSON text)
    created TEXT  -- its change-log entry if it turns out new (JSON text)
)""",
)
_SPOOL_INSERT_ROW = "INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?)"
_SPOOL_INSERT_RECORD = "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
# the file's repeated ids (every row, valid or not), then the ID numbers two valid rows share
# when neither row's id is repeated (a repeated row says it once, as `id`)
_SPOOL_SETTLE = (
    "CREATE TABLE repeated_ids AS SELECT raw_id AS value, count(*) AS n FROM rows "
    "WHERE raw_id IS NOT NULL GROUP BY raw_id HAVING count(*) > 1",
    "CREATE UNIQUE INDEX repeated_ids_value ON repeated_ids (value)",
    "CREATE TABLE repeated_cards AS SELECT card AS value, count(*) AS n FROM rows "
    "WHERE card IS NOT NULL "
    "AND raw_id NOT IN (SELECT value FROM repeated_ids) GROUP BY card HAVING count(*) > 1",
    "CREATE UNIQUE INDEX repeated_cards_value ON repeated_cards (value)",
)
_SPOOL_REPEATED = {
    "id": "SELECT r.seq, r.kind, r.number, r.line, r.raw_id, d.n FROM rows r "
    "JOIN repeated_ids d ON d.value = r.raw_id ORDER BY r.seq",
    "id_card": "SELECT r.seq, r.kind, r.number, r.line, r.card, d.n FROM rows r "
    "JOIN repeated_cards d ON d.value = r.card "
    "WHERE r.raw_id NOT IN (SELECT value FROM repeated_ids) ORDER BY r.seq",
}
_SPOOL_GROUP = {
    "id": "SELECT kind, number, line FROM rows WHERE raw_id = ? ORDER BY seq LIMIT ?",
    "id_card": "SELECT kind, number, line FROM rows WHERE card = ? "
    "AND raw_id NOT IN (SELECT value FROM repeated_ids) ORDER BY seq LIMIT ?",
}
_SPOOL_GOOD = (
    "SELECT r.seq, r.id, r.name, r.county, r.agency, r.birth_date, r.record, r.created "
    "FROM records r JOIN rows k ON k.seq = r.seq WHERE k.ok = 1 "
    "ORDER BY r.seq"
)


SpooledLocation = tuple[str, int | None, int | None]  # kind, number, line


@dataclass(frozen=True)
class Repeated:
    """A row whose id (or ID number) other rows of the file carry too: ``count`` rows in all,
    ``group`` the first few of them in file order (this row among them)."""

    seq: int
    location: SpooledLocation
    value: str
    count: int
    group: tuple[SpooledLocation, ...]


class RosterSpool:
    """The scratch database of one import (module note above): `add` rows while reading,
    `settle` once, then read the problems of repeated rows and the good rows back."""

    def __init__(self) -> None:
        # a file of its own in a private directory, removed on close: a SQLite target reads it
        # back by name (`import_spooled` attaches it)
        self._directory = tempfile.mkdtemp(prefix="convalescence-roster-")
        self.path = Path(self._directory) / "spool.sqlite"
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "page_size = 16384",  # rows of about 1.5 kB: fewer, fuller pages
            "journal_mode = OFF",
            "synchronous = OFF",
            f"cache_size = -{_SPOOL_CACHE_KIB}",
            "temp_store = FILE",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        for table in _SPOOL_SCHEMA:
            self._db.execute(table)
        self._db.execute("BEGIN")
        self._settled = False

    def __enter__(self) -> RosterSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows of 14 values: the 7 columns of ``rows``, then the 7 of ``records`` after its
        ``seq`` (``ok`` 0: a row with problems, whose record columns are null and not kept)."""
        self._db.executemany(_SPOOL_INSERT_ROW, [row[:7] for row in rows])
        self._db.executemany(_SPOOL_INSERT_RECORD, [(row[0], *row[7:]) for row in rows if row[6]])

    def clear(self) -> None:
        """Forget every row added, to check the file again; before `settle`."""
        self._db.execute("DELETE FROM rows")
        self._db.execute("DELETE FROM records")

    def settle(self) -> int:
        """Find the repeated ids and ID numbers, mark their rows not ok, and return how many
        rows of the file have a problem (not ok) in all."""
        if not self._settled:
            self._db.execute("COMMIT")
            for statement in _SPOOL_SETTLE:
                self._db.execute(statement)
            for table, column in (("repeated_ids", "raw_id"), ("repeated_cards", "card")):
                if self._db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
                    self._db.execute(f"CREATE INDEX rows_{column} ON rows ({column})")
            self._repeated_rows = {
                field: self._count(f"SELECT count(*) FROM ({query})")
                for field, query in _SPOOL_REPEATED.items()
            }
            self._db.execute(
                "UPDATE rows SET ok = 0 WHERE ok = 1 AND (raw_id IN (SELECT value FROM "
                "repeated_ids) OR card IN (SELECT value FROM repeated_cards))"
            )
            self._settled = True
        return self._count("SELECT count(*) FROM rows WHERE ok = 0")

    def repeated_rows(self, field: str) -> int:
        """How many rows carry a repeated ``field`` ("id" or "id_card"); after `settle`."""
        return self._repeated_rows[field]

    def repeated(self, field: str, listed: int) -> Iterator[Repeated]:
        """The rows carrying a repeated ``field`` in file order, each with the first
        ``listed`` rows of its group; after `settle`."""
        groups: dict[str, tuple[SpooledLocation, ...]] = {}
        for seq, kind, number, line, value, count in self._db.execute(_SPOOL_REPEATED[field]):
            group = groups.get(value)
            if group is None:
                if len(groups) > SPOOL_BATCH:
                    groups.clear()  # a file of many repeated ids: keep memory bounded
                found = self._db.execute(_SPOOL_GROUP[field], (value, listed)).fetchall()
                group = groups[value] = tuple(found)
            yield Repeated(seq, (kind, number, line), value, count, group)

    def good_spans(self, size: int) -> list[tuple[int, int, int]]:
        """The good rows in spans of ``size`` of them, in file order: (first place, last place,
        good rows in it); after `settle`."""
        ends = [
            seq
            for (seq,) in self._db.execute(
                "SELECT seq FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS n "
                "FROM rows WHERE ok = 1) WHERE n % ? = 0",
                (size,),
            )
        ]
        spans = []
        low = 1
        for end in ends:
            spans.append((low, end, size))
            low = end + 1
        rest = self._count("SELECT count(*) FROM rows WHERE ok = 1") - len(ends) * size
        if rest:
            spans.append((low, self._count("SELECT max(seq) FROM rows"), rest))
        return spans

    def good_seqs(self) -> list[int]:
        """The places of the good rows, in file order; after `settle`."""
        return [seq for (seq,) in self._db.execute("SELECT seq FROM rows WHERE ok = 1")]

    def good_records(self) -> Iterator[list[tuple[Any, ...]]]:
        """The good rows in file order, `SPOOL_BATCH` at a time, each as its place in the file
        followed by the columns of `SpooledRow`; after `settle`."""
        cursor = self._db.execute(_SPOOL_GOOD)
        while chunk := cursor.fetchmany(SPOOL_BATCH):
            yield chunk

    def _count(self, query: str) -> int:
        return int(self._db.execute(query).fetchone()[0])


class SpooledRow(NamedTuple):
    """A good row as the spool returns it: the cadres table's columns with the record as JSON
    text, and the change-log entry it gets if it is new."""

    id: str
    name: str
    county: str
    agency: str
    birth_date: str  # YYYY-MM-DD
    record: str
    created: str


@dataclass
class BulkWrites:
    """What one chunk of a streamed import writes. Rows are in the order of `SpooledRow`'s first
    six fields (records as JSON text); changes are (cadre id, kind, changes as JSON text)."""

    inserts: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)
    updates: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)
    changes: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class SpooledTotals:
    created: int
    updated: int
    written: int  # good rows read back: created, updated or left alone


def import_spooled(
    db: sa.Engine,
    spool: RosterSpool,
    decide: Callable[[Sequence[SpooledRow], Mapping[str, Any]], BulkWrites],
    *,
    now: datetime,
    source: str,
    progress: Callable[[int], None] | None = None,
) -> SpooledTotals:
    """Write the good rows of a settled spool in one transaction (BEGIN IMMEDIATE on SQLite):
    new cadres inserted with their created entry, and for stored ones ``decide`` says what to
    write against the stored records. ``now`` stamps ``updated_at`` and the change log's
    ``at``; ``source`` names the file in the log. ``progress`` hears the number of rows done
    after each span of `SPOOL_BATCH` good rows.

    The new cadres are copied inside the database by ``INSERT … SELECT``, a span at a time
    (`_copy_spans`): on SQLite from the spool attached to the target, on PostgreSQL from a
    temporary table the spool is first copied into by COPY. As `import_cadres`: a cadre another
    import inserted at the same time on PostgreSQL makes this one an `InputError` naming
    ``id``, with nothing of its file written."""
    spans = spool.good_spans(SPOOL_BATCH)
    with integrity({"id": _RACED}), db.connect() as connection:
        connection.execution_options(**{WRITE: True})
        sqlite = connection.dialect.name == "sqlite"
        statements = _SQLITE_COPY if sqlite else _POSTGRES_COPY
        with _attached(connection, spool) if sqlite else nullcontext(), connection.begin():
            if not sqlite:
                _stage(connection, spool)
            return _copy_spans(
                connection,
                spans,
                statements,
                decide=decide,
                now=now,
                source=source,
                progress=progress,
            )


def _write(
    connection: sa.Connection, bulk: _BulkStatements, writes: BulkWrites, stamp: Any, source: str
) -> None:
    if writes.inserts:
        _many(connection, bulk.insert, [(*row, stamp) for row in writes.inserts])
    if writes.updates:
        _many(connection, bulk.update, [(*row, stamp) for row in writes.updates])
    if writes.changes:
        logged = [(cadre, stamp, source, kind, diff) for cadre, kind, diff in writes.changes]
        _many(connection, bulk.change, logged)


@dataclass(frozen=True)
class _CopyStatements:
    """A dialect's statements for one span of good rows (parameters ``stamp``, ``source``,
    ``low`` and ``high``, the span's first and last place in the file): ``new`` copy the new
    cadres and their created entries (the last one's row count is how many were new);
    ``differing`` reads the stored cadres whose record differs, with the spooled columns of
    `SpooledRow` and the stored record last. ``prepare`` and ``finish`` run before the first
    span and after the last."""

    new: tuple[str, ...]
    differing: str
    prepare: tuple[str, ...] = ()
    finish: tuple[str, ...] = ()


# SQLite: the span's new rows found once (by their place, into a temporary table of this
# connection), then the cadres, then their change-log entries, each row's parent already there
_ATTACHED = "roster_spool"
_SPOOLED_NEW = "temp.roster_new"
_SQLITE_FROM_NEW = f"FROM {_SPOOLED_NEW} n JOIN {_ATTACHED}.records r ON r.seq = n.seq"
_SQLITE_COPY = _CopyStatements(
    prepare=("CREATE TEMPORARY TABLE IF NOT EXISTS roster_new (seq INTEGER PRIMARY KEY)",),
    new=(
        f"DELETE FROM {_SPOOLED_NEW}",
        f"INSERT INTO {_SPOOLED_NEW} (seq) SELECT r.seq "
        f"FROM {_ATTACHED}.records r JOIN {_ATTACHED}.rows k ON k.seq = r.seq "
        "WHERE r.seq BETWEEN :low AND :high AND k.ok = 1 "
        "AND NOT EXISTS (SELECT 1 FROM cadres c WHERE c.id = r.id)",
        "INSERT INTO cadres (id, name, county, agency, birth_date, record, updated_at) "
        "SELECT r.id, r.name, r.county, r.agency, r.birth_date, r.record, :stamp "
        f"{_SQLITE_FROM_NEW} ORDER BY n.seq",
        "INSERT INTO cadre_changes (cadre_id, at, source, kind, changes) "
        f"SELECT r.id, :stamp, :source, 'created', r.created {_SQLITE_FROM_NEW} ORDER BY n.seq",
    ),
    differing=(
        "SELECT r.id, r.name, r.county, r.agency, r.birth_date, r.record, r.created, c.record "
        f"FROM {_ATTACHED}.records r JOIN {_ATTACHED}.rows k ON k.seq = r.seq "
        "JOIN cadres c ON c.id = r.id "
        "WHERE r.seq BETWEEN :low AND :high AND k.ok = 1 AND c.record != r.record ORDER BY r.seq"
    ),
    finish=(f"DROP TABLE {_SPOOLED_NEW}",),
)
# PostgreSQL: the good rows staged in a temporary table (`_stage`); the cadres and their entries
# in one statement, the foreign key checked at its end
_STAGED = "roster_staging"
_POSTGRES_COPY = _CopyStatements(
    new=(
        "WITH new AS ("
        "INSERT INTO cadres (id, name, county, agency, birth_date, record, updated_at) "
        "SELECT r.id, r.name, r.county, r.agency, r.birth_date::date, r.record::jsonb, "
        f"%(stamp)s FROM {_STAGED} r WHERE r.seq BETWEEN %(low)s AND %(high)s "
        "AND NOT EXISTS (SELECT 1 FROM cadres c WHERE c.id = r.id) ORDER BY r.seq "
        "RETURNING id) "
        "INSERT INTO cadre_changes (cadre_id, at, source, kind, changes) "
        "SELECT r.id, %(stamp)s, %(source)s, 'created', r.created::jsonb "
        f"FROM {_STAGED} r JOIN new ON new.id = r.id "
        "WHERE r.seq BETWEEN %(low)s AND %(high)s ORDER BY r.seq",
    ),
    differing=(
        "SELECT r.id, r.name, r.county, r.agency, r.birth_date, r.record, r.created, c.record "
        f"FROM {_STAGED} r JOIN cadres c ON c.id = r.id "
        "WHERE r.seq BETWEEN %(low)s AND %(high)s AND c.record <> r.record::jsonb ORDER BY r.seq"
    ),
)
_STAGE_TABLE = (
    f"CREATE TEMPORARY TABLE {_STAGED} (seq integer PRIMARY KEY, id text, name text, "
    "county text, agency text, birth_date text, record text, created text) ON COMMIT DROP"
)
_STAGE_COPY = f"COPY {_STAGED} FROM STDIN"
_STAGE_INSERT = f"INSERT INTO {_STAGED} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"


@contextmanager
def _attached(connection: sa.Connection, spool: RosterSpool) -> Iterator[None]:
    """The spool attached to a SQLite target as `_ATTACHED`. ATTACH and DETACH go outside any
    transaction, as SQLite requires, on the driver connection (through SQLAlchemy a statement
    would begin one)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"ATTACH DATABASE ? AS {_ATTACHED}", (str(spool.path),))
    try:
        yield
    finally:
        try:
            driver.execute(f"DETACH DATABASE {_ATTACHED}")
        except sqlite3.Error as error:  # still busy: this connection must not be reused
            connection.invalidate(error)


def _stage(connection: sa.Connection, spool: RosterSpool) -> None:
    """The spool's good rows into a temporary table of this transaction, by COPY: one stream
    the server reads while the rows are still being sent (executemany, through SQLAlchemy,
    when anyone listens for statements, as `_many` does)."""
    connection.exec_driver_sql(_STAGE_TABLE)
    if listened(connection):
        for chunk in spool.good_records():
            connection.exec_driver_sql(_STAGE_INSERT, chunk)
    else:
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(_STAGE_COPY) as copy:
            for chunk in spool.good_records():
                for row in chunk:
                    copy.write_row(row)
    connection.exec_driver_sql(f"ANALYZE {_STAGED}")  # or the planner guesses its size


def _copy_spans(
    connection: sa.Connection,
    spans: Sequence[tuple[int, int, int]],
    statements: _CopyStatements,
    *,
    decide: Callable[[Sequence[SpooledRow], Mapping[str, Any]], BulkWrites],
    now: datetime,
    source: str,
    progress: Callable[[int], None] | None,
) -> SpooledTotals:
    created = updated = written = 0
    bulk = _bulk_statements(connection.dialect)
    stamp = bulk.stamp(now)
    for statement in statements.prepare:
        connection.exec_driver_sql(statement)
    for low, high, good in spans:
        values = {"stamp": stamp, "source": source, "low": low, "high": high}
        new = 0
        for statement in statements.new:
            new = connection.exec_driver_sql(statement, values).rowcount
        # only a cadre stored before can differ: none when every good row was new
        differing = (
            connection.exec_driver_sql(statements.differing, values).all() if new < good else []
        )
        stored = {row[0]: _loaded(row[7]) for row in differing}
        writes = decide([SpooledRow(*row[:7]) for row in differing], stored)
        _write(connection, bulk, writes, stamp, source)
        created += new
        updated += len(writes.updates)
        written += good
        if progress is not None:
            progress(written)
    for statement in statements.finish:
        connection.exec_driver_sql(statement)
    return SpooledTotals(created, updated, written)


def _loaded(record: Any) -> Any:
    """A stored record as read back raw: JSON text from SQLite, already decoded by psycopg."""
    return json.loads(record) if isinstance(record, str) else record


@dataclass(frozen=True)
class _Bulk:
    """A statement rendered for one dialect, with its parameters in a fixed order."""

    sql: str
    names: tuple[str, ...]  # the values' order as callers give them
    order: tuple[int, ...] | None  # a positional driver's order of those, None: the same


@dataclass(frozen=True)
class _BulkStatements:
    insert: _Bulk  # id, name, county, agency, birth_date, record, updated_at
    update: _Bulk  # the same, by id
    change: _Bulk  # cadre_id, at, source, kind, changes
    stamp: Callable[[datetime], Any]  # an instant as the driver takes it


_BULK: dict[str, _BulkStatements] = {}
_ROW_KEYS = ("id", "name", "county", "agency", "birth_date", "record", "updated_at")
_CHANGE_KEYS = ("cadre_id", "at", "source", "kind", "changes")


def _bulk_statements(dialect: sa.Dialect) -> _BulkStatements:
    """The three statements of a streamed import, rendered once per dialect. JSON arrives as
    text and the birth date as YYYY-MM-DD text, bound as text: SQLite stores both as they are
    (its JSON and DATE columns are text in exactly these forms); PostgreSQL casts them."""
    made = _BULK.get(dialect.name)
    if made is not None:
        return made
    postgres = dialect.name == "postgresql"

    def text(name: str, cast: Any = None) -> Any:
        bound = sa.bindparam(name, type_=sa.Text)
        return sa.cast(bound, cast) if postgres and cast is not None else bound

    def row_values(prefix: str) -> dict[str, Any]:
        return {
            "name": text(f"{prefix}name"),
            "county": text(f"{prefix}county"),
            "agency": text(f"{prefix}agency"),
            "birth_date": text(f"{prefix}birth_date", sa.Date),
            "record": text(f"{prefix}record", JSONB),
            "updated_at": sa.bindparam(f"{prefix}updated_at", type_=cadres.c.updated_at.type),
        }

    insert = sa.insert(cadres).values(id=text("id"), **row_values(""))
    update = sa.update(cadres).where(cadres.c.id == text("b_id")).values(row_values("b_"))
    change = sa.insert(cadre_changes).values(
        cadre_id=text("cadre_id"),
        at=sa.bindparam("at", type_=cadre_changes.c.at.type),
        source=text("source"),
        kind=text("kind"),
        changes=text("changes", JSONB),
    )
    moment = cadres.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect)

    def stamp(now: datetime) -> Any:
        return moment(now) if moment is not None else now

    made = _BULK[dialect.name] = _BulkStatements(
        insert=_render(insert, dialect, _ROW_KEYS),
        update=_render(update, dialect, tuple(f"b_{key}" for key in _ROW_KEYS)),
        change=_render(change, dialect, _CHANGE_KEYS),
        stamp=stamp,
    )
    return made


def _render(statement: Any, dialect: sa.Dialect, names: tuple[str, ...]) -> _Bulk:
    """``statement`` as the dialect's text; ``names`` is the order callers give the values in,
    which a positional driver may want in another (an UPDATE's id comes last)."""
    compiled = statement.compile(dialect=dialect)
    if not compiled.positional:
        return _Bulk(compiled.string, names, None)
    wanted = tuple(compiled.positiontup or ())
    assert sorted(wanted) == sorted(names), (wanted, names)
    order = tuple(names.index(name) for name in wanted)
    return _Bulk(compiled.string, names, None if order == tuple(range(len(names))) else order)


def _many(connection: sa.Connection, bulk: _Bulk, rows: list[tuple[Any, ...]]) -> None:
    """One executemany on the driver, each row's values in the order of ``bulk.names``;
    through SQLAlchemy's ``exec_driver_sql`` when anyone listens for statements (tracing,
    counting), so listeners see it as any other."""
    parameters: list[Any]
    if connection.dialect.positional:
        order = bulk.order
        parameters = rows if order is None else [tuple(row[i] for i in order) for row in rows]
    else:
        parameters = [dict(zip(bulk.names, row, strict=True)) for row in rows]
    if listened(connection):
        connection.exec_driver_sql(bulk.sql, parameters)
        return
    driver = connection.connection.driver_connection
    dialect = connection.dialect
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(bulk.sql, parameters)
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, driver, cursor):
            connection.invalidate(error)
        raise DBAPIError.instance(
            bulk.sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error
    finally:
        cursor.close()
