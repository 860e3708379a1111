"""Bulk runs (issue 13, item 6; revision 0014): the cohort a step is fired on, the run's record
and each case's outcome.

Every function runs on a connection the caller owns: `workflow.bulk` starts a run (the run row
and its items in one transaction, before anything is fired) and then gives each case a
transaction of its own, in which the item is claimed, the engine's step runs and the item's
outcome is written, so a case never moves without its item saying so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from workflow.store.schema import (
    batch_seats,
    batches,
    bulk_run_items,
    bulk_runs,
    cases,
    definitions,
    history,
)

PENDING = None  # an item's outcome until its case has been fired

# the cohort's filters and the columns they compare (``contractor_id`` is a join, below)
_COLUMNS = {
    "state": cases.c.state,
    "county": cases.c.county,
    "agency": cases.c.agency,
    "cadre_id": cases.c.cadre_id,
    "cycle": cases.c.cycle,
    "definition": definitions.c.name,
    "definition_version": definitions.c.version,
}


def cohort(connection: sa.Connection, filters: Mapping[str, Any], limit: int) -> Sequence[Any]:
    """The cases matching every given filter, by id, at most ``limit`` of them: each with its
    version (the item's expected version), cadre, county, agency, state and definition."""
    query = (
        sa.select(
            cases.c.id.label("case_id"),
            cases.c.version,
            cases.c.state,
            cases.c.cadre_id,
            cases.c.county,
            cases.c.agency,
            cases.c.cycle,
            definitions.c.name.label("definition"),
            definitions.c.version.label("definition_version"),
        )
        .join(definitions, definitions.c.id == cases.c.definition_id)
        .order_by(cases.c.id)
        .limit(limit)
    )
    for key, value in filters.items():
        if value is None:
            continue
        if key == "contractor_id":
            query = query.where(_in_batch_of(str(value)))
        else:
            query = query.where(_COLUMNS[key] == value)
    return connection.execute(query).all()


def _in_batch_of(contractor_id: str) -> sa.ColumnElement[bool]:
    """Contractor staff's scope: the cases holding a seat in one of the contractor's batches."""
    if not contractor_id.isdigit():
        return sa.false()
    return sa.exists(
        sa.select(batch_seats.c.id)
        .join(batches, batches.c.id == batch_seats.c.batch_id)
        .where(batch_seats.c.case_id == cases.c.id, batches.c.contractor_id == int(contractor_id))
    )


def insert_run(
    connection: sa.Connection, values: Mapping[str, Any], items: Sequence[Mapping[str, Any]]
) -> int:
    """The run row and its pending items (``case_id``, ``expected_version``), in list order."""
    result = connection.execute(sa.insert(bulk_runs).values(**values))
    key = result.inserted_primary_key
    assert key is not None, "an INSERT of one row always has a primary key"
    run_id = int(key[0])
    if items:
        rows = [
            {"run_id": run_id, "position": position, **item}
            for position, item in enumerate(items, start=1)
        ]
        connection.execute(sa.insert(bulk_run_items), rows)
    return run_id


def run(connection: sa.Connection, run_id: int) -> Any | None:
    return connection.execute(sa.select(bulk_runs).where(bulk_runs.c.id == run_id)).first()


def items(connection: sa.Connection, run_id: int) -> Sequence[Any]:
    query = (
        sa.select(bulk_run_items)
        .where(bulk_run_items.c.run_id == run_id)
        .order_by(bulk_run_items.c.position)
    )
    return connection.execute(query).all()


def pending(connection: sa.Connection, run_id: int) -> Sequence[Any]:
    """The items not fired yet, in the run's order (``position``, ``case_id``,
    ``expected_version``)."""
    query = (
        sa.select(
            bulk_run_items.c.position,
            bulk_run_items.c.case_id,
            bulk_run_items.c.expected_version,
        )
        .where(bulk_run_items.c.run_id == run_id, bulk_run_items.c.outcome.is_(PENDING))
        .order_by(bulk_run_items.c.position)
    )
    return connection.execute(query).all()


def claim(connection: sa.Connection, run_id: int, case_id: int) -> bool:
    """Whether the item is still pending, holding its row until the transaction ends (on
    PostgreSQL; SQLite's writer holds the whole database): two processes resuming one run
    cannot both fire a case, the second finds it recorded."""
    query = (
        sa.select(bulk_run_items.c.outcome)
        .where(bulk_run_items.c.run_id == run_id, bulk_run_items.c.case_id == case_id)
        .with_for_update()
    )
    found = connection.execute(query).first()
    return found is not None and found.outcome is PENDING


def record(connection: sa.Connection, run_id: int, case_id: int, values: Mapping[str, Any]) -> bool:
    """Write a pending item's outcome; False if it was already recorded (nothing changed)."""
    statement = (
        sa.update(bulk_run_items)
        .where(
            bulk_run_items.c.run_id == run_id,
            bulk_run_items.c.case_id == case_id,
            bulk_run_items.c.outcome.is_(PENDING),
        )
        .values(**values)
    )
    return connection.execute(statement).rowcount == 1


def finish(connection: sa.Connection, run_id: int, now: datetime) -> None:
    """Mark the run finished once no item is pending (the first to see that writes the time)."""
    left = (
        sa.select(bulk_run_items.c.id)
        .where(bulk_run_items.c.run_id == run_id, bulk_run_items.c.outcome.is_(PENDING))
        .exists()
    )
    connection.execute(
        sa.update(bulk_runs)
        .where(bulk_runs.c.id == run_id, bulk_runs.c.finished_at.is_(None), ~left)
        .values(finished_at=now)
    )


def last_move(connection: sa.Connection, case_id: int) -> dict[str, Any] | None:
    """Who moved the case last (its newest history row), and the bulk run that recorded that
    move as its own, if any: what a conflict report tells the officer."""
    row = connection.execute(
        sa.select(history.c.seq, history.c.trigger, history.c.actor, history.c.role, history.c.at)
        .where(history.c.case_id == case_id)
        .order_by(history.c.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    by_run = connection.execute(
        sa.select(bulk_run_items.c.run_id).where(
            bulk_run_items.c.case_id == case_id,
            bulk_run_items.c.outcome == "succeeded",
            bulk_run_items.c.new_version == row.seq,
        )
    ).scalar()
    return {
        "version": row.seq,
        "trigger": row.trigger,
        "actor": f"{row.role}:{row.actor}",
        "at": row.at.isoformat(),
        "bulk_run": by_run,
    }
