"""Corrections without pretending (issue 13): the pure decisions of ``rebook`` and ``correct``.

Until these existed, the only way to move a cadre to another batch or to fix a mistyped
agreement number was ``withdraw`` (recorded as 本人撤回 and counted as a non-completion) and a
new case with a new consent: the record then said something that had not happened. A
correction says what did happen: the case keeps its state, and one history row of its own
(trigger ``rebook`` or ``correct``, a mandatory reason, A19.1) records both the old and the new
value, in the case's hash chain.

What may be corrected is the definition's (``corrections:``, `CorrectionSpec`): which roles
(A5.2), in which states, which recorded fields. The rules are not relaxed by a correction: the
record as corrected must still satisfy every rule that admitted it.

* ``rebook`` moves the case to another batch of the same plan (A3.2) that has not started, from
  a batch that has not started (A13.1). The rules of the step that took the seat (the approval:
  A4.4, A6.2, A8.2, A9.2, A21.1) and of every step taken since (A7.3 insurance) run again on
  the new batch's facts, which replace the old ones in the evidence as an approval copies them.
  The insurance's dates may be amended in the same rebook, so an insured case can follow its
  cadre to other dates. The seat itself moves in the same transaction (`workflow.store.seats`:
  a full batch is refused citing A6.2).
* ``correct`` amends fields a step already recorded; each new value is checked against the type
  its step declares (A7.2), and the rules of that step run again on the corrected record.

Everything here is pure: the runner (`workflow.correction_steps`) reads the case, its history
and the batches in its write transaction, calls these functions, and writes what they return.
History ``data`` keys starting with ``_`` (`workflow.audit.chain.RECORD_ONLY`) are the row's own
record, so ``audit verify`` rebuilds the case's evidence from the chain as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from workflow.audit.chain import EXCEPTIONS_APPLIED, evidence_after
from workflow.definition.model import CorrectionSpec, Definition, FieldSpec, TransitionSpec
from workflow.errors import InputError, Refusal, RuleRefused
from workflow.fields import coerce_fields
from workflow.i18n import _
from workflow.machine import Actor
from workflow.plans.rules import BATCH_EXCEPTION_WAIVES, check_before_start
from workflow.rules import GuardContext, evaluate
from workflow.rules.trip import SEAT_BATCH_STARTED_AT as STARTED_AT
from workflow.snapshot import BatchRow, CaseRow

REBOOK = "rebook"  # history trigger of a rebook, and the permission a refusal names
CORRECT = "correct"  # history trigger of a correction
REBOOKED = "_rebook"  # history data: {"from_batch": …, "to_batch": …}
CORRECTED = "_corrected"  # history data: {field: {"before": …, "after": …}}
BATCH_ID = "batch_id"  # the field a seat-taking step records (definition checks require it)


@dataclass(frozen=True)
class TakenStep:
    """A history row as a correction reads it: which step, from which state, for whom."""

    seq: int
    trigger: str
    from_state: str | None
    on_behalf_of: str | None


@dataclass(frozen=True)
class BatchPlace:
    """A batch as a rebook reads it: its facts (as an approval copies them into the case), the
    plan it belongs to and when it started (None while it has not)."""

    batch: BatchRow
    plan_id: int
    started_at: datetime | None


@dataclass(frozen=True)
class Situation:
    """What every correction decides on, read once in the write transaction."""

    definition: Definition
    case: CaseRow
    cadre: Mapping[str, Any]
    today: date
    taken: tuple[TakenStep, ...]  # the case's history, oldest first
    granted: frozenset[str]  # rules the case holds an exception to (A8.2, A9.2)
    facts: Mapping[str, Any]  # what the rules need beyond the record: cycle, participations …


@dataclass(frozen=True)
class Correction:
    """A decided correction: the case's evidence after it, and its history row's ``data``."""

    evidence: dict[str, Any]
    data: dict[str, Any]


# -- who, when, why -------------------------------------------------------------------------


def allowed(
    definition: Definition, kind: str, actor: Actor, case: CaseRow, reason: str | None
) -> CorrectionSpec:
    """The definition's declaration of ``kind`` if ``actor`` may make it on ``case`` now:
    declared at all (else bad input), by one of its roles (A5.2), in one of its states, with a
    reason (A19.1). Scope (A5.2) is the runner's to check first, as for a step."""
    spec = getattr(definition.corrections, kind)
    if spec is None:
        raise InputError(
            _("流程 {workflow} 未声明“{kind}”（定义的 corrections 中没有）").format(
                workflow=definition.name, kind=kind
            ),
            field="kind",
        )
    assert isinstance(spec, CorrectionSpec)
    if actor.role not in definition.roles:
        known = ", ".join(definition.roles)
        raise InputError(
            _("未知角色“{role}”（角色有：{roles}）").format(role=actor.role, roles=known),
            field="role",
        )
    if actor.role not in spec.roles:
        names = _("、").join(definition.roles[r] for r in spec.roles)
        raise RuleRefused(
            [
                Refusal(
                    article="A5.2",
                    rule="role_may_fire",
                    message=_(
                        "“{role}”无权执行“{step}”（缺少权限 {permission}；可执行角色：{allowed}）"
                    ).format(
                        role=definition.roles[actor.role],
                        step=spec.label,
                        permission=kind,
                        allowed=names,
                    ),
                )
            ],
            case_id=case.id,
        )
    if not reason or not reason.strip():
        raise InputError(
            _("“{step}”须说明理由，理由记入案件历史（A19.1）").format(step=spec.label),
            field="reason",
        )
    if case.state not in spec.states:
        states = _("、").join(spec.states)
        raise RuleRefused(
            [
                Refusal(
                    article=spec.article,
                    rule=f"{kind}_state",
                    message=_(
                        "案件处于 {state}（{label}），“{step}”只能在以下状态办理：{states}"
                    ).format(
                        state=case.state,
                        label=definition.state(case.state).label,
                        step=spec.label,
                        states=states,
                    ),
                )
            ],
            case_id=case.id,
        )
    return spec


