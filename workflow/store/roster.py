"""The cadres table as a roster import writes it: read the stored records of a file's ids,
then insert, update and log the changes, all in one write transaction.

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
from workflow.store.schema import cadre_changes, cadres

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
