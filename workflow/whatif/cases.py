"""Open cases under a draft: the state each would be in, and which guards of the steps leaving
it would refuse. Pure: the case, its cadre and the facts read beforehand in, outcomes out.

The guards are the registered rules themselves (`workflow.rules.RULES`), run on the context a
step would build (`workflow.steps`): the case's evidence, its cadre's record, the case's cycle,
the cadre's other cases in it (A9.2), the seat's batch start (A13.1) and the exceptions granted.
What only the step brings — its own fields, the batch an approval names and who acts for whom —
is not there, so each guard runs on mappings that note what it reads: a guard that read such a
missing item is reported as not judged, naming the items, whatever it returned.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from workflow.definition.model import Definition, TransitionSpec
from workflow.i18n import _
from workflow.registry import PARTICIPATIONS, needs_participations
from workflow.rules import RULES, GuardContext
from workflow.rules.binding import PLANS
from workflow.rules.trip import SEAT_BATCH_STARTED_AT
from workflow.snapshot import BatchRow
from workflow.whatif.model import CaseOutcome, GuardResult, StepCheck

ON_BEHALF_OF = "on_behalf_of"  # the step's fact: for whom the actor acts (A7.2)


class _Noted(Mapping[str, Any]):
    """A read-only mapping that notes every key looked up, found or not."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _batch_keys() -> frozenset[str]:
    """The evidence a seat-taking step copies from the batch it names (`BatchRow.evidence`)."""
    sample = BatchRow(
        id=0,
        start_date=date.min,
        end_date=date.min,
        place="",
        province="",
        seats_taken=0,
        contractor_id=0,
        plan_level="",
        plan_county=None,
        plan_cycle=None,
        exception_rules=frozenset(),
    )
    return frozenset(sample.evidence())


BATCH_KEYS = _batch_keys()


@dataclass(frozen=True)
class CaseFacts:
    """An open case as the what-if reads it, with the facts its steps' guards may need."""

    case_id: int
    cadre_id: str
    cadre_name: str
    county: str
    agency: str
    version: int
    state: str
    evidence: Mapping[str, Any]
    cycle: str | None
    cadre: Mapping[str, Any]
    granted: frozenset[str]
    seat_batch_started_at: datetime | None
    # the cadre's other cases in the same cycle: (case id, state), for A9.2
    cycle_cases: tuple[tuple[int, str], ...] = ()


def draft_state(definition: Definition, version: int, state: str) -> tuple[str | None, str | None]:
    """The state a case of ``version`` in ``state`` has under ``definition``: through its
    ``migrates_from`` map when it names that version (a state the map leaves out refuses,
    A21.1), else the state of the same name. Returns (state, None) or (None, why not)."""
    mapping = definition.migrates_from
    if mapping is not None and mapping.version == version:
        target = mapping.states.get(state)
        if target is None:
            return None, _(
                "草案的 migrates_from 未映射 v{version} 的状态 {state}：该案件不能转入草案（A21.1）"
            ).format(version=version, state=state)
        return target, None
    if any(s.name == state for s in definition.states):
        return state, None
    return None, _(
        "草案没有状态 {state}，也没有为 v{version} 声明 migrates_from 映射：该案件不能按草案办理"
        "（A21.1）"
    ).format(state=state, version=version)


def check_steps(
    definition: Definition,
    state: str,
    case: CaseFacts,
    *,
    on: date,
    plans: list[dict[str, Any]] | None = None,
) -> tuple[StepCheck, ...]:
    """Every step leaving ``state`` under ``definition``, each guard judged or not (see the
    module docstring). ``plans``: the annual plans of ``on``'s year, for a guard needing them."""
    return tuple(
        _check_step(definition, spec, case, on=on, plans=plans)
        for spec in definition.transitions_from(state)
    )


def _facts(
    definition: Definition,
    spec: TransitionSpec,
    case: CaseFacts,
    plans: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    facts: dict[str, Any] = {"cycle": case.cycle, SEAT_BATCH_STARTED_AT: case.seat_batch_started_at}
    if needs_participations(spec.guards):
        states = set(definition.rules.participation_states) if definition.rules else set()
        facts[PARTICIPATIONS] = sorted(
            other for other, other_state in case.cycle_cases if other_state in states
        )
    if plans is not None:
        facts[PLANS] = plans
    return facts


def _check_step(
    definition: Definition,
    spec: TransitionSpec,
    case: CaseFacts,
    *,
    on: date,
    plans: list[dict[str, Any]] | None,
) -> StepCheck:
    step_keys = {f.name for f in spec.fields} | (BATCH_KEYS if spec.batch == "take" else set())
    facts = _facts(definition, spec, case, plans)
    results = []
    for name in spec.guards:
        rule = RULES[name]
        evidence, noted_facts = _Noted(case.evidence), _Noted(facts)
        context = GuardContext(
            today=on,
            policy=definition.policy,
            cadre=case.cadre,
            evidence=evidence,
            rules=definition.rules,
            facts=noted_facts,
            waived=case.granted,
        )
        refusal = rule(context)
        needs = sorted(
            {k for k in evidence.read if k in step_keys and k not in case.evidence}
            | {k for k in noted_facts.read if k not in facts}
        )
        if needs:
            results.append(GuardResult(name, rule.article, "unjudged", needs=tuple(needs)))
        elif refusal is None:
            results.append(GuardResult(name, rule.article, "passed"))
        elif name in case.granted:
            results.append(GuardResult(name, rule.article, "waived", refusal.message))
        else:
            results.append(GuardResult(name, rule.article, "refused", refusal.message))
    return StepCheck(spec.trigger, spec.label, spec.dest, tuple(results))


def outcome(
    draft: Definition,
    own: Definition,
    case: CaseFacts,
    *,
    on: date,
    plans: list[dict[str, Any]] | None = None,
) -> CaseOutcome:
    """The case under the draft; each refusal marked ``new`` unless the case's own version
    refuses the same step by the same rule on the same day."""
    state, problem = draft_state(draft, case.version, case.state)
    steps: tuple[StepCheck, ...] = ()
    if state is not None:
        steps = check_steps(draft, state, case, on=on, plans=plans)
    if any(s.refusals for s in steps):
        already = {
            (s.trigger, g.rule)
            for s in check_steps(own, case.state, case, on=on, plans=plans)
            for g in s.refusals
        }
        steps = tuple(
            StepCheck(
                s.trigger,
                s.label,
                s.dest,
                tuple(
                    _marked(g, (s.trigger, g.rule) not in already) if g.outcome == "refused" else g
                    for g in s.guards
                ),
            )
            for s in steps
        )
    return CaseOutcome(
        case_id=case.case_id,
        cadre_id=case.cadre_id,
        cadre_name=case.cadre_name,
        county=case.county,
        agency=case.agency,
        version=case.version,
        state=case.state,
        draft_state=state,
        problem=problem,
        steps=steps,
    )


def _marked(guard: GuardResult, new: bool) -> GuardResult:
    return GuardResult(guard.rule, guard.article, guard.outcome, guard.message, guard.needs, new)
