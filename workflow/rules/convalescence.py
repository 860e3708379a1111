"""Rules of the 2023 Liaocheng honorary-convalescence policy that guard workflow steps.

Each rule cites the requirement id of ``docs/policy.md`` it implements. Dates in the
evidence are ISO strings (that is how steps record them); a missing or malformed date is a
refusal that says which field, never an exception, because the rule must explain itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from workflow.definition.policy_rules import Limits
from workflow.errors import InputError
from workflow.facts import age_in_full_years, as_date, health_problems, reaches_age_limit
from workflow.policy import limits, same_province
from workflow.rules.registry import GuardContext, rule

# The figures (A6.2 days, cadres, province; A8.2 age) are the definition's ``rules.limits``,
# read through `workflow.policy`; a definition without them gets a refusal that says so.
NO_LIMITS = "工作流定义的 rules 中没有 limits（{what}），无法核对"


def _date(evidence: Mapping[str, Any], key: str) -> date | None:
    return as_date(evidence.get(key))


def _limits(ctx: GuardContext) -> Limits | None:
    try:
        return limits(ctx.rules)
    except InputError:
        return None


@rule(
    "policy_in_force",
    article="A21.1",
    summary="只能在政策有效期内开启新的疗养案件（第二十一条）",
)
def policy_in_force(ctx: GuardContext) -> str | None:
    if ctx.policy.in_force_on(ctx.today):
        return None
    until = ctx.policy.effective_until.isoformat() if ctx.policy.effective_until else "长期"
    return (
        f"{ctx.today.isoformat()} 不在《{ctx.policy.title}》（{ctx.policy.document}）有效期内"
        f"（{ctx.policy.effective_from.isoformat()} 至 {until}），不能据此开启新案件"
    )


@rule(
    "fit_for_convalescence",
    article="A8.1",
    summary="生活能够自理，无传染病、精神疾病、危急重症等不适宜疗养的疾患（第八条）",
)
def fit_for_convalescence(ctx: GuardContext) -> str | None:
    found = health_problems(ctx.cadre)
    if not found:
        return None
    return f"{ctx.cadre.get('name', '该军休干部')}{'、'.join(found)}，不适宜参加疗养"


@rule(
    "under_age_limit_on_first_day",
    article="A8.2",
    summary="年龄原则上在80周岁以下，按疗养首日计算周岁（第八条）",
)
def under_age_limit_on_first_day(ctx: GuardContext) -> str | None:
    first_day = _date(ctx.evidence, "batch_start")
    if first_day is None:
        return "未记录疗养批次开始日期（batch_start），无法按首日核算年龄"
    birth = _date(ctx.cadre, "birth_date")
    if birth is None:
        return "军休干部档案缺少有效的出生日期，无法核算年龄"
    figures = _limits(ctx)
    if figures is None:
        return NO_LIMITS.format(what="A8.2 年龄上限")
    age = age_in_full_years(birth, first_day)
    if not reaches_age_limit(age, figures.age_limit):
        return None
    return f"疗养首日（{first_day.isoformat()}）年满{age}周岁，已超过{figures.age_limit}周岁"


@rule(
    "stay_within_seven_days",
    article="A6.2",
    summary="每期疗养时间不超过7天（含往返程）（第六条）",
)
def stay_within_seven_days(ctx: GuardContext) -> str | None:
    start = _date(ctx.evidence, "batch_start")
    end = _date(ctx.evidence, "batch_end")
    if start is None or end is None:
        return "未记录疗养批次的开始或结束日期（batch_start / batch_end）"
    if end < start:
        return f"结束日期 {end.isoformat()} 早于开始日期 {start.isoformat()}"
    figures = _limits(ctx)
    if figures is None:
        return NO_LIMITS.format(what="A6.2 天数上限")
    days = (end - start).days + 1
    if days <= figures.batch_max_days:
        return None
    return f"疗养共{days}天（含往返程），超过{figures.batch_max_days}天"


@rule(
    "insurance_covers_stay",
    article="A7.3",
    summary="意外伤害保险须覆盖疗养期间每一天，含往返程（第七条）",
)
def insurance_covers_stay(ctx: GuardContext) -> str | None:
    start = _date(ctx.evidence, "batch_start")
    end = _date(ctx.evidence, "batch_end")
    covered_from = _date(ctx.evidence, "covered_from")
    covered_until = _date(ctx.evidence, "covered_until")
    if start is None or end is None:
        return "案件未记录疗养批次日期，无法核对保险期间"
    if covered_from is None or covered_until is None:
        return "未记录保险起止日期（covered_from / covered_until）"
    gaps = []
    if covered_from > start:
        gaps.append(f"{start.isoformat()} 至 {covered_from.isoformat()} 前一日未投保")
    if covered_until < end:
        gaps.append(f"{covered_until.isoformat()} 之后至 {end.isoformat()} 未投保")
    if not gaps:
        return None
    return (
        f"保险期间 {covered_from.isoformat()} 至 {covered_until.isoformat()} 未覆盖疗养期间"
        f" {start.isoformat()} 至 {end.isoformat()}：" + "；".join(gaps)
    )


@rule(
    "within_shandong",
    article="A6.2",
    summary="疗养地点原则上安排在省内（第六条），省外须有例外审批记录",
)
def within_shandong(ctx: GuardContext) -> str | None:
    province = str(ctx.evidence.get("province") or "").strip()
    if not province:
        return "未记录疗养地所在省份（province）"
    figures = _limits(ctx)
    if figures is None:
        return NO_LIMITS.format(what="A6.2 疗养省份")
    if same_province(province, figures.home_province):
        return None
    return f"疗养地在{province}，不在{figures.home_province}省内"


@rule(
    "at_most_fifty_per_batch",
    article="A6.2",
    summary="一般每批次不超过50人（第六条），超过须有例外审批记录",
)
def at_most_fifty_per_batch(ctx: GuardContext) -> str | None:
    size = ctx.evidence.get("batch_size")
    if not isinstance(size, int | float):
        return "未记录本批次参加人数（batch_size）"
    figures = _limits(ctx)
    if figures is None:
        return NO_LIMITS.format(what="A6.2 每批次人数")
    if size <= figures.batch_max_cadres:
        return None
    return f"本批次共{size:g}人，超过{figures.batch_max_cadres}人"


@rule(
    "batch_in_case_plan",
    article="A4.4",
    summary="批次须属于案件报名层级、所在周期的年度计划（第四条、第九条）",
    needs=("cycle",),
)
def batch_in_case_plan(ctx: GuardContext) -> str | None:
    level, batch_level = ctx.evidence.get("plan_level"), ctx.evidence.get("batch_plan_level")
    if batch_level is None:
        return "未指定疗养批次（batch_id），无法核对计划层级"
    if level is not None and level != batch_level:
        names = {"city": "市级", "county": "县级"}
        return (
            f"案件报名的是{names.get(str(level), level)}疗养，所选批次属于"
            f"{names.get(str(batch_level), batch_level)}计划"
        )
    cycle = ctx.facts.get("cycle")
    batch_cycle = ctx.evidence.get("batch_cycle")
    if cycle is not None and batch_cycle is not None and cycle != batch_cycle:
        return f"案件属于周期 {cycle}，所选批次属于周期 {batch_cycle} 的计划（第九条）"
    return None
