"""The report's figures as plain frozen data classes: what the queries produce and every
renderer (HTML, XLSX, ``--json``) reads, so the three outputs cannot disagree.

Only counts and sums are stored; rates and means are derived properties, computed once here, so
a rate is never rounded before it is shown and a group with nothing planned shows "no rate"
instead of a division by zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# A seat utilisation below this share of the seats offered is remarked on in the report: most
# seats went unused, which the planning (A3.1) and the budget (A16.1) should know of.
LOW_UTILISATION = 0.5


def ratio(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide by (shown as "—")."""
    return part / whole if whole else None


@dataclass(frozen=True)
class VisitFigures:
    """Condolence visits (A9.3) counted for the annual report (A18.2).

    ``due`` counts every visit task that was needed (not ``not_needed``); ``done`` those with a
    recorded ``visited_on``; ``on_time`` those visited on or before the end of their cycle;
    ``overdue`` those still not visited after the end of their cycle, as of the report's date.
    """

    due: int = 0
    done: int = 0
    on_time: int = 0
    overdue: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return ratio(self.on_time, self.due)

    def to_json(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "done": self.done,
            "on_time": self.on_time,
            "overdue": self.overdue,
            "on_time_rate": self.on_time_rate,
        }


@dataclass(frozen=True)
class Figures:
    """One row of a breakdown (an organiser, a county, a contractor) or the year's total.

    ``planned`` counts honorary-convalescence cases approved into a batch of the year's plans
    (a released seat still counts: the cadre was planned and did not go); ``attended`` those of
    them that reached *attended* or *evaluated* (A7.1). ``exceptions`` counts exceptions granted,
    by article: the planned cases' own (A8.2, A9.2, A6.2) and, for organisers and contractors,
    their batches' A6.2 exceptions. ``batches``, ``capacity`` and ``contractor_score`` exist
    only where a breakdown owns batches (organiser, contractor, total); else None.
    """

    key: str
    label: str
    planned: int = 0
    attended: int = 0
    evaluated: int = 0
    satisfaction_total: int = 0
    exceptions: Mapping[str, int] = field(default_factory=dict)
    visits: VisitFigures = field(default_factory=VisitFigures)
    batches: int | None = None
    capacity: int | None = None
    contractor_score: float | None = None
    budget: Decimal | None = None
    actual_cost: Decimal | None = None
    costed_batches: int | None = None
    standing_score: float | None = None  # A18.3: mean of every evaluation, not only the year's
    exit_threshold: float | None = None  # A18.3: the exit line that applies to the contractor

    @property
    def seat_utilisation(self) -> float | None:
        """Planned cadres over the seats the batches offered (None where no batches)."""
        return ratio(self.planned, self.capacity) if self.capacity is not None else None

    @property
    def low_utilisation(self) -> bool:
        rate = self.seat_utilisation
        return rate is not None and rate < LOW_UTILISATION

    @property
    def below_exit_line(self) -> bool:
        """A18.3: the contractor's standing is under its exit line, so it takes no new batch."""
        return (
            self.standing_score is not None
            and self.exit_threshold is not None
            and self.standing_score < self.exit_threshold
        )

    @property
    def completion_rate(self) -> float | None:
        """Task completion (A18.2): attended over planned."""
        return ratio(self.attended, self.planned)

    @property
    def mean_satisfaction(self) -> float | None:
        """Mean of the 1–5 scores cadres gave in the evaluate step (A18.1)."""
        return self.satisfaction_total / self.evaluated if self.evaluated else None

    @property
    def exceptions_total(self) -> int:
        return sum(self.exceptions.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "batches": self.batches,
            "capacity": self.capacity,
            "planned": self.planned,
            "attended": self.attended,
            "completion_rate": self.completion_rate,
            "evaluated": self.evaluated,
            "mean_satisfaction": self.mean_satisfaction,
            "exceptions": dict(sorted(self.exceptions.items())),
            "exceptions_total": self.exceptions_total,
            "visits": self.visits.to_json(),
            "contractor_score": self.contractor_score,
            "seat_utilisation": self.seat_utilisation,
            "budget": _money(self.budget),
            "actual_cost": _money(self.actual_cost),
            "costed_batches": self.costed_batches,
            "standing_score": self.standing_score,
            "exit_threshold": self.exit_threshold,
            "below_exit_line": self.below_exit_line,
        }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class PlanBudget:
    """A plan of the year: its budget (A3.1) against its batches' budgets and the actual costs
    recorded after the trips (A16.1)."""

    plan_id: int
    label: str
    budget: Decimal
    batches: int
    batch_budget: Decimal
    actual_cost: Decimal
    costed_batches: int

    @property
    def actual_recorded(self) -> Decimal | None:
        """The actual cost recorded so far, None while no batch has one (not "0.00")."""
        return self.actual_cost if self.costed_batches else None

    @property
    def share_spent(self) -> float | None:
        """Actual cost over the plan's budget, once some batch's cost is recorded."""
        if not self.costed_batches or not self.budget:
            return None
        return float(self.actual_cost / self.budget)

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "label": self.label,
            "budget": _money(self.budget),
            "batches": self.batches,
            "batch_budget": _money(self.batch_budget),
            "actual_cost": _money(self.actual_recorded),
            "costed_batches": self.costed_batches,
            "share_spent": self.share_spent,
        }


