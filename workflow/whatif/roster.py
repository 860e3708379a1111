"""The roster under two versions of the policy: tiers, plan levels open to each cadre, and the
checks that changed, article by article. Pure: records in, figures out.

Each cadre is explained by the engine's own evaluator (`workflow.eligibility.explain`) once per
version, at the version's broadest plan level, with that version's rules and window: what the
office reads here is what registration would decide under each text. Nothing of the policy is
restated here; the comparison only lines up the explanations' reasons by rule and counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from workflow.definition.model import Definition
from workflow.definition.policy_rules import PolicyRules
from workflow.eligibility import NO_TIER, PLAN_ADMITS_RULE, Explanation, Reason, explain
from workflow.errors import InputError
from workflow.i18n import _
from workflow.rules import RULES
from workflow.whatif.model import (
    ArticleRow,
    CadreChange,
    EligibilityRow,
    ReasonChange,
    TierRow,
    level_label,
)

Key = tuple[str, str]  # (clause, rule)
# A21.1 as the explanation checks it: whether the version is in force on the day. It is the same
# for every cadre, so the report states it once per version (`WhatIfReport.notices`) and the
# cadres are compared on the rules, as if both versions were in force on the day.
WINDOW_RULE = "policy_in_force"


def rules_of(definition: Definition) -> PolicyRules:
    """The definition's art. 4 rules; a version without them cannot be compared."""
    if definition.rules is None:
        raise InputError(
            _("{name} v{version} 没有 rules: 部分（第四条的层级），无法比较资格").format(
                name=definition.name, version=definition.version
            ),
            field="definition",
        )
    return definition.rules


def broadest_level(rules: PolicyRules) -> str:
    """The plan level whose plan admits the most tiers (A4.4: a county plan takes the city and
    the county tier): eligible there is eligible for honorary convalescence at all, and which
    plans beyond it take the cadre is the tier's matter (`WhatIfReport.tiers`)."""
    return max(rules.plan_admits, key=lambda level: len(rules.plan_admits[level]))


@dataclass(frozen=True)
class _Verdict:
    """One cadre under one version: the engine's explanation at the version's broadest plan
    level, read with the version's window set aside."""

    explanation: Explanation

    @property
    def tier(self) -> str:
        return self.explanation.tier

    @property
    def routes(self) -> frozenset[str]:
        return frozenset(self.explanation.routes)

    @property
    def eligible(self) -> bool:
        """The explanation's verdict, unless the only check it fails is A21.1's."""
        e = self.explanation
        return e.eligible or all(
            r.rule == WINDOW_RULE for r in e.reasons if not r.passed and r.rule not in e.routes
        )

    def reasons(self) -> dict[Key, Reason]:
        return {(r.clause, r.rule): r for r in self.explanation.reasons if r.rule != WINDOW_RULE}


