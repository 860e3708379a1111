"""The annual performance report (A18.2): planned vs attended, completion rate, satisfaction,
exceptions granted and condolence visits done on time, per organiser, county and contractor.

Every figure is a GROUP BY in the database: one statement per measure and breakdown, never a
Python loop over the cases, so a year of 100,000 cases costs a handful of scans. Python only
merges the grouped rows into `Figures`.

What counts for year Y:

* **planned** — honorary-convalescence cases approved into a batch of a plan of year Y
  (`_sources.assignments`); **attended** — those that reached *attended* or *evaluated*.
* **satisfaction** — the evaluate step's score (A18.1), over the evaluated cases.
* **exceptions** — the case exceptions (``case_exceptions``) of the planned cases, and the A6.2
  exceptions of the year's batches (organiser, contractor and total only: a batch has no
  county).
* **visits** — condolence-visit tasks (A9.3) opened in year Y (Shanghai time). Each is due by
  the end of its cycle (A9.1); on time means ``visited_on`` on or before that day. A visit is
  attributed to the organiser the cadre registered for (the missed case's ``plan_level`` and
  county) and to the contractor of the batch that case was approved into, if it got that far;
  a visit without a batch counts in the total, its county and its organiser only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from workflow.clock import shanghai_date
from workflow.engine import Engine
from workflow.errors import InputError
from workflow.reports import _sources as src
from workflow.reports._model import Figures, PerformanceReport, VisitFigures
from workflow.store.schema import (
    batch_exceptions,
    batches,
    case_exceptions,
    cases,
    contractor_evaluations,
    contractors,
    plans,
)

FIRST_YEAR, LAST_YEAR = 2000, 2100  # plan years the report accepts; anything else is a typo
Key = tuple[Any, ...]


@dataclass
class _Tally:
    """Counts of one group while the grouped rows are merged."""

    planned: int = 0
    attended: int = 0
    evaluated: int = 0
    satisfaction_total: int = 0
    exceptions: dict[str, int] = field(default_factory=dict)
    visits: VisitFigures = field(default_factory=VisitFigures)
    batches: int | None = None
    capacity: int | None = None
    contractor_score: float | None = None


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


def check_year(year: int) -> None:
    """Refuse a year no plan can have (a typo such as 224), naming the option, instead of
    printing an empty report that looks like a real "nothing happened"."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InputError(
            f"--year {year} is not a plan year ({FIRST_YEAR}–{LAST_YEAR})", field="year"
        )


def performance_report(engine: Engine, year: int) -> PerformanceReport:
    """The A18.2 figures of plan year ``year``, read in one transaction (one consistent view).

    A year without plans or cases is not an error: the report says so with zeros, since
    "nothing was planned" is itself an answer an auditor may ask for.
    """
    check_year(year)
    now = engine.clock.now()
    today = shanghai_date(now)
    ends = src.cycle_ends(engine.catalog)
    with engine.transaction() as connection:
        reader = _Reader(connection, year, today.isoformat(), ends)
        total = reader.tallies(TOTAL).get((), _Tally())
        organisers = reader.tallies(ORGANISER)
        counties = reader.tallies(COUNTY)
        contractor_rows = reader.tallies(CONTRACTOR)
        plan_count = connection.execute(
            sa.select(sa.func.count()).select_from(plans).where(plans.c.year == year)
        ).scalar_one()
        names = _contractor_names(connection, [k[0] for k in contractor_rows])
    return PerformanceReport(
        year=year,
        as_of=today,
        generated_at=now,
        policy=src.policy_source(engine.catalog),
        plans=int(plan_count),
        total=_figures("total", "合计 total", total),
        by_organiser=tuple(
            _figures(src.organiser_key(*k), src.organiser_label(*k), t)
            for k, t in sorted(organisers.items(), key=_organiser_order)
        ),
        by_county=tuple(
            _figures(f"county:{k[0]}", str(k[0]), t)
            for k, t in sorted(counties.items(), key=lambda kv: str(kv[0][0]))
        ),
        by_contractor=tuple(
            _figures(f"contractor:{k[0]}", names.get(k[0], f"#{k[0]}"), t)
            for k, t in sorted(contractor_rows.items(), key=lambda kv: int(kv[0][0]))
        ),
    )


def _organiser_order(item: tuple[Key, _Tally]) -> tuple[int, str]:
    level, county = item[0]
    return (0 if level == "city" else 1 if level == "county" else 2, county or "")