@dataclass(frozen=True)
class PolicySource:
    """The document the report is measured against (A1.1: shown in reports)."""

    title: str
    document: str


@dataclass(frozen=True)
class PerformanceReport:
    """The annual performance report of art. 18 (A18.2) for one plan year."""

    year: int
    as_of: date
    generated_at: datetime
    policy: PolicySource
    plans: int
    total: Figures
    by_organiser: tuple[Figures, ...]
    by_county: tuple[Figures, ...]
    by_contractor: tuple[Figures, ...]
    plan_budgets: tuple[PlanBudget, ...] = ()

    @property
    def below_exit_line(self) -> tuple[Figures, ...]:
        """Contractors under the A18.3 exit line: flagged in every rendering."""
        return tuple(f for f in self.by_contractor if f.below_exit_line)

    @property
    def articles(self) -> tuple[str, ...]:
        """Every article some exception in the report cites, in order: the exception columns."""
        return tuple(sorted(self.total.exceptions))

    @property
    def empty(self) -> bool:
        return self.plans == 0 and self.total.planned == 0 and self.total.visits.due == 0

    def breakdowns(self) -> tuple[tuple[str, str, tuple[Figures, ...]], ...]:
        """(key, title, rows) of each breakdown, in the order every renderer shows them."""
        return (
            ("organiser", "按组织单位 By organiser", self.by_organiser),
            ("county", "按区县 By county", self.by_county),
            ("contractor", "按承办单位 By contractor", self.by_contractor),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "as_of": self.as_of.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "policy": {"title": self.policy.title, "document": self.policy.document},
            "article": "A18.2",
            "plans": self.plans,
            "total": self.total.to_json(),
            "by_organiser": [f.to_json() for f in self.by_organiser],
            "by_county": [f.to_json() for f in self.by_county],
            "by_contractor": [f.to_json() for f in self.by_contractor],
            "plan_budgets": [b.to_json() for b in self.plan_budgets],
        }


# -- batch roster ------------------------------------------------------------------------------

_DAY_KEYS = ("day", "天")
_TEXT_KEYS = ("plan", "activity", "text", "安排", "内容")


def itinerary_line(item: Mapping[str, Any] | str) -> str:
    """One itinerary entry as text: the day, then what happens, then any other field by
    value; never the mapping's repr. A11.1 leaves the itinerary free, so unknown keys are
    kept, only without their technical names."""
    if isinstance(item, str):
        return item
    day = next((item[k] for k in _DAY_KEYS if item.get(k) not in (None, "")), None)
    said = [str(item[k]) for k in _TEXT_KEYS if item.get(k) not in (None, "")]
    known = {*_DAY_KEYS, *_TEXT_KEYS}
    said += [str(v) for k, v in item.items() if k not in known and v not in (None, "")]
    text = "，".join(said)
    if day is None:
        return text
    prefix = f"第{day}天" if isinstance(day, int) or str(day).isdigit() else str(day)
    return f"{prefix}：{text}" if text else prefix


