"""The correction runner: a rebook or a correction in the three moves of a step, in one
transaction (`workflow.steps` does the same for the steps of a definition).

1. **Gather** the case (`CaseTransaction.snapshot`), its history's steps and, for a rebook,
   both batches (locked on PostgreSQL in id order, `workflow.store.corrections`).
2. **Decide** purely (`workflow.corrections`): scope first (A5.2), so an outside caller learns
   nothing of the case; then who acts against the roster, the definition's ``corrections:``
   (role, state, reason, fields) and the rules the corrected record must still pass.
3. **Write once**: the chained history row of the new version, then the compare-and-set on the
   case's version with its state unchanged (the cases trigger requires that order), then, for a
   rebook, the seat moved from one batch to the other. If the case moved since the read,
   `ConflictError` and nothing is written; a full batch rolls everything back (A6.2).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, Protocol

from workflow.access import identity_refusal
from workflow.clock import Clock, shanghai_date
from workflow.corrections import (
    CORRECT,
    REBOOK,
    BatchPlace,
    Correction,
    Situation,
    TakenStep,
    allowed,
    decide_correct,
    decide_rebook,
)
from workflow.errors import ConflictError, NotFoundError, RuleRefused
from workflow.machine import Actor
from workflow.ports import CaseTransaction
from workflow.reader import case_scope, case_view, check_scope, roster_name
from workflow.registry import PARTICIPATIONS, DefinitionRegistry
from workflow.rules.trip import SEAT_BATCH_STARTED_AT
from workflow.snapshot import CaseRow, Snapshot
from workflow.steps import _refuse_in_a_closed_cycle as refuse_in_a_closed_cycle
from workflow.views import CaseView


class CorrectionTransaction(CaseTransaction, Protocol):
    """A case transaction that also reads what corrections decide on and moves a seat
    (`workflow.store.corrections.SqlCorrectionTransaction`)."""

    def batch_places(self, ids: list[int]) -> dict[int, BatchPlace]: ...

    def steps_taken(self, case_id: int) -> tuple[TakenStep, ...]: ...

    def move_seat(
        self, *, case_id: int, from_batch: int, to_batch: int, version: int, now: datetime
    ) -> None: ...


class CorrectionStore(Protocol):
    def transaction(
        self, within: Any = None, *, write: bool = False, single_read: bool = False
    ) -> AbstractContextManager[CorrectionTransaction]: ...


class CorrectionRunner:
    def __init__(self, registry: DefinitionRegistry, store: CorrectionStore, clock: Clock) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock

    def rebook(
        self,
        case_id: int,
        batch_id: int,
        *,
        actor: Actor,
        fields: Mapping[str, Any],
        reason: str | None,
        expected_version: int | None,
        within: Any,
    ) -> CaseView:
        """Move the case's seat to batch ``batch_id`` of the same plan (A6.2), amending the
        insurance's ``fields`` on the way if the definition allows; one history row."""
        now = self.clock.now()
        gathered = self._gathered(
            case_id,
            REBOOK,
            actor=actor,
            reason=reason,
            expected_version=expected_version,
            within=within,
            now=now,
        )
        with gathered as (tx, snap, situation):
            spec = allowed(situation.definition, REBOOK, actor, snap.case, reason)
            wanted = [batch_id] if snap.seat_batch is None else [snap.seat_batch, batch_id]
            places = tx.batch_places(wanted)
            seat = places.get(snap.seat_batch) if snap.seat_batch is not None else None
            decided = decide_rebook(
                situation,
                spec,
                batch_id=batch_id,
                seat=seat,
                target=places.get(batch_id),
                raw_fields=fields,
            )
            moved = _write(
                tx, snap.case, REBOOK, actor=actor, decided=decided, reason=reason, now=now
            )
            assert seat is not None  # decide_rebook refuses a case without a seat
            tx.move_seat(
                case_id=case_id,
                from_batch=seat.batch.id,
                to_batch=batch_id,
                version=snap.case.version,
                now=now,
            )
        return case_view(
            moved, situation.definition, snap.exceptions, cadre_name=roster_name(snap.cadre)
        )

    def correct(
        self,
        case_id: int,
        fields: Mapping[str, Any],
        *,
        actor: Actor,
        reason: str | None,
        expected_version: int | None,
        within: Any,
    ) -> CaseView:
        """Amend evidence steps recorded (A7.2); the history keeps both values (A19.1)."""
        now = self.clock.now()
        gathered = self._gathered(
            case_id,
            CORRECT,
            actor=actor,
            reason=reason,
            expected_version=expected_version,
            within=within,
            now=now,
        )
        with gathered as (tx, snap, situation):
            spec = allowed(situation.definition, CORRECT, actor, snap.case, reason)
            decided = decide_correct(situation, spec, fields)
            moved = _write(
                tx, snap.case, CORRECT, actor=actor, decided=decided, reason=reason, now=now
            )
        return case_view(
            moved, situation.definition, snap.exceptions, cadre_name=roster_name(snap.cadre)
        )

    @contextmanager
    def _gathered(
        self,
        case_id: int,
        kind: str,
        *,
        actor: Actor,
        reason: str | None,
        expected_version: int | None,
        within: Any,
        now: datetime,
    ) -> Iterator[tuple[CorrectionTransaction, Snapshot, Situation]]:
        """The write transaction with the case read and scope-checked, what both corrections
        start from; the decision and the write happen inside it."""
        with self.store.transaction(within, write=True) as tx:
            snap, situation = _situation(
                self.registry,
                tx,
                case_id,
                kind,
                actor=actor,
                reason=reason,
                expected_version=expected_version,
                now=now,
            )
            yield tx, snap, situation