# -- rebook ---------------------------------------------------------------------------------


def decide_rebook(
    situation: Situation,
    spec: CorrectionSpec,
    *,
    batch_id: int,
    seat: BatchPlace | None,
    target: BatchPlace | None,
    raw_fields: Mapping[str, Any],
) -> Correction:
    """Move the case from the batch of its seat (``seat``) to ``target`` (the batch named by
    ``batch_id``, None if there is none), amending ``raw_fields`` on the way; refuses citing
    the article that stops it, with nothing decided."""
    case = situation.case
    if seat is None:
        raise RuleRefused(
            [Refusal("A6.2", "rebook_seat", _("案件未占有任何批次的名额，无从改签"))],
            case_id=case.id,
        )
    if target is None:
        raise InputError(
            _("batch_id：批次 {batch_id} 不存在（见 `convalescence batches list`）").format(
                batch_id=batch_id
            ),
            field="batch_id",
        )
    if target.batch.id == seat.batch.id:
        raise InputError(
            _("batch_id：案件已在批次 {batch_id}，改签须指定另一批次").format(batch_id=batch_id),
            field="batch_id",
        )
    _refuse_the_move(case.id, seat, target)
    amended = _amended(situation, spec, raw_fields) if raw_fields else {}
    moved = {BATCH_ID: target.batch.id, **target.batch.evidence()}
    data: dict[str, Any] = {**moved, **{name: after for name, (_b, after) in amended.items()}}
    data[REBOOKED] = {"from_batch": seat.batch.id, "to_batch": target.batch.id}
    if amended:
        data[CORRECTED] = _before_after(amended)
    checks = _since_the_seat(situation.definition, situation.taken)
    return _checked(
        situation,
        spec,
        data,
        checks,
        started_at=target.started_at,
        waived=_batch_waivers(target.batch),
    )