@dataclass(frozen=True)
class RosterEntry:
    """One cadre seated in a batch, as the printed roster shows him or her. The ID number is
    already masked (notifications.masking): a printed list travels further than the database."""

    case_id: int
    cadre_id: str
    name: str
    id_card: str
    county: str
    agency: str
    state: str
    state_label: str
    agreement_no: str | None
    insurer: str | None
    policy_no: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "cadre_id": self.cadre_id,
            "name": self.name,
            "id_card": self.id_card,
            "county": self.county,
            "agency": self.agency,
            "state": self.state,
            "state_label": self.state_label,
            "agreement_no": self.agreement_no,
            "insurer": self.insurer,
            "policy_no": self.policy_no,
        }


@dataclass(frozen=True)
class BatchRoster:
    """A batch's facts (A6.1, A12.1, A15.1) and the cadres holding its seats."""

    batch_id: int
    plan_id: int
    plan_year: int
    organiser: str
    contractor: str
    contractor_kind: str
    contractor_agreement_no: str | None
    province: str
    place: str
    start_date: date
    end_date: date
    capacity: int
    seats_taken: int
    staff_count: int
    safety_plan_ref: str | None
    emergency_plan_ref: str | None
    organiser_contacts: tuple[Mapping[str, str], ...]
    contractor_contacts: tuple[Mapping[str, str], ...]
    itinerary: tuple[Mapping[str, Any], ...]
    policy: PolicySource
    generated_at: datetime
    entries: tuple[RosterEntry, ...]
    started_at: datetime | None = None
    budget: Decimal | None = None
    actual_cost: Decimal | None = None

    @property
    def itinerary_lines(self) -> tuple[str, ...]:
        """The itinerary (A11.1) as lines an officer reads: "第1天：报到、体检"."""
        return tuple(itinerary_line(item) for item in self.itinerary)

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "plan_id": self.plan_id,
            "plan_year": self.plan_year,
            "organiser": self.organiser,
            "contractor": self.contractor,
            "contractor_kind": self.contractor_kind,
            "contractor_agreement_no": self.contractor_agreement_no,
            "province": self.province,
            "place": self.place,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "capacity": self.capacity,
            "seats_taken": self.seats_taken,
            "staff_count": self.staff_count,
            "safety_plan_ref": self.safety_plan_ref,
            "emergency_plan_ref": self.emergency_plan_ref,
            "organiser_contacts": [dict(c) for c in self.organiser_contacts],
            "contractor_contacts": [dict(c) for c in self.contractor_contacts],
            "itinerary": [dict(i) for i in self.itinerary],
            "itinerary_text": list(self.itinerary_lines),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "budget": _money(self.budget),
            "actual_cost": _money(self.actual_cost),
            "generated_at": self.generated_at.isoformat(),
            "cadres": [e.to_json() for e in self.entries],
        }


# -- condolence visits -------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitEntry:
    """One condolence-visit task (A9.3) with its due date, the end of its cycle."""

    case_id: int
    cadre_id: str
    name: str
    county: str
    agency: str
    state: str
    state_label: str
    cycle: str | None
    due_on: date | None
    visited_by: str | None
    visited_on: date | None

    @property
    def on_time(self) -> bool | None:
        """None while not visited (or with no cycle to date it against)."""
        if self.visited_on is None or self.due_on is None:
            return None
        return self.visited_on <= self.due_on

    def overdue(self, today: date) -> bool:
        return (
            self.visited_on is None
            and self.state != "not_needed"
            and self.due_on is not None
            and self.due_on < today
        )

    def to_json(self, today: date) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "cadre_id": self.cadre_id,
            "name": self.name,
            "county": self.county,
            "agency": self.agency,
            "state": self.state,
            "state_label": self.state_label,
            "cycle": self.cycle,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "visited_by": self.visited_by,
            "visited_on": self.visited_on.isoformat() if self.visited_on else None,
            "on_time": self.on_time,
            "overdue": self.overdue(today),
        }


@dataclass(frozen=True)
class VisitList:
    """The condolence-visit list (A9.3): every task of a cycle, or only the overdue ones."""

    cycle: str | None
    overdue_only: bool
    as_of: date
    generated_at: datetime
    policy: PolicySource
    entries: tuple[VisitEntry, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "overdue_only": self.overdue_only,
            "as_of": self.as_of.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "visits": [e.to_json(self.as_of) for e in self.entries],
        }