def _figures(key: str, label: str, tally: _Tally) -> Figures:
    return Figures(
        key=key,
        label=label,
        planned=tally.planned,
        attended=tally.attended,
        evaluated=tally.evaluated,
        satisfaction_total=tally.satisfaction_total,
        exceptions=dict(sorted(tally.exceptions.items())),
        visits=tally.visits,
        batches=tally.batches,
        capacity=tally.capacity,
        contractor_score=tally.contractor_score,
    )


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
        assigned = src.assignments()
        self.planned = sa.select(assigned).where(assigned.c.year == year).subquery("planned")
        self.visits = self._visit_source()

    def tallies(self, breakdown: _Breakdown) -> dict[Key, _Tally]:
        """Every measure of one breakdown, merged by group key."""
        result: dict[Key, _Tally] = defaultdict(_Tally)
        self._cases(breakdown, result)
        self._case_exceptions(breakdown, result)
        if breakdown.batch_keys is not None:
            self._batches(breakdown.batch_keys, result)
        self._visits(breakdown, result)
        if breakdown is CONTRACTOR:
            self._scores(result)
        return dict(result)

    def _grouped(
        self, keys: Sequence[sa.ColumnElement[Any]], *measures: sa.ColumnElement[Any]
    ) -> sa.Select[Any]:
        return sa.select(*keys, *measures).group_by(*keys)

    def _cases(self, breakdown: _Breakdown, result: dict[Key, _Tally]) -> None:
        p = self.planned
        keys = breakdown.case_keys(p)
        query = self._grouped(
            keys,
            sa.func.count().label("planned"),
            sa.func.sum(sa.case((p.c.state.in_(src.ATTENDED_STATES), 1), else_=0)).label(
                "attended"
            ),
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

    def _case_exceptions(self, breakdown: _Breakdown, result: dict[Key, _Tally]) -> None:
        p = self.planned
        keys = breakdown.case_keys(p)
        query = self._grouped(
            (*keys, case_exceptions.c.article), sa.func.count().label("granted")
        ).select_from(p.join(case_exceptions, case_exceptions.c.case_id == p.c.case_id))
        self._add_exceptions(query, len(keys), result)

    def _batches(self, keys: Sequence[sa.ColumnElement[Any]], result: dict[Key, _Tally]) -> None:
        of_year = batches.join(plans, plans.c.id == batches.c.plan_id)
        query = (
            self._grouped(
                keys,
                sa.func.count().label("batches"),
                sa.func.sum(batches.c.capacity).label("capacity"),
            )
            .select_from(of_year)
            .where(plans.c.year == self.year)
        )
        for row in self.connection.execute(query):
            key, (count, capacity) = _split(row, len(keys))
            tally = result[key]
            tally.batches = int(count)
            tally.capacity = int(capacity or 0)
        exceptions = (
            self._grouped((*keys, batch_exceptions.c.article), sa.func.count().label("granted"))
            .select_from(
                of_year.join(batch_exceptions, batch_exceptions.c.batch_id == batches.c.id)
            )
            .where(plans.c.year == self.year)
        )
        self._add_exceptions(exceptions, len(keys), result)

    def _add_exceptions(self, query: sa.Select[Any], width: int, result: dict[Key, _Tally]) -> None:
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
        start, end = src.year_bounds(self.year)
        return (
            sa.select(
                visit.c.county,
                visit.c.state,
                visit.c.evidence["visited_on"].as_string().label("visited_on"),
                src.due_date(visit.c.cycle, self.ends).label("due_on"),
                level.label("organiser_level"),
                sa.case((level == "county", honor.c.county), else_=sa.null()).label("plan_county"),
                honor_batch.c.contractor_id,
            )
            .select_from(visit)
            .outerjoin(honor, honor.c.id == visit.c.evidence["source_case_id"].as_integer())
            .outerjoin(honor_batch, honor_batch.c.id == honor.c.evidence["batch_id"].as_integer())
            .where(
                src.of_definition(src.VISIT, visit),
                visit.c.opened_at >= start,
                visit.c.opened_at < end,
            )
            .subquery("visits")
        )

    def _visits(self, breakdown: _Breakdown, result: dict[Key, _Tally]) -> None:
        v = self.visits
        keys = breakdown.visit_keys(v)
        needed = v.c.state != src.VISIT_NOT_NEEDED
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
            result[key].visits = VisitFigures(
                due=int(due or 0),
                done=int(done),
                on_time=int(on_time or 0),
                overdue=int(overdue or 0),
            )

    def _scores(self, result: dict[Key, _Tally]) -> None:
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


def _split(row: sa.Row[Any], width: int) -> tuple[Key, tuple[Any, ...]]:
    values = tuple(row)
    return values[:width], values[width:]
