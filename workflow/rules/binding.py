"""Plans and batches are bound to their year, cycle, county and policy (art. 3, 4, 5, 9, 21).

Two kinds of pure check live here:

* guards an approval names (registered rules, reading the batch facts the approval copies into
  the evidence): the batch lies in the case's cycle (A9.2: a batch dated in another cycle cannot
  slip past once-per-cycle), inside the policy's window and while it is in force (A21.1), and a
  county plan's batch takes only that county's cadres (A4.4, 第五条 A5.2);
* checks the plans service runs before it writes a plan or a batch (`plan_refusals`,
  `batch_refusals`), returning `Refusal`s that cite the article;
* the registration's annual plan (A3.2, `annual_plan_for_registration`): it reads the year's
  plans from ``facts["annual_plans"]``, which the registration step reads through
  `workflow.store.plan_facts.annual_plans` whenever its guards name the rule (the bundled
  definition's ``open:`` step does).

None reads the database: the cycles and the policy window come from the definition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from workflow.definition.model import PolicyInfo
from workflow.definition.policy_rules import Cycle, PolicyRules
from workflow.errors import Refusal
from workflow.facts import as_date
from workflow.i18n import _
from workflow.rules.registry import GuardContext, rule

_LEVELS = {"city": "市级", "county": "县级"}


def _window(policy: PolicyInfo) -> str:
    until = policy.effective_until.isoformat() if policy.effective_until else _("长期")
    return f"{policy.effective_from.isoformat()} {_('至')} {until}"


def _out_of_window(policy: PolicyInfo, start: date, end: date) -> bool:
    return not (policy.in_force_on(start) and policy.in_force_on(end))


# -- guards at approval -------------------------------------------------------------------------


@rule(
    "batch_in_case_cycle",
    article="A9.2",
    summary="批次日期须在案件所在疗养周期内，参加计入该周期（第九条）",
    needs=("cycle",),
)
def batch_in_case_cycle(ctx: GuardContext) -> str | None:
    start, end = as_date(ctx.evidence.get("batch_start")), as_date(ctx.evidence.get("batch_end"))
    if start is None or end is None:
        return _("未记录疗养批次的开始或结束日期（batch_start / batch_end）")
    cycle = ctx.facts.get("cycle")
    if ctx.rules is None or cycle is None:
        return _("案件没有所属的疗养周期，无法核对批次日期")
    found = next((c for c in ctx.rules.cycles if c.id == cycle), None)
    if found is not None and found.contains(start) and found.contains(end):
        return None
    return _(
        "批次 {start} 至 {end} 不在案件所属的 {cycle} 疗养周期内，不能用其他周期的批次"
        "规避每周期一次的限制"
    ).format(start=start, end=end, cycle=cycle)


@rule(
    "batch_within_policy",
    article="A21.1",
    summary="批准须在政策有效期内，批次日期须在政策有效期内（第二十一条）",
)
def batch_within_policy(ctx: GuardContext) -> str | None:
    policy = ctx.policy
    if not policy.in_force_on(ctx.today):
        return _("{today} 不在《{title}》有效期内（{window}），不能再据此批准参加疗养").format(
            today=ctx.today, title=policy.title, window=_window(policy)
        )
    start, end = as_date(ctx.evidence.get("batch_start")), as_date(ctx.evidence.get("batch_end"))
    if start is None or end is None:
        return _("未记录疗养批次的开始或结束日期（batch_start / batch_end）")
    if _out_of_window(policy, start, end):
        return _("批次 {start} 至 {end} 超出《{title}》有效期（{window}）").format(
            start=start, end=end, title=policy.title, window=_window(policy)
        )
    return None


@rule(
    "county_plan_own_cadres",
    article="A4.4",
    summary="县级计划只接收本县（市、区）服务管理的军休干部（第四条、第五条）",
)
def county_plan_own_cadres(ctx: GuardContext) -> str | None:
    if ctx.evidence.get("batch_plan_level") != "county":
        return None
    plan_county = ctx.evidence.get("batch_plan_county")
    county = ctx.cadre.get("county")
    if plan_county and county == plan_county:
        return None
    return _(
        "所选批次属于{plan}县级计划，{name}由{county}服务管理；县级计划只接收本县的军休干部"
        "（第五条，A5.2）"
    ).format(plan=plan_county or "", name=ctx.cadre.get("name", ""), county=county or "")


# -- plans and batches, before they are written -------------------------------------------------


def cycle_of(rules: PolicyRules | None, cycle_id: str) -> Cycle | None:
    if rules is None:
        return None
    return next((c for c in rules.cycles if c.id == cycle_id), None)


def refuse_after_policy(policy: PolicyInfo, today: date, what: str) -> Refusal | None:
    """A21.1: nothing new (plan, batch) under a policy that is no longer (or not yet) in force."""
    if policy.in_force_on(today):
        return None
    return Refusal(
        "A21.1",
        "policy_in_force",
        _("{today} 不在《{title}》有效期内（{window}），不能再新建{what}").format(
            today=today, title=policy.title, window=_window(policy), what=what
        ),
    )


def plan_refusals(*, year: int, cycle: Cycle, policy: PolicyInfo, today: date) -> list[Refusal]:
    """A plan's year lies in its cycle (A3.1, A9.1), the policy is in force today and in that
    year (A21.1)."""
    found = [refuse_after_policy(policy, today, _("年度计划"))]
    if not cycle.start.year <= year <= cycle.end.year:
        found.append(
            Refusal(
                "A3.1",
                "plan_year_in_cycle",
                _("{year} 年度计划不在周期 {cycle}（{start} 至 {end}）内").format(
                    year=year, cycle=cycle.id, start=cycle.start, end=cycle.end
                ),
            )
        )
    first, last = date(year, 1, 1), date(year, 12, 31)
    covered = not (
        (policy.effective_until is not None and first > policy.effective_until)
        or last < policy.effective_from
    )
    if not covered:
        found.append(
            Refusal(
                "A21.1",
                "plan_year_in_policy",
                _("{year} 年不在《{title}》有效期（{window}）内").format(
                    year=year, title=policy.title, window=_window(policy)
                ),
            )
        )
    return [r for r in found if r is not None]


def batch_refusals(
    *,
    plan: Mapping[str, Any],
    cycles: Iterable[Cycle],
    policy: PolicyInfo,
    start: date,
    end: date,
    today: date,
) -> list[Refusal]:
    """A batch lies in its plan's year (A3.1) and cycle (A9.1) and in the policy's window, and
    is created while the policy is in force (A21.1)."""
    found = [refuse_after_policy(policy, today, _("疗养批次"))]
    year = int(plan["year"])
    if start.year != year or end.year != year:
        found.append(
            Refusal(
                "A3.1",
                "batch_in_plan_year",
                _("批次 {start} 至 {end} 不在计划 {plan} 的 {year} 年度内").format(
                    start=start, end=end, plan=plan.get("id", ""), year=year
                ),
            )
        )
    cycle = next((c for c in cycles if c.id == plan["cycle"]), None)
    if cycle is not None and not (cycle.contains(start) and cycle.contains(end)):
        found.append(
            Refusal(
                "A9.1",
                "batch_in_plan_cycle",
                _("批次 {start} 至 {end} 不在计划的疗养周期 {cycle}（{first} 至 {last}）内").format(
                    start=start, end=end, cycle=cycle.id, first=cycle.start, last=cycle.end
                ),
            )
        )
    if _out_of_window(policy, start, end):
        found.append(
            Refusal(
                "A21.1",
                "batch_in_policy",
                _("批次 {start} 至 {end} 超出《{title}》有效期（{window}）").format(
                    start=start, end=end, title=policy.title, window=_window(policy)
                ),
            )
        )
    return [r for r in found if r is not None]


# -- registration names an annual plan (art. 3) --------------------------------------------------

PLANS = "annual_plans"  # GuardContext.facts key: the plans of the registration day's year


@rule(
    "annual_plan_for_registration",
    article="A3.2",
    summary="报名须有当年该层级的年度疗养计划（县级计划为本县的计划）（第三条）",
    needs=(PLANS,),
)
def annual_plan_for_registration(ctx: GuardContext) -> str | None:
    """The step supplies ``facts[PLANS]``: the plans of ``ctx.today``'s year as mappings with
    ``id``, ``organiser_level``, ``county``, ``year`` and ``cycle`` (`workflow.store.plan_facts`).
    A registration for the city level needs a city plan of the year and cycle, for the county
    level a county plan of the cadre's own county."""
    plans = ctx.facts.get(PLANS)
    if plans is None:
        return _("报名步骤未读取年度计划，无法核对第三条")
    level = str(ctx.evidence.get("plan_level") or "")
    year = ctx.today.year
    cycle = ctx.rules.cycle_on(ctx.today) if ctx.rules is not None else None
    county = ctx.cadre.get("county") if level == "county" else None
    if any(_plan_fits(p, level, year, cycle.id if cycle else None, county) for p in plans):
        return None
    which = _("{year} 年度{where}{level}荣誉疗养计划").format(
        year=year, where=county or "", level=_LEVELS.get(level, level)
    )
    if cycle is not None:
        which += _("（周期 {cycle}）").format(cycle=cycle.id)
    return _("尚无{plan}，不能报名；请先制定年度计划（第三条）").format(plan=which)


def _plan_fits(
    plan: Mapping[str, Any], level: str, year: int, cycle: str | None, county: str | None
) -> bool:
    return (
        plan.get("organiser_level") == level
        and int(plan.get("year") or 0) == year
        and (cycle is None or plan.get("cycle") == cycle)
        and (county is None or plan.get("county") == county)
    )
