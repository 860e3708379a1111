"""The reports' SQL (A18.2 performance, batch roster, A9.3 visit list): set-based reads that
return plain rows; `workflow.reports` merges them into report data classes and renders them.

Every figure of the performance report is a GROUP BY in the database, never a Python loop over
the cases. The database groups each measure by the finest key (organiser, county and
contractor together, a few hundred groups) and the breakdowns are sums of those groups, so the
year's cases are read once, and only the year's: ``planned_cases`` finds them as index ranges
over the year's batches (the seats, then ``cases.approved_batch_id``, revision 0020) and the
year's visits as one range of ``(definition_id, opened_at)``. The report costs what its year
holds, not what the table holds (benchmarks/report_scale.py, docs/performance.md). Each report
reads in one transaction, so its figures come from one consistent view.

"A case belongs to the batch it was approved into" is written once (`planned_cases`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from workflow.clock import SHANGHAI
from workflow.store.schema import (
    batch_exceptions,
    batch_seats,
    batches,
    cadres,
    case_exceptions,
    cases,
    contractor_agreements,
    contractor_evaluations,
    contractors,
    definitions,
    plans,
)

HONOR = "honor_convalescence"
# A9.3 visit tasks, opened by the scheduler for cadres who missed a cycle
VISIT = "condolence_visit"
ATTENDED_STATES = ("attended", "evaluated")  # A7.1: the cadre went
EVALUATED = "evaluated"  # A18.1: the satisfaction score is recorded
VISIT_NOT_NEEDED = "not_needed"

Key = tuple[Any, ...]


# -- shared pieces ------------------------------------------------------------------------


def due_date(cycle: sa.ColumnElement[Any], ends: dict[str, date]) -> sa.ColumnElement[Any]:
    """The due date of a case's cycle as an ISO string, in SQL (NULL for an unknown cycle).

    ISO dates of one fixed width order the same as the dates, so they are compared as strings:
    JSON evidence holds dates as ISO strings on both databases, and SQLite has no DATE type.
    """
    if not ends:
        return sa.literal(None, sa.String)
    whens = [(cycle == key, sa.literal(end.isoformat())) for key, end in sorted(ends.items())]
    return sa.case(*whens, else_=sa.null())


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The plan year as Shanghai instants [1 January, next 1 January)."""
    start = datetime.combine(date(year, 1, 1), time(0), tzinfo=SHANGHAI)
    return start, datetime.combine(date(year + 1, 1, 1), time(0), tzinfo=SHANGHAI)


def of_definition(name: str, table: sa.FromClause = cases) -> sa.ColumnElement[bool]:
    """Cases (of ``table``, the cases table or an alias of it) of the definition ``name``,
    whatever its version."""
    ids = sa.select(definitions.c.id).where(definitions.c.name == name)
    return table.c.definition_id.in_(ids)


def year_batch_ids(year: int) -> sa.Select[Any]:
    """The ids of the batches of the plans of ``year``: a few thousand at most. Used as
    ``IN (...)``, they are where SQLite's planner starts (one index range per batch) even
    without statistics, where a join with the plans may start from the other table."""
    return (
        sa.select(batches.c.id)
        .join(plans, plans.c.id == batches.c.plan_id)
        .where(plans.c.year == year)
    )


def planned_cases(year: int) -> sa.CTE:
    """Each honorary-convalescence case planned into a batch of ``year`` (A18.2), with that
    batch's organiser and contractor and, once evaluated, its satisfaction score (A18.1).

    The seat (``batch_seats``) says where a case sits now; the approval's ``batch_id``, which
    the evidence keeps after a withdrawal or a health problem released the seat (A6.2, A8.3),
    covers the rest: a case belongs to its seat's batch if it holds one, else to the batch it
    was approved into. Both are index ranges over the year's batches, never a scan of the
    cases: the seats by their batch, and the cases without a seat by ``approved_batch_id``, the
    approval's ``batch_id`` as an indexed column (revision 0020). A case holds at most one
    seat, so no case is in both branches; each case row is read once.
    """
    of_year = year_batch_ids(year)
    seat = batch_seats.join(cases, cases.c.id == batch_seats.c.case_id)
    seated = (
        sa.select(*_PLANNED)
        .select_from(_with_batch(seat, batch_seats.c.batch_id))
        .where(batch_seats.c.batch_id.in_(of_year), _honor_case())
    )
    has_seat = sa.exists().where(batch_seats.c.case_id == cases.c.id)
    released = (
        sa.select(*_PLANNED)
        .select_from(_with_batch(cases, cases.c.approved_batch_id))
        .where(cases.c.approved_batch_id.in_(of_year), ~has_seat, _honor_case())
    )
    return sa.union_all(seated, released).cte("planned")


