"""The reports' SQL (A18.2 performance, batch roster, A9.3 visit list): set-based reads that
return plain rows; `workflow.reports` merges them into report data classes and renders them.

Every figure of the performance report is a GROUP BY in the database, one statement per measure
and breakdown, never a Python loop over the cases, so a year of 100,000 cases costs a handful of
scans. Each report reads in one transaction, so its figures come from one consistent view.

"A case belongs to the batch it was approved into" is written once (`assignments`): the
performance report and the visit attribution count the same cases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    """The A18.2 figures of plan year ``year`` as of ``today``, in one transaction."""
    with db.connect() as connection, connection.begin():
        reader = _Reader(connection, year, today.isoformat(), dict(cycle_ends))
        total = reader.tallies(TOTAL).get((), Tally())
        organisers = reader.tallies(ORGANISER)
        counties = reader.tallies(COUNTY)
        contractor_rows = reader.tallies(CONTRACTOR)
        plan_count = connection.execute(
            sa.select(sa.func.count()).select_from(plans).where(plans.c.year == year)
        ).scalar_one()
        names = _contractor_names(connection, [k[0] for k in contractor_rows])
        costs = _plan_costs(connection, year)
    return PerformanceRows(
        plans=int(plan_count),
        total=total,
        by_organiser=organisers,
        by_county=counties,
        by_contractor=contractor_rows,
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


@dataclass(frozen=True)
class _Breakdown:
    """How one breakdown groups: its key columns on each source, and how a key is named.

    ``batch_keys`` is None for a breakdown that owns no batches (county)."""

    case_keys: Callable[[sa.Subquery], Sequence[sa.ColumnElement[Any]]]
    visit_keys: Callable[[sa.Subquery], Sequence[sa.ColumnElement[Any]]]
    batch_keys: Sequence[sa.ColumnElement[Any]] | None


ORGANISER = _Breakdown(
    case_keys=lambda a: (a.c.organiser_level, a.c.plan_county),
    visit_keys=lambda v: (v.c.organiser_level, v.c.plan_county),
    batch_keys=(plans.c.organiser_level, plans.c.county),
)
COUNTY = _Breakdown(
    case_keys=lambda a: (a.c.county,),
    visit_keys=lambda v: (v.c.county,),
    batch_keys=None,
)
CONTRACTOR = _Breakdown(
    case_keys=lambda a: (a.c.contractor_id,),
    visit_keys=lambda v: (v.c.contractor_id,),
    batch_keys=(batches.c.contractor_id,),
)
TOTAL = _Breakdown(case_keys=lambda a: (), visit_keys=lambda v: (), batch_keys=())


def _contractor_names(connection: sa.Connection, ids: Iterable[Any]) -> dict[Any, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    query = sa.select(contractors.c.id, contractors.c.name).where(contractors.c.id.in_(wanted))
    return {row.id: row.name for row in connection.execute(query)}


class _Reader:
    """The grouped statements of one report, on one connection and one year."""

    def __init__(
        self, connection: sa.Connection, year: int, today: str, ends: dict[str, Any]
    ) -> None:
        self.connection = connection
        self.year = year
        self.today = today
        self.ends = ends
        assigned = assignments()
        self.planned = sa.select(assigned).where(assigned.c.year == year).subquery("planned")
        self.visits = self._visit_source()

    def tallies(self, breakdown: _Breakdown) -> dict[Key, Tally]:
        """Every measure of one breakdown, merged by group key."""
        result: dict[Key, Tally] = defaultdict(Tally)
        self._cases(breakdown, result)
        self._case_exceptions(breakdown, result)
        if breakdown.batch_keys is not None:
            self._batches(breakdown.batch_keys, result)
        self._visits(breakdown, result)
        if breakdown is CONTRACTOR:
            self._scores(result)
            self._standing(result)
        return dict(result)

    def _grouped(
        self, keys: Sequence[sa.ColumnElement[Any]], *measures: sa.ColumnElement[Any]
    ) -> sa.Select[Any]:
        return sa.select(*keys, *measures).group_by(*keys)

    def _cases(self, breakdown: _Breakdown, result: dict[Key, Tally]) -> None:
        p = self.planned
        keys = breakdown.case_keys(p)
        query = self._grouped(
            keys,
            sa.func.count().label("planned"),
            sa.func.sum(sa.case((p.c.state.in_(ATTENDED_STATES), 1), else_=0)).label("attended"),
            sa.func.count(p.c.satisfaction).label("evaluated"),
            sa.func.coalesce(sa.func.sum(p.c.satisfaction), 0).label("satisfaction"),
        ).select_from(p)
        for row in self.connection.execute(query):
            key, (planned, attended, evaluated, satisfaction) = _split(row, len(keys))
            if not planned:  # the total over no rows is one row of zeros
                continue
            tally = result[key]
            tally.planned = int(planned)
            tally.attended = int(attended or 0)
            tally.evaluated = int(evaluated)
            tally.satisfaction_total = int(satisfaction)

    def _case_exceptions(self, breakdown: _Breakdown, result: dict[Key, Tally]) -> None:
        p = self.planned
        keys = breakdown.case_keys(p)
        query = self._grouped(
            (*keys, case_exceptions.c.article), sa.func.count().label("granted")
        ).select_from(p.join(case_exceptions, case_exceptions.c.case_id == p.c.case_id))
        self._add_exceptions(query, len(keys), result)

    def _batches(self, keys: Sequence[sa.ColumnElement[Any]], result: dict[Key, Tally]) -> None:
        of_year = batches.join(plans, plans.c.id == batches.c.plan_id)
        query = (
            self._grouped(
                keys,
                sa.func.count().label("batches"),
                sa.func.sum(batches.c.capacity).label("capacity"),
                sa.func.sum(batches.c.budget).label("budget"),
                sa.func.sum(batches.c.actual_cost).label("actual_cost"),
                sa.func.count(batches.c.actual_cost).label("costed"),
            )
            .select_from(of_year)
            .where(plans.c.year == self.year)
        )
        for row in self.connection.execute(query):
            key, (count, capacity, budget, actual, costed) = _split(row, len(keys))
            tally = result[key]
            tally.batches = int(count)
            tally.capacity = int(capacity or 0)
            tally.budget = None if budget is None else Decimal(budget)
            tally.actual_cost = None if actual is None else Decimal(actual)
            tally.costed_batches = int(costed)
        exceptions = (
            self._grouped((*keys, batch_exceptions.c.article), sa.func.count().label("granted"))
            .select_from(
                of_year.join(batch_exceptions, batch_exceptions.c.batch_id == batches.c.id)
            )
            .where(plans.c.year == self.year)
        )
        self._add_exceptions(exceptions, len(keys), result)

    def _add_exceptions(self, query: sa.Select[Any], width: int, result: dict[Key, Tally]) -> None:
        for row in self.connection.execute(query):
            key, (article, granted) = _split(row, width)
            exceptions = result[key].exceptions
            exceptions[article] = exceptions.get(article, 0) + int(granted)

    def _visit_source(self) -> sa.Subquery:
        """Condolence visits opened in the year, each with its due date and the organiser and
        contractor of the honorary case it follows up (``source_case_id`` in the visit's
        opening evidence, written by the condolence sweep)."""
        visit = cases.alias("visit")
        honor = cases.alias("honor")
        honor_batch = batches.alias("honor_batch")
        level = honor.c.evidence["plan_level"].as_string()
        start, end = year_bounds(self.year)
        return (
            sa.select(
                visit.c.county,
                visit.c.state,
                visit.c.evidence["visited_on"].as_string().label("visited_on"),
                due_date(visit.c.cycle, self.ends).label("due_on"),
                level.label("organiser_level"),
                sa.case((level == "county", honor.c.county), else_=sa.null()).label("plan_county"),
                honor_batch.c.contractor_id,
            )
            .select_from(visit)
            .outerjoin(honor, honor.c.id == visit.c.evidence["source_case_id"].as_integer())
            .outerjoin(honor_batch, honor_batch.c.id == honor.c.evidence["batch_id"].as_integer())
            .where(
                of_definition(VISIT, visit),
                visit.c.opened_at >= start,
                visit.c.opened_at < end,
            )
            .subquery("visits")
        )

    def _visits(self, breakdown: _Breakdown, result: dict[Key, Tally]) -> None:
        v = self.visits
        keys = breakdown.visit_keys(v)
        needed = v.c.state != VISIT_NOT_NEEDED
        visited = v.c.visited_on.is_not(None)
        query = self._grouped(
            keys,
            sa.func.sum(sa.case((needed, 1), else_=0)).label("due"),
            sa.func.count(v.c.visited_on).label("done"),
            sa.func.sum(
                sa.case((sa.and_(visited, v.c.visited_on <= v.c.due_on), 1), else_=0)
            ).label("on_time"),
            sa.func.sum(
                sa.case(
                    (sa.and_(needed, ~visited, v.c.due_on < sa.literal(self.today)), 1), else_=0
                )
            ).label("overdue"),
        ).select_from(v)
        for row in self.connection.execute(query):
            key, (due, done, on_time, overdue) = _split(row, len(keys))
            if not due and not done:
                continue
            if keys and all(k is None for k in key):
                continue  # a visit with no missed case to attribute it to: total and county only
            tally = result[key]
            tally.visits_due = int(due or 0)
            tally.visits_done = int(done)
            tally.visits_on_time = int(on_time or 0)
            tally.visits_overdue = int(overdue or 0)

    def _scores(self, result: dict[Key, Tally]) -> None:
        """The mean A18.3 evaluation of each contractor over the year's batches."""
        query = (
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
            .where(plans.c.year == self.year)
            .group_by(contractor_evaluations.c.contractor_id)
        )
        for contractor_id, total, count in self.connection.execute(query):
            result[(contractor_id,)].contractor_score = int(total) / int(count)

    def _standing(self, result: dict[Key, Tally]) -> None:
        """A18.3 standing of the year's contractors: every evaluation they ever had, and
        their own exit threshold if one was set."""
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
        for contractor_id, override, average in self.connection.execute(query):
            tally = result[(contractor_id,)]
            tally.standing_score = None if average is None else float(average)
            tally.exit_threshold_override = None if override is None else float(override)


def _split(row: sa.Row[Any], width: int) -> tuple[Key, tuple[Any, ...]]:
    values = tuple(row)
    return values[:width], values[width:]


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
