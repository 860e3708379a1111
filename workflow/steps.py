"""The step runner: every move of a case in three moves, in one transaction.

1. **Gather** everything the decision needs in one read (`CaseTransaction.snapshot`: the case,
   its cadre, its exceptions, its seat and its contractor, and the cadre's participations in
   the cycle when a rule needs them; for an approval, the batch it names) into frozen values.
2. **Decide** purely: scope (A5.2) first, so an outside caller learns nothing of the case, then
   who acts against the roster (A5.2), the transition, the role, the step's fields, and the
   named rules with the exceptions granted.
3. **Write once**: the cycle's participation claim when the case enters or leaves a
   participating state (A9.2), the chained history row of the new version (A19.1) and then the
   compare-and-set on the case's version (the cases trigger requires that order), the notices
   the step declares, and its seat (A6.2). If the case moved since the read, `ConflictError`
   and nothing is written.

The read happens inside the write transaction: on PostgreSQL that saves round trips and, for an
approval, locks the batch the rules ran on; on SQLite the write lock is taken up front, so no
other writer can slip between the read and the write. The step returns the case as written,
with its exceptions and stored eligibility, so nobody has to read it again to show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from workflow.access import CaseScope, identity_refusal
from workflow.clock import Clock, shanghai_date
from workflow.definition.model import Definition, StepSpec, TransitionSpec
from workflow.eligibility import explain
from workflow.errors import ConflictError, InputError, NotFoundError, Refusal, RuleRefused
from workflow.i18n import _
from workflow.machine import Actor, CompiledWorkflow, Decision
from workflow.notices import notice_rows
from workflow.plans.rules import BATCH_EXCEPTION_WAIVES
from workflow.ports import CaseStore, CaseTransaction
from workflow.reader import case_scope, case_view, check_scope, roster_name
from workflow.registry import PARTICIPATIONS, DefinitionRegistry, needs_participations
from workflow.rules import RULES, GuardContext
from workflow.rules.binding import PLANS
from workflow.rules.trip import SEAT_BATCH_STARTED_AT
from workflow.snapshot import BatchRow, CaseRow, CycleClosure, Snapshot, json_text
from workflow.sweep_on import sweep_on
from workflow.views import CaseView, ExceptionView

GRANT_EXCEPTION = "grant_exception"  # history trigger of an exception record
ONCE_PER_CYCLE = "once_per_cycle"  # the A9.2 rule, and the exception that lifts it
CYCLE_CLAIM = "A9.2"  # what a participation holds, once per cadre and cycle (store: claim)
EXCEPTIONS_APPLIED = "_exceptions_applied"  # history data key; no declared field can clash


class StepRunner:
    def __init__(
        self,
        registry: DefinitionRegistry,
        store: CaseStore,
        clock: Clock,
        notice_channels: Mapping[str, str],
    ) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock
        self.notice_channels = notice_channels  # role -> channel; default "file"

    # -- open -------------------------------------------------------------------------------

    def open(
        self,
        cadre_id: str,
        *,
        actor: Actor,
        definition: str,
        data: Mapping[str, Any],
        reason: str | None,
        on_behalf_of: str | None,
        within: Any,
    ) -> CaseView:
        """Register a cadre (A7.1) under the policy version in force today (A21.1), filed
        under the day's cycle (A9.1) with the day's eligibility explanation (A4.2)."""
        now = self.clock.now()
        today = shanghai_date(now)
        chosen = self.registry.in_force(definition, today, within)
        workflow = self.registry.compile(chosen)
        definition_id = self.registry.stored_id(chosen, self.store, within, now)
        with self.store.transaction(within, write=True) as tx:
            filing = tx.cadre_filing(cadre_id, _filed_under(chosen, data, today))
            if filing is None:
                raise NotFoundError("军休干部", cadre_id)
            if actor.role in chosen.roles:  # an unknown role is bad input (machine)
                scope = CaseScope(filing.county, filing.agency, cadre_id)
                check_scope(chosen, actor, scope, action="open")
            _check_identity(actor, filing.record, on_behalf_of, reason)
            _refuse_in_a_closed_cycle(chosen, filing.closure, None)
            facts: dict[str, Any] = {"on_behalf_of": on_behalf_of}
            if any(PLANS in RULES[name].needs for name in chosen.open.guards):
                facts[PLANS] = tx.annual_plans(today.year)  # A3.2: the year's plans
            context = GuardContext(
                today=today,
                policy=chosen.policy,
                cadre=filing.record,
                rules=chosen.rules,
                facts=facts,
            )
            decision = workflow.decide_open(actor, data, context)
            cycle, tier, explanation = _eligibility_at_opening(
                chosen, filing.record, decision, today
            )
            if cycle is not None and _takes_part_in_cycles(chosen):
                _refuse_a_second_registration(tx, chosen, cadre_id, cycle)
            # the explanation's text, once: the case row stores it, the view returns it
            eligibility = None if explanation is None else json_text(explanation)
            values: dict[str, Any] = {
                "definition_id": definition_id,
                "cadre_id": cadre_id,
                "county": filing.county,
                "agency": filing.agency,
                "state": decision.dest,
                "terminal": chosen.state(decision.dest).terminal,
                "version": 1,
                "evidence": decision.fields,
                "opened_at": now,
                "updated_at": now,
                "cycle": cycle,
                "tier": tier,
                "eligibility": explanation if eligibility is None else eligibility,
                "sweep_on": sweep_on(chosen, decision.dest, now),
            }
            case_id = tx.insert_case(values)
            head = tx.start_chain(
                case_id,
                _history(
                    case_id=case_id,
                    seq=1,
                    trigger=decision.trigger,
                    from_state=None,
                    to_state=decision.dest,
                    actor=actor,
                    on_behalf_of=on_behalf_of,
                    now=now,
                    data=_recorded(decision),
                    reason=reason,
                ),
            )
            row = CaseRow(
                id=case_id,
                definition_id=definition_id,
                cadre_id=cadre_id,
                county=filing.county,
                agency=filing.agency,
                state=decision.dest,
                terminal=values["terminal"],
                version=1,
                chain_head=head,
                evidence=decision.fields,
                opened_at=now,
                updated_at=now,
                cycle=cycle,
                tier=tier,
                eligibility_json=eligibility,
            )
            tx.insert_notices(
                self._notices(
                    definition=chosen,
                    step=chosen.open,
                    step_name="open",
                    case=row,
                    cadre=filing.record,
                    reason=reason,
                    now=now,
                )
            )
        return case_view(row, chosen, cadre_name=roster_name(filing.record))

    # -- fire -------------------------------------------------------------------------------

    def fire(
        self,
        case_id: int,
        trigger: str,
        *,
        actor: Actor,
        data: Mapping[str, Any],
        reason: str | None,
        on_behalf_of: str | None,
        expected_version: int | None,
        within: Any,
    ) -> CaseView:
        now = self.clock.now()
        with self.store.transaction(within, write=True) as tx:
            snap = self._gather(tx, case_id, expected_version, trigger, within)
            case = snap.case
            workflow = self.registry.workflow(case.definition_id, tx)
            definition = workflow.definition
            if actor.role in definition.roles:  # an unknown role is bad input (machine)
                # scope before anything else: an out-of-scope caller learns nothing of the
                # case, not even its state from a refusal of the step (A5.2)
                check_scope(definition, actor, _scope(snap), trigger)
            _check_identity(actor, snap.cadre, on_behalf_of, reason, case_id=case_id)
            _refuse_in_a_closed_cycle(definition, snap.closure, case_id)
            spec = workflow.transition(case_id, case.state, trigger)
            fields = workflow.check_step(spec, trigger, actor, data, case_id=case_id)
            batch = _batch(tx, spec, fields)
            batch_facts = batch.evidence() if batch is not None else {}
            context = GuardContext(
                today=shanghai_date(now),
                policy=definition.policy,
                cadre=snap.cadre,
                evidence={**case.evidence, **batch_facts},
                rules=definition.rules,
                facts={"on_behalf_of": on_behalf_of, **self._facts(tx, spec, snap, definition)},
                waived=snap.granted | _batch_waivers(batch),
            )
            decision = workflow.decide(
                case_id=case_id, state=case.state, spec=spec, fields=fields, context=context
            )
            moved = self._write(
                tx,
                snap,
                workflow,
                step=spec,
                dest=decision.dest,
                evidence={**case.evidence, **batch_facts, **decision.fields},
                history=_history(
                    case_id=case_id,
                    seq=case.version + 1,
                    trigger=trigger,
                    from_state=case.state,
                    to_state=decision.dest,
                    actor=actor,
                    on_behalf_of=on_behalf_of,
                    now=now,
                    data={**batch_facts, **_recorded(decision)},
                    reason=reason,
                ),
            )
            if spec.batch == "take":
                assert batch is not None  # _batch read it for every seat-taking step
                tx.take_seat(batch_id=batch.id, case_id=case_id, version=case.version, now=now)
            elif spec.batch == "release" and snap.seat_batch is not None:
                tx.release_seat(batch_id=snap.seat_batch, case_id=case_id)
        return case_view(moved, definition, snap.exceptions, cadre_name=roster_name(snap.cadre))

    # -- grant an exception -----------------------------------------------------------------

    def grant_exception(
        self,
        case_id: int,
        rule: str,
        *,
        actor: Actor,
        reason: str,
        expected_version: int | None,
        within: Any,
    ) -> CaseView:
        """Record an exception to an "in principle" rule (A8.2, A9.2): only an approver role
        the policy names, with a reason, as a history row of its own (A19.1)."""
        now = self.clock.now()
        with self.store.transaction(within, write=True) as tx:
            snap = self._gather(tx, case_id, expected_version, None)
            case = snap.case
            workflow = self.registry.workflow(case.definition_id, tx)
            definition = workflow.definition
            check_scope(definition, actor, _scope(snap), action=GRANT_EXCEPTION)
            _refuse_in_a_closed_cycle(definition, snap.closure, case_id)
            rules = definition.rules
            allowed = rules.exception_for(rule) if rules else None
            if allowed is None:
                waivable = ", ".join(e.rule for e in rules.exceptions) if rules else _("无")
                raise InputError(
                    _("规则 {rule} 不允许例外（允许例外的规则：{rules}）").format(
                        rule=rule, rules=waivable
                    ),
                    field="rule",
                )
            if actor.role not in allowed.approvers:
                names = _("、").join(definition.roles[r] for r in allowed.approvers)
                raise RuleRefused(
                    [
                        Refusal(
                            article="A5.2",
                            rule="exception_approver",
                            message=_(
                                "{article} 的例外只能由{names}批准（缺少权限 {rule}）"
                            ).format(article=allowed.article, names=names, rule=rule),
                        )
                    ],
                    case_id=case_id,
                )
            if not reason or not reason.strip():
                raise InputError(_("例外须说明理由（A19.1）"), field="reason")
            if case.terminal:
                raise InputError(
                    _("案件 {case_id} 已结案（{state}），不能再批准例外").format(
                        case_id=case_id, state=case.state
                    )
                )
            if rule in snap.granted:
                raise InputError(
                    _("案件 {case_id} 已有规则 {rule} 的例外，不能重复批准").format(
                        case_id=case_id, rule=rule
                    ),
                    field="rule",
                )
            seq = case.version + 1
            granted = ExceptionView(
                case_id=case_id,
                seq=seq,
                rule=rule,
                article=allowed.article,
                approver_role=actor.role,
                approver_name=actor.name,
                reason=reason.strip(),
                at=now,
            )
            moved = self._write(
                tx,
                snap,
                workflow,
                step=None,
                dest=case.state,
                evidence=dict(case.evidence),
                history=_history(
                    case_id=case_id,
                    seq=seq,
                    trigger=GRANT_EXCEPTION,
                    from_state=case.state,
                    to_state=case.state,
                    actor=actor,
                    on_behalf_of=None,
                    now=now,
                    data={"rule": rule, "article": allowed.article},
                    reason=granted.reason,
                ),
            )
            tx.insert_exception(granted.as_row())
        return case_view(
            moved, definition, (*snap.exceptions, granted), cadre_name=roster_name(snap.cadre)
        )

    # -- the three moves' parts -------------------------------------------------------------

    def _gather(
        self,
        tx: CaseTransaction,
        case_id: int,
        expected_version: int | None,
        trigger: str | None,
        within: Any = None,
    ) -> Snapshot:
        states = self.registry.participation_states(trigger, within) if trigger else None
        snap = tx.snapshot(case_id, participation_states=states)
        if snap is None:
            raise NotFoundError("案件", case_id)
        if expected_version is not None and snap.case.version != expected_version:
            raise ConflictError(
                case_id=case_id,
                expected_version=expected_version,
                actual_version=snap.case.version,
            )
        return snap

    def _facts(
        self, tx: CaseTransaction, spec: TransitionSpec, snap: Snapshot, definition: Definition
    ) -> dict[str, Any]:
        """What the step's rules declare they need beyond the case, from the read: the cycle
        and the cadre's participations in it (A9.2), when the case's batch started (A13.1)."""
        facts: dict[str, Any] = {
            "cycle": snap.case.cycle,
            SEAT_BATCH_STARTED_AT: snap.seat_batch_started_at,
        }
        if not needs_participations(spec.guards):
            return facts
        states = tuple(definition.rules.participation_states) if definition.rules else ()
        participations = snap.participations
        # answered from the registry's memory: `_gather` asked for this trigger already
        if participations is None or states != self.registry.participation_states(spec.trigger):
            case = snap.case  # a definition the one read could not foresee: read them now
            participations = (
                tx.participations(
                    cadre_id=case.cadre_id, cycle=case.cycle, states=states, excluding=case.id
                )
                if case.cycle
                else ()
            )
        return {**facts, PARTICIPATIONS: list(participations)}

    def _write(
        self,
        tx: CaseTransaction,
        snap: Snapshot,
        workflow: CompiledWorkflow,
        *,
        step: StepSpec | None,
        dest: str,
        evidence: dict[str, Any],
        history: dict[str, Any],
    ) -> CaseRow:
        """Compare-and-set the case with its history row, then its notices; returns the row
        as written (the compare-and-set proved it is exactly this, so it is not read back)."""
        definition = workflow.definition
        case = snap.case
        now = history["at"]
        terminal = definition.state(dest).terminal
        _claim_or_leave_the_cycle(tx, snap, definition, dest, now)  # before any write
        head = tx.move_case(
            case=case,
            state=dest,
            terminal=terminal,
            evidence=evidence,
            history_row=history,
            sweep_on=sweep_on(definition, dest, now),
        )
        moved = CaseRow(
            id=case.id,
            definition_id=case.definition_id,
            cadre_id=case.cadre_id,
            county=case.county,
            agency=case.agency,
            state=dest,
            terminal=terminal,
            version=case.version + 1,
            chain_head=head,
            evidence=evidence,
            opened_at=case.opened_at,
            updated_at=now,
            cycle=case.cycle,
            tier=case.tier,
            eligibility_json=case.eligibility_json,
        )
        if step is not None and step.notify:
            tx.insert_notices(
                self._notices(
                    definition=definition,
                    step=step,
                    step_name=history["trigger"],
                    case=moved,
                    cadre=snap.cadre,
                    reason=history["reason"],
                    now=now,
                    seq=history["seq"],
                )
            )
        return moved

    def _notices(
        self,
        *,
        definition: Definition,
        step: StepSpec,
        step_name: str,
        case: CaseRow,
        cadre: Mapping[str, Any],
        reason: str | None,
        now: datetime,
        seq: int = 1,
    ) -> list[dict[str, Any]]:
        if not step.notify:
            return []
        return notice_rows(
            step,
            step_name=step_name,
            definition=definition,
            case=case.as_mapping(),
            cadre=cadre,
            seq=seq,
            now=now,
            reason=reason,
            routing=self.notice_channels,
        )


def _check_identity(
    actor: Actor,
    cadre: Mapping[str, Any],
    on_behalf_of: str | None,
    reason: str | None,
    *,
    case_id: int | None = None,
) -> None:
    """The roster vouches for who acts, whichever way the step came in (CLI, API, a host):
    a cadre under the roster's own name, a family member as its family contact, anyone else
    through an officer who says why (A5.2, A19.1; `workflow.access.identity_refusal`)."""
    refusal = identity_refusal(actor, cadre, on_behalf_of=on_behalf_of, reason=reason)
    if refusal is not None:
        raise RuleRefused([refusal], case_id=case_id)


def _filed_under(definition: Definition, data: Mapping[str, Any], today: date) -> str | None:
    """The cycle an opening files the case under (as `_eligibility_at_opening` decides it),
    known before the read so the read can say whether it is closed: the day's cycle (A9.1),
    or the one a workflow keeping no cycles names in its opening step (a condolence visit)."""
    if definition.rules is not None:
        cycle = definition.rules.cycle_on(today)
        return cycle.id if cycle else None
    served = data.get("cycle")
    return served.strip() if isinstance(served, str) else None


def _refuse_in_a_closed_cycle(
    definition: Definition, closure: CycleClosure | None, case_id: int | None
) -> None:
    """A closed cycle is frozen (A9.1, A18.2; `workflow.cycles`): its final report is
    archived, so no case filed under it moves or is opened any more. Checked before the step
    itself, so the officer learns why, not merely that a closed case has no steps left."""
    if closure is None:
        return
    message = _(
        "{cycle} 疗养周期已于 {at} 由{role} {by} 关闭，终期报告已归档（A18.2），"
        "该周期的案件不能再办理"
    ).format(
        cycle=closure.cycle,
        at=closure.closed_at.strftime("%Y-%m-%d %H:%M"),
        role=definition.roles.get(closure.role, closure.role),
        by=closure.closed_by,
    )
    raise RuleRefused([Refusal("A9.1", "cycle_closed", message)], case_id=case_id)


def _takes_part_in_cycles(definition: Definition) -> bool:
    return definition.rules is not None and bool(definition.rules.participation_states)


def _refuse_a_second_registration(
    tx: CaseTransaction, definition: Definition, cadre_id: str, cycle: str
) -> None:
    """A cadre has one registration under way per cycle (A9.2): a second is refused at open,
    before the family is asked to consent twice. A closed case (withdrawn, unable, or taken
    part) does not stop a new registration; approval then applies once-per-cycle with its
    exception (A9.2 原则上)."""
    live = tx.live_registrations(cadre_id=cadre_id, cycle=cycle, workflow=definition.name)
    if live:
        listed = _("、").join(_("案件 {case_id}").format(case_id=case_id) for case_id in live)
        raise RuleRefused(
            [
                Refusal(
                    article="A9.2",
                    rule=ONCE_PER_CYCLE,
                    message=_(
                        "该同志在{cycle}疗养周期内已有在办的报名（{cases}），不能重复报名"
                    ).format(cycle=cycle, cases=listed),
                )
            ]
        )


def _claim_or_leave_the_cycle(
    tx: CaseTransaction, snap: Snapshot, definition: Definition, dest: str, now: datetime
) -> None:
    """Keep the case's participation row in step with its state (A9.2): entering a
    participating state claims the cycle, which only one case per cadre may hold unless an
    exception was granted; leaving the participating states gives it back. The database's
    unique claim decides between two approvals at the same moment: the loser is refused here,
    before anything of its step is written."""
    case = snap.case
    if case.cycle is None or definition.rules is None:
        return
    states = definition.rules.participation_states
    was, will = case.state in states, dest in states
    if will and not was:
        claim = None if ONCE_PER_CYCLE in snap.granted else CYCLE_CLAIM
        holder = tx.take_part(case=case, claim=claim, now=now)
        if holder is not None:
            raise RuleRefused(
                [
                    Refusal(
                        article="A9.2",
                        rule=ONCE_PER_CYCLE,
                        message=_(
                            "该同志在{cycle}疗养周期内已参加或已获批参加（案件 {case_id}），"
                            "原则上只参加一次"
                        ).format(cycle=case.cycle, case_id=holder),
                    )
                ],
                case_id=case.id,
            )
    elif was and not will:
        tx.leave(case.id)


def _scope(snap: Snapshot) -> CaseScope:
    return case_scope(snap.case, snap.seat_contractor)


def _batch(tx: CaseTransaction, spec: TransitionSpec, fields: Mapping[str, Any]) -> BatchRow | None:
    """The batch a seat-taking step names (A6.2), by its already checked ``batch_id``."""
    if spec.batch != "take":
        return None
    batch_id = int(fields["batch_id"])  # a required integer field of the step (definition)
    batch = tx.batch(batch_id)
    if batch is None:
        raise InputError(
            _("batch_id：批次 {batch_id} 不存在（见 `convalescence batches list`）").format(
                batch_id=batch_id
            ),
            field="batch_id",
        )
    return batch


def _batch_waivers(batch: BatchRow | None) -> frozenset[str]:
    """The rules a batch's own A6.2 exceptions waive for every approval into it."""
    if batch is None:
        return frozenset()
    return frozenset(
        BATCH_EXCEPTION_WAIVES[r] for r in batch.exception_rules if r in BATCH_EXCEPTION_WAIVES
    )


