"""Seats in a batch: the compare-and-set counter the approval step calls (A6.2).

Every function takes the caller's connection and never commits, so the approval step takes a
seat in the same transaction that moves the case: if the step is refused, the seat goes back
with the rollback. The guard is the UPDATE itself (``seats_taken < capacity`` in its WHERE
clause), not a read followed by a write, so it holds on PostgreSQL without row locks and on
SQLite, where ``FOR UPDATE`` renders nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from workflow.errors import ConflictError, InputError, NotFoundError, Refusal, RuleRefused
from workflow.policy import BATCH_EXCEPTION_WAIVES
from workflow.store.schema import batch_exceptions, batch_seats, batches, plans


def take_seat(
    connection: sa.Connection,
    *,
    batch_id: int,
    case_id: int,
    now: datetime,
    expected_version: int | None = None,
) -> None:
    """Assign ``case_id`` to ``batch_id`` if a seat is free; raise `RuleRefused` (A6.2) if not.

    A case holds at most one seat anywhere (unique ``case_id``): taking a second one is refused
    before the counter moves, so no seat is ever counted without its row. Two steps seating the
    same case at the same moment (PostgreSQL; SQLite serialises writers) both pass that read;
    the unique index stops the second, which is a lost race, a `ConflictError`: nothing of the
    step is written. ``expected_version`` is the case version the step started from, reported
    in that error.
    """
    held = held_seat(connection, case_id)
    if held is not None:
        raise RuleRefused(
            [Refusal("A6.2", "one_seat", f"案件已在批次 {held} 占有名额，请先退出该批次")],
            case_id=case_id,
        )
    taken = connection.execute(
        sa.update(batches)
        .where(batches.c.id == batch_id, batches.c.seats_taken < batches.c.capacity)
        .values(seats_taken=batches.c.seats_taken + 1, version=batches.c.version + 1)
    )
    if taken.rowcount != 1:
        exists = connection.execute(
            sa.select(batches.c.capacity).where(batches.c.id == batch_id)
        ).scalar_one_or_none()
        if exists is None:
            raise NotFoundError("批次", batch_id)
        raise RuleRefused(
            [Refusal("A6.2", "batch_full", f"批次 {batch_id} 已满（{exists} 人），不能再安排")],
            case_id=case_id,
        )
    try:
        connection.execute(
            sa.insert(batch_seats).values(batch_id=batch_id, case_id=case_id, at=now)
        )
    except IntegrityError as error:
        raise ConflictError(
            case_id=case_id,
            expected_version=expected_version,
            actual_version=None,
            changed=f"案件 {case_id} 已由同时进行的另一操作安排了批次名额",
        ) from error


def release_seat(connection: sa.Connection, *, batch_id: int, case_id: int) -> None:
    """Give back the seat of a case that withdrew; the row and the counter move together."""
    removed = connection.execute(
        sa.delete(batch_seats).where(
            batch_seats.c.batch_id == batch_id, batch_seats.c.case_id == case_id
        )
    )
    if removed.rowcount != 1:
        raise NotFoundError("批次名额", f"批次 {batch_id} 案件 {case_id}")
    freed = connection.execute(
        sa.update(batches)
        .where(batches.c.id == batch_id, batches.c.seats_taken > 0)
        .values(seats_taken=batches.c.seats_taken - 1, version=batches.c.version + 1)
    )
    if freed.rowcount != 1:  # a seat row without its count: a bug, not a request to refuse
        raise RuntimeError(f"batch {batch_id} had a seat row but no seat counted")


def batch_facts(connection: sa.Connection, batch_id: int) -> tuple[dict[str, Any], frozenset[str]]:
    """What an approval into ``batch_id`` records as evidence, and the rules the batch's
    exceptions waive. The evidence is copied, not referenced, so the case keeps the dates and
    place it was approved for even if the batch is edited later (A19.1)."""
    row = (
        connection.execute(
            sa.select(
                batches,
                plans.c.organiser_level,
                plans.c.county.label("plan_county"),
                plans.c.cycle.label("plan_cycle"),
            )
            .join(plans, plans.c.id == batches.c.plan_id)
            .where(batches.c.id == batch_id)
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise InputError(
            f"field 'batch_id': batch {batch_id} does not exist (see `convalescence batches list`)",
            field="batch_id",
        )
    waivers = connection.execute(
        sa.select(batch_exceptions.c.rule).where(batch_exceptions.c.batch_id == batch_id)
    ).scalars()
    facts = {
        "batch_start": row["start_date"].isoformat(),
        "batch_end": row["end_date"].isoformat(),
        "destination": row["place"],
        "province": row["province"],
        "batch_size": row["seats_taken"] + 1,  # with this case (A6.2 counts assigned cadres)
        "batch_contractor_id": row["contractor_id"],
        "batch_plan_level": row["organiser_level"],
        "batch_plan_county": row["plan_county"],
        "batch_cycle": row["plan_cycle"],
    }
    return facts, frozenset(
        BATCH_EXCEPTION_WAIVES[w] for w in waivers if w in BATCH_EXCEPTION_WAIVES
    )


def held_seat(connection: sa.Connection, case_id: int) -> int | None:
    """The batch whose seat ``case_id`` holds, if any."""
    return connection.execute(
        sa.select(batch_seats.c.batch_id).where(batch_seats.c.case_id == case_id)
    ).scalar_one_or_none()
