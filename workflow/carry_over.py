"""Carrying open cases over to a successor definition (A21.1, 第二十一条; ``cases migrate``).

The successor says which earlier version its cases may come from and into which state
(``migrates_from``); a state the map leaves out refuses. Each case is then re-checked against
the successor's guards of its next step (the first step its new state offers, as the what-if
judges it: `workflow.whatif.cases`), on today's date and in the successor's cycle of today
(A9.1): a case the successor would refuse there stays on its old version, and the report says
by which rule and article. A move is one transaction with its own history row in the case's
hash chain (who, from which version, why); a case moved meanwhile is a conflict, reported, and
the rest go on. ``dry_run`` reports the same without writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from workflow.clock import shanghai_date
from workflow.definition.model import Definition
from workflow.errors import ConflictError, InputError, Refusal, RuleRefused
from workflow.i18n import _
from workflow.machine import Actor
from workflow.plans import service as plans_service
from workflow.rules import RULES
from workflow.store import carry_over as store
from workflow.store import whatif as facts_store
from workflow.store.definitions import definition_store
from workflow.whatif.cases import CaseFacts, check_steps, draft_state
from workflow.whatif.service import case_facts, read_case_context

if TYPE_CHECKING:
    from workflow.engine import Engine

MIGRATE = "cases:migrate"  # the permission in the definition's rules.permissions (A5.2)
TRIGGER = "migrate"  # the history row's trigger
RECORD = "_carried_over"  # the history row's record of the move (not evidence: see audit.chain)

Outcome = Literal["moved", "would_move", "refused", "skipped", "conflict"]


@dataclass(frozen=True)
class CaseMove:
    """What became of one case: moved (or would move), refused with the rules, skipped, or lost
    to someone who moved it first."""

    case_id: int
    county: str
    state: str
    new_state: str | None
    outcome: Outcome
    refusals: tuple[Refusal, ...] = ()
    unjudged: tuple[str, ...] = ()  # guards only the next step itself can judge
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "county": self.county,
            "state": self.state,
            "new_state": self.new_state,
            "outcome": self.outcome,
            "refusals": [
                {"article": r.article, "rule": r.rule, "message": r.message} for r in self.refusals
            ],
            "unjudged": list(self.unjudged),
            "note": self.note,
        }


@dataclass(frozen=True)
class CarryOverReport:
    source: str  # name@version
    target: str
    on: date
    cycle: str | None  # the successor's cycle the moved cases are filed under (A9.1)
    dry_run: bool
    moves: tuple[CaseMove, ...]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for move in self.moves if move.outcome == outcome)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "on": self.on.isoformat(),
            "cycle": self.cycle,
            "dry_run": self.dry_run,
            "counts": {
                outcome: self.count(outcome)
                for outcome in ("moved", "would_move", "refused", "skipped", "conflict")
            },
            "cases": [move.to_json() for move in self.moves],
        }


def parse_target(text: str) -> tuple[str, int]:
    """``NAME@VERSION`` (``honor_convalescence@2``)."""
    name, at, version = text.partition("@")
    if not at or not name.strip() or not version.strip().isdigit():
        raise InputError(
            _("--to 应写作 名称@版本号，如 honor_convalescence@2（得到 {text!r}）").format(
                text=text
            ),
            field="to",
        )
    return name.strip(), int(version)


def carry_over(
    engine: Engine,
    target_ref: str,
    *,
    actor: Actor,
    states: Sequence[str] = (),
    county: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
) -> CarryOverReport:
    """Carry the open cases of the version ``target_ref`` migrates from onto it (see the
    module docstring); returns the per-case report."""
    refusal = plans_service.permission_refusal(engine, actor, MIGRATE)
    if refusal is not None:
        raise RuleRefused([refusal])
    name, version = parse_target(target_ref)
    if not dry_run and not (reason and reason.strip()):
        raise InputError(_("迁移案件须说明理由（A19.1）：--reason"), field="reason")
    engine.published_changed()
    catalog = engine.catalog
    target = catalog.get(name, version)
    mapping = target.migrates_from
    if mapping is None:
        raise InputError(
            _("{name} 第 {version} 版没有声明 migrates_from：不能把案件迁入该版本（A21.1）").format(
                name=name, version=version
            ),
            field="to",
        )
    source = catalog.get(name, mapping.version)
    wanted = _states(source, states)
    now = engine.clock.now()
    today = shanghai_date(now)
    if not target.policy.in_force_on(today):
        refusal = RULES["policy_in_force"](_context(target, today))
        assert refusal is not None  # not in force today is exactly this rule's refusal
        raise RuleRefused([refusal])
    cycle = _cycle_of(target, today)
    with definition_store(engine.transaction) as definitions:
        stored = definitions.find(source.name, source.version)
    report = CarryOverReport(
        source=f"{source.name}@{source.version}",
        target=f"{target.name}@{target.version}",
        on=today,
        cycle=cycle,
        dry_run=dry_run,
        moves=(),
    )
    if stored is None:  # no case ever ran on the earlier version
        return report
    target_id = None if dry_run else engine.stored_definition_id(target)
    open_states = frozenset(s.name for s in source.states if not s.terminal)
    with engine.transaction() as connection:
        ids = store.cohort(
            connection, stored.id, open_states=open_states, states=wanted, county=county
        )
        facts, plans = _facts(connection, name, set(ids), cycle=cycle, today=today, target=target)
    moves = []
    for case_id in ids:
        case = facts[case_id]
        planned = _plan(target, source, case, today=today, plans=plans)
        if planned.outcome != "would_move" or dry_run:
            moves.append(planned)
            continue
        assert target_id is not None
        moves.append(
            _move(
                engine,
                planned,
                source_id=stored.id,
                target=target,
                target_id=target_id,
                cycle=cycle,
                actor=actor,
                reason=reason or "",
            )
        )
    return replace(report, moves=tuple(moves))


# -- planning (pure) -------------------------------------------------------------------------


def _plan(
    target: Definition,
    source: Definition,
    case: CaseFacts,
    *,
    today: date,
    plans: list[dict[str, Any]] | None,
) -> CaseMove:
    new_state, problem = draft_state(target, source.version, case.state)
    if new_state is None:
        return CaseMove(
            case.case_id,
            case.county,
            case.state,
            None,
            "refused",
            (Refusal(article="A21.1", rule="migrates_from", message=problem or ""),),
        )
    steps = check_steps(target, new_state, case, on=today, plans=plans)
    if not steps:  # a state with no step left: nothing to re-check
        return CaseMove(case.case_id, case.county, case.state, new_state, "would_move")
    following = steps[0]
    refusals = tuple(
        Refusal(article=g.article, rule=g.rule, message=g.message or "") for g in following.refusals
    )
    unjudged = tuple(g.rule for g in following.unjudged)
    if refusals:
        return CaseMove(
            case.case_id,
            case.county,
            case.state,
            new_state,
            "refused",
            refusals,
            unjudged,
            note=_("新版本下一步“{step}”将被拒绝").format(step=following.label),
        )
    return CaseMove(case.case_id, case.county, case.state, new_state, "would_move", (), unjudged)


def _states(source: Definition, states: Sequence[str]) -> frozenset[str] | None:
    if not states:
        return None
    known = {s.name for s in source.states}
    unknown = sorted(set(states) - known)
    if unknown:
        raise InputError(
            _("第 {version} 版没有状态 {states}（可用：{known}）").format(
                version=source.version, states="、".join(unknown), known=", ".join(sorted(known))
            ),
            field="state",
        )
    return frozenset(states)


def _cycle_of(target: Definition, today: date) -> str | None:
    """The successor's cycle of today (A9.1), which moved cases are filed under."""
    if target.rules is None or not target.rules.cycles:
        return None
    for cycle in target.rules.cycles:
        if cycle.start <= today <= cycle.end:
            return cycle.id
    refusal = RULES["in_a_cycle"](_context(target, today))
    raise RuleRefused(
        [refusal or Refusal(article="A9.1", rule="in_a_cycle", message=_("今天不在任何周期内"))]
    )


