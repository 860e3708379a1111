"""The policy's rules as data: eligibility tiers (art. 4), exceptions for "in principle" clauses
(art. 6, 8, 9) and cycles (art. 9), read from a definition's ``rules:`` block.

A successor policy changes these by writing a new YAML file (A4.5); the evaluator in
``workflow.eligibility`` only knows the shapes below, never the 2023 numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal


@dataclass(frozen=True)
class MeritTest:
    """Matches a merit (立功) of class ``max_class`` or better (1 is best), optionally wartime."""

    max_class: int
    wartime: bool | None = None


@dataclass(frozen=True)
class HonourTest:
    """Matches an honour of ``kind`` awarded at ``min_level`` or above, after placement."""

    kind: str
    min_level: str


@dataclass(frozen=True)
class Criterion:
    """One clause of art. 4: any matching fact puts the cadre in the criterion's tier."""

    id: str
    article: str
    clause: str
    merit: MeritTest | None = None
    honour: HonourTest | None = None
    recommended_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tier:
    tier: str
    label: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class ExceptionRule:
    """A rule that says "in principle" (原则上/一般): it may be waived, with a record (A6.2,
    A8.2, A9.2), by one of the approver roles."""

    rule: str
    article: str
    approvers: tuple[str, ...]


@dataclass(frozen=True)
class Cycle:
    id: str
    start: date
    end: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Limits:
    """The policy's figures, each read by the rules that cite its article (``rules.limits``)."""

    batch_max_days: int  # A6.2: 每期疗养时间不超过7天（含往返程）
    batch_max_cadres: int  # A6.2: 一般每批次不超过50人 ("generally": an exception may lift it)
    home_province: str  # A6.2: 原则上安排在省内 ("in principle": an exception may lift it)
    age_limit: int  # A8.2: 80周岁以下; how the limit day is counted is `workflow.facts`'s
    cycle_max_years: int  # A9.1: a cycle spans at most this many years
    # A12.1: one staff member per 5 to 10 cadres, as (cadres per staff, fewest; most)
    staff_ratio: tuple[int, int]


# what a role's scope limits it to, per permission (A5.2): every record, the county plans of
# its own county and their batches, or its own contractor and that contractor's batches
PermissionScope = Literal["all", "county", "contractor"]


@dataclass(frozen=True)
class PolicyRules:
    levels: tuple[str, ...]  # lowest first: "or above" means a later index
    categories: dict[str, str]  # category -> the clause that covers it (A2.1, A20.1)
    tiers: tuple[Tier, ...]  # highest first
    plan_admits: dict[str, tuple[str, ...]]  # plan level -> tiers it admits (A4.4)
    exceptions: tuple[ExceptionRule, ...]
    cycles: tuple[Cycle, ...]
    participation_states: tuple[str, ...]  # states that count as taking part (A9.2)
    # A18.3 gives no figure; the definition sets it (a contractor's own override wins)
    contractor_exit_score: float | None = None
    limits: Limits | None = None
    # A5.2 for plans, contractors and batches: permission -> role -> scope (`workflow.policy`)
    permissions: dict[str, dict[str, PermissionScope]] = field(default_factory=dict)

    def level_rank(self, level: str) -> int:
        return self.levels.index(level)

    def exception_for(self, rule: str) -> ExceptionRule | None:
        return next((e for e in self.exceptions if e.rule == rule), None)

    def cycle_on(self, day: date) -> Cycle | None:
        return next((c for c in self.cycles if c.contains(day)), None)
