"""The one module that reads the policy's figures and its plans permissions from a definition.

Every figure a rule applies (A6.2's days, cadres and home province, A8.2's age limit, A9.1's
cycle length, A18.3's exit score) and who may read or write plans, contractors and batches
(A5.2) is written once, in the definition's ``rules:`` block; the guard rules, the plans
service, the command line and the API ask here. A successor policy is then a new YAML file, not
an edit of code, and the command line refuses exactly what the API refuses. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from workflow.definition.policy_rules import Limits, PermissionScope, PolicyRules
from workflow.errors import InputError, Refusal

# Batch exceptions (A6.2) by name, and the case rule each one waives at approval: the batch and
# the case side of one article, so both have the definition's approvers (``rules.exceptions``).
OVER_50 = "over_50"
OUT_OF_PROVINCE = "out_of_province"
BATCH_EXCEPTION_RULES = (OVER_50, OUT_OF_PROVINCE)
BATCH_EXCEPTION_WAIVES = {OVER_50: "at_most_fifty_per_batch", OUT_OF_PROVINCE: "within_shandong"}

PERMISSION_ARTICLE = "A5.2"


def limits(rules: PolicyRules | None) -> Limits:
    """The definition's figures; a definition without them cannot run these rules."""
    if rules is None or rules.limits is None:
        raise InputError(
            "工作流定义的 rules 中没有 limits（A6.2、A8.2、A9.1 的数值）", field="rules"
        )
    return rules.limits


def exit_score(rules: PolicyRules | None, override: float | None = None) -> float:
    """A18.3: a contractor's own override, else the definition's exit score."""
    if override is not None:
        return float(override)
    if rules is None or rules.contractor_exit_score is None:
        raise InputError("工作流定义的 rules 中没有 contractor_exit_score（A18.3）", field="rules")
    return float(rules.contractor_exit_score)


def cycle_last_day(start: date, years: int) -> date:
    """The last day of a cycle of ``years`` years from ``start``, inclusive: 2024-01-01 and two
    years end on 2025-12-31; a cycle from 29 February ends on the 28th."""
    try:
        return start.replace(year=start.year + years) - timedelta(days=1)
    except ValueError:  # 29 February in a common year
        return date(start.year + years, 2, 28)


def cycle_too_long(start: date, end: date, years: int) -> bool:
    """A9.1: does a cycle from ``start`` to ``end`` (both inclusive) last over ``years``?"""
    return end > cycle_last_day(start, years)


# -- provinces (A6.2) ---------------------------------------------------------------------------

# Provincial-level divisions: the short Chinese name and its pinyin, so 山东, 山东省 and Shandong
# (any case, with or without "Province") are one province and nobody records a false A6.2
# out-of-province exception for a resort in Weihai.
_PROVINCES = {
    "北京": "beijing", "天津": "tianjin", "河北": "hebei", "山西": "shanxi",
    "内蒙古": "neimenggu", "辽宁": "liaoning", "吉林": "jilin", "黑龙江": "heilongjiang",
    "上海": "shanghai", "江苏": "jiangsu", "浙江": "zhejiang", "安徽": "anhui",
    "福建": "fujian", "江西": "jiangxi", "山东": "shandong", "河南": "henan", "湖北": "hubei",
    "湖南": "hunan", "广东": "guangdong", "广西": "guangxi", "海南": "hainan",
    "重庆": "chongqing", "四川": "sichuan", "贵州": "guizhou", "云南": "yunnan",
    "西藏": "xizang", "陕西": "shaanxi", "甘肃": "gansu", "青海": "qinghai", "宁夏": "ningxia",
    "新疆": "xinjiang", "台湾": "taiwan", "香港": "xianggang", "澳门": "aomen",
}  # fmt: skip
_BY_PINYIN = {pinyin: name for name, pinyin in _PROVINCES.items()}
_BY_PINYIN.update({"innermongolia": "内蒙古", "tibet": "西藏", "hongkong": "香港", "macau": "澳门"})
_CHINESE_SUFFIXES = (
    "壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区", "省", "市",
)  # fmt: skip
_LATIN_SUFFIXES = ("province", "sheng", "shi", "autonomousregion", "municipality", "sar")


