"""What every report reads: the definitions' names and states, the cycles' end dates, and the
one subquery that says which batch a case was planned into.

Kept apart from the reports themselves so the rule "a case belongs to the batch it was approved
into" is written once: the performance report, the visit attribution and any later report
count the same cases.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa

from workflow.clock import SHANGHAI
from workflow.definition.catalog import Catalog
from workflow.errors import NotFoundError
from workflow.reports._model import PolicySource
from workflow.store.schema import batch_seats, batches, cases, definitions, plans

HONOR = "honor_convalescence"
# A9.3 visit tasks, opened by the scheduler for cadres who missed a cycle
VISIT = "condolence_visit"
ATTENDED_STATES = ("attended", "evaluated")  # A7.1: the cadre went
EVALUATED = "evaluated"  # A18.1: the satisfaction score is recorded
VISIT_NOT_NEEDED = "not_needed"


def policy_source(catalog: Catalog) -> PolicySource:
    """The latest honorary-convalescence policy's title and number (A1.1)."""
    policy = catalog.get(HONOR).policy
    return PolicySource(policy.title, policy.document)


def cycle_ends(catalog: Catalog) -> dict[str, date]:
    """Cycle id → last day, over every version of the policy (A9.1): a visit is due by then."""
    ends: dict[str, date] = {}
    for definition in catalog.versions(HONOR):
        for cycle in definition.rules.cycles if definition.rules else ():
            ends[cycle.id] = cycle.end
    return ends


def due_date(cycle: sa.ColumnElement[Any], ends: dict[str, date]) -> sa.ColumnElement[Any]:
    """The due date of a case's cycle as an ISO string, in SQL (NULL for an unknown cycle).

    ISO dates of one fixed width order the same as the dates, so they are compared as strings:
    JSON evidence holds dates as ISO strings on both databases, and SQLite has no DATE type.
    """
    if not ends:
        return sa.literal(None, sa.String)
    whens = [(cycle == key, sa.literal(end.isoformat())) for key, end in sorted(ends.items())]
    return sa.case(*whens, else_=sa.null())


def state_labels(catalog: Catalog, name: str) -> dict[str, str]:
    """State → label over every version of a definition; empty if it is not installed."""
    try:
        versions = catalog.versions(name)
    except NotFoundError:
        return {}
    return {state.name: state.label for d in versions for state in d.states}


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The plan year as Shanghai instants [1 January, next 1 January)."""
    start = datetime.combine(date(year, 1, 1), time(0), tzinfo=SHANGHAI)
    return start, datetime.combine(date(year + 1, 1, 1), time(0), tzinfo=SHANGHAI)


def of_definition(name: str, table: sa.FromClause = cases) -> sa.ColumnElement[bool]:
    """Cases (of ``table``, the cases table or an alias of it) of the definition ``name``,
    whatever its version."""
    ids = sa.select(definitions.c.id).where(definitions.c.name == name)
    return table.c.definition_id.in_(ids)


def assignments() -> sa.Subquery:
    """Each honorary-convalescence case with the batch it was approved into, and that batch's
    plan and contractor.

    The seat (``batch_seats``) says where a case sits now; the approval's evidence keeps
    ``batch_id`` after a withdrawal or a health problem released the seat (A6.2, A8.3). Planned
    means approved into the batch, so the seat is read first and the evidence covers the rest.
    """
    approved_into = sa.func.coalesce(
        batch_seats.c.batch_id, cases.c.evidence["batch_id"].as_integer()
    )
    return (
        sa.select(
            cases.c.id.label("case_id"),
            cases.c.cadre_id,
            cases.c.cycle,
            cases.c.county,
            cases.c.state,
            sa.case(
                (cases.c.state == EVALUATED, cases.c.evidence["satisfaction"].as_integer()),
                else_=sa.null(),
            ).label("satisfaction"),
            batches.c.id.label("batch_id"),
            batches.c.contractor_id,
            plans.c.year,
            plans.c.organiser_level,
            plans.c.county.label("plan_county"),
        )
        .select_from(cases)
        .outerjoin(batch_seats, batch_seats.c.case_id == cases.c.id)
        .join(batches, batches.c.id == approved_into)
        .join(plans, plans.c.id == batches.c.plan_id)
        .where(of_definition(HONOR))
        .subquery("assigned")
    )


def organiser_label(level: str | None, county: str | None) -> str:
    """How an officer names the organiser of a plan (art. 5: city dept or a county dept)."""
    if level == "city":
        return "市级 city"
    if level == "county":
        return f"县级 county · {county or '?'}"
    return "未关联 unlinked"


def organiser_key(level: str | None, county: str | None) -> str:
    if level == "county":
        return f"county:{county or ''}"
    return level or "unlinked"
