"""Plans, contractors and batches as the CLI, the API and host programs use them: one
transaction per call, the rules run inside it, and nothing written when a rule refuses.

Rules run after the rows they need are read in the same ``write=True`` transaction (BEGIN
IMMEDIATE on SQLite), so a check and the write it allows see the same database. Every
statement is `workflow.store.plans`'s; this module opens one `PlanStore` per call (`_store`)
and decides. The figures the rules apply (A6.2, A9.1, A18.3) and who may do what (A5.2) come
from the definition in force, through `workflow.policy`. Results are plain dicts of column
values, the shape ``--json`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from workflow import policy
from workflow.clock import shanghai_date
from workflow.cycles import refuse_frozen
from workflow.definition.model import Definition
from workflow.definition.policy_rules import PolicyRules
from workflow.engine import DEFAULT_DEFINITION, Engine
from workflow.errors import InputError, Refusal, RuleRefused
from workflow.i18n import _
from workflow.plans import rules
from workflow.plans.rules import Validity
from workflow.rules import binding
from workflow.store.admin_log import Author
from workflow.store.plans import PlanStore, plan_store

ORGANISER_LEVELS = ("city", "county")
CONTRACTOR_KINDS = ("own_resource", "partner_unit", "purchased_service")  # A10.1
Row = dict[str, Any]


@dataclass(frozen=True)
class ExceptionGrant:
    """A recorded A6.2 exception (over 50 cadres, out of province): who approved it and why."""

    rule: str
    approver_role: str
    approver_name: str
    reason: str

    def validate(self) -> None:
        if self.rule not in rules.BATCH_EXCEPTION_RULES:
            options = _("、").join(rules.BATCH_EXCEPTION_RULES)
            raise InputError(_("例外规则须为 {options} 之一").format(options=options), field="rule")
        if not self.approver_name.strip():
            raise InputError(_("须写明批准人姓名"), field="approver_name")
        if not self.reason.strip():
            raise InputError(_("例外须写明理由（A6.2 不得无声放行）"), field="reason")


def _check_approver(engine: Engine, grant: ExceptionGrant) -> None:
    """A batch exception is the A6.2 exception of its case rule: the same approvers, as the
    definition in force names them (A5.2), not a list of its own."""
    definition = _definition_now(engine)
    waived = rules.BATCH_EXCEPTION_WAIVES[grant.rule]
    allowed = definition.rules.exception_for(waived) if definition.rules else None
    approvers = allowed.approvers if allowed else ()
    if grant.approver_role in approvers:
        return
    names = _("、").join(definition.roles.get(r, r) for r in approvers) or _("无")
    _refuse(
        [
            Refusal(
                "A5.2",
                "exception_approver",
                _("批次例外 {rule}（A6.2）只能由{names}批准（缺少权限 {rule}）").format(
                    rule=grant.rule, names=names
                ),
            )
        ]
    )


def _definition_now(engine: Engine) -> Definition:
    today = shanghai_date(engine.clock.now())
    return engine.catalog.in_force(DEFAULT_DEFINITION, today) or engine.catalog.get(
        DEFAULT_DEFINITION
    )


def policy_rules(engine: Engine) -> PolicyRules | None:
    """The ``rules:`` block of the definition in force today: the figures and permissions
    every plans rule and every caller's permission check reads (`workflow.policy`)."""
    return _definition_now(engine).rules


def permission_refusal(
    engine: Engine, actor: policy.Who, permission: str, target: policy.Target | None = None
) -> Refusal | None:
    """Why ``actor`` may not use ``permission`` on ``target`` under the definition in force
    (A5.2), or None: the command line and the API ask the same table."""
    return policy.permission_refusal(policy_rules(engine), permission, actor, target)


def batch_target(engine: Engine, batch_id: int) -> policy.Target:
    """What a batch is for a scope: its plan's level and county and its contractor (A5.2)."""
    with _store(engine) as store:
        batch = store.batch(batch_id)
        plan = store.plan(batch["plan_id"])
    return policy.Target(
        label=_("批次 {batch}（计划 {plan}）").format(batch=batch_id, plan=plan["id"]),
        plan_level=plan["organiser_level"],
        plan_county=plan["county"],
        contractor_id=batch["contractor_id"],
    )


def plan_target(engine: Engine, plan_id: int) -> policy.Target:
    with _store(engine) as store:
        return policy.plan_target(store.plan(plan_id))


def _store(
    engine: Engine, *, write: bool = False, actor: policy.Who | None = None
) -> AbstractContextManager[PlanStore]:
    """The one way this module reaches the database: a `PlanStore` in one transaction, whose
    writes the admin log records as ``actor``'s (A19.1; a host program's without one)."""
    author = None if actor is None else Author(actor.role, actor.name, actor.scope)
    return plan_store(engine.transaction, write=write, author=author, now=engine.clock.now())


