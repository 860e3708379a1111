"""Guards of the trip itself (art. 6, 7, 13): check-in happens in a batch that has started,
on one of its days.

``batch_started`` needs a fact the step's read supplies: ``seat_batch_started_at``, the
``started_at`` of the batch holding the case's seat (None while it has not started). A batch
starts only with both plans (A13.1), both service teams named (A15.1) and staff fitting the
cadres seated (A12.1), so attendance recorded in a started batch is attendance in a batch that
met them.
"""

from __future__ import annotations

from workflow.facts import as_date
from workflow.rules.registry import GuardContext, rule

SEAT_BATCH_STARTED_AT = "seat_batch_started_at"  # the fact batch_started needs


@rule(
    "checked_in_during_batch",
    article="A7.1",
    summary="报到日期须在所参加批次的起止日期之内（第六条、第七条）",
)
def checked_in_during_batch(ctx: GuardContext) -> str | None:
    checked_in = as_date(ctx.evidence.get("checked_in_on"))
    if checked_in is None:
        return "未记录有效的报到日期（checked_in_on）"
    start, end = as_date(ctx.evidence.get("batch_start")), as_date(ctx.evidence.get("batch_end"))
    if start is None or end is None:
        return "案件未记录所参加批次的起止日期（batch_start / batch_end），无法核对报到日期"
    if start <= checked_in <= end:
        return None
    return (
        f"报到日期 {checked_in.isoformat()} 不在批次 {start.isoformat()} 至 {end.isoformat()} 之内"
    )


@rule(
    "batch_started",
    article="A13.1",
    summary="批次开始（已有安全预案、应急预案和双方服务小组负责人）后才能登记参加（第十三条、第十五条）",
    needs=(SEAT_BATCH_STARTED_AT,),
)
def batch_started(ctx: GuardContext) -> str | None:
    if SEAT_BATCH_STARTED_AT not in ctx.facts:
        return "未能读取所在批次是否已开始，不能登记参加"
    if ctx.facts[SEAT_BATCH_STARTED_AT] is not None:
        return None
    return (
        "所在批次尚未开始：批次须登记安全预案、应急预案（A13.1）和组织方、承办方服务小组负责人"
        "（A15.1）并经 batches start 开始后，才能登记参加"
    )
