"""The SQL of corrections (issue 13): a rebook's batches and its seat moved, a case's steps.

`SqlCorrectionStore` opens the same transactions as `workflow.store.cases.SqlCaseStore` (the
host's own with ``within=``), and its transactions are case transactions with three more
reads and one more write, so the correction runner moves the case, appends its history row and
moves the seat on one connection: all of it commits, or none of it.

On PostgreSQL a rebook locks both of its batches, the one it leaves and the one it joins, in
id order (FOR NO KEY UPDATE, as an approval locks its batch): two rebooks crossing between the
same two batches queue instead of deadlocking, an edit of either batch waits until the rebook
has committed, and of two rebooks racing for a last seat the second reads the seat as taken.
SQLite has one writer at a time and the step reads inside its write transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from workflow.corrections import BatchPlace, TakenStep
from workflow.snapshot import BatchRow
from workflow.store import seats
from workflow.store.cases import SqlCaseTransaction
from workflow.store.database import Database, Within
from workflow.store.schema import batch_exceptions, batches, history, plans

_BATCHES = (
    sa.select(
        batches.c.id,
        batches.c.plan_id,
        batches.c.start_date,
        batches.c.end_date,
        batches.c.place,
        batches.c.province,
        batches.c.seats_taken,
        batches.c.contractor_id,
        batches.c.started_at,
        plans.c.organiser_level,
        plans.c.county.label("plan_county"),
        plans.c.cycle.label("plan_cycle"),
        batch_exceptions.c.rule.label("exception_rule"),
    )
    .select_from(
        batches.join(plans, plans.c.id == batches.c.plan_id).outerjoin(
            batch_exceptions, batch_exceptions.c.batch_id == batches.c.id
        )
    )
    .where(batches.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(batches.c.id)
    .with_for_update(key_share=True, of=batches)
)
_STEPS = (
    sa.select(history.c.seq, history.c.trigger, history.c.from_state, history.c.on_behalf_of)
    .where(history.c.case_id == sa.bindparam("case_id"))
    .order_by(history.c.seq)
)


class SqlCorrectionStore:
    """Transactions for corrections; ``within`` joins the host's own (never committed here)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def transaction(
        self, within: Within = None, *, write: bool = False, single_read: bool = False
    ) -> Iterator[SqlCorrectionTransaction]:
        with self.database.transaction(within, write=write, single_read=single_read) as c:
            yield SqlCorrectionTransaction(c)


class SqlCorrectionTransaction(SqlCaseTransaction):
    """A case transaction that also reads a rebook's batches and a case's steps, and moves a
    seat from one batch to another."""

    def batch_places(self, ids: Sequence[int]) -> dict[int, BatchPlace]:
        """The batches ``ids`` as a rebook decides on them, by id, locked in id order until the
        transaction ends (see the module docstring); a missing id is simply absent."""
        rows = self.connection.execute(_BATCHES, {"ids": sorted(set(ids))}).all()
        grouped: dict[int, list[Any]] = {}
        for row in rows:
            grouped.setdefault(int(row.id), []).append(row)
        return {batch_id: _place(found) for batch_id, found in grouped.items()}

    def steps_taken(self, case_id: int) -> tuple[TakenStep, ...]:
        """The case's history rows, oldest first, as a correction reads them."""
        return tuple(
            TakenStep(
                seq=int(r.seq),
                trigger=r.trigger,
                from_state=r.from_state,
                on_behalf_of=r.on_behalf_of,
            )
            for r in self.connection.execute(_STEPS, {"case_id": case_id})
        )

    def move_seat(
        self, *, case_id: int, from_batch: int, to_batch: int, version: int, now: datetime
    ) -> None:
        """Give the seat in ``from_batch`` back and take one in ``to_batch`` (A6.2); a full
        ``to_batch`` is `RuleRefused` citing A6.2 (`seats.take_seat`), and the caller's
        rollback then puts the first seat back too."""
        seats.release_seat(self.connection, batch_id=from_batch, case_id=case_id)
        seats.take_seat(
            self.connection,
            batch_id=to_batch,
            case_id=case_id,
            now=now,
            expected_version=version,
        )


def _place(rows: Sequence[Any]) -> BatchPlace:
    row = rows[0]
    return BatchPlace(
        batch=BatchRow(
            id=int(row.id),
            start_date=row.start_date,
            end_date=row.end_date,
            place=row.place,
            province=row.province,
            seats_taken=row.seats_taken,
            contractor_id=row.contractor_id,
            plan_level=row.organiser_level,
            plan_county=row.plan_county,
            plan_cycle=row.plan_cycle,
            exception_rules=frozenset(r.exception_rule for r in rows if r.exception_rule),
        ),
        plan_id=int(row.plan_id),
        started_at=row.started_at,
    )
