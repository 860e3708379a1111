"""The condolence-visit list (A9.3): every visit task of a cycle with its due date, who visited
and when, and whether that was on time; or only the overdue ones, for the agency to act on.

A visit is due by the last day of its cycle (A9.1, ``rules.cycles`` of the honorary policy),
since art. 9 asks for the visit within the cycle the cadre could not attend. The overdue filter
runs in SQL so a list of the few late visits does not read every visit first.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from workflow.clock import shanghai_date
from workflow.engine import Engine
from workflow.errors import InputError
from workflow.reports import _sources as src
from workflow.reports._model import VisitEntry, VisitList
from workflow.store.schema import cadres, cases


def visit_list(engine: Engine, *, cycle: str | None = None, overdue: bool = False) -> VisitList:
    """Visit tasks, by due date then county; ``cycle`` must be a cycle of the policy (A9.1)."""
    ends = src.cycle_ends(engine.catalog)
    if cycle is not None and cycle not in ends:
        known = "、".join(sorted(ends)) or "无"
        raise InputError(
            f"--cycle {cycle!r} is not a cycle of the policy (known: {known})", field="cycle"
        )
    labels = src.state_labels(engine.catalog, src.VISIT)
    now = engine.clock.now()
    today = shanghai_date(now)
    due_on = src.due_date(cases.c.cycle, ends)
    visited_on = cases.c.evidence["visited_on"].as_string()
    query = (
        sa.select(
            cases.c.id,
            cases.c.cadre_id,
            cases.c.county,
            cases.c.agency,
            cases.c.state,
            cases.c.cycle,
            cases.c.evidence["visited_by"].as_string().label("visited_by"),
            visited_on.label("visited_on"),
            cadres.c.name,
        )
        .join(cadres, cadres.c.id == cases.c.cadre_id)
        .where(src.of_definition(src.VISIT))
        .order_by(cases.c.cycle, cases.c.county, cases.c.agency, cases.c.id)
    )
    if cycle is not None:
        query = query.where(cases.c.cycle == cycle)
    if overdue:
        query = query.where(
            visited_on.is_(None),
            cases.c.state != src.VISIT_NOT_NEEDED,
            due_on < sa.literal(today.isoformat()),
        )
    with engine.transaction() as connection:
        rows = connection.execute(query).all()
    return VisitList(
        cycle=cycle,
        overdue_only=overdue,
        as_of=today,
        generated_at=now,
        policy=src.policy_source(engine.catalog),
        entries=tuple(_entry(row._mapping, ends, labels) for row in rows),
    )


def _entry(row: sa.RowMapping, ends: dict[str, date], labels: dict[str, str]) -> VisitEntry:
    return VisitEntry(
        case_id=row["id"],
        cadre_id=row["cadre_id"],
        name=row["name"],
        county=row["county"],
        agency=row["agency"],
        state=row["state"],
        state_label=labels.get(row["state"], row["state"]),
        cycle=row["cycle"],
        due_on=ends.get(row["cycle"]) if row["cycle"] is not None else None,
        visited_by=row["visited_by"],
        visited_on=date.fromisoformat(row["visited_on"]) if row["visited_on"] else None,
    )