_PLANNED = (
    cases.c.id.label("case_id"),
    cases.c.county,
    cases.c.state,
    sa.case(
        (cases.c.state == EVALUATED, cases.c.evidence["satisfaction"].as_integer()),
        else_=sa.null(),
    ).label("satisfaction"),
    batches.c.contractor_id,
    plans.c.organiser_level,
    plans.c.county.label("plan_county"),
)


def _with_batch(source: sa.FromClause, batch_id: sa.ColumnElement[Any]) -> sa.Join:
    """``source`` joined to the batch ``batch_id`` names and that batch's plan."""
    return source.join(batches, batches.c.id == batch_id).join(
        plans, plans.c.id == batches.c.plan_id
    )


def _honor_case() -> sa.Exists:
    """The case is an honorary-convalescence case (any version of the definition), as a
    condition on the case at hand: unlike ``definition_id IN (...)``, SQLite's planner cannot
    take it for a way into the cases (every case of the definition) instead of the year's
    batches."""
    return sa.exists().where(definitions.c.id == cases.c.definition_id, definitions.c.name == HONOR)


# -- the performance report (A18.2) ---------------------------------------------------


@dataclass
class Tally:
    """The counts of one group (an organiser, a county, a contractor, or the total).

    ``batches``/``capacity`` stay None for a breakdown that owns no batches (county);
    ``contractor_score`` is the mean A18.3 evaluation, for contractors only."""

    planned: int = 0
    attended: int = 0
    evaluated: int = 0
    satisfaction_total: int = 0
    exceptions: dict[str, int] = field(default_factory=dict)
    visits_due: int = 0
    visits_done: int = 0
    visits_on_time: int = 0
    visits_overdue: int = 0
    batches: int | None = None
    capacity: int | None = None
    contractor_score: float | None = None
    # A16.1: the batches' budgets and actual costs (those recorded), where batches are owned
    budget: Decimal | None = None
    actual_cost: Decimal | None = None
    costed_batches: int | None = None
    # A18.3 standing: the mean of every evaluation of the contractor (not only this year's),
    # as `workflow.plans` reads it when assigning a batch, and the contractor's own threshold
    standing_score: float | None = None
    exit_threshold_override: float | None = None


@dataclass(frozen=True)
class PlanCost:
    """One plan of the year with its budget (A3.1) and its batches' budgets and actual costs
    (A16.1): ``costed_batches`` of ``batches`` have an actual cost recorded."""

    plan_id: int
    organiser_level: str
    county: str | None
    budget: Decimal
    batches: int
    batch_budget: Decimal
    actual_cost: Decimal
    costed_batches: int


@dataclass(frozen=True)
class PerformanceRows:
    """Every grouped figure of one plan year, keyed by the breakdown's key columns:
    ``(organiser_level, plan_county)``, ``(county,)``, ``(contractor_id,)``."""

    plans: int
    total: Tally
    by_organiser: dict[Key, Tally]
    by_county: dict[Key, Tally]
    by_contractor: dict[Key, Tally]
    contractor_names: dict[Any, str]
    plan_costs: tuple[PlanCost, ...] = ()


