"""Test data for corrections (issue 13 item 7): a later batch of the seeded plan, cases walked
to a state, and what a refused correction must leave as it was."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from factories import AS_FAMILY, HAPPY_PATH, REGISTRATION, cadre
from plans_setup import batch, walk

from workflow import Engine
from workflow.audit.verify import verify_database
from workflow.plans import service
from workflow.store.schema import batch_seats

FIRST = 1
LATER_DATES = {"start_date": date(2024, 6, 10), "end_date": date(2024, 6, 16)}
NEW_COVER = {"covered_from": "2024-06-10", "covered_until": "2024-06-16"}
OTHER_AGENCY = "agency_officer:孙莉@茌平区军休所"


def later_batch(engine: Engine, capacity: int = 2) -> int:
    """Another batch of plan 1, a week later (same contractor, its agreement covers it)."""
    made = batch(engine, plan_id=1, contractor_id=1, capacity=capacity, **LATER_DATES)
    return int(made["id"])


def case_at(engine: Engine, steps: int, cadre_id: str = "LC-DCF-0001") -> int:
    """A case of ``cadre_id`` walked through the first ``steps`` steps of `HAPPY_PATH`."""
    engine.put_cadres([cadre(cadre_id)])
    case = engine.open_case(cadre_id, actor=f"cadre:张建国@{cadre_id}", data=REGISTRATION)
    path = [(t, f"family:张丽@{cadre_id}" if a == AS_FAMILY else a, d) for t, a, d in HAPPY_PATH]
    walk(engine, case.id, path[:steps])
    return case.id


def seated(engine: Engine, batch_id: int) -> tuple[int, list[int]]:
    """The batch's counter and the cases seated in it."""
    with engine.transaction() as connection:
        rows = connection.execute(
            sa.select(batch_seats.c.case_id).where(batch_seats.c.batch_id == batch_id)
        ).scalars()
        cases = sorted(int(r) for r in rows)
    return int(service.show_batch(engine, batch_id)["seats_taken"]), cases


def record(engine: Engine, case_id: int, *batches: int) -> tuple[Any, ...]:
    """What a refused correction must leave as it was."""
    case = engine.case(case_id)
    return (
        case.version,
        case.evidence,
        len(engine.history(case_id)),
        *(seated(engine, b) for b in batches),
    )


def assert_verified(engine: Engine) -> None:
    report = verify_database(engine.db)
    assert report.intact, report.broken