def _eligibility_at_opening(
    definition: Definition, record: Mapping[str, Any], decision: Decision, today: date
) -> tuple[str | None, str | None, dict[str, Any] | None]:
    rules = definition.rules
    if rules is None:
        # a workflow that keeps no cycles of its own (a condolence visit, A9.3) is filed
        # under the cycle it serves, which its opening step records
        served = decision.fields.get("cycle")
        return (served if isinstance(served, str) else None), None, None
    cycle = rules.cycle_on(today)
    level = decision.fields.get("plan_level")
    if level is None:
        return (cycle.id if cycle else None), None, None
    # the registration's own facts too (the A4.3 recommender), so the stored explanation reads
    # what the guards that admitted the case read
    explanation = explain(
        record,
        rules=rules,
        policy=definition.policy,
        level=level,
        on=today,
        evidence=decision.fields,
    )
    return (cycle.id if cycle else None), explanation.tier, explanation.to_json()


def _recorded(decision: Decision) -> dict[str, Any]:
    """The step's evidence, plus the exceptions it relied on: an exception that let a rule
    pass is part of the step's history, not only of the grant (A19.1)."""
    if not decision.waived:
        return dict(decision.fields)
    applied = [
        {"article": r.article, "rule": r.rule, "message": r.message} for r in decision.waived
    ]
    return {**decision.fields, EXCEPTIONS_APPLIED: applied}


def _history(
    *,
    case_id: int,
    seq: int,
    trigger: str,
    from_state: str | None,
    to_state: str,
    actor: Actor,
    now: datetime,
    data: Mapping[str, Any],
    reason: str | None,
    on_behalf_of: str | None,
) -> dict[str, Any]:
    return {
        "on_behalf_of": on_behalf_of,
        "case_id": case_id,
        "seq": seq,
        "trigger": trigger,
        "from_state": from_state,
        "to_state": to_state,
        "actor": actor.name,
        "role": actor.role,
        "at": now,
        "data": dict(data),
        "reason": reason,
    }