def performance_rows(
    db: sa.Engine, *, year: int, today: date, cycle_ends: Mapping[str, date]
) -> PerformanceRows:
    """The A18.2 figures of plan year ``year`` as of ``today``, in one transaction.

    The database groups every measure by the finest key there is (organiser, county and
    contractor together, a few hundred groups); the breakdowns are sums of those groups
    (`_Breakdowns`). So the year's cases are read once, in one statement (`_case_groups`), and
    its visits once (`_visit_groups`), instead of once per measure and breakdown; every other
    statement reads the year's plans and batches, a few thousand rows at most.
    """
    with db.connect() as connection, connection.begin():
        tallies = _Breakdowns()
        for row in connection.execute(_case_groups(year)):
            tallies.add_cases(row)
        for row in connection.execute(_batch_groups(year)):
            tallies.add_batches(row)
        for row in connection.execute(_batch_exception_groups(year)):
            tallies.add_exceptions(row)
        tallies.add_visits(
            connection.execute(_visit_groups(year, today.isoformat(), dict(cycle_ends)))
        )
        contractors_of_year = tallies.by[CONTRACTOR]
        for contractor_id, total, count in connection.execute(_scores(year)):
            contractors_of_year[(contractor_id,)].contractor_score = int(total) / int(count)
        _standing(connection, contractors_of_year)
        plan_count = connection.execute(
            sa.select(sa.func.count()).select_from(plans).where(plans.c.year == year)
        ).scalar_one()
        names = _contractor_names(connection, [k[0] for k in contractors_of_year])
        costs = _plan_costs(connection, year)
    return PerformanceRows(
        plans=int(plan_count),
        total=tallies.by[TOTAL].get((), Tally()),
        by_organiser=dict(tallies.by[ORGANISER]),
        by_county=dict(tallies.by[COUNTY]),
        by_contractor=dict(contractors_of_year),
        contractor_names=names,
        plan_costs=costs,
    )


def _plan_costs(connection: sa.Connection, year: int) -> tuple[PlanCost, ...]:
    """Budget vs actual per plan of ``year`` (A16.1), one grouped statement."""
    query = (
        sa.select(
            plans.c.id,
            plans.c.organiser_level,
            plans.c.county,
            plans.c.budget,
            sa.func.count(batches.c.id),
            sa.func.coalesce(sa.func.sum(batches.c.budget), 0),
            sa.func.coalesce(sa.func.sum(batches.c.actual_cost), 0),
            sa.func.count(batches.c.actual_cost),
        )
        .select_from(plans.outerjoin(batches, batches.c.plan_id == plans.c.id))
        .where(plans.c.year == year)
        .group_by(plans.c.id, plans.c.organiser_level, plans.c.county, plans.c.budget)
        .order_by(plans.c.id)
    )
    return tuple(
        PlanCost(
            plan_id=int(key),
            organiser_level=str(level),
            county=county,
            budget=Decimal(budget),
            batches=int(count),
            batch_budget=Decimal(batch_budget),
            actual_cost=Decimal(actual),
            costed_batches=int(costed),
        )
        for key, level, county, budget, count, batch_budget, actual, costed in connection.execute(
            query
        )
    )


# the breakdowns, and how each names a group from the finest key
ORGANISER, COUNTY, CONTRACTOR, TOTAL = "organiser", "county", "contractor", "total"
_KEYS: dict[str, Callable[[sa.Row[Any]], Key]] = {
    ORGANISER: lambda row: (row.organiser_level, row.plan_county),
    COUNTY: lambda row: (row.county,),
    CONTRACTOR: lambda row: (row.contractor_id,),
    TOTAL: lambda row: (),
}
_OWN_BATCHES = (ORGANISER, CONTRACTOR, TOTAL)  # a batch has no county