def _refuse(refusals: Sequence[Refusal | None]) -> None:
    found = [r for r in refusals if r is not None]
    if found:
        raise RuleRefused(found)


# -- plans ------------------------------------------------------------------------------------


def create_plan(
    engine: Engine,
    *,
    year: int,
    organiser_level: str,
    budget: Decimal,
    cycle: str,
    county: str | None = None,
    actor: policy.Who | None = None,
) -> Row:
    """An annual plan under one of the definition's cycles (A9.1)."""
    if organiser_level not in ORGANISER_LEVELS:
        raise InputError(_("组织层级须为 city 或 county"), field="organiser_level")
    if organiser_level == "county" and not (county and county.strip()):
        raise InputError(_("县级计划须写明县（区）"), field="county")
    if budget < 0:
        raise InputError(_("预算不能为负"), field="budget")
    found = policy_rules(engine)
    known = [c.id for c in found.cycles] if found else []
    _refuse([rules.check_known_cycle(cycle, known)])
    chosen = next(c for c in found.cycles if c.id == cycle) if found else None
    if chosen is not None:
        _refuse([rules.check_cycle(chosen.id, chosen.start, chosen.end, policy.limits(found))])
        _refuse(  # A3.1 the year in its cycle, A21.1 while the policy is in force
            binding.plan_refusals(
                year=year,
                cycle=chosen,
                policy=_definition_now(engine).policy,
                today=shanghai_date(engine.clock.now()),
            )
        )
    values = {
        "year": year,
        "organiser_level": organiser_level,
        "county": county if organiser_level == "county" else None,
        "budget": budget,
        "cycle": cycle,
        "created_at": engine.clock.now(),
    }
    with _store(engine, write=True, actor=actor) as store:
        plan = store.insert_plan(values)
        refuse_frozen(store.connection, cycle=cycle)  # A9.1: a closed cycle is frozen
        return plan


def list_plans(engine: Engine, *, year: int | None = None) -> list[Row]:
    with _store(engine) as store:
        return store.plans(year=year)


def show_plan(engine: Engine, plan_id: int) -> Row:
    with _store(engine) as store:
        plan = store.plan(plan_id)
        plan["batches"] = store.batches(plan_id=plan_id)
        return plan


# -- contractors ------------------------------------------------------------------------------


def create_contractor(
    engine: Engine,
    *,
    name: str,
    kind: str,
    why_purchased: str | None = None,
    exit_threshold_override: Decimal | None = None,
    actor: policy.Who | None = None,
) -> Row:
    """Own resources and partner units come first (A10.1); buying needs a recorded why (A10.2).
    A name already registered is an `InputError` naming it (the unique index decides)."""
    if not name.strip():
        raise InputError(_("承办单位名称不能为空"), field="name")
    if kind not in CONTRACTOR_KINDS:
        raise InputError(
            _("类型须为 {options} 之一").format(options=_("、").join(CONTRACTOR_KINDS)),
            field="kind",
        )
    if kind == "purchased_service" and not (why_purchased and why_purchased.strip()):
        _refuse([Refusal("A10.2", "why_purchased", _("购买服务须写明自有及合作资源不足的原因"))])
    values = {
        "name": name.strip(),
        "kind": kind,
        "why_purchased": why_purchased,
        "exit_threshold_override": exit_threshold_override,
    }
    with _store(engine, write=True, actor=actor) as store:
        return store.insert_contractor(values)


def _check_period(valid_from: date, valid_until: date) -> None:
    if valid_until < valid_from:
        raise InputError(
            _("有效期止 {until} 早于起 {start}").format(until=valid_until, start=valid_from),
            field="valid_until",
        )


