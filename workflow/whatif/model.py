"""What a what-if found, as plain frozen values: the terminal summary, ``--json``, the HTML and
the XLSX report are all drawn from one `WhatIfReport`, so they cannot disagree.

"Before" is the version in force on the day (or the latest), "after" the draft. A reason is one
check of the eligibility explanation (`workflow.eligibility.Reason`), named by its rule: an
art. 4 criterion id, ``plan_admits_tier`` (A4.4, one per plan level) or a registered rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from workflow.i18n import _

Direction = Literal["now_fails", "now_passes", "removed", "added"]
Outcome = Literal["refused", "waived", "unjudged", "passed"]
ChangeKind = Literal["gains", "loses", "tier"]


def tier_label(tier: str) -> str:
    return {"city": _("市级"), "county": _("县级")}.get(tier, _("无层级"))


def level_label(level: str) -> str:
    return {"city": _("市级计划"), "county": _("县级计划")}.get(level, level)


@dataclass(frozen=True)
class VersionInfo:
    """One side of the comparison: which text, its window, and whether it is in force on the
    day (A21.1; a version cut short counts as ending that day)."""

    name: str
    version: int
    title: str
    document: str
    source: str
    effective_from: date
    effective_until: date | None
    in_force: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "document": self.document,
            "source": self.source,
            "effective_from": self.effective_from.isoformat(),
            "effective_until": self.effective_until.isoformat() if self.effective_until else None,
            "in_force": self.in_force,
        }

    @property
    def window(self) -> str:
        until = self.effective_until.isoformat() if self.effective_until else _("长期")
        return f"{self.effective_from.isoformat()} – {until}"


@dataclass(frozen=True)
class ReasonChange:
    """A check whose outcome differs between the versions; ``None`` on a side where the check
    does not exist (a criterion the draft drops or adds)."""

    clause: str
    rule: str
    before: bool | None
    after: bool | None
    message_before: str | None
    message_after: str | None

    @property
    def direction(self) -> Direction:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "now_passes" if self.after else "now_fails"

    def describe(self) -> str:
        """The check under the draft in one phrase, with the article: for a criterion the draft
        drops, what the current version found, said to be dropped."""
        if self.after is None:
            return _("{clause} 草案删去此项（现行：{message}）").format(
                clause=self.clause, message=self.message_before or self.rule
            )
        return f"{self.clause} {self.message_after or self.rule}"

    def to_json(self) -> dict[str, Any]:
        return {
            "clause": self.clause,
            "rule": self.rule,
            "direction": self.direction,
            "before": self.before,
            "after": self.after,
            "message_before": self.message_before,
            "message_after": self.message_after,
        }


@dataclass(frozen=True)
class CadreChange:
    """A cadre who gains or loses eligibility, or stays eligible in another tier (a city-tier
    cadre now of the county tier loses the city plans, A4.4), with the checks that changed and
    decide it, article by article."""

    cadre_id: str
    name: str
    county: str
    agency: str
    tier_before: str
    tier_after: str
    eligible_before: bool
    eligible_after: bool
    why: tuple[ReasonChange, ...]

    @property
    def kind(self) -> ChangeKind:
        if self.eligible_before == self.eligible_after:
            return "tier"
        return "gains" if self.eligible_after else "loses"

    @property
    def kind_label(self) -> str:
        return {"gains": _("新增资格"), "loses": _("失去资格"), "tier": _("层级变化")}[self.kind]

    @property
    def tiers(self) -> str:
        """The tier, or its move (市级 → 县级)."""
        before, after = tier_label(self.tier_before), tier_label(self.tier_after)
        return before if before == after else f"{before} → {after}"

    @property
    def articles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.clause for r in self.why))

    def to_json(self) -> dict[str, Any]:
        return {
            "cadre_id": self.cadre_id,
            "name": self.name,
            "county": self.county,
            "agency": self.agency,
            "change": self.kind,
            "tier_before": self.tier_before,
            "tier_after": self.tier_after,
            "eligible_before": self.eligible_before,
            "eligible_after": self.eligible_after,
            "why": [r.to_json() for r in self.why],
        }


@dataclass(frozen=True)
class TierRow:
    tier: str
    before: int
    after: int

    @property
    def difference(self) -> int:
        return self.after - self.before


@dataclass(frozen=True)
class EligibilityRow:
    """Cadres eligible under each version (at its broadest plan level, A4.4), who gained or lost
    eligibility, and who stays eligible in another tier."""

    level_before: str
    level_after: str
    before: int
    after: int
    gained: int
    lost: int
    tier_moved: int

    def to_json(self) -> dict[str, Any]:
        return {
            "level_before": self.level_before,
            "level_after": self.level_after,
            "eligible_before": self.before,
            "eligible_after": self.after,
            "gained": self.gained,
            "lost": self.lost,
            "tier_moved": self.tier_moved,
        }


@dataclass(frozen=True)
class ArticleRow:
    """One check across the roster: how many cadres it now fails or passes (or meets no longer
    because the draft drops it), and for how many of them the verdict changed with it."""

    clause: str
    rule: str
    label: str
    now_fails: int
    now_passes: int
    removed: int
    added: int
    decisive: int

    def to_json(self) -> dict[str, Any]:
        return {
            "clause": self.clause,
            "rule": self.rule,
            "label": self.label,
            "now_fails": self.now_fails,
            "now_passes": self.now_passes,
            "removed": self.removed,
            "added": self.added,
            "decisive": self.decisive,
        }


@dataclass(frozen=True)
class GuardResult:
    """One guard of a step: refused, waived by an exception on the case, passed, or not
    judged because it reads what only the step itself supplies (``needs``)."""

    rule: str
    article: str
    outcome: Outcome
    message: str | None = None
    needs: tuple[str, ...] = ()
    new: bool = True  # a refusal the case's own version does not make

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"rule": self.rule, "article": self.article, "outcome": self.outcome}
        if self.message is not None:
            body["message"] = self.message
        if self.needs:
            body["needs"] = list(self.needs)
        if self.outcome == "refused":
            body["new"] = self.new
        return body


@dataclass(frozen=True)
class StepCheck:
    """A step leaving the case's state under the draft, with the outcome of each guard."""

    trigger: str
    label: str
    dest: str
    guards: tuple[GuardResult, ...]

    @property
    def refusals(self) -> tuple[GuardResult, ...]:
        return tuple(g for g in self.guards if g.outcome == "refused")

    @property
    def unjudged(self) -> tuple[GuardResult, ...]:
        return tuple(g for g in self.guards if g.outcome == "unjudged")

    def to_json(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "label": self.label,
            "dest": self.dest,
            "refused": bool(self.refusals),
            "guards": [g.to_json() for g in self.guards],
        }