class _Breakdowns:
    """The finest groups added up into the four breakdowns, measure by measure."""

    def __init__(self) -> None:
        self.by: dict[str, dict[Key, Tally]] = {name: defaultdict(Tally) for name in _KEYS}
        # the total has batches, capacity and costed batches even in a year without batches
        self.by[TOTAL][()] = Tally(batches=0, capacity=0, costed_batches=0)

    def add_cases(self, row: sa.Row[Any]) -> None:
        """A group of planned cases, or (``article`` set) the exceptions granted to them."""
        for name, key in _KEYS.items():
            tally = self.by[name][key(row)]
            if row.article is not None:
                tally.exceptions[row.article] = tally.exceptions.get(row.article, 0) + int(row.n)
                continue
            tally.planned += int(row.n)
            tally.attended += int(row.attended or 0)
            tally.evaluated += int(row.evaluated)
            tally.satisfaction_total += int(row.satisfaction)

    def add_batches(self, row: sa.Row[Any]) -> None:
        for name in _OWN_BATCHES:
            tally = self.by[name][_KEYS[name](row)]
            tally.batches = (tally.batches or 0) + int(row.n)
            tally.capacity = (tally.capacity or 0) + int(row.capacity or 0)
            tally.budget = _plus(tally.budget, row.budget)
            tally.actual_cost = _plus(tally.actual_cost, row.actual_cost)
            tally.costed_batches = (tally.costed_batches or 0) + int(row.costed)

    def add_exceptions(self, row: sa.Row[Any]) -> None:
        """A6.2 exceptions of a group of batches (organiser, contractor and total only)."""
        for name in _OWN_BATCHES:
            exceptions = self.by[name][_KEYS[name](row)].exceptions
            exceptions[row.article] = exceptions.get(row.article, 0) + int(row.n)

    def add_visits(self, rows: Iterable[sa.Row[Any]]) -> None:
        """Visit groups summed per breakdown first: a group of a breakdown counts only if a
        visit of it is due or done, and a visit without a missed case to attribute it to (no
        organiser, no contractor) counts in the total and its county only."""
        groups = list(rows)
        for name, key_of in _KEYS.items():
            sums: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
            for row in groups:
                found = sums[key_of(row)]
                for i, value in enumerate((row.due, row.done, row.on_time, row.overdue)):
                    found[i] += int(value or 0)
            for key, (due, done, on_time, overdue) in sums.items():
                if (not due and not done) or (key and all(k is None for k in key)):
                    continue
                tally = self.by[name][key]
                tally.visits_due, tally.visits_done = due, done
                tally.visits_on_time, tally.visits_overdue = on_time, overdue


def _plus(total: Decimal | None, value: Any) -> Decimal | None:
    """A sum that stays None while every value added is None, as SQL's SUM does."""
    if value is None:
        return total
    return Decimal(value) if total is None else total + Decimal(value)


def _case_groups(year: int) -> sa.CompoundSelect[Any]:
    """The year's planned cases by organiser, county and contractor, and the case exceptions
    (``case_exceptions``) granted to them by the same key and article, in one statement over
    one case set: ``planned`` is named twice, so both databases compute it once (SQLite and
    PostgreSQL materialise a common table expression used more than once)."""
    p = planned_cases(year)
    keys = (p.c.organiser_level, p.c.plan_county, p.c.county, p.c.contractor_id)
    measures = sa.select(
        sa.null().label("article"),
        *keys,
        sa.func.count().label("n"),
        sa.func.sum(sa.case((p.c.state.in_(ATTENDED_STATES), 1), else_=0)).label("attended"),
        sa.func.count(p.c.satisfaction).label("evaluated"),
        sa.func.coalesce(sa.func.sum(p.c.satisfaction), 0).label("satisfaction"),
    ).group_by(*keys)
    exceptions = (
        sa.select(
            case_exceptions.c.article,
            *keys,
            sa.func.count().label("n"),
            sa.literal(0),
            sa.literal(0),
            sa.literal(0),
        )
        .select_from(p.join(case_exceptions, case_exceptions.c.case_id == p.c.case_id))
        .group_by(case_exceptions.c.article, *keys)
    )
    return sa.union_all(measures, exceptions)


def _of_year(year: int) -> sa.ColumnElement[bool]:
    """The batch is one of the plans of ``year``: a range of the batches' plan index (joined
    with the plans instead, SQLite reads every batch of every year)."""
    return batches.c.plan_id.in_(sa.select(plans.c.id).where(plans.c.year == year))


def _batch_groups(year: int) -> sa.Select[Any]:
    """The year's batches, their seats, budgets and actual costs by organiser and
    contractor (A6.2, A16.1)."""
    keys = (plans.c.organiser_level, plans.c.county.label("plan_county"), batches.c.contractor_id)
    return (
        sa.select(
            *keys,
            sa.func.count().label("n"),
            sa.func.sum(batches.c.capacity).label("capacity"),
            sa.func.sum(batches.c.budget).label("budget"),
            sa.func.sum(batches.c.actual_cost).label("actual_cost"),
            sa.func.count(batches.c.actual_cost).label("costed"),
        )
        .select_from(batches.join(plans, plans.c.id == batches.c.plan_id))
        .where(_of_year(year))
        .group_by(*keys)
    )