def _situation(
    registry: DefinitionRegistry,
    tx: CorrectionTransaction,
    case_id: int,
    kind: str,
    *,
    actor: Actor,
    reason: str | None,
    expected_version: int | None,
    now: datetime,
) -> tuple[Snapshot, Situation]:
    snap = tx.snapshot(case_id)
    if snap is None:
        raise NotFoundError("案件", case_id)
    case = snap.case
    if expected_version is not None and case.version != expected_version:
        raise ConflictError(
            case_id=case_id, expected_version=expected_version, actual_version=case.version
        )
    definition = registry.workflow(case.definition_id, tx).definition
    if actor.role in definition.roles:  # an unknown role is bad input (`allowed`)
        # scope before anything else: an out-of-scope caller learns nothing of the case (A5.2)
        check_scope(definition, actor, case_scope(case, snap.seat_contractor), kind)
    # a closed cycle is frozen, corrections included (A9.1, A18.2), as for any step
    refuse_in_a_closed_cycle(definition, snap.closure, case_id)
    refusal = identity_refusal(actor, snap.cadre, reason=reason)
    if refusal is not None:
        raise RuleRefused([refusal], case_id=case_id)
    facts: dict[str, Any] = {"cycle": case.cycle, SEAT_BATCH_STARTED_AT: snap.seat_batch_started_at}
    states = definition.rules.participation_states if definition.rules else ()
    if states and case.cycle:
        facts[PARTICIPATIONS] = list(
            tx.participations(
                cadre_id=case.cadre_id, cycle=case.cycle, states=states, excluding=case.id
            )
        )
    situation = Situation(
        definition=definition,
        case=case,
        cadre=snap.cadre,
        today=shanghai_date(now),
        taken=tx.steps_taken(case_id),
        granted=snap.granted,
        facts=facts,
    )
    return snap, situation


def _write(
    tx: CorrectionTransaction,
    case: CaseRow,
    trigger: str,
    *,
    actor: Actor,
    decided: Correction,
    reason: str | None,
    now: datetime,
) -> CaseRow:
    """The history row of the new version, then the case compare-and-set on its version with
    its state as it was; returns the row as written."""
    history = {
        "case_id": case.id,
        "seq": case.version + 1,
        "trigger": trigger,
        "from_state": case.state,
        "to_state": case.state,
        "actor": actor.name,
        "role": actor.role,
        "on_behalf_of": None,
        "at": now,
        "data": decided.data,
        "reason": (reason or "").strip(),
    }
    head = tx.move_case(
        case=case,
        state=case.state,
        terminal=case.terminal,
        evidence=decided.evidence,
        history_row=history,
    )
    return CaseRow(
        id=case.id,
        definition_id=case.definition_id,
        cadre_id=case.cadre_id,
        county=case.county,
        agency=case.agency,
        state=case.state,
        terminal=case.terminal,
        version=case.version + 1,
        chain_head=head,
        evidence=decided.evidence,
        opened_at=case.opened_at,
        updated_at=now,
        cycle=case.cycle,
        tier=case.tier,
        eligibility_json=case.eligibility_json,
    )
