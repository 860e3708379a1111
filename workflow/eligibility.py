"""Who may join honorary convalescence, and why: art. 4 tiers plus the personal checks.

Pure: one cadre record (roster format), the policy's rules as data, a plan level and a date in,
an explanation out. The same evaluation serves `convalescence eligibility explain`, the guards
at registration and approval, and the explanation stored with each case (A4.1, A4.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from workflow import policy
from workflow.definition.model import PolicyInfo
from workflow.definition.policy_rules import Criterion, PolicyRules
from workflow.facts import age_in_full_years, as_date, health_problems, reaches_age_limit

NO_TIER = "none"
PLAN_ADMITS_RULE = "plan_admits_tier"  # A4.4: whether the tier reached is enough for the plan
# A4.3: who recommended and when, as the registration records it (the definition's ``open``
# fields) -> the key of the cadre's ``recommendation`` it fills in
RECOMMENDATION_EVIDENCE = {
    "recommender_body": "body",
    "recommender_officer": "officer",
    "recommended_on": "date",
}
_LEVEL_NAMES = {
    "county": "县级",
    "city": "设区的市级",
    "province": "省级",
    "national": "国家级",
    "military": "军队",
}
_KIND_NAMES = {"commendation": "党委、政府表彰", "advanced_cadre": "“先进军休干部”称号"}
_MERIT_NAMES = {1: "一等功", 2: "二等功", 3: "三等功"}


@dataclass(frozen=True)
class Reason:
    """One check and its outcome; ``clause`` is the requirement id (A4.1), ``article`` its
    article number, so both an officer and a report can cite it."""

    article: int
    clause: str
    rule: str
    passed: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "article": self.article,
            "clause": self.clause,
            "rule": self.rule,
            "passed": self.passed,
            "message": self.message,
        }


@dataclass(frozen=True)
class Explanation:
    """The verdict and every check behind it. ``routes`` maps each art. 4 criterion (a route
    into a tier) to its tier, highest tier first; an explanation read back from storage
    without it is told apart by the article (4) and the A4.4 rule."""

    eligible: bool
    tier: str
    level: str
    on: date
    reasons: tuple[Reason, ...]
    routes: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "eligible": self.eligible,
            "tier": self.tier,
            "level": self.level,
            "on": self.on.isoformat(),
            "decided_by": self.decided_by.rule if self.decided_by else None,
            "routes": dict(self.routes),
            "reasons": [r.to_json() for r in self.reasons],
        }

    @property
    def failed(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if not r.passed)

    def _is_route(self, reason: Reason) -> bool:
        if self.routes:
            return reason.rule in self.routes
        return reason.article == 4 and reason.rule != PLAN_ADMITS_RULE

    @property
    def decided_by(self) -> Reason | None:
        """The art. 4 route that gave the tier: the first criterion passed, highest tier first
        (A4.2); None when no route applies."""
        return next((r for r in self.reasons if self._is_route(r) and r.passed), None)

    def _routes_not_met(self) -> list[Reason]:
        """Routes worth reading out when the tier is not enough: those of the tiers above the
        one reached (every route when none is reached)."""
        failed = [r for r in self.reasons if self._is_route(r) and not r.passed]
        if not self.routes or self.tier == NO_TIER:
            return failed
        order = list(dict.fromkeys(self.routes.values()))  # tiers, highest first
        above = order[: order.index(self.tier)] if self.tier in order else order
        return [r for r in failed if self.routes.get(r.rule) in above]

    def sentences(self) -> list[str]:
        """The explanation in Chinese sentences an officer can read aloud: the verdict, then
        the route that decides the tier (A4.2), then the other checks. Routes not taken are
        read out only when the tier falls short, and then only those that would have
        reached the tier wanted; ``--json`` keeps every check."""
        verdict = "符合" if self.eligible else "不符合"
        tier = {"city": "市级", "county": "县级"}.get(self.tier, "无")
        head = (
            f"结论：{self.on.isoformat()} {verdict}参加{_plan_name(self.level)}荣誉疗养的条件"
            f"（按功勋荣誉可参加的最高层级：{tier}）。"
        )
        lines = [head]
        route = self.decided_by
        if route is not None:
            lines.append(_line(route, "决定层级的途径："))
        checks = [r for r in self.reasons if not self._is_route(r)]
        tier_short = any(r.rule == PLAN_ADMITS_RULE and not r.passed for r in checks)
        if route is None or tier_short:
            lines += [_line(r, "未满足的途径：") for r in self._routes_not_met()]
        lines += [_line(r) for r in checks]
        return lines


def _line(reason: Reason, label: str = "") -> str:
    mark = "✓" if reason.passed else "✗"
    article = _chinese_number(reason.article)
    return f"{mark} {label}{reason.message}（第{article}条，{reason.clause}）"


def with_recommendation(cadre: Mapping[str, Any], evidence: Mapping[str, Any]) -> Mapping[str, Any]:
    """The cadre record with the A4.3 recommender the registration recorded (body, named
    officer, date) filled into its ``recommendation``; unchanged when none was recorded."""
    given = {
        key: str(value).strip()
        for field_name, key in RECOMMENDATION_EVIDENCE.items()
        if (value := evidence.get(field_name)) is not None and str(value).strip()
    }
    if not given:
        return cadre
    recommendation = dict(cadre.get("recommendation") or {})
    return {**cadre, "recommendation": {**recommendation, **given}}


def article_number(clause: str) -> int:
    """``"A4.3"`` → 4."""
    return int(clause[1:].split(".", maxsplit=1)[0])


def explain(
    cadre: Mapping[str, Any],
    *,
    rules: PolicyRules,
    policy: PolicyInfo,
    level: str,
    on: date,
    evidence: Mapping[str, Any] | None = None,
) -> Explanation:
    """``evidence``: what the registration records beside the cadre's record (the A4.3
    recommender), so the explanation and the guard read the same facts."""
    cadre = with_recommendation(cadre, evidence or {})
    tier, tier_reasons = highest_tier(cadre, rules)
    reasons = list(tier_reasons)
    admitted = tier in rules.plan_admits.get(level, ())
    reasons.append(
        _reason(
            "A4.4",
            PLAN_ADMITS_RULE,
            admitted,
            f"{_plan_name(level)}疗养接收"
            + "、".join(_tier_name(t) for t in rules.plan_admits.get(level, ()))
            + f"对象；该同志为{_tier_name(tier)}对象",
        )
    )
    reasons.append(_category_reason(cadre, rules))
    problems = health_problems(cadre)
    reasons.append(
        _reason(
            "A8.1",
            "fit_for_convalescence",
            not problems,
            "生活能够自理，无传染病、精神疾病、危急重症"
            if not problems
            else "、".join(problems) + "，不适宜参加疗养",
        )
    )
    reasons.append(_age_reason(cadre, on, rules))
    in_force = policy.in_force_on(on)
    until = policy.effective_until.isoformat() if policy.effective_until else "长期"
    reasons.append(
        _reason(
            "A21.1",
            "policy_in_force",
            in_force,
            f"《{policy.title}》有效期 {policy.effective_from.isoformat()} 至 {until}，"
            + (f"{on.isoformat()} 在有效期内" if in_force else f"{on.isoformat()} 不在有效期内"),
        )
    )
    # A failed tier criterion is information, not a refusal: one matching criterion suffices,
    # and whether the tier is enough is the A4.4 reason above.
    routes = {c.id: t.tier for t in rules.tiers for c in t.criteria}
    eligible = all(r.passed for r in reasons if r.rule not in routes)
    return Explanation(
        eligible=eligible, tier=tier, level=level, on=on, reasons=tuple(reasons), routes=routes
    )


def highest_tier(cadre: Mapping[str, Any], rules: PolicyRules) -> tuple[str, list[Reason]]:
    """The highest tier any criterion gives (A4.2), with one reason per criterion checked."""
    reasons: list[Reason] = []
    found = NO_TIER
    for tier in rules.tiers:
        for criterion in tier.criteria:
            passed, message = _criterion(cadre, criterion, rules)
            reasons.append(_reason(criterion.article, criterion.id, passed, message))
            if passed and found == NO_TIER:
                found = tier.tier
    return found, reasons


def _criterion(
    cadre: Mapping[str, Any], criterion: Criterion, rules: PolicyRules
) -> tuple[bool, str]:
    if criterion.merit is not None:
        test = criterion.merit
        matches = [
            m
            for m in cadre.get("merits") or []
            if isinstance(m.get("class"), int)
            and m["class"] <= test.max_class
            and (test.wartime is None or bool(m.get("wartime")) is test.wartime)
            # A4.3 is the way in for a merit of that class itself (三等功事迹特别突出); a
            # higher merit takes its own route and is not "missing a recommendation"
            and not (criterion.recommended_by and m["class"] < test.max_class)
        ]
        if not matches:
            return False, f"无符合“{criterion.clause}”的立功记录"
        best = min(matches, key=lambda m: m["class"])
        wartime = "战时" if best.get("wartime") else ""
        fact = f"{best.get('year', '')}年荣立{wartime}{_MERIT_NAMES[best['class']]}"
        if criterion.recommended_by:
            return _recommendation(cadre, criterion, fact)
        return True, f"{fact}，符合“{criterion.clause}”"
    assert criterion.honour is not None  # the schema requires merit or honour
    return _honour(cadre, criterion, rules)


def _recommendation(cadre: Mapping[str, Any], criterion: Criterion, fact: str) -> tuple[bool, str]:
    """A4.3: who recommended (a county dept or agency: the body by name and the officer who
    signed) and when, and the reason, must all be on record; the kind of body alone is not
    a recommendation anyone can be held to (art. 19)."""
    recommendation = cadre.get("recommendation") or {}
    by = recommendation.get("by")
    names = {"county_dept": "县级退役军人事务部门", "agency": "军休机构"}
    if by not in criterion.recommended_by:
        return False, f"{fact}，但无县级退役军人事务部门或军休机构的推荐记录"
    kind = names.get(by, by)
    text = {k: str(recommendation.get(k) or "").strip() for k in ("reason", "body", "officer")}
    day = as_date(recommendation.get("date"))
    missing = [
        label
        for label, present in (
            ("推荐单位名称", text["body"]),
            ("推荐人", text["officer"]),
            ("推荐日期", day),
            ("推荐理由", text["reason"]),
        )
        if not present
    ]
    if missing:
        return False, f"{fact}，有{kind}推荐但未记录{'、'.join(missing)}"
    assert day is not None
    return True, (
        f"{fact}，经{kind}{text['body']}（{text['officer']}）于{day.isoformat()}推荐"
        f"（{text['reason']}），符合“{criterion.clause}”"
    )


def _honour(cadre: Mapping[str, Any], criterion: Criterion, rules: PolicyRules) -> tuple[bool, str]:
    assert criterion.honour is not None
    test = criterion.honour
    placed_year = _year(cadre.get("placed_on"))
    minimum = rules.level_rank(test.min_level)
    candidates = [
        h
        for h in cadre.get("honours") or []
        if h.get("kind") == test.kind
        and h.get("level") in rules.levels
        and rules.level_rank(h["level"]) >= minimum
    ]
    if not candidates:
        return (
            False,
            f"无{_LEVEL_NAMES.get(test.min_level, test.min_level)}以上{_KIND_NAMES[test.kind]}",
        )
    before = []
    for honour in sorted(candidates, key=lambda h: -rules.level_rank(h["level"])):
        year = honour.get("year")
        level = _LEVEL_NAMES.get(honour["level"], honour["level"])
        what = f"{year}年获{level}{_KIND_NAMES[test.kind]}"
        if placed_year is None or not isinstance(year, int) or year > placed_year:
            return True, f"{what}（移交安置后），符合“{criterion.clause}”"
        if year == placed_year:
            return True, (
                f"{what}，与移交安置同年，无法确定先后，按有利于军休干部的原则视为安置后，"
                f"符合“{criterion.clause}”"
            )
        before.append(what)
    return False, "；".join(before) + "，均在移交安置之前，不计入第四条安置后荣誉"


def _category_reason(cadre: Mapping[str, Any], rules: PolicyRules) -> Reason:
    category = cadre.get("category")
    passed = category in rules.categories
    clause = rules.categories.get(str(category), "A2.1")
    message = (
        f"人员类别“{category}”属于本细则适用范围"
        if passed
        else f"人员类别“{category}”不在本细则适用范围（{'、'.join(rules.categories)}）"
    )
    return _reason(clause, "category_covered", passed, message)


def _age_reason(cadre: Mapping[str, Any], on: date, rules: PolicyRules) -> Reason:
    birth = as_date(cadre.get("birth_date"))
    if birth is None:
        return _reason("A8.2", "under_age_limit_on_first_day", False, "缺少有效的出生日期")
    age, limit = age_in_full_years(birth, on), policy.limits(rules).age_limit
    passed = not reaches_age_limit(age, limit)
    message = f"{on.isoformat()} 时年满{age}周岁，" + (
        f"在{limit}周岁以下（含{limit}周岁）"
        if passed
        else f"已超过{limit}周岁，原则上不参加（可按例外程序审批）"
    )
    return _reason("A8.2", "under_age_limit_on_first_day", passed, message)


def _reason(clause: str, rule: str, passed: bool, message: str) -> Reason:
    return Reason(article_number(clause), clause, rule, passed, message)


def _tier_name(tier: str) -> str:
    return {"city": "市级", "county": "县级"}.get(tier, "无层级")


def _plan_name(level: str) -> str:
    return {"city": "市级", "county": "县级"}.get(level, level)


def _year(value: Any) -> int | None:
    day = as_date(value)
    return day.year if day else None


def _chinese_number(number: int) -> str:
    digits = "零一二三四五六七八九"
    if number < 10:
        return digits[number]
    tens, ones = divmod(number, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")
