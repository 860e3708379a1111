"""Pure rules for plans, batches and contractors; each returns a `Refusal` citing its article.

They read plain values, never the database, so the service can run them inside its write
transaction and the tests can walk every boundary without one. The figures they apply (A6.2,
A9.1, A18.3) are the definition's, passed in as `Limits` or a number read through
`workflow.policy`; none is written here.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from workflow.definition.policy_rules import Limits
from workflow.errors import Refusal
from workflow.i18n import _
from workflow.policy import (
    BATCH_EXCEPTION_RULES,
    BATCH_EXCEPTION_WAIVES,
    OUT_OF_PROVINCE,
    OVER_50,
    cycle_last_day,
    cycle_too_long,
    same_province,
)

__all__ = [
    "BATCH_EXCEPTION_RULES",
    "BATCH_EXCEPTION_WAIVES",
    "OUT_OF_PROVINCE",
    "OVER_50",
    "Validity",
    "batch_days",
    "check_after_end",
    "check_before_start",
    "check_contractor_papers",
    "check_contractor_standing",
    "check_cycle",
    "check_dates",
    "check_known_cycle",
    "check_province",
    "check_service_teams",
    "check_size",
    "check_staff",
    "check_start",
    "staff_bounds",
]


@dataclass(frozen=True)
class Validity:
    """A qualification or agreement: valid on every day from ``valid_from`` to ``valid_until``."""

    name: str
    valid_from: date
    valid_until: date

    def covers(self, start: date, end: date) -> bool:
        return self.valid_from <= start and end <= self.valid_until


def batch_days(start: date, end: date) -> int:
    """Days counted inclusively: a batch leaving Monday and back Sunday lasts 7 days."""
    return (end - start).days + 1


def check_dates(start: date, end: date, limits: Limits) -> Refusal | None:
    """A6.2: at most ``limits.batch_max_days`` days, travel included (a hard limit)."""
    if end < start:
        return Refusal(
            "A6.1",
            "batch_dates",
            _("结束日期 {end} 早于开始日期 {start}").format(end=end, start=start),
        )
    days, most = batch_days(start, end), limits.batch_max_days
    if days > most:
        return Refusal(
            "A6.2",
            "batch_days",
            _("每批次含往返不超过 {most} 天，本批次 {days} 天").format(most=most, days=days),
        )
    return None


def check_size(cadres: int, exceptions: Collection[str], limits: Limits) -> Refusal | None:
    """Over the limit needs a recorded exception (A6.2 "generally"), never a silent pass."""
    most = limits.batch_max_cadres
    if cadres > most and OVER_50 not in exceptions:
        return Refusal(
            "A6.2",
            OVER_50,
            _("每批次一般不超过 {most} 人，本批次 {cadres} 人且无批准的例外").format(
                most=most, cadres=cadres
            ),
        )
    return None


def check_province(province: str, exceptions: Collection[str], limits: Limits) -> Refusal | None:
    """A6.2: in the home province "in principle", so elsewhere needs a recorded exception."""
    home = limits.home_province
    if not same_province(province, home) and OUT_OF_PROVINCE not in exceptions:
        return Refusal(
            "A6.2",
            OUT_OF_PROVINCE,
            _("疗养地原则上在{home}省内，“{province}”需有批准的例外").format(
                home=home, province=province
            ),
        )
    return None


def staff_bounds(cadres: int, limits: Limits) -> tuple[int, int]:
    """A12.1: one staff member per 5 to 10 cadres (``limits.staff_ratio``), rounded up at both
    ends."""
    dense, sparse = limits.staff_ratio
    return math.ceil(cadres / sparse), math.ceil(cadres / dense)


def check_staff(staff: int, cadres: int, limits: Limits) -> Refusal | None:
    low, high = staff_bounds(cadres, limits)
    if not low <= staff <= high:
        return Refusal(
            "A12.1",
            "staff_ratio",
            _(
                "{cadres} 名干部需工作人员 {low} 至 {high} 人"
                "（1:{dense} 至 1:{sparse}），现为 {staff} 人"
            ).format(
                cadres=cadres,
                low=low,
                high=high,
                dense=limits.staff_ratio[0],
                sparse=limits.staff_ratio[1],
                staff=staff,
            ),
        )
    return None


def check_start(safety_plan_ref: str | None, emergency_plan_ref: str | None) -> Refusal | None:
    """A13.1: the batch may not start until both plans are on record."""
    missing = [
        label
        for label, ref in ((_("安全预案"), safety_plan_ref), (_("应急预案"), emergency_plan_ref))
        if not (ref and ref.strip())
    ]
    if missing:
        return Refusal(
            "A13.1",
            "start_batch",
            _("批次未登记{missing}，不能开始").format(missing=_("、").join(missing)),
        )
    return None


def _named(contacts: Iterable[Mapping[str, Any]]) -> bool:
    return any(str(c.get("name") or "").strip() for c in contacts)


def check_service_teams(
    organiser_contacts: Iterable[Mapping[str, Any]],
    contractor_contacts: Iterable[Mapping[str, Any]],
) -> Refusal | None:
    """A15.1: the organiser's and the contractor's service teams each name at least one person
    before the batch may start."""
    missing = [
        label
        for label, contacts in (
            (_("组织单位服务小组"), organiser_contacts),
            (_("承办单位服务小组"), contractor_contacts),
        )
        if not _named(contacts)
    ]
    if missing:
        return Refusal(
            "A15.1",
            "service_teams",
            _("批次未登记{missing}的负责人，不能开始").format(missing=_("、").join(missing)),
        )
    return None


def check_before_start(
    started_at: datetime | None, what: str, article: str, rule: str
) -> Refusal | None:
    """Staffing, plans and contacts are corrected before a batch starts, never after (the
    record of what the batch started with stays as it was)."""
    if started_at is None:
        return None
    return Refusal(
        article,
        rule,
        _("批次已于 {at} 开始，不能再更改{what}").format(at=started_at, what=what),
    )


def check_after_end(end: date, today: date, what: str, article: str, rule: str) -> Refusal | None:
    """A contractor's evaluation (A18.3) and the actual cost (A16.1) follow the trip: they are
    recorded from the day after the batch's last day."""
    if today > end:
        return None
    return Refusal(
        article,
        rule,
        _("批次 {end} 结束，{what}须在结束后登记（今天是 {today}）").format(
            end=end, what=what, today=today
        ),
    )


