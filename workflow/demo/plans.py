"""The demo's annual plans, contractors and batches (art. 3, 6, 10, 12–14, 18).

Batches are planned a quarter ahead in simulated time, as an office would, so a contractor whose
evaluations fall below the exit threshold (A18.3) is refused for the next quarter's batches and
the planner hands them to another contractor; the demo summary counts both.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from workflow import policy
from workflow.engine import Engine
from workflow.errors import RuleRefused
from workflow.plans import service
from workflow.plans.rules import staff_bounds

DESTINATIONS = ("威海市荣成", "青岛市崂山", "泰安市泰山", "日照市东港", "烟台市蓬莱")
CYCLE = "2024-2025"
YEARS = (2024, 2025)
PAPERS = ("医疗机构执业许可证", "旅行社业务经营许可证")


@dataclass(frozen=True)
class _Contractor:
    name: str
    kind: str
    why_purchased: str | None
    quality: tuple[int, int]  # the range its batches score in (A18.3)


CONTRACTORS = (
    _Contractor("聊城市军休服务中心", "own_resource", None, (85, 98)),
    _Contractor("威海荣成疗养院", "partner_unit", None, (80, 95)),
    _Contractor(
        "山东泰山国际旅行社", "purchased_service", "自有资源与合作单位接待能力不足", (75, 92)
    ),
    # a purchased service whose batches go badly: it leaves the scheme under A18.3
    _Contractor("聊城安康旅游服务公司", "purchased_service", "旺季自有资源不足", (35, 62)),
)


@dataclass(frozen=True)
class DemoBatch:
    id: int
    plan_level: str  # city | county
    county: str | None  # the organising county of a county plan
    start: date
    end: date
    contractor_id: int


@dataclass
class PlanBook:
    """What the demo planned: ids to approve into, and what A6.2/A18.3 refused on the way."""

    engine: Engine
    rng: random.Random
    counties: tuple[str, ...]
    plans: dict[tuple[int, str, str | None], int] = field(default_factory=dict)
    contractors: dict[int, _Contractor] = field(default_factory=dict)
    batches: list[DemoBatch] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)  # "A18.3 rule" -> count
    dropped: set[str] = field(default_factory=set)  # contractors refused under A18.3
    evaluations: int = 0
    started: int = 0  # batches started on their first day (A13.1, A15.1)
    corrected: int = 0  # of them, staff corrected to the cadres seated first (A12.1)
    _turn: int = 0

    def set_up(self) -> None:
        """Plans for both years of the cycle (A3), contractors with papers and agreements
        (A10.1, A14.1); a purchased service records why (A10.2)."""
        for year in YEARS:
            budget = Decimal("2600000.00")  # a city batch every two weeks (A16.1)
            self.plans[(year, "city", None)] = service.create_plan(
                self.engine, year=year, organiser_level="city", budget=budget, cycle=CYCLE
            )["id"]
            for county in self.counties:
                self.plans[(year, "county", county)] = service.create_plan(
                    self.engine,
                    year=year,
                    organiser_level="county",
                    county=county,
                    budget=Decimal("240000.00"),
                    cycle=CYCLE,
                )["id"]
        for spec in CONTRACTORS:
            made = service.create_contractor(
                self.engine, name=spec.name, kind=spec.kind, why_purchased=spec.why_purchased
            )
            self.contractors[made["id"]] = spec
            for paper in PAPERS:
                service.add_qualification(
                    self.engine,
                    made["id"],
                    name=paper,
                    valid_from=date(2023, 1, 1),
                    valid_until=date(2026, 12, 31),
                )
            for (year, _level, _county), plan_id in self.plans.items():
                service.add_agreement(
                    self.engine,
                    made["id"],
                    plan_id=plan_id,
                    agreement_no=f"XY-{year}-{plan_id:02d}-{made['id']}",
                    signed_on=date(year - 1, 12, 1) if year > 2024 else date(2024, 3, 1),
                    valid_from=date(year, 1, 1) if year > 2024 else date(2024, 3, 1),
                    valid_until=date(year, 12, 31),
                )

    def plan_quarter(self, first_day: date) -> list[DemoBatch]:
        """Batches starting in the quarter from ``first_day``: a city batch every two weeks,
        one batch per county; now and then a planner drafts an 8-day batch and A6.2 refuses."""
        before = len(self.batches)
        end = first_day + timedelta(days=91)
        start = first_day
        while start < end and start < date(2025, 11, 25):
            capacity = 50 if self.rng.random() > 0.1 else 55  # over 50 needs an exception
            self._create(start, "city", None, capacity)
            start += timedelta(days=14)
        for index, county in enumerate(self.counties):
            day = first_day + timedelta(days=20 + 7 * index)
            if day < date(2025, 11, 25):
                self._create(day, "county", county, 30)
        return self.batches[before:]

    def _create(self, start: date, level: str, county: str | None, capacity: int) -> None:
        plan_id = self.plans[(start.year, level, county)]
        length = 7 if self.rng.random() > 0.04 else 8  # an 8-day draft is refused (A6.2)
        exceptions = (
            [service.ExceptionGrant("over_50", "city_officer", "钱处长", "承办单位接待能力充足")]
            if capacity > 50
            else []
        )
        for _attempt in range(len(self.contractors)):
            contractor_id = self._next_contractor()
            try:
                made = service.create_batch(
                    self.engine,
                    plan_id=plan_id,
                    contractor_id=contractor_id,
                    province="山东",
                    place=self.rng.choice(DESTINATIONS),
                    start_date=start,
                    end_date=start + timedelta(days=length - 1),
                    capacity=capacity,
                    staff_count=math.ceil(capacity / 10) + 1,  # A12.1: 1:10 to 1:5
                    safety_plan_ref=f"AQ-{start:%Y%m%d}",
                    emergency_plan_ref=f"YJ-{start:%Y%m%d}",
                    organiser_contacts=[{"name": "王芳", "phone": "0635-8234567"}],
                    contractor_contacts=[{"name": "李强", "phone": "0631-7654321"}],
                    itinerary=[{"day": 1, "plan": "报到、体检"}, {"day": 2, "plan": "红色教育"}],
                    budget=Decimal(capacity * 2400),
                    exceptions=exceptions,
                )
            except RuleRefused as error:
                rules = {r.rule for r in error.refusals}
                for refusal in error.refusals:
                    self.refusals[f"{refusal.article} {refusal.rule}"] += 1
                if any(r.article == "A18.3" for r in error.refusals):
                    self.dropped.add(self.contractors[contractor_id].name)
                    continue  # the planner gives the batch to the next contractor
                if "batch_days" in rules:
                    length = 7  # the planner corrects the draft and tries again
                    continue
                return
            self.batches.append(
                DemoBatch(made["id"], level, county, start, made["end_date"], contractor_id)
            )
            return

    def _next_contractor(self) -> int:
        ids = sorted(self.contractors)
        self._turn += 1
        return ids[self._turn % len(ids)]

    def start(self, batch: DemoBatch) -> None:
        """On the first morning the organiser starts the batch (A13.1 plans, A15.1 teams on
        record); when fewer cadres were seated than planned, the staff are first corrected to
        fit them (A12.1). A batch nobody was seated in does not take place."""
        seated = service.show_batch(self.engine, batch.id)["seats_taken"]
        if seated == 0:
            return
        try:
            service.start_batch(self.engine, batch.id)
        except RuleRefused as error:
            for refusal in error.refusals:
                self.refusals[f"{refusal.article} {refusal.rule}"] += 1
            if {r.article for r in error.refusals} != {"A12.1"}:
                return
            low, high = staff_bounds(seated, policy.limits(service.policy_rules(self.engine)))
            service.update_batch(self.engine, batch.id, staff_count=(low + high + 1) // 2)
            self.corrected += 1
            service.start_batch(self.engine, batch.id)
        self.started += 1

    def evaluate(self, batch: DemoBatch) -> None:
        """After the batch the organiser scores the contractor (A18.3) and records what the
        trip cost (A16.1), beside its budget in the A18.2 report."""
        low, high = self.contractors[batch.contractor_id].quality
        service.evaluate_contractor(
            self.engine, batch.id, score=self.rng.randint(low, high), by="市退役军人事务局"
        )
        self.evaluations += 1
        seated = service.show_batch(self.engine, batch.id)["seats_taken"]
        if seated:
            per_cadre = Decimal(2100 + batch.id * 37 % 500)  # not from rng: same seed, same run
            service.record_actual_cost(self.engine, batch.id, actual_cost=per_cadre * seated)

    def choose(self, level: str, county: str, today: date) -> list[DemoBatch]:
        """Batches a case of ``level`` from ``county`` may be seated in, soonest first (A4.4)."""
        earliest = today + timedelta(days=21)
        return [
            b
            for b in self.batches
            if b.plan_level == level
            and (level == "city" or b.county == county)
            and b.start >= earliest
        ]