def province_name(text: str) -> str:
    """The short Chinese name of a province however it is written (山东省, 山东, Shandong,
    "SHANDONG PROVINCE"); a name it does not know comes back trimmed, unchanged otherwise."""
    name = text.strip()
    for suffix in _CHINESE_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in _PROVINCES:
            return name.removesuffix(suffix)
    if name in _PROVINCES:
        return name
    latin = "".join(ch for ch in name.lower() if ch.isalpha())
    for suffix in _LATIN_SUFFIXES:
        if latin.endswith(suffix) and latin.removesuffix(suffix) in _BY_PINYIN:
            return _BY_PINYIN[latin.removesuffix(suffix)]
    return _BY_PINYIN.get(latin, name)


def same_province(a: str, b: str) -> bool:
    """A6.2's in-province test: both names normalised by `province_name`."""
    return province_name(a) == province_name(b)


# -- who may read and write plans, contractors and batches (A5.2) ------------------------------


class Who(Protocol):
    """The acting role, name and scope (`workflow.machine.Actor` fits)."""

    @property
    def role(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def scope(self) -> str | None: ...


@dataclass(frozen=True)
class Target:
    """What a request touches, as far as a scope can limit it: the plan it falls under (its
    level and county) and the contractor (its id). Unknown parts limit nothing: a list asks
    with no target and filters its rows with `sees`."""

    label: str = ""  # how the message names it, e.g. "计划 3", "批次 7"
    plan_level: str | None = None
    plan_county: str | None = None
    contractor_id: int | None = None


def holders(rules: PolicyRules | None, permission: str) -> Mapping[str, PermissionScope]:
    """Role -> scope for ``permission``; nobody holds a permission the definition omits."""
    if rules is None:
        return {}
    return rules.permissions.get(permission, {})


def permission_refusal(
    rules: PolicyRules | None, permission: str, actor: Who, target: Target | None = None
) -> Refusal | None:
    """Why ``actor`` may not use ``permission`` on ``target``, or None if it may (A5.2)."""
    granted = holders(rules, permission)
    scope = granted.get(actor.role)
    if scope is None:
        roles = "、".join(granted) or "无"
        return _refusal(f"角色 {actor.role} 无权访问（缺少权限 {permission}；可访问角色：{roles}）")
    if target is None or scope == "all":
        return None
    if scope == "county" and target.plan_level is not None:
        if target.plan_level == "county" and target.plan_county == actor.scope:
            return None
        where = target.plan_county if target.plan_level == "county" else "市级"
        return _refusal(
            f"{actor.name}的权限范围是“{actor.scope}”，{target.label}属于“{where}”"
            f"（缺少权限 {permission}@{where}）"
        )
    if scope == "contractor" and target.contractor_id is not None:
        if own_contractor(actor) == target.contractor_id:
            return None
        return _refusal(
            f"{actor.name}的权限范围是承办单位“{actor.scope}”，{target.label}属于承办单位"
            f"“{target.contractor_id}”（缺少权限 {permission}@{target.contractor_id}）"
        )
    return None


def sees(rules: PolicyRules | None, permission: str, actor: Who, contractor_id: int) -> bool:
    """Whether a row of ``contractor_id`` (a contractor, or a batch it runs) is in the actor's
    scope for ``permission``: lists show only those."""
    scope = holders(rules, permission).get(actor.role)
    if scope is None:
        return False
    return scope != "contractor" or own_contractor(actor) == contractor_id


def own_contractor(actor: Who) -> int | None:
    """The contractor id a role scoped to a contractor names; -1 for a scope naming none."""
    try:
        return int(actor.scope or "")
    except ValueError:
        return -1


def plan_target(plan: Mapping[str, object], label: str | None = None) -> Target:
    """The target a plan row (or a plan about to be created) is."""
    level = str(plan.get("organiser_level") or "")
    county = plan.get("county")
    return Target(
        label=label or f"计划 {plan.get('id', '')}",
        plan_level=level,
        plan_county=str(county) if county is not None else None,
    )


def _refusal(message: str) -> Refusal:
    return Refusal(PERMISSION_ARTICLE, "permission", message)
