"""Plans, contractors and batches as the CLI and host programs use them: one write transaction
per call, the rules run inside it, and nothing written when a rule refuses.

Rules run after the rows they need are read in the same ``write=True`` transaction (BEGIN
IMMEDIATE on SQLite), so a check and the write it allows see the same database. Results are
plain dicts of column values, the shape ``--json`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from workflow.audit.chain import GENESIS, batch_exception_hash
from workflow.clock import shanghai_date
from workflow.definition.model import Definition
from workflow.engine import DEFAULT_DEFINITION, Engine
from workflow.errors import InputError, NotFoundError, Refusal, RuleRefused
from workflow.plans import rules
from workflow.plans.rules import Validity
from workflow.store.schema import (
    batch_exceptions,
    batch_seats,
    batches,
    contractor_agreements,
    contractor_evaluations,
    contractor_qualifications,
    contractors,
    incidents,
    plans,
)

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
            options = "、".join(rules.BATCH_EXCEPTION_RULES)
            raise InputError(f"例外规则须为 {options} 之一", field="rule")
        if not self.approver_name.strip():
            raise InputError("须写明批准人姓名", field="approver_name")
        if not self.reason.strip():
            raise InputError("例外须写明理由（A6.2 不得无声放行）", field="reason")


def _check_approver(engine: Engine, grant: ExceptionGrant) -> None:
    """A batch exception is the A6.2 exception of its case rule: the same approvers, as the
    definition in force names them (A5.2), not a list of its own."""
    definition = _definition_now(engine)
    waived = rules.BATCH_EXCEPTION_WAIVES[grant.rule]
    allowed = definition.rules.exception_for(waived) if definition.rules else None
    approvers = allowed.approvers if allowed else ()
    if grant.approver_role in approvers:
        return
    names = "、".join(definition.roles.get(r, r) for r in approvers) or "无"
    _refuse(
        [
            Refusal(
                "A5.2",
                "exception_approver",
                f"批次例外 {grant.rule}（A6.2）只能由{names}批准（缺少权限 {grant.rule}）",
            )
        ]
    )


def _definition_now(engine: Engine) -> Definition:
    today = shanghai_date(engine.clock.now())
    return engine.catalog.in_force(DEFAULT_DEFINITION, today) or engine.catalog.get(
        DEFAULT_DEFINITION
    )


def _refuse(refusals: Sequence[Refusal | None]) -> None:
    found = [r for r in refusals if r is not None]
    if found:
        raise RuleRefused(found)


def _insert(connection: sa.Connection, table: sa.Table, values: Mapping[str, Any]) -> int:
    return int(
        connection.execute(sa.insert(table).values(**values).returning(table.c.id)).scalar_one()
    )


def _row(connection: sa.Connection, table: sa.Table, key: int, kind: str) -> Row:
    row = connection.execute(sa.select(table).where(table.c.id == key)).mappings().first()
    if row is None:
        raise NotFoundError(kind, key)
    return dict(row)


# -- plans ------------------------------------------------------------------------------------


def create_plan(
    engine: Engine,
    *,
    year: int,
    organiser_level: str,
    budget: Decimal,
    cycle: str,
    county: str | None = None,
) -> Row:
    """An annual plan under one of the definition's cycles (A9.1)."""
    if organiser_level not in ORGANISER_LEVELS:
        raise InputError("组织层级须为 city 或 county", field="organiser_level")
    if organiser_level == "county" and not (county and county.strip()):
        raise InputError("县级计划须写明县（区）", field="county")
    if budget < 0:
        raise InputError("预算不能为负", field="budget")
    policy = engine.catalog.get(DEFAULT_DEFINITION).rules
    known = [c.id for c in policy.cycles] if policy else []
    _refuse([rules.check_known_cycle(cycle, known)])
    chosen = next(c for c in policy.cycles if c.id == cycle) if policy else None
    if chosen is not None:
        _refuse([rules.check_cycle(chosen.id, chosen.start, chosen.end)])
    with engine.transaction(write=True) as connection:
        values = {
            "year": year,
            "organiser_level": organiser_level,
            "county": county if organiser_level == "county" else None,
            "budget": budget,
            "cycle": cycle,
            "created_at": engine.clock.now(),
        }
        key = _insert(connection, plans, values)
        return _row(connection, plans, key, "计划")


