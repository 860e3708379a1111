"""Who may join honorary convalescence, and why: art. 4 tiers plus the personal checks.

Pure: one cadre record (roster format), the policy's rules as data, a plan level and a date in,
an explanation out. The same evaluation serves `convalescence eligibility explain`, the guards
at registration and approval, and the explanation stored with each case (A4.1, A4.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from workflow import policy
from workflow.definition.model import PolicyInfo
from workflow.definition.policy_rules import Criterion, PolicyRules
from workflow.facts import age_in_full_years, as_date, health_problems, reaches_age_limit

NO_TIER = "none"
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
    eligible: bool
    tier: str
    level: str
    on: date
    reasons: tuple[Reason, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "eligible": self.eligible,
            "tier": self.tier,
            "level": self.level,
            "on": self.on.isoformat(),
            "reasons": [r.to_json() for r in self.reasons],
        }

    @property
    def failed(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if not r.passed)

    def sentences(self) -> list[str]:
        """The explanation in Chinese sentences an officer can read aloud."""
        verdict = "符合" if self.eligible else "不符合"
        tier = {"city": "市级", "county": "县级"}.get(self.tier, "无")
        head = (
            f"结论：{self.on.isoformat()} {verdict}参加{_plan_name(self.level)}荣誉疗养的条件"
            f"（按功勋荣誉可参加的最高层级：{tier}）。"
        )
        lines = [head]
        for reason in self.reasons:
            mark = "✓" if reason.passed else "✗"
            lines.append(
                f"{mark} {reason.message}（第{_chinese_number(reason.article)}条，{reason.clause}）"
            )
        return lines


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
) -> Explanation:
    tier, tier_reasons = highest_tier(cadre, rules)
    reasons = list(tier_reasons)
    admitted = tier in rules.plan_admits.get(level, ())
    reasons.append(
        _reason(
            "A4.4",
            "plan_admits_tier",
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
    criteria = {c.id for t in rules.tiers for c in t.criteria}
    eligible = all(r.passed for r in reasons if r.rule not in criteria)
    return Explanation(eligible=eligible, tier=tier, level=level, on=on, reasons=tuple(reasons))


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
    """A4.3: the recommender (county dept or agency) and the reason must be on record."""
    recommendation = cadre.get("recommendation") or {}
    by = recommendation.get("by")
    reason = str(recommendation.get("reason") or "").strip()
    names = {"county_dept": "县级退役军人事务部门", "agency": "军休机构"}
    if by not in criterion.recommended_by:
        return False, f"{fact}，但无县级退役军人事务部门或军休机构的推荐记录"
    if not reason:
        return False, f"{fact}，有{names.get(by, by)}推荐但未记录推荐理由"
    return True, f"{fact}，经{names.get(by, by)}推荐（{reason}），符合“{criterion.clause}”"


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