def _batch_exception_groups(year: int) -> sa.Select[Any]:
    """The A6.2 exceptions of the year's batches by organiser, contractor and article."""
    keys = (plans.c.organiser_level, plans.c.county.label("plan_county"), batches.c.contractor_id)
    return (
        sa.select(*keys, batch_exceptions.c.article, sa.func.count().label("n"))
        .select_from(
            batches.join(plans, plans.c.id == batches.c.plan_id).join(
                batch_exceptions, batch_exceptions.c.batch_id == batches.c.id
            )
        )
        .where(_of_year(year))
        .group_by(*keys, batch_exceptions.c.article)
    )


def _visit_groups(year: int, today: str, ends: dict[str, date]) -> sa.Select[Any]:
    """Condolence visits opened in the year (a range of ``(definition_id, opened_at)``), by
    the organiser and contractor of the honorary case each follows up (``source_case_id`` in
    the visit's opening evidence, written by the condolence sweep) and the visit's county: due,
    done, done by the end of the cycle (A9.1) and overdue as of ``today``."""
    visit = cases.alias("visit")
    honor = cases.alias("honor")
    honor_batch = batches.alias("honor_batch")
    level = honor.c.evidence["plan_level"].as_string()
    start, end = year_bounds(year)
    visited_on = visit.c.evidence["visited_on"].as_string()
    due_on = due_date(visit.c.cycle, ends)
    needed = visit.c.state != VISIT_NOT_NEEDED
    visited = visited_on.is_not(None)
    keys = (
        level.label("organiser_level"),
        sa.case((level == "county", honor.c.county), else_=sa.null()).label("plan_county"),
        visit.c.county,
        honor_batch.c.contractor_id,
    )
    return (
        sa.select(
            *keys,
            sa.func.sum(sa.case((needed, 1), else_=0)).label("due"),
            sa.func.count(visited_on).label("done"),
            sa.func.sum(sa.case((sa.and_(visited, visited_on <= due_on), 1), else_=0)).label(
                "on_time"
            ),
            sa.func.sum(
                sa.case((sa.and_(needed, ~visited, due_on < sa.literal(today)), 1), else_=0)
            ).label("overdue"),
        )
        .select_from(visit)
        .outerjoin(honor, honor.c.id == visit.c.evidence["source_case_id"].as_integer())
        .outerjoin(honor_batch, honor_batch.c.id == honor.c.approved_batch_id)
        .where(
            of_definition(VISIT, visit),
            # true of every case, and the condition of the partial index on (definition_id,
            # opened_at): SQLite uses that index only when the query states it (revision 0020)
            visit.c.opened_at.is_not(None),
            visit.c.opened_at >= start,
            visit.c.opened_at < end,
        )
        .group_by(*keys)
    )


def _scores(year: int) -> sa.Select[Any]:
    """The A18.3 evaluations of each contractor over the year's batches (sum and count)."""
    return (
        sa.select(
            contractor_evaluations.c.contractor_id,
            sa.func.sum(contractor_evaluations.c.score),
            sa.func.count(),
        )
        .select_from(
            contractor_evaluations.join(
                batches, batches.c.id == contractor_evaluations.c.batch_id
            ).join(plans, plans.c.id == batches.c.plan_id)
        )
        .where(_of_year(year))
        .group_by(contractor_evaluations.c.contractor_id)
    )


def _standing(connection: sa.Connection, result: dict[Key, Tally]) -> None:
    """A18.3 standing of the year's contractors: every evaluation they ever had, and their own
    exit threshold if one was set."""
    ids = [k[0] for k in result if k and k[0] is not None]
    if not ids:
        return
    query = (
        sa.select(
            contractors.c.id,
            contractors.c.exit_threshold_override,
            sa.func.avg(contractor_evaluations.c.score),
        )
        .select_from(
            contractors.outerjoin(
                contractor_evaluations,
                contractor_evaluations.c.contractor_id == contractors.c.id,
            )
        )
        .where(contractors.c.id.in_(ids))
        .group_by(contractors.c.id, contractors.c.exit_threshold_override)
    )
    for contractor_id, override, average in connection.execute(query):
        tally = result[(contractor_id,)]
        tally.standing_score = None if average is None else float(average)
        tally.exit_threshold_override = None if override is None else float(override)