def _refuse_the_move(case_id: int, seat: BatchPlace, target: BatchPlace) -> None:
    """Another batch of the same plan (A3.2: a case belongs to its plan), neither of them
    under way (A13.1: a started batch keeps the cadres it started with)."""
    found: list[Refusal] = []
    if target.plan_id != seat.plan_id:
        found.append(
            Refusal(
                "A3.2",
                "rebook_same_plan",
                _(
                    "批次 {target} 属于计划 {target_plan}，案件的批次 {batch} 属于计划 {plan}；"
                    "只能改签到同一计划的其他批次"
                ).format(
                    target=target.batch.id,
                    target_plan=target.plan_id,
                    batch=seat.batch.id,
                    plan=seat.plan_id,
                ),
            )
        )
    started = check_before_start(seat.started_at, _("其参加人员"), "A13.1", "rebook_not_started")
    if started is not None:
        found.append(started)
    if target.started_at is not None:
        found.append(
            Refusal(
                "A13.1",
                "rebook_not_started",
                _("批次 {batch} 已于 {at} 开始，不能再改签进入").format(
                    batch=target.batch.id, at=target.started_at
                ),
            )
        )
    if found:
        raise RuleRefused(found, case_id=case_id)


def _batch_waivers(batch: BatchRow) -> frozenset[str]:
    """The rules a batch's own A6.2 exceptions waive for every cadre seated in it."""
    return frozenset(
        BATCH_EXCEPTION_WAIVES[r] for r in batch.exception_rules if r in BATCH_EXCEPTION_WAIVES
    )


# -- correct --------------------------------------------------------------------------------


def decide_correct(
    situation: Situation, spec: CorrectionSpec, raw_fields: Mapping[str, Any]
) -> Correction:
    """Amend recorded fields; the rules of each step that recorded one run again on the
    corrected record."""
    if not raw_fields:
        listed = ", ".join(spec.fields) or _("无")
        raise InputError(
            _("须给出至少一项要更正的字段（可更正的字段：{fields}）").format(fields=listed),
            field="data",
        )
    amended = _amended(situation, spec, raw_fields)
    data: dict[str, Any] = {name: after for name, (_before, after) in amended.items()}
    data[CORRECTED] = _before_after(amended)
    recorders = {seq for seq, _spec in _recorders(situation, amended)}
    checks = [(step, spec_) for step, spec_ in _transitions(situation) if step.seq in recorders]
    return _checked(situation, spec, data, checks, started_at=situation.facts.get(STARTED_AT))


