"""The annual performance report (A18.2): planned vs attended, completion rate, satisfaction,
exceptions granted and condolence visits done on time, per organiser, county and contractor.

Every figure is a GROUP BY in the database (`workflow.store.reports.performance_rows`), never a
Python loop over the cases: the year's cases are read once, through indexes, so the report
costs what the year holds whatever the table holds (issue 14: 0.4 s for a year of 81,000 cases
among a million, where it was 22 s). Here the grouped rows only become `Figures`, in order.

What counts for year Y:

* **planned** — honorary-convalescence cases approved into a batch of a plan of year Y
  (`workflow.store.reports.planned_cases`); **attended** — those that reached *attended* or
  *evaluated*.
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

from typing import Any

from workflow import policy
from workflow.clock import shanghai_date
from workflow.definition.policy_rules import PolicyRules
from workflow.engine import Engine
from workflow.errors import InputError
from workflow.i18n import _
from workflow.reports import _sources as src
from workflow.reports._model import Figures, PerformanceReport, PlanBudget, VisitFigures
from workflow.store import reports as store

FIRST_YEAR, LAST_YEAR = 2000, 2100  # plan years the report accepts; anything else is a typo
Key = tuple[Any, ...]


def check_year(year: int) -> None:
    """Refuse a year no plan can have (a typo such as 224), naming the option, instead of
    printing an empty report that looks like a real "nothing happened"."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InputError(
            _("--year {year} 不是计划年度（应在 {first}–{last} 之间）").format(
                year=year, first=FIRST_YEAR, last=LAST_YEAR
            ),
            field="year",
        )


def performance_report(engine: Engine, year: int) -> PerformanceReport:
    """The A18.2 figures of plan year ``year``, read in one transaction (one consistent view).

    A year without plans or cases is not an error: the report says so with zeros, since
    "nothing was planned" is itself an answer an auditor may ask for.
    """
    check_year(year)
    now = engine.clock.now()
    today = shanghai_date(now)
    engine.ensure_schema()
    rows = store.performance_rows(
        engine.db, year=year, today=today, cycle_ends=src.cycle_ends(engine.catalog)
    )
    names = rows.contractor_names
    rules = src.policy_rules(engine.catalog)
    return PerformanceReport(
        year=year,
        as_of=today,
        generated_at=now,
        policy=src.policy_source(engine.catalog),
        plans=rows.plans,
        total=_figures("total", "合计 total", rows.total),
        by_organiser=tuple(
            _figures(src.organiser_key(*k), src.organiser_label(*k), t)
            for k, t in sorted(rows.by_organiser.items(), key=_organiser_order)
        ),
        by_county=tuple(
            _figures(f"county:{k[0]}", str(k[0]), t)
            for k, t in sorted(rows.by_county.items(), key=lambda kv: str(kv[0][0]))
        ),
        by_contractor=tuple(
            _figures(
                f"contractor:{k[0]}",
                names.get(k[0], f"#{k[0]}"),
                t,
                exit_threshold=_exit_line(rules, t.exit_threshold_override),
            )
            for k, t in sorted(rows.by_contractor.items(), key=lambda kv: int(kv[0][0]))
        ),
        plan_budgets=tuple(
            PlanBudget(
                plan_id=c.plan_id,
                label=f"{c.plan_id} · {src.organiser_label(c.organiser_level, c.county)}",
                budget=c.budget,
                batches=c.batches,
                batch_budget=c.batch_budget,
                actual_cost=c.actual_cost,
                costed_batches=c.costed_batches,
            )
            for c in rows.plan_costs
        ),
    )


def _exit_line(rules: PolicyRules | None, override: float | None) -> float | None:
    """The A18.3 exit line of a contractor, or None when the policy names none."""
    try:
        return policy.exit_score(rules, override)
    except InputError:
        return None


def _organiser_order(item: tuple[Key, store.Tally]) -> tuple[int, str]:
    level, county = item[0]
    return (0 if level == "city" else 1 if level == "county" else 2, county or "")


def _figures(
    key: str, label: str, tally: store.Tally, *, exit_threshold: float | None = None
) -> Figures:
    return Figures(
        key=key,
        label=label,
        planned=tally.planned,
        attended=tally.attended,
        evaluated=tally.evaluated,
        satisfaction_total=tally.satisfaction_total,
        exceptions=dict(sorted(tally.exceptions.items())),
        visits=VisitFigures(
            due=tally.visits_due,
            done=tally.visits_done,
            on_time=tally.visits_on_time,
            overdue=tally.visits_overdue,
        ),
        batches=tally.batches,
        capacity=tally.capacity,
        contractor_score=tally.contractor_score,
        budget=tally.budget,
        actual_cost=tally.actual_cost,
        costed_batches=tally.costed_batches,
        standing_score=tally.standing_score,
        exit_threshold=exit_threshold,
    )
