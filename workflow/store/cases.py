"""Reads and writes of definitions, cadres, cases and history, on a connection the caller owns.

Functions here never commit: the engine decides where a transaction starts and ends, so a state
change, its history row and (later) its notifications land together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.audit.chain import GENESIS, case_exception_hash, history_hash
from workflow.store.schema import (
    batch_seats,
    batches,
    cadres,
    case_exceptions,
    cases,
    definitions,
    history,
    outbox,
)

Record = sa.Row[*tuple[Any, ...]]

# Statements on the hot path of every step are built once: constructing a SQLAlchemy statement
# costs more than executing it against SQLite (benchmarks/transitions.py).
# every column but the stored eligibility explanation, the largest JSON of the row, which no
# step reads (A4.2 keeps it for audit and `cases show`)
_SNAPSHOT_COLUMNS = [c for c in cases.c if c.name != "eligibility"]
_CASE_WITH_CADRE = (
    sa.select(*_SNAPSHOT_COLUMNS, cadres.c.record.label("cadre_record"))
    .join(cadres, cadres.c.id == cases.c.cadre_id)
    .where(cases.c.id == sa.bindparam("case_id"))
)
_MOVE_CASE = (
    sa.update(cases)
    .where(cases.c.id == sa.bindparam("b_case_id"), cases.c.version == sa.bindparam("b_version"))
    .values(
        state=sa.bindparam("b_state"),
        terminal=sa.bindparam("b_terminal"),
        version=sa.bindparam("b_new_version"),
        evidence=sa.bindparam("b_evidence", type_=cases.c.evidence.type),
        updated_at=sa.bindparam("b_updated_at", type_=cases.c.updated_at.type),
        chain_head=sa.bindparam("b_chain_head"),
    )
)
_INSERT_HISTORY = sa.insert(history)
_SET_CHAIN_HEAD = (
    sa.update(cases)
    .where(cases.c.id == sa.bindparam("b_case_id"))
    .values(chain_head=sa.bindparam("b_chain_head"))
)
# The hash of the row a new history row follows (A19.1): read in the step's write transaction,
# after the compare-and-set on cases.version, so no other writer can append to this case
# between this read and the insert.
_PREV_HASH = sa.select(history.c.hash).where(
    history.c.case_id == sa.bindparam("case_id"), history.c.seq == sa.bindparam("seq")
)
_INSERT_EXCEPTION = sa.insert(case_exceptions)
_INSERT_CASE = sa.insert(cases)
_INSERT_NOTICES = sa.insert(outbox)
_CADRE_FILED = sa.select(cadres.c.county, cadres.c.agency, cadres.c.record).where(
    cadres.c.id == sa.bindparam("cadre_id")
)


def find_definition(connection: sa.Connection, name: str, version: int) -> Record | None:
    query = sa.select(definitions).where(
        definitions.c.name == name, definitions.c.version == version
    )
    return connection.execute(query).first()


def definition_by_id(connection: sa.Connection, definition_id: int) -> Record | None:
    query = sa.select(definitions).where(definitions.c.id == definition_id)
    return connection.execute(query).first()


def insert_definition(connection: sa.Connection, values: Mapping[str, Any]) -> int:
    return _new_id(connection.execute(sa.insert(definitions).values(**values)))


def upsert_cadre(connection: sa.Connection, row: Mapping[str, Any], now: datetime) -> None:
    values = {**row, "updated_at": now}
    insert: Any = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert
    statement = insert(cadres).values(**values)
    updated = {key: statement.excluded[key] for key in values if key != "id"}
    connection.execute(statement.on_conflict_do_update(index_elements=["id"], set_=updated))


def cadre_record(connection: sa.Connection, cadre_id: str) -> dict[str, Any] | None:
    query = sa.select(cadres.c.record).where(cadres.c.id == cadre_id)
    record = connection.execute(query).scalar_one_or_none()
    return dict(record) if record is not None else None


def cadre_filed(connection: sa.Connection, cadre_id: str) -> Record | None:
    """The cadre's record with the county and agency the case is filed under, in one read."""
    return connection.execute(_CADRE_FILED, {"cadre_id": cadre_id}).first()


def insert_case(connection: sa.Connection, values: Mapping[str, Any]) -> int:
    return _new_id(connection.execute(_INSERT_CASE, dict(values)))


def case_with_cadre(connection: sa.Connection, case_id: int) -> Record | None:
    """The case row plus its cadre's record (as ``cadre_record``) in one statement, so a
    snapshot is one consistent read even without a transaction around it."""
    return connection.execute(_CASE_WITH_CADRE, {"case_id": case_id}).first()


def case_row(connection: sa.Connection, case_id: int) -> Record | None:
    return connection.execute(sa.select(cases).where(cases.c.id == case_id)).first()


def case_version(connection: sa.Connection, case_id: int) -> int | None:
    query = sa.select(cases.c.version).where(cases.c.id == case_id)
    return connection.execute(query).scalar_one_or_none()


def move_case(
    connection: sa.Connection,
    *,
    case_id: int,
    expected_version: int,
    state: str,
    terminal: bool,
    evidence: Mapping[str, Any],
    now: datetime,
    chain_head: str,
) -> bool:
    """Compare-and-set on the version column: False when someone else moved the case first.
    ``chain_head`` is the hash of the history row the step appends with it."""
    result = connection.execute(
        _MOVE_CASE,
        {
            "b_case_id": case_id,
            "b_version": expected_version,
            "b_state": state,
            "b_terminal": terminal,
            "b_new_version": expected_version + 1,
            "b_evidence": dict(evidence),
            "b_updated_at": now,
            "b_chain_head": chain_head,
        },
    )
    return result.rowcount == 1