def _amended(
    situation: Situation, spec: CorrectionSpec, raw_fields: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Each field to amend with its value before and after, the new one checked against the
    type its step declares (A7.2). Refused: a field the definition does not let ``spec``
    amend, one the case has not recorded yet, a value that changes nothing."""
    definition, case = situation.definition, situation.case
    recorded = _recorded_fields(definition)
    unknown = [name for name in raw_fields if name not in recorded]
    if unknown:
        message = _(
            "字段 '{name}' 不是流程 {workflow} 任何步骤记录的字段（可更正的字段：{fields}）"
        )
        raise InputError(
            message.format(
                name=unknown[0], workflow=definition.name, fields=", ".join(spec.fields) or _("无")
            ),
            field=unknown[0],
        )
    refusals = [
        Refusal(
            spec.article,
            "correctable_fields",
            _("字段 '{name}' 不可经“{step}”更正（可更正的字段：{fields}）").format(
                name=name, step=spec.label, fields=", ".join(spec.fields) or _("无")
            ),
        )
        for name in raw_fields
        if name not in spec.fields
    ]
    refusals += [
        Refusal(
            spec.article,
            "not_recorded",
            _("案件尚未记录字段 '{name}'，无从更正（由“{step}”记录）").format(
                name=name, step=recorded[name].label
            ),
        )
        for name in raw_fields
        if name in spec.fields and name not in case.evidence
    ]
    if refusals:
        raise RuleRefused(refusals, case_id=case.id)
    specs = tuple(replace(_field(recorded[name], name), required=True) for name in raw_fields)
    values = coerce_fields(specs, raw_fields, step=spec.label)
    same = [name for name, value in values.items() if value == case.evidence.get(name)]
    if same:
        raise InputError(
            _("字段 '{name}' 的新值与已记录的值相同，无需更正").format(name=same[0]),
            field=same[0],
        )
    return {name: (case.evidence.get(name), value) for name, value in values.items()}


def _recorded_fields(definition: Definition) -> dict[str, TransitionSpec]:
    """Each field a transition records, with the (first) transition that declares it."""
    found: dict[str, TransitionSpec] = {}
    for spec in definition.transitions:
        for declared in spec.fields:
            found.setdefault(declared.name, spec)
    return found


def _field(step: TransitionSpec, name: str) -> FieldSpec:
    return next(f for f in step.fields if f.name == name)


def _before_after(amended: Mapping[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {"before": b, "after": a} for name, (b, a) in amended.items()}


# -- the rules again ------------------------------------------------------------------------


def _transitions(situation: Situation) -> list[tuple[TakenStep, TransitionSpec]]:
    """The case's history rows that are steps of its definition, with their transitions
    (an exception, a correction or the opening is not one)."""
    found = []
    for step in situation.taken:
        if step.from_state is None:
            continue
        spec = situation.definition.transition(step.trigger, step.from_state)
        if spec is not None:
            found.append((step, spec))
    return found


def _since_the_seat(
    definition: Definition, taken: Iterable[TakenStep]
) -> list[tuple[TakenStep, TransitionSpec]]:
    """The step that took the case's seat and every step since: a rebook must pass the rules
    they passed, on the new batch."""
    steps: list[tuple[TakenStep, TransitionSpec]] = []
    for step in taken:
        spec = definition.transition(step.trigger, step.from_state) if step.from_state else None
        if spec is None:
            continue
        if spec.batch == "take":
            steps = []
        steps.append((step, spec))
    return steps


def _recorders(
    situation: Situation, amended: Mapping[str, Any]
) -> list[tuple[int, TransitionSpec]]:
    """For each amended field, the latest step of the case that recorded it."""
    found = []
    for name in amended:
        latest = None
        for step, spec in _transitions(situation):
            if any(f.name == name for f in spec.fields):
                latest = (step.seq, spec)
        if latest is not None:
            found.append(latest)
    return found


def _checked(
    situation: Situation,
    spec: CorrectionSpec,
    data: Mapping[str, Any],
    steps: Iterable[tuple[TakenStep, TransitionSpec]],
    *,
    started_at: Any,
    waived: frozenset[str] = frozenset(),
) -> Correction:
    """Run the rules of ``steps`` (each with the facts of its own history row: on whose
    behalf it was taken) and the correction's own guards on the record as ``data`` leaves it;
    every refusal at once, none waived but by an exception (A19.1)."""
    evidence = evidence_after(situation.case.evidence, data)
    base = GuardContext(
        today=situation.today,
        policy=situation.definition.policy,
        cadre=situation.cadre,
        evidence=evidence,
        rules=situation.definition.rules,
        facts={**situation.facts, STARTED_AT: started_at},
        waived=situation.granted | waived,
    )
    checks = [(step.guards, step_row.on_behalf_of) for step_row, step in steps]
    checks.append((spec.guards, None))
    refusals: dict[tuple[str, str], Refusal] = {}
    applied: dict[tuple[str, str], Refusal] = {}
    for guards, on_behalf_of in checks:
        context = replace(base, facts={**base.facts, "on_behalf_of": on_behalf_of})
        verdict = evaluate(guards, context)
        refusals.update(((r.rule, r.message), r) for r in verdict.refusals)
        applied.update(((r.rule, r.message), r) for r in verdict.waived)
    if refusals:
        raise RuleRefused(list(refusals.values()), case_id=situation.case.id)
    recorded = dict(data)
    if applied:
        recorded[EXCEPTIONS_APPLIED] = [
            {"article": r.article, "rule": r.rule, "message": r.message} for r in applied.values()
        ]
    return Correction(evidence=evidence, data=recorded)