def add_qualification(
    engine: Engine,
    contractor_id: int,
    *,
    name: str,
    valid_from: date,
    valid_until: date,
    actor: policy.Who | None = None,
) -> Row:
    """A qualification with its expiry (A14.1)."""
    _check_period(valid_from, valid_until)
    with _store(engine, write=True, actor=actor) as store:
        store.contractor(contractor_id)
        values = {
            "contractor_id": contractor_id,
            "name": name,
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
        return store.insert_qualification(values)


def add_agreement(
    engine: Engine,
    contractor_id: int,
    *,
    plan_id: int,
    agreement_no: str,
    signed_on: date,
    valid_from: date,
    valid_until: date,
    actor: policy.Who | None = None,
) -> Row:
    """The agreement the veterans department signs with a contractor for one plan (A14.1)."""
    _check_period(valid_from, valid_until)
    with _store(engine, write=True, actor=actor) as store:
        store.contractor(contractor_id)
        store.plan(plan_id)
        values = {
            "contractor_id": contractor_id,
            "plan_id": plan_id,
            "agreement_no": agreement_no,
            "signed_on": signed_on,
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
        return store.insert_agreement(values)


def _threshold(contractor: Mapping[str, Any], found: PolicyRules | None) -> float:
    """A contractor's own override, else the exit score of the definition in force (A18.3)."""
    override = contractor["exit_threshold_override"]
    return policy.exit_score(found, None if override is None else float(override))


def list_contractors(engine: Engine) -> list[Row]:
    with _store(engine) as store:
        return store.contractors()


def show_contractor(engine: Engine, contractor_id: int) -> Row:
    found = policy_rules(engine)
    with _store(engine) as store:
        contractor = store.contractor(contractor_id)
        contractor["qualifications"] = store.qualifications(contractor_id)
        contractor["agreements"] = store.agreements(contractor_id)
        scores = store.scores(contractor_id)
    contractor["evaluations"] = len(scores)
    contractor["average_score"] = sum(scores) / len(scores) if scores else None
    contractor["exit_threshold"] = _threshold(contractor, found)
    return contractor


# -- batches ----------------------------------------------------------------------------------


def _contractor_refusals(
    store: PlanStore,
    contractor: Mapping[str, Any],
    plan_id: int,
    start: date,
    end: date,
    *,
    threshold: float,
) -> list[Refusal | None]:
    """A14.1 papers on the batch dates and A18.3 standing, read in the caller's transaction."""
    cid = contractor["id"]
    quals = store.qualifications(cid)
    agreements = store.agreements(cid, plan_id=plan_id)
    return [
        rules.check_contractor_papers(
            start,
            end,
            [Validity(q["name"], q["valid_from"], q["valid_until"]) for q in quals],
            [Validity(a["agreement_no"], a["valid_from"], a["valid_until"]) for a in agreements],
        ),
        rules.check_contractor_standing(store.scores(cid), threshold),
    ]


def create_batch(
    engine: Engine,
    *,
    plan_id: int,
    contractor_id: int,
    province: str,
    place: str,
    start_date: date,
    end_date: date,
    capacity: int,
    staff_count: int,
    safety_plan_ref: str | None = None,
    emergency_plan_ref: str | None = None,
    organiser_contacts: Sequence[Mapping[str, str]] = (),
    contractor_contacts: Sequence[Mapping[str, str]] = (),
    itinerary: Sequence[Mapping[str, Any]] = (),
    budget: Decimal | None = None,
    actual_cost: Decimal | None = None,
    exceptions: Sequence[ExceptionGrant] = (),
    actor: policy.Who | None = None,
) -> Row:
    """A batch under a plan, assigned to a contractor, after every batch rule passed.

    An over-50 or out-of-province batch needs its A6.2 exception at creation, recorded in the
    same transaction: the batch never exists, even for a moment, without the approval that
    allows it. Staff are checked against capacity here and against the cadres seated at start.
    """
    if capacity < 1:
        raise InputError(_("名额至少为 1"), field="capacity")
    if staff_count < 0:
        raise InputError(_("工作人员数不能为负"), field="staff_count")
    if actual_cost is not None:  # A16.1: the actual cost follows the trip
        today = shanghai_date(engine.clock.now())
        _refuse([rules.check_after_end(end_date, today, _("实际费用"), "A16.1", "actual_cost")])
    for grant in exceptions:
        grant.validate()
        _check_approver(engine, grant)
    granted = {g.rule for g in exceptions}
    found = policy_rules(engine)
    figures = policy.limits(found)
    now = engine.clock.now()
    with _store(engine, write=True, actor=actor) as store:
        plan = store.plan(plan_id)
        contractor = store.contractor(contractor_id)
        _refuse(
            [
                *binding.batch_refusals(  # A3.1, A9.1, A21.1: the plan's year, cycle, policy
                    plan=plan,
                    cycles=found.cycles if found else (),
                    policy=_definition_now(engine).policy,
                    start=start_date,
                    end=end_date,
                    today=shanghai_date(now),
                ),
                rules.check_dates(start_date, end_date, figures),
                rules.check_size(capacity, granted, figures),
                rules.check_province(province, granted, figures),
                rules.check_staff(staff_count, capacity, figures),
                *_contractor_refusals(
                    store,
                    contractor,
                    plan_id,
                    start_date,
                    end_date,
                    threshold=_threshold(contractor, found),
                ),
            ]
        )
        values = {
            "plan_id": plan_id,
            "contractor_id": contractor_id,
            "province": policy.province_name(province),  # 山东省 / Shandong stored as 山东
            "place": place,
            "start_date": start_date,
            "end_date": end_date,
            "capacity": capacity,
            "seats_taken": 0,
            "staff_count": staff_count,
            "safety_plan_ref": safety_plan_ref,
            "emergency_plan_ref": emergency_plan_ref,
            "organiser_contacts": list(map(dict, organiser_contacts)),
            "contractor_contacts": list(map(dict, contractor_contacts)),
            "itinerary": list(map(dict, itinerary)),
            "budget": budget,
            "actual_cost": actual_cost,
            "version": 1,
        }
        key = store.insert_batch(values)
        refuse_frozen(store.connection, plan_id=plan_id)  # A9.1: a closed cycle is frozen
        for grant in exceptions:
            store.append_exception(key, _exception_values(grant, now))
        return store.batch(key)


def _exception_values(grant: ExceptionGrant, now: datetime) -> dict[str, Any]:
    """An A6.2 exception as the batch's hash chain records it (A19.1)."""
    return {
        "rule": grant.rule,
        "article": "A6.2",
        "approver_role": grant.approver_role,
        "approver_name": grant.approver_name,
        "reason": grant.reason,
        "at": now,
    }


def record_exception(engine: Engine, batch_id: int, grant: ExceptionGrant) -> Row:
    """Record an A6.2 exception on an existing batch (e.g. before raising its capacity)."""
    grant.validate()
    _check_approver(engine, grant)
    with _store(engine, write=True) as store:
        store.batch(batch_id)
        refuse_frozen(store.connection, batch_id=batch_id)  # A9.1: a closed cycle is frozen
        if store.has_exception(batch_id, grant.rule):
            raise InputError(
                _("批次 {batch} 已有例外 {rule}").format(batch=batch_id, rule=grant.rule),
                field="rule",
            )
        return store.append_exception(batch_id, _exception_values(grant, engine.clock.now()))


def start_batch(engine: Engine, batch_id: int, *, actor: policy.Who | None = None) -> Row:
    """Mark a batch started: both plans on record (A13.1), a named person in the organiser's
    and the contractor's service teams (A15.1), and staff fit the seated cadres (A12.1).
    Starting twice is refused rather than moving the start time."""
    figures = policy.limits(policy_rules(engine))
    with _store(engine, write=True, actor=actor) as store:
        batch = store.batch(batch_id, lock=True)
        refuse_frozen(store.connection, batch_id=batch_id)  # A9.1: a closed cycle is frozen
        if batch["started_at"] is not None:
            raise InputError(
                _("批次 {batch} 已于 {at} 开始").format(batch=batch_id, at=batch["started_at"])
            )
        _refuse(
            [
                rules.check_start(batch["safety_plan_ref"], batch["emergency_plan_ref"]),
                rules.check_service_teams(
                    batch["organiser_contacts"], batch["contractor_contacts"]
                ),
                rules.check_staff(batch["staff_count"], batch["seats_taken"], figures),
            ]
        )
        return store.mark_started(batch_id, engine.clock.now())


def update_batch(
    engine: Engine,
    batch_id: int,
    *,
    staff_count: int | None = None,
    safety_plan_ref: str | None = None,
    emergency_plan_ref: str | None = None,
    organiser_contacts: Sequence[Mapping[str, str]] | None = None,
    contractor_contacts: Sequence[Mapping[str, str]] | None = None,
    actor: policy.Who | None = None,
) -> Row:
    """Correct what a batch starts with, before it starts: staffing (A12.1), the safety and
    emergency plans (A13.1) and the service teams' named people (A15.1). A field left None
    keeps its value.

    Staff are checked against the cadres seated now as well as the capacity: fewer cadres than
    planned may need fewer staff, and a count that fits either is accepted here; `start_batch`
    then holds it to the cadres actually seated (A12.1).
    """
    if staff_count is not None and staff_count < 0:
        raise InputError(_("工作人员数不能为负"), field="staff_count")
    figures = policy.limits(policy_rules(engine))
    values: dict[str, Any] = {}
    if staff_count is not None:
        values["staff_count"] = staff_count
    for key, ref in (
        ("safety_plan_ref", safety_plan_ref),
        ("emergency_plan_ref", emergency_plan_ref),
    ):
        if ref is not None:
            values[key] = ref.strip() or None
    for key, contacts in (
        ("organiser_contacts", organiser_contacts),
        ("contractor_contacts", contractor_contacts),
    ):
        if contacts is not None:
            values[key] = list(map(dict, contacts))
    if not values:
        raise InputError(_("没有要更改的内容"))
    with _store(engine, write=True, actor=actor) as store:
        batch = store.batch(batch_id, lock=True)
        refuse_frozen(store.connection, batch_id=batch_id)  # A9.1: a closed cycle is frozen
        article = (
            "A12.1"
            if "staff_count" in values
            else "A13.1"
            if {"safety_plan_ref", "emergency_plan_ref"} & values.keys()
            else "A15.1"
        )
        refusals = [
            rules.check_before_start(
                batch["started_at"], _("工作人员、预案或联系人"), article, "batch_started"
            )
        ]
        if staff_count is not None and batch["started_at"] is None:
            seated = rules.check_staff(staff_count, batch["seats_taken"], figures)
            planned = rules.check_staff(staff_count, batch["capacity"], figures)
            refusals.append(seated if seated is not None and planned is not None else None)
        _refuse(refusals)
        return store.update_batch(batch_id, values)


def record_actual_cost(
    engine: Engine, batch_id: int, *, actual_cost: Decimal, actor: policy.Who | None = None
) -> Row:
    """The batch's actual cost, recorded after the trip (A16.1); the A18.2 report sets it
    beside the budget. A later correction replaces it (the figure, not an evaluation)."""
    if actual_cost < 0:
        raise InputError(_("实际费用不能为负"), field="actual_cost")
    today = shanghai_date(engine.clock.now())
    with _store(engine, write=True, actor=actor) as store:
        batch = store.batch(batch_id, lock=True)
        refuse_frozen(store.connection, batch_id=batch_id)  # A9.1: a closed cycle is frozen
        _refuse(
            [rules.check_after_end(batch["end_date"], today, _("实际费用"), "A16.1", "actual_cost")]
        )
        return store.update_batch(batch_id, {"actual_cost": actual_cost})


def evaluate_contractor(
    engine: Engine,
    batch_id: int,
    *,
    score: int,
    by: str | None = None,
    actor: policy.Who | None = None,
) -> Row:
    """One evaluation of the batch's contractor per batch (A18.3), after the batch ended: the
    score judges a trip that took place."""
    if not 0 <= score <= 100:
        raise InputError(_("评分须在 0 至 100 之间"), field="score")
    if by is None and actor is not None:  # the evaluator is the acting officer (A18.3)
        by = f"{actor.role}:{actor.name}" + (f"@{actor.scope}" if actor.scope else "")
    if by is None or not by.strip():
        raise InputError(_("须写明评价人"), field="by")
    today = shanghai_date(engine.clock.now())
    with _store(engine, write=True, actor=actor) as store:
        batch = store.batch(batch_id)
        refuse_frozen(store.connection, batch_id=batch_id)  # A9.1: a closed cycle is frozen
        _refuse(
            [
                rules.check_after_end(
                    batch["end_date"], today, _("承办单位评价"), "A18.3", "evaluation_after_end"
                )
            ]
        )
        if store.evaluations(batch_id):
            raise InputError(
                _("批次 {batch} 已评价过承办单位").format(batch=batch_id), field="batch_id"
            )
        values = {
            "contractor_id": batch["contractor_id"],
            "batch_id": batch_id,
            "score": score,
            "by": by[:200],
            "at": engine.clock.now(),
        }
        return store.insert_evaluation(values)


def record_incident(
    engine: Engine,
    batch_id: int,
    *,
    description: str,
    reported_by: str,
    case_id: int | None = None,
    actor: policy.Who | None = None,
) -> Row:
    """An incident against a batch and optionally one case (A13.2)."""
    if not description.strip():
        raise InputError(_("须描述事件"), field="description")
    with _store(engine, write=True, actor=actor) as store:
        store.batch(batch_id)
        refuse_frozen(store.connection, batch_id=batch_id)  # A9.1: a closed cycle is frozen
        values = {
            "batch_id": batch_id,
            "case_id": case_id,
            "at": engine.clock.now(),
            "description": description,
            "reported_by": reported_by,
        }
        return store.insert_incident(values)


def list_batches(engine: Engine, *, plan_id: int | None = None) -> list[Row]:
    with _store(engine) as store:
        return store.batches(plan_id=plan_id)


def show_batch(engine: Engine, batch_id: int) -> Row:
    with _store(engine) as store:
        batch = store.batch(batch_id)
        batch["exceptions"] = store.exceptions(batch_id)
        batch["seats"] = store.seats(batch_id)
        batch["incidents"] = store.incidents(batch_id)
        batch["evaluations"] = store.evaluations(batch_id)
        return batch
