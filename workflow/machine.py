"""One `transitions` machine per definition version, deciding moves for plain case rows.

The machine is built once and cases are never attached to it (``add_model`` scans a list, so
attaching every case would be quadratic, and a machine per case costs ~50 KB). For each attempt we
hand the event a throw-away model holding only the state name; the library checks that the trigger
is valid from that state, runs the guards as its conditions and moves the state. Deciding is pure:
no database, no clock, so it runs outside any transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from transitions import Machine, MachineError

from workflow.definition.model import Definition, StepSpec, TransitionSpec
from workflow.errors import InputError, Refusal, RuleRefused, TransitionNotAllowed
from workflow.fields import coerce_fields
from workflow.i18n import _
from workflow.rules import GuardContext, Verdict, evaluate


@dataclass(frozen=True)
class Actor:
    """Who acts, in which role (A5.1) and for which part of the cases (A5.2).

    ``scope`` names the county, agency, cadre id or contractor id the role is limited to, as the
    definition's ``scopes:`` declares; city officers and auditors carry none. Written
    ``ROLE:NAME@SCOPE`` on the command line and in token files.
    """

    role: str
    name: str
    scope: str | None = None

    @classmethod
    def parse(cls, text: str) -> Actor:
        who, at, scope = text.partition("@")
        role, sep, name = who.partition(":")
        if not sep or not role.strip() or not name.strip() or (at and not scope.strip()):
            raise InputError(
                _(
                    "办理人 {actor} 应写作 ROLE:NAME 或 ROLE:NAME@SCOPE，"
                    "如 agency_officer:王芳@东昌府区军休所"
                ).format(actor=repr(text)),
                field="actor",
            )
        return cls(role=role.strip(), name=name.strip(), scope=scope.strip() or None)

    def __str__(self) -> str:
        text = f"{self.role}:{self.name}"
        return f"{text}@{self.scope}" if self.scope else text


@dataclass(frozen=True)
class Decision:
    """An allowed move: where the case goes and the checked evidence to record."""

    trigger: str
    source: str | None
    dest: str
    fields: dict[str, Any]
    waived: tuple[Refusal, ...] = ()  # refusals an exception record let pass (A19.1)


class _Attempt:
    """The throw-away model `transitions` moves; it also carries the guards' refusals out."""

    def __init__(self, state: str, context: GuardContext, guards: tuple[str, ...]) -> None:
        self.state = state
        self.context = context
        self.guards = guards
        self.verdict = Verdict()


def _guards_pass(event: Any) -> bool:
    attempt: _Attempt = event.model
    attempt.verdict = evaluate(attempt.guards, attempt.context)
    return not attempt.verdict.refusals


class CompiledWorkflow:
    """A definition plus its machine; immutable after construction, so it is shared freely."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self._machine = Machine(
            model=None,
            states=[s.name for s in definition.states],
            initial=definition.initial,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        for spec in definition.transitions:
            self._machine.add_transition(
                spec.trigger, list(spec.sources), spec.dest, conditions=[_guards_pass]
            )

    def decide_open(
        self, actor: Actor, raw_fields: Mapping[str, Any], context: GuardContext
    ) -> Decision:
        step = self.definition.open
        fields = self.check_step(step, "open", actor, raw_fields, case_id=None)
        verdict = evaluate(step.guards, _with_evidence(context, fields))
        if verdict.refusals:
            raise RuleRefused(verdict.refusals)
        return Decision("open", None, self.definition.initial, fields, verdict.waived)

    def decide(
        self,
        *,
        case_id: int,
        state: str,
        spec: TransitionSpec,
        fields: Mapping[str, Any],
        context: GuardContext,
    ) -> Decision:
        """Run the step's guards as the machine's conditions on ``fields`` as `check_step`
        checked them; the move is allowed only if none refuses (or an exception waived it)."""
        attempt = _Attempt(state, _with_evidence(context, fields), spec.guards)
        try:
            moved = self._machine.events[spec.trigger].trigger(attempt)
        except MachineError as exc:  # the library's own word that the source is wrong
            raise self._not_allowed(case_id, state, spec.trigger) from exc
        if not moved:
            raise RuleRefused(attempt.verdict.refusals, case_id=case_id)
        return Decision(spec.trigger, state, attempt.state, dict(fields), attempt.verdict.waived)

    def next_steps(self, state: str) -> tuple[TransitionSpec, ...]:
        return self.definition.transitions_from(state)

    def transition(self, case_id: int, state: str, trigger: str) -> TransitionSpec:
        """The transition ``trigger`` takes from ``state``, worked out once per step; bad
        input if the definition has no such step, `TransitionNotAllowed` if not from here."""
        if trigger not in self.definition.triggers:
            known = ", ".join(sorted(self.definition.triggers))
            raise InputError(
                _("“{trigger}”不是流程 {workflow} 的步骤（步骤有：{steps}）").format(
                    trigger=trigger, workflow=self.definition.name, steps=known
                ),
                field="trigger",
            )
        spec = self.definition.transition(trigger, state)
        if spec is None:
            raise self._not_allowed(case_id, state, trigger)
        return spec

    def _not_allowed(self, case_id: int, state: str, trigger: str) -> TransitionNotAllowed:
        return TransitionNotAllowed(
            case_id=case_id,
            trigger=trigger,
            state=state,
            allowed=[t.trigger for t in self.next_steps(state)],
        )

    def check_step(
        self,
        step: StepSpec,
        name: str,
        actor: Actor,
        raw_fields: Mapping[str, Any],
        *,
        case_id: int | None,
    ) -> dict[str, Any]:
        """The actor's role may take the step (A5.2), and its evidence as the step's fields
        declare it (A7.2), coerced once: a batch id is read here and nowhere else."""
        if actor.role not in self.definition.roles:
            known = ", ".join(self.definition.roles)
            raise InputError(
                _("未知角色“{role}”（角色有：{roles}）").format(role=actor.role, roles=known),
                field="role",
            )
        if actor.role not in step.roles:
            allowed = _("、").join(self.definition.roles[r] for r in step.roles)
            raise RuleRefused(
                [
                    Refusal(
                        article="A5.2",
                        rule="role_may_fire",
                        message=_(
                            "“{role}”无权执行“{step}”"
                            "（缺少权限 {permission}；可执行角色：{allowed}）"
                        ).format(
                            role=self.definition.roles[actor.role],
                            step=step.label,
                            permission=name,
                            allowed=allowed,
                        ),
                    )
                ],
                case_id=case_id,
            )
        return coerce_fields(step.fields, raw_fields, step=name)


def _with_evidence(context: GuardContext, fields: Mapping[str, Any]) -> GuardContext:
    return replace(context, evidence={**context.evidence, **fields})