class RosterComparison:
    """Feed it the roster (`add`, in any number of partitions), then read the figures. Only
    the cadres whose eligibility or tier changed are kept, so 100,000 cadres fit in memory.
    Each cadre costs one explanation per version (the engine's, at the broadest plan level)."""

    def __init__(self, current: Definition, draft: Definition, on: date) -> None:
        self.current, self.draft, self.on = current, draft, on
        self._rules = (rules_of(current), rules_of(draft))
        self.levels = (broadest_level(self._rules[0]), broadest_level(self._rules[1]))
        self.count = 0
        self._tiers: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
        self._moves: Counter[tuple[str, str]] = Counter()
        self._eligible = [0, 0]
        self._kinds: Counter[str] = Counter()
        self._flips: dict[Key, Counter[str]] = {}
        self._decisive: Counter[Key] = Counter()
        self.changes: list[CadreChange] = []

    def _verdict(self, side: int, record: Mapping[str, Any]) -> _Verdict:
        definition = (self.current, self.draft)[side]
        return _Verdict(
            explain(
                record,
                rules=self._rules[side],
                policy=definition.policy,
                level=self.levels[side],
                on=self.on,
            )
        )

    def add(
        self, cadre_id: str, name: str, county: str, agency: str, record: Mapping[str, Any]
    ) -> None:
        self.count += 1
        before, after = self._verdict(0, record), self._verdict(1, record)
        self._tiers[0][before.tier] += 1
        self._tiers[1][after.tier] += 1
        if before.tier != after.tier:
            self._moves[(before.tier, after.tier)] += 1
        self._eligible[0] += before.eligible
        self._eligible[1] += after.eligible
        flips = _flips(before, after)
        for flip in flips:
            self._flips.setdefault((flip.clause, flip.rule), Counter())[flip.direction] += 1
        moved = before.eligible and after.eligible and before.tier != after.tier
        if before.eligible == after.eligible and not moved:
            return
        why = tuple(self._decisive_flips(flips, before, after))
        for flip in why:
            self._decisive[(flip.clause, flip.rule)] += 1
        change = CadreChange(
            cadre_id=cadre_id,
            name=name,
            county=county,
            agency=agency,
            tier_before=before.tier,
            tier_after=after.tier,
            eligible_before=before.eligible,
            eligible_after=after.eligible,
            why=why,
        )
        self._kinds[change.kind] += 1
        self.changes.append(change)

    @staticmethod
    def _decisive_flips(
        flips: list[ReasonChange], before: _Verdict, after: _Verdict
    ) -> list[ReasonChange]:
        """The changed checks that explain a changed verdict: every check that is not a route
        into a tier, and the routes too when the tier itself moved (a route that changes while
        another keeps the tier decides nothing)."""
        routes = before.routes | after.routes
        moved = before.tier != after.tier
        return [f for f in flips if moved or f.rule not in routes]

    # -- the figures ------------------------------------------------------------------------

    def tiers(self) -> tuple[TierRow, ...]:
        order = [t.tier for t in self._rules[0].tiers]
        order += [t.tier for t in self._rules[1].tiers if t.tier not in order]
        order.append(NO_TIER)
        return tuple(TierRow(t, self._tiers[0][t], self._tiers[1][t]) for t in order)

    def tier_moves(self) -> tuple[tuple[str, str, int], ...]:
        return tuple((b, a, n) for (b, a), n in sorted(self._moves.items()))

    def eligibility(self) -> EligibilityRow:
        return EligibilityRow(
            level_before=self.levels[0],
            level_after=self.levels[1],
            before=self._eligible[0],
            after=self._eligible[1],
            gained=self._kinds["gains"],
            lost=self._kinds["loses"],
            tier_moved=self._kinds["tier"],
        )

    def articles(self) -> tuple[ArticleRow, ...]:
        rows = [
            ArticleRow(
                clause=clause,
                rule=rule,
                label=self._label(rule),
                now_fails=counts["now_fails"],
                now_passes=counts["now_passes"],
                removed=counts["removed"],
                added=counts["added"],
                decisive=self._decisive[(clause, rule)],
            )
            for (clause, rule), counts in self._flips.items()
        ]
        return tuple(sorted(rows, key=lambda r: (_clause_order(r.clause), r.rule)))

    def _label(self, rule: str) -> str:
        """What the check is, in the policy's words: the criterion's clause from the draft (or
        the current version), else the registered rule's summary."""
        for rules in reversed(self._rules):
            for tier in rules.tiers:
                for criterion in tier.criteria:
                    if criterion.id == rule:
                        return criterion.clause
        if rule == PLAN_ADMITS_RULE:
            return _("{plan}接收的层级（第四条）").format(
                plan="、".join(dict.fromkeys(level_label(level) for level in self.levels))
            )
        registered = RULES.get(rule)
        return registered.summary if registered is not None else rule


def _flips(before: _Verdict, after: _Verdict) -> list[ReasonChange]:
    """Every check whose outcome differs, lined up by (clause, rule, level)."""
    old, new = before.reasons(), after.reasons()
    found = []
    for key in dict.fromkeys([*old, *new]):
        was, now = old.get(key), new.get(key)
        passed_before = was.passed if was is not None else None
        passed_after = now.passed if now is not None else None
        # a criterion one version lacks changes something only for a cadre who meets it
        one_sided = was is None or now is None
        if passed_before == passed_after or (one_sided and not (passed_before or passed_after)):
            continue
        clause, rule = key
        found.append(
            ReasonChange(
                clause=clause,
                rule=rule,
                before=passed_before,
                after=passed_after,
                message_before=was.message if was is not None else None,
                message_after=now.message if now is not None else None,
            )
        )
    return found


def _clause_order(clause: str) -> tuple[int, int]:
    """``A4.1`` before ``A4.3`` before ``A21.1``: numeric, not text order."""
    article, _dot, item = clause[1:].partition(".")
    try:
        return int(article), int(item or 0)
    except ValueError:
        return 999, 0