def list_plans(engine: Engine, *, year: int | None = None) -> list[Row]:
    query = sa.select(plans).order_by(plans.c.id)
    if year is not None:
        query = query.where(plans.c.year == year)
    with engine.transaction() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def show_plan(engine: Engine, plan_id: int) -> Row:
    with engine.transaction() as connection:
        plan = _row(connection, plans, plan_id, "计划")
        plan["batches"] = [
            dict(r)
            for r in connection.execute(
                sa.select(batches).where(batches.c.plan_id == plan_id).order_by(batches.c.id)
            ).mappings()
        ]
        return plan


# -- contractors ------------------------------------------------------------------------------


def create_contractor(
    engine: Engine,
    *,
    name: str,
    kind: str,
    why_purchased: str | None = None,
    exit_threshold_override: Decimal | None = None,
) -> Row:
    """Own resources and partner units come first (A10.1); buying needs a recorded why (A10.2)."""
    if not name.strip():
        raise InputError("承办单位名称不能为空", field="name")
    if kind not in CONTRACTOR_KINDS:
        raise InputError(f"类型须为 {'、'.join(CONTRACTOR_KINDS)} 之一", field="kind")
    if kind == "purchased_service" and not (why_purchased and why_purchased.strip()):
        _refuse([Refusal("A10.2", "why_purchased", "购买服务须写明自有及合作资源不足的原因")])
    with engine.transaction(write=True) as connection:
        values = {
            "name": name.strip(),
            "kind": kind,
            "why_purchased": why_purchased,
            "exit_threshold_override": exit_threshold_override,
        }
        key = _insert(connection, contractors, values)
        return _row(connection, contractors, key, "承办单位")


def _check_period(valid_from: date, valid_until: date) -> None:
    if valid_until < valid_from:
        raise InputError(f"有效期止 {valid_until} 早于起 {valid_from}", field="valid_until")


