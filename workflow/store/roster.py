"""The cadres table as a roster import writes it: read the stored records of a file's ids,
then insert, update and log the changes, all in one write transaction. And the roster's reads
(issue 19 item 5): one page of cadres by id, one cadre with its cases, participations, visits
and changes, each on a connection the caller's transaction owns.

What to write is decided by the caller (`workflow.roster.importer`), between the read and the
writes, by a pure function of the stored records: the import stays one transaction (a file
goes in whole or not at all) and this module holds only the statements. Rows go in bulk
(executemany), because a city roster of 100,000 cadres must import in seconds, not minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from workflow.store.database import WRITE
from workflow.store.errors import integrity
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