def _contractor_names(connection: sa.Connection, ids: Iterable[Any]) -> dict[Any, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    query = sa.select(contractors.c.id, contractors.c.name).where(contractors.c.id.in_(wanted))
    return {row.id: row.name for row in connection.execute(query)}


# -- the batch roster -----------------------------------------------------------------------


@dataclass(frozen=True)
class RosterRows:
    """A batch with its plan and contractor (``batch``: the batches columns plus ``plan_year``,
    ``organiser_level``, ``plan_county``, ``contractor_name``, ``contractor_kind``), the
    contractor's latest agreement number for the plan, and the cases holding its seats."""

    batch: Mapping[str, Any]
    agreement_no: str | None
    seated: list[Mapping[str, Any]]


def roster_rows(db: sa.Engine, batch_id: int) -> RosterRows | None:
    """None when there is no such batch; one transaction."""
    with db.connect() as connection, connection.begin():
        batch = (
            connection.execute(
                sa.select(
                    batches,
                    plans.c.year.label("plan_year"),
                    plans.c.organiser_level,
                    plans.c.county.label("plan_county"),
                    contractors.c.name.label("contractor_name"),
                    contractors.c.kind.label("contractor_kind"),
                )
                .join(plans, plans.c.id == batches.c.plan_id)
                .join(contractors, contractors.c.id == batches.c.contractor_id)
                .where(batches.c.id == batch_id)
            )
            .mappings()
            .one_or_none()
        )
        if batch is None:
            return None
        agreement = connection.execute(
            sa.select(contractor_agreements.c.agreement_no)
            .where(
                contractor_agreements.c.contractor_id == batch["contractor_id"],
                contractor_agreements.c.plan_id == batch["plan_id"],
            )
            .order_by(contractor_agreements.c.signed_on.desc(), contractor_agreements.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        seated = connection.execute(
            sa.select(
                cases.c.id,
                cases.c.cadre_id,
                cases.c.county,
                cases.c.agency,
                cases.c.state,
                cases.c.evidence,
                cadres.c.name,
                cadres.c.record,
            )
            .join(batch_seats, batch_seats.c.case_id == cases.c.id)
            .join(cadres, cadres.c.id == cases.c.cadre_id)
            .where(batch_seats.c.batch_id == batch_id)
            .order_by(cases.c.county, cases.c.agency, cadres.c.name, cases.c.id)
        ).all()
    return RosterRows(
        batch=dict(batch), agreement_no=agreement, seated=[dict(r._mapping) for r in seated]
    )


# -- the condolence-visit list (A9.3) ---------------------------------------------------------


def visit_rows(
    db: sa.Engine,
    *,
    cycle_ends: Mapping[str, date],
    cycle: str | None,
    overdue_on: date | None,
) -> list[Mapping[str, Any]]:
    """Visit tasks by cycle, county, agency and id: ``id``, ``cadre_id``, ``county``,
    ``agency``, ``state``, ``cycle``, ``visited_by``, ``visited_on`` (ISO text) and the cadre's
    ``name``. ``overdue_on`` keeps only the visits still needed and not visited after the end
    of their cycle as of that day, filtered in SQL so a list of the few late visits does not
    read every visit first."""
    due_on = due_date(cases.c.cycle, dict(cycle_ends))
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
        .where(of_definition(VISIT))
        .order_by(cases.c.cycle, cases.c.county, cases.c.agency, cases.c.id)
    )
    if cycle is not None:
        query = query.where(cases.c.cycle == cycle)
    if overdue_on is not None:
        query = query.where(
            visited_on.is_(None),
            cases.c.state != VISIT_NOT_NEEDED,
            due_on < sa.literal(overdue_on.isoformat()),
        )
    with db.connect() as connection, connection.begin():
        return [dict(row._mapping) for row in connection.execute(query)]