def _context(target: Definition, today: date) -> Any:
    from workflow.rules import GuardContext  # noqa: PLC0415

    return GuardContext(today=today, policy=target.policy, cadre={}, rules=target.rules)


# -- reading the facts once ------------------------------------------------------------------


def _facts(
    connection: Any,
    name: str,
    ids: set[int],
    *,
    cycle: str | None,
    today: date,
    target: Definition,
) -> tuple[dict[int, CaseFacts], list[dict[str, Any]] | None]:
    """Every case's facts as its next step under the successor would read them, in the
    successor's cycle: the what-if's set-based reads (`workflow.whatif.service`)."""
    rows = [row for row in facts_store.open_cases(connection, name) if row.id in ids]
    cadres = store.cadre_records(connection, {row.cadre_id for row in rows})
    context = read_case_context(connection, name, target, today)
    found = {}
    for row in rows:
        cadre_name, record = cadres.get(row.cadre_id, ("", {}))
        found[row.id] = case_facts(
            row, context, cadre_name=cadre_name, record=record, version=0, cycle=cycle
        )
    return found, context.plans


# -- writing, one case per transaction -------------------------------------------------------


def _move(
    engine: Engine,
    planned: CaseMove,
    *,
    source_id: int,
    target: Definition,
    target_id: int,
    cycle: str | None,
    actor: Actor,
    reason: str,
) -> CaseMove:
    now = engine.clock.now()
    new_state = planned.new_state
    assert new_state is not None
    try:
        with engine.transaction(write=True) as connection:
            case = store.case_to_move(connection, planned.case_id)
            if case is None or case.definition_id != source_id or case.state != planned.state:
                return replace(
                    planned,
                    outcome="skipped",
                    note=_("计划迁移后案件已被办理，未迁移"),
                )
            store.move_to_successor(
                connection,
                case,
                definition_id=target_id,
                cycle=cycle,
                state=new_state,
                terminal=target.state(new_state).terminal,
                history_row={
                    "on_behalf_of": None,
                    "case_id": case.id,
                    "seq": case.version + 1,
                    "trigger": TRIGGER,
                    "from_state": case.state,
                    "to_state": new_state,
                    "actor": actor.name,
                    "role": actor.role,
                    "at": now,
                    "data": {
                        RECORD: {
                            "from_definition_id": source_id,
                            "to": f"{target.name}@{target.version}",
                            "to_definition_id": target_id,
                            "from_cycle": case.cycle,
                            "to_cycle": cycle,
                        }
                    },
                    "reason": reason.strip(),
                },
            )
    except ConflictError:
        return replace(planned, outcome="conflict", note=_("案件已被他人先行修改，未迁移"))
    except RuleRefused as refused:
        return replace(planned, outcome="refused", refusals=refused.refusals)
    return replace(planned, outcome="moved")