def check_contractor_papers(
    start: date,
    end: date,
    qualifications: Iterable[Validity],
    agreements: Iterable[Validity],
) -> Refusal | None:
    """A14.1: one qualification and one agreement for the plan, each covering every batch day."""
    missing = []
    if not any(q.covers(start, end) for q in qualifications):
        missing.append(_("有效资质"))
    if not any(a.covers(start, end) for a in agreements):
        missing.append(_("本计划的有效协议"))
    if missing:
        return Refusal(
            "A14.1",
            "contractor_papers",
            _("承办单位在 {start} 至 {end} 期间缺少{missing}").format(
                start=start, end=end, missing=_("、").join(missing)
            ),
        )
    return None


def check_contractor_standing(scores: Sequence[int], threshold: float) -> Refusal | None:
    """A18.3 exit mechanism: a contractor not yet evaluated is admitted."""
    if not scores:
        return None
    average = sum(scores) / len(scores)
    if average < threshold:
        return Refusal(
            "A18.3",
            "contractor_exit",
            _("承办单位平均评分 {average:.1f} 低于退出线 {threshold:g}，不能承接新批次").format(
                average=average, threshold=threshold
            ),
        )
    return None


def check_cycle(cycle_id: str, start: date, end: date, limits: Limits) -> Refusal | None:
    """A9.1: a cycle spans at most ``limits.cycle_max_years`` years (both ends inclusive)."""
    years = limits.cycle_max_years
    if end < start or cycle_too_long(start, end, years):
        last = cycle_last_day(start, years)
        return Refusal(
            "A9.1",
            "cycle_length",
            _("周期 {cycle} 超过 {years} 年（{start} 至 {end}，最晚应于 {last} 结束）").format(
                cycle=cycle_id, years=years, start=start, end=end, last=last
            ),
        )
    return None


def check_known_cycle(cycle_id: str, known: Collection[str]) -> Refusal | None:
    if cycle_id not in known:
        options = _("、").join(known) or _("无")
        message = _("周期“{cycle}”不在政策规定的周期中（{options}）")
        return Refusal("A9.1", "plan_cycle", message.format(cycle=cycle_id, options=options))
    return None