def add_qualification(
    engine: Engine, contractor_id: int, *, name: str, valid_from: date, valid_until: date
) -> Row:
    """A qualification with its expiry (A14.1)."""
    _check_period(valid_from, valid_until)
    with engine.transaction(write=True) as connection:
        _row(connection, contractors, contractor_id, "承办单位")
        values = {
            "contractor_id": contractor_id,
            "name": name,
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
        key = _insert(connection, contractor_qualifications, values)
        return _row(connection, contractor_qualifications, key, "资质")


def add_agreement(
    engine: Engine,
    contractor_id: int,
    *,
    plan_id: int,
    agreement_no: str,
    signed_on: date,
    valid_from: date,
    valid_until: date,
) -> Row:
    """The agreement the veterans department signs with a contractor for one plan (A14.1)."""
    _check_period(valid_from, valid_until)
    with engine.transaction(write=True) as connection:
        _row(connection, contractors, contractor_id, "承办单位")
        _row(connection, plans, plan_id, "计划")
        values = {
            "contractor_id": contractor_id,
            "plan_id": plan_id,
            "agreement_no": agreement_no,
            "signed_on": signed_on,
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
        key = _insert(connection, contractor_agreements, values)
        return _row(connection, contractor_agreements, key, "协议")


def _scores(connection: sa.Connection, contractor_id: int) -> list[int]:
    query = sa.select(contractor_evaluations.c.score).where(
        contractor_evaluations.c.contractor_id == contractor_id
    )
    return [int(s) for s in connection.execute(query).scalars()]


def _threshold(contractor: Mapping[str, Any], engine: Engine) -> float:
    """A contractor's own override, else the exit score of the definition in force (A18.3)."""
    override = contractor["exit_threshold_override"]
    if override is not None:
        return float(override)
    definition = _definition_now(engine)
    configured = definition.rules.contractor_exit_score if definition.rules else None
    return float(configured) if configured is not None else float(rules.EXIT_THRESHOLD)


def list_contractors(engine: Engine) -> list[Row]:
    with engine.transaction() as connection:
        return [
            dict(r)
            for r in connection.execute(
                sa.select(contractors).order_by(contractors.c.id)
            ).mappings()
        ]


def show_contractor(engine: Engine, contractor_id: int) -> Row:
    with engine.transaction() as connection:
        contractor = _row(connection, contractors, contractor_id, "承办单位")
        for key, table in (
            ("qualifications", contractor_qualifications),
            ("agreements", contractor_agreements),
        ):
            query = sa.select(table).where(table.c.contractor_id == contractor_id)
            contractor[key] = [
                dict(r) for r in connection.execute(query.order_by(table.c.id)).mappings()
            ]
        scores = _scores(connection, contractor_id)
        contractor["evaluations"] = len(scores)
        contractor["average_score"] = sum(scores) / len(scores) if scores else None
        contractor["exit_threshold"] = _threshold(contractor, engine)
        return contractor


# -- batches ----------------------------------------------------------------------------------


def _contractor_refusals(
    connection: sa.Connection,
    contractor: Mapping[str, Any],
    plan_id: int,
    start: date,
    end: date,
    *,
    threshold: float,
) -> list[Refusal | None]:
    """A14.1 papers on the batch dates and A18.3 standing, read in the caller's transaction."""
    cid = contractor["id"]
    quals = connection.execute(
        sa.select(contractor_qualifications).where(contractor_qualifications.c.contractor_id == cid)
    ).mappings()
    agreements = connection.execute(
        sa.select(contractor_agreements).where(
            contractor_agreements.c.contractor_id == cid,
            contractor_agreements.c.plan_id == plan_id,
        )
    ).mappings()
    return [
        rules.check_contractor_papers(
            start,
            end,
            [Validity(q["name"], q["valid_from"], q["valid_until"]) for q in quals],
            [Validity(a["agreement_no"], a["valid_from"], a["valid_until"]) for a in agreements],
        ),
        rules.check_contractor_standing(_scores(connection, cid), threshold),
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
) -> Row:
    """A batch under a plan, assigned to a contractor, after every batch rule passed.

    An over-50 or out-of-province batch needs its A6.2 exception at creation, recorded in the
    same transaction: the batch never exists, even for a moment, without the approval that
    allows it. Staff are checked against capacity here and against the cadres seated at start.
    """
    if capacity < 1:
        raise InputError("名额至少为 1", field="capacity")
    if staff_count < 0:
        raise InputError("工作人员数不能为负", field="staff_count")
    for grant in exceptions:
        grant.validate()
        _check_approver(engine, grant)
    granted = {g.rule for g in exceptions}
    now = engine.clock.now()
    with engine.transaction(write=True) as connection:
        _row(connection, plans, plan_id, "计划")
        contractor = _row(connection, contractors, contractor_id, "承办单位")
        _refuse(
            [
                rules.check_dates(start_date, end_date),
                rules.check_size(capacity, granted),
                rules.check_province(province, granted),
                rules.check_staff(staff_count, capacity),
                *_contractor_refusals(
                    connection,
                    contractor,
                    plan_id,
                    start_date,
                    end_date,
                    threshold=_threshold(contractor, engine),
                ),
            ]
        )
        values = {
            "plan_id": plan_id,
            "contractor_id": contractor_id,
            "province": province,
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
        key = _insert(connection, batches, values)
        for grant in exceptions:
            _insert_exception(connection, key, grant, now)
        return _row(connection, batches, key, "批次")


def _insert_exception(
    connection: sa.Connection, batch_id: int, grant: ExceptionGrant, now: Any
) -> None:
    """Append an A6.2 exception to the batch's hash chain (A19.1).

    The batch row is locked first (PostgreSQL; SQLite writers are serialised already) so two
    grants on one batch cannot both link to the same predecessor and fork the chain.
    """
    connection.execute(sa.select(batches.c.id).where(batches.c.id == batch_id).with_for_update())
    last = connection.execute(
        sa.select(batch_exceptions.c.hash)
        .where(batch_exceptions.c.batch_id == batch_id)
        .order_by(batch_exceptions.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    prev_hash = GENESIS if last is None else str(last)
    values: dict[str, Any] = {
        "batch_id": batch_id,
        "rule": grant.rule,
        "article": "A6.2",
        "approver_role": grant.approver_role,
        "approver_name": grant.approver_name,
        "reason": grant.reason,
        "at": now,
    }
    values["prev_hash"] = prev_hash
    values["hash"] = batch_exception_hash(prev_hash, values)
    connection.execute(sa.insert(batch_exceptions).values(**values))


def record_exception(engine: Engine, batch_id: int, grant: ExceptionGrant) -> Row:
    """Record an A6.2 exception on an existing batch (e.g. before raising its capacity)."""
    grant.validate()
    _check_approver(engine, grant)
    with engine.transaction(write=True) as connection:
        _row(connection, batches, batch_id, "批次")
        exists = connection.execute(
            sa.select(batch_exceptions.c.id).where(
                batch_exceptions.c.batch_id == batch_id, batch_exceptions.c.rule == grant.rule
            )
        ).first()
        if exists is not None:
            raise InputError(f"批次 {batch_id} 已有例外 {grant.rule}", field="rule")
        _insert_exception(connection, batch_id, grant, engine.clock.now())
        return _exceptions(connection, batch_id)[-1]


def _exceptions(connection: sa.Connection, batch_id: int) -> list[Row]:
    query = sa.select(batch_exceptions).where(batch_exceptions.c.batch_id == batch_id)
    return [dict(r) for r in connection.execute(query.order_by(batch_exceptions.c.id)).mappings()]


def start_batch(engine: Engine, batch_id: int) -> Row:
    """Mark a batch started: both plans on record (A13.1) and staff fit the seated cadres
    (A12.1). Starting twice is refused rather than moving the start time."""
    with engine.transaction(write=True) as connection:
        batch = _row(connection, batches, batch_id, "批次")
        if batch["started_at"] is not None:
            raise InputError(f"批次 {batch_id} 已于 {batch['started_at']} 开始")
        _refuse(
            [
                rules.check_start(batch["safety_plan_ref"], batch["emergency_plan_ref"]),
                rules.check_staff(batch["staff_count"], batch["seats_taken"]),
            ]
        )
        connection.execute(
            sa.update(batches)
            .where(batches.c.id == batch_id)
            .values(started_at=engine.clock.now(), version=batches.c.version + 1)
        )
        return _row(connection, batches, batch_id, "批次")


def evaluate_contractor(engine: Engine, batch_id: int, *, score: int, by: str) -> Row:
    """One evaluation of the batch's contractor per batch (A18.3)."""
    if not 0 <= score <= 100:
        raise InputError("评分须在 0 至 100 之间", field="score")
    if not by.strip():
        raise InputError("须写明评价人", field="by")
    with engine.transaction(write=True) as connection:
        batch = _row(connection, batches, batch_id, "批次")
        done = connection.execute(
            sa.select(contractor_evaluations.c.id).where(
                contractor_evaluations.c.batch_id == batch_id
            )
        ).first()
        if done is not None:
            raise InputError(f"批次 {batch_id} 已评价过承办单位", field="batch_id")
        values = {
            "contractor_id": batch["contractor_id"],
            "batch_id": batch_id,
            "score": score,
            "by": by,
            "at": engine.clock.now(),
        }
        key = _insert(connection, contractor_evaluations, values)
        return _row(connection, contractor_evaluations, key, "评价")


def record_incident(
    engine: Engine,
    batch_id: int,
    *,
    description: str,
    reported_by: str,
    case_id: int | None = None,
) -> Row:
    """An incident against a batch and optionally one case (A13.2)."""
    if not description.strip():
        raise InputError("须描述事件", field="description")
    with engine.transaction(write=True) as connection:
        _row(connection, batches, batch_id, "批次")
        values = {
            "batch_id": batch_id,
            "case_id": case_id,
            "at": engine.clock.now(),
            "description": description,
            "reported_by": reported_by,
        }
        key = _insert(connection, incidents, values)
        return _row(connection, incidents, key, "事件")


def list_batches(engine: Engine, *, plan_id: int | None = None) -> list[Row]:
    query = sa.select(batches).order_by(batches.c.id)
    if plan_id is not None:
        query = query.where(batches.c.plan_id == plan_id)
    with engine.transaction() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def show_batch(engine: Engine, batch_id: int) -> Row:
    with engine.transaction() as connection:
        batch = _row(connection, batches, batch_id, "批次")
        batch["exceptions"] = _exceptions(connection, batch_id)
        batch["seats"] = [
            dict(r)
            for r in connection.execute(
                sa.select(batch_seats.c.case_id, batch_seats.c.at)
                .where(batch_seats.c.batch_id == batch_id)
                .order_by(batch_seats.c.id)
            ).mappings()
        ]
        batch["incidents"] = [
            dict(r)
            for r in connection.execute(
                sa.select(incidents)
                .where(incidents.c.batch_id == batch_id)
                .order_by(incidents.c.id)
            ).mappings()
        ]
        batch["evaluations"] = [
            dict(r)
            for r in connection.execute(
                sa.select(contractor_evaluations).where(
                    contractor_evaluations.c.batch_id == batch_id
                )
            ).mappings()
        ]
        return batch
