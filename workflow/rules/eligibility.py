"""Guards that apply the policy's rules-as-data: tiers (art. 4), scope (art. 2, 20), cycles and
one participation per cycle (art. 9). The data comes from the definition's ``rules:`` block."""

from __future__ import annotations

from workflow.eligibility import highest_tier, with_recommendation
from workflow.rules.registry import GuardContext, rule

_TIER_NAMES = {"city": "市级", "county": "县级", "none": "无层级"}
_NO_RULES = "工作流定义未声明第四条等资格规则（rules:），无法核对"


@rule(
    "eligible_for_plan_level",
    article="A4.4",
    summary="市级疗养接收市级对象，县级疗养接收县级（含市级）对象，按功勋荣誉计算（第四条）",
)
def eligible_for_plan_level(ctx: GuardContext) -> str | None:
    if ctx.rules is None:
        return _NO_RULES
    level = ctx.evidence.get("plan_level")
    admitted = ctx.rules.plan_admits.get(str(level), ())
    # the A4.3 recommender (body, officer, date) as the registration recorded it
    tier, reasons = highest_tier(with_recommendation(ctx.cadre, ctx.evidence), ctx.rules)
    if tier in admitted:
        return None
    facts = "；".join(r.message for r in reasons if not r.passed)
    wanted = "、".join(_TIER_NAMES.get(t, t) for t in admitted) or "（未知层级）"
    return (
        f"按功勋荣誉为{_TIER_NAMES.get(tier, tier)}对象，{_TIER_NAMES.get(str(level), level)}"
        f"荣誉疗养只接收{wanted}对象。核对情况：{facts}"
    )


@rule(
    "category_covered",
    article="A2.1",
    summary="适用于移交政府安置的军队离休退休干部及退休军（警）士（第二条、第二十条）",
)
def category_covered(ctx: GuardContext) -> str | None:
    if ctx.rules is None:
        return _NO_RULES
    category = ctx.cadre.get("category")
    if category in ctx.rules.categories:
        return None
    return f"人员类别“{category}”不在适用范围（{'、'.join(ctx.rules.categories)}）"


@rule(
    "in_a_cycle",
    article="A9.1",
    summary="每个疗养周期不超过2年，报名须落在某个疗养周期内（第九条）",
)
def in_a_cycle(ctx: GuardContext) -> str | None:
    if ctx.rules is None:
        return _NO_RULES
    if ctx.rules.cycle_on(ctx.today) is not None:
        return None
    return f"{ctx.today.isoformat()} 不在任何疗养周期内，无法报名"


@rule(
    "once_per_cycle",
    article="A9.2",
    summary="同一军休干部在一个疗养周期内原则上只参加一次（第九条）",
    needs=("participations_in_cycle",),
)
def once_per_cycle(ctx: GuardContext) -> str | None:
    others = ctx.facts.get("participations_in_cycle") or []
    if not others:
        return None
    cycle = ctx.facts.get("cycle", "本")
    listed = "、".join(f"案件 {case_id}" for case_id in others)
    return f"该同志在{cycle}疗养周期内已参加或已获批参加（{listed}），原则上只参加一次"


@rule(
    "paper_form_when_on_behalf",
    article="A7.2",
    summary="代为记录家属意见时须登记纸质同意书编号（第七条）",
)
def paper_form_when_on_behalf(ctx: GuardContext) -> str | None:
    on_behalf_of = ctx.facts.get("on_behalf_of")
    if not on_behalf_of or ctx.evidence.get("consent_form_ref"):
        return None
    return f"代{on_behalf_of}记录意见时，须填写纸质同意书编号（consent_form_ref）"