def chained(values: Mapping[str, Any], prev_hash: str) -> dict[str, Any]:
    """The history row linked after ``prev_hash`` (A19.1), with its own hash."""
    row = dict(values)
    row["prev_hash"] = prev_hash
    row["hash"] = history_hash(prev_hash, row)
    return row


def insert_history(
    connection: sa.Connection, values: Mapping[str, Any], *, prev_hash: str | None = None
) -> str:
    """Append a history row linked to the case's previous one by ``prev_hash`` (A19.1) and
    return its hash, which the caller stores as the case's ``chain_head``.

    The caller has already won the compare-and-set on the case's version, which makes it the
    only writer of this case until it commits: the previous row's hash cannot change under it.
    A caller that read the case passes its ``chain_head``; otherwise the first row of a case
    starts the chain and a later one reads its predecessor.
    """
    if prev_hash is None:
        prev_hash = previous_hash(connection, int(values["case_id"]), int(values["seq"]))
    row = chained(values, prev_hash)
    connection.execute(_INSERT_HISTORY, row)
    return str(row["hash"])


def previous_hash(connection: sa.Connection, case_id: int, seq: int) -> str:
    """The hash row ``seq`` links to: the genesis for the first row, else its predecessor's."""
    if seq == 1:
        return GENESIS
    found = connection.execute(_PREV_HASH, {"case_id": case_id, "seq": seq - 1}).scalar_one()
    return str(found)


def insert_chained_history(connection: sa.Connection, row: Mapping[str, Any]) -> None:
    """Append a row `chained` already linked (the step computed its hash for the case row)."""
    connection.execute(_INSERT_HISTORY, dict(row))


def set_chain_head(connection: sa.Connection, case_id: int, chain_head: str) -> None:
    """The head of a case just opened: its first history row needs the case's id first."""
    connection.execute(_SET_CHAIN_HEAD, {"b_case_id": case_id, "b_chain_head": chain_head})


def history_rows(connection: sa.Connection, case_id: int) -> list[Record]:
    query = sa.select(history).where(history.c.case_id == case_id).order_by(history.c.seq)
    return list(connection.execute(query))


def case_rows(
    connection: sa.Connection,
    *,
    state: str | None = None,
    county: str | None = None,
    agency: str | None = None,
    cadre_id: str | None = None,
    contractor_id: str | None = None,
    open_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[Record]:
    query = sa.select(cases).order_by(cases.c.id).limit(limit).offset(offset)
    for column, value in (
        (cases.c.state, state),
        (cases.c.county, county),
        (cases.c.agency, agency),
        (cases.c.cadre_id, cadre_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if contractor_id is not None:
        query = query.where(_in_batch_of(contractor_id))
    if open_only:
        query = query.where(cases.c.terminal.is_(False))
    return list(connection.execute(query))


def _in_batch_of(contractor_id: str) -> sa.ColumnElement[bool]:
    if not contractor_id.isdigit():
        return sa.false()
    return sa.exists(
        sa.select(batch_seats.c.id)
        .join(batches, batches.c.id == batch_seats.c.batch_id)
        .where(batch_seats.c.case_id == cases.c.id, batches.c.contractor_id == int(contractor_id))
    )


def case_contractor(connection: sa.Connection, case_id: int) -> str | None:
    """The contractor of the batch holding the case's seat: contractor staff's scope (A5.2)."""
    query = (
        sa.select(batches.c.contractor_id)
        .join(batch_seats, batch_seats.c.batch_id == batches.c.id)
        .where(batch_seats.c.case_id == case_id)
    )
    found = connection.execute(query).scalar_one_or_none()
    return None if found is None else str(found)


def count_by_state(connection: sa.Connection) -> dict[str, int]:
    query = sa.select(cases.c.state, sa.func.count()).group_by(cases.c.state)
    return {state: int(count) for state, count in connection.execute(query)}


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None, "an INSERT of one row always has a primary key"
    return int(key[0])


def insert_exception(connection: sa.Connection, values: Mapping[str, Any]) -> None:
    """Record a granted exception with the hash of its content; `audit verify` checks it
    against the grant's history row, which the case's chain protects (A19.1)."""
    row = dict(values)
    row["hash"] = case_exception_hash(row)
    connection.execute(_INSERT_EXCEPTION, row)


def exception_rows(connection: sa.Connection, case_id: int) -> list[Record]:
    query = (
        sa.select(case_exceptions)
        .where(case_exceptions.c.case_id == case_id)
        .order_by(case_exceptions.c.seq)
    )
    return list(connection.execute(query))


def other_cases_in_cycle(
    connection: sa.Connection,
    *,
    cadre_id: str,
    cycle: str,
    states: Sequence[str],
    excluding: int,
) -> list[int]:
    """Ids of the cadre's other cases in ``cycle`` that count as taking part (A9.2)."""
    query = (
        sa.select(cases.c.id)
        .where(
            cases.c.cadre_id == cadre_id,
            cases.c.cycle == cycle,
            cases.c.state.in_(list(states)),
            cases.c.id != excluding,
        )
        .order_by(cases.c.id)
    )
    return [int(case_id) for case_id in connection.execute(query).scalars()]


def insert_notices(connection: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        connection.execute(_INSERT_NOTICES, [dict(r) for r in rows])