@dataclass(frozen=True)
class CaseOutcome:
    """An open case under the draft: the state it would be in (its own, or the one the draft's
    ``migrates_from`` maps it to) and its next steps; ``problem`` when it has no such state."""

    case_id: int
    cadre_id: str
    cadre_name: str
    county: str
    agency: str
    version: int
    state: str
    draft_state: str | None
    problem: str | None
    steps: tuple[StepCheck, ...]

    @property
    def refused(self) -> bool:
        return self.problem is not None or any(s.refusals for s in self.steps)

    @property
    def unjudged(self) -> bool:
        return any(s.unjudged for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "cadre_id": self.cadre_id,
            "cadre_name": self.cadre_name,
            "county": self.county,
            "agency": self.agency,
            "version": self.version,
            "state": self.state,
            "draft_state": self.draft_state,
            "problem": self.problem,
            "refused": self.refused,
            "steps": [s.to_json() for s in self.steps],
        }


@dataclass(frozen=True)
class CaseRuleRow:
    """A guard across the open cases: at how many cases' next step it refuses under the draft
    (``new``: not refused by the case's own version), and at how many it cannot be judged."""

    trigger: str
    rule: str
    article: str
    refused: int
    new: int
    unjudged: int
    needs: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "rule": self.rule,
            "article": self.article,
            "refused": self.refused,
            "new": self.new,
            "unjudged": self.unjudged,
            "needs": list(self.needs),
        }


@dataclass(frozen=True)
class WhatIfReport:
    on: date
    generated_at: datetime
    current: VersionInfo
    draft: VersionInfo
    roster: int
    tiers: tuple[TierRow, ...]
    tier_moves: tuple[tuple[str, str, int], ...]  # (before, after, cadres), only moves
    eligibility: EligibilityRow
    articles: tuple[ArticleRow, ...]
    changes: tuple[CadreChange, ...]
    open_cases: int
    cases: tuple[CaseOutcome, ...]  # the open cases with a refusal or a problem
    case_rules: tuple[CaseRuleRow, ...]
    unjudged_cases: int  # open cases with at least one guard that needs the step's data

    @property
    def refused_cases(self) -> int:
        return len(self.cases)

    @property
    def newly_refused(self) -> int:
        """Cases the draft stops where their own version would not: a refusal of a rule the
        case's own version does not make at that step, or a state the draft cannot take."""
        return sum(
            1
            for c in self.cases
            if c.problem is not None or any(g.new for s in c.steps for g in s.refusals)
        )

    @property
    def notices(self) -> tuple[str, ...]:
        """What the reader must know before reading the figures: a side not in force on the
        day refuses every cadre under A21.1."""
        found = []
        for side, version in ((_("现行版本"), self.current), (_("草案"), self.draft)):
            if not version.in_force:
                found.append(
                    _(
                        "{side} {name} v{version}（有效期 {window}）在 {on} 不在有效期内："
                        "按其规则每名干部都不符合第二十一条（A21.1）；可用 --on 选择有效期内的日期"
                    ).format(
                        side=side,
                        name=version.name,
                        version=version.version,
                        window=version.window,
                        on=self.on.isoformat(),
                    )
                )
        return tuple(found)

    def to_json(self) -> dict[str, Any]:
        return {
            "on": self.on.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "current": self.current.to_json(),
            "draft": self.draft.to_json(),
            "notices": list(self.notices),
            "roster": self.roster,
            "tiers": [
                {"tier": t.tier, "before": t.before, "after": t.after, "difference": t.difference}
                for t in self.tiers
            ],
            "tier_moves": [
                {"before": before, "after": after, "cadres": count}
                for before, after, count in self.tier_moves
            ],
            "eligibility": self.eligibility.to_json(),
            "articles": [a.to_json() for a in self.articles],
            "changes": [c.to_json() for c in self.changes],
            "open_cases": {
                "total": self.open_cases,
                "refused": self.refused_cases,
                "newly_refused": self.newly_refused,
                "unjudged": self.unjudged_cases,
                "by_rule": [r.to_json() for r in self.case_rules],
                "cases": [c.to_json() for c in self.cases],
            },
        }
