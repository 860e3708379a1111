"""What changed between two definitions, in the policy's own terms (issue 13 item 2).

A successor policy is reviewed by the people who will apply it: they ask whether the age limit
moved, which honours still qualify for the city tier, who may approve an exception and which
steps now check something new, not which lines of YAML differ (a re-indented file changes every
line and nothing of the policy; a one-line change of ``age_limit`` changes who may go). So the
two loaded definitions are compared field by field, grouped in the sections an officer knows,
and each change is one `Change`: the section, the item within it, and its value before and
after (None: the item is new, or gone). Values are JSON-ready, so the same list serves the
table, ``--json`` and the API. Pure: no file, database or clock is read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from workflow.definition.model import Definition, StepSpec, TimerSpec, TransitionSpec
from workflow.definition.policy_rules import Criterion, Limits, PolicyRules
from workflow.errors import InputError
from workflow.i18n import N_, _

# the sections in the order they are shown, with their labels (translated where shown)
SECTIONS: dict[str, str] = {
    "policy": N_("政策文件与有效期"),
    "tiers": N_("资格层级与条件"),
    "limits": N_("限额与标准"),
    "cycles": N_("疗养周期"),
    "exceptions": N_("例外与审批"),
    "permissions": N_("权限"),
    "steps": N_("步骤"),
    "roles": N_("角色与范围"),
    "states": N_("状态与计时"),
    "migration": N_("案件迁入"),
}

LIMIT_NAMES = (
    "batch_max_days",
    "batch_max_cadres",
    "age_limit",
    "staff_ratio",
    "cycle_max_years",
    "home_province",
)


@dataclass(frozen=True)
class Change:
    """One difference: ``before`` is None for an item added, ``after`` for one removed."""

    section: str
    item: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "item": self.item,
            "before": self.before,
            "after": self.after,
        }


def diff_definitions(a: Definition, b: Definition) -> list[Change]:
    """Every policy difference from ``a`` to ``b``, section by section in `SECTIONS` order,
    items in the order ``b`` writes them (then those only ``a`` has): the same two
    definitions always give the same list."""
    changes = [
        *_policy(a, b),
        *_tiers(a.rules, b.rules),
        *_limits(a.rules, b.rules),
        *_cycles(a.rules, b.rules),
        *_exceptions(a.rules, b.rules),
        *_permissions(a.rules, b.rules),
        *_steps(a, b),
        *_roles(a, b),
        *_states(a, b),
        *_migration(a, b),
    ]
    return changes


def diff_report(a: Definition, b: Definition) -> dict[str, Any]:
    """What ``definitions diff --json`` prints and the API answers: both sides, and the
    changes (an empty list when the two say the same)."""
    changes = diff_definitions(a, b)
    return {
        "a": _side(a),
        "b": _side(b),
        "identical": not changes,
        "changes": [c.to_json() for c in changes],
    }


def _side(definition: Definition) -> dict[str, Any]:
    return {
        "name": definition.name,
        "version": definition.version,
        "document": definition.policy.document,
        "source": definition.source_name,
        "content_hash": definition.content_hash,
    }


def parse_reference(reference: str) -> tuple[str, int | None]:
    """``NAME@VERSION`` as (name, version); a bare ``NAME`` means its latest version (None)."""
    name, at, version = reference.strip().partition("@")
    if not name or (at and not version.isdigit()) or (at and int(version) < 1):
        raise InputError(
            _("{reference!r} 应形如 NAME@VERSION（如 honor_convalescence@1）").format(
                reference=reference
            ),
            field="reference",
        )
    return name, int(version) if at else None


# -- helpers ------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    """Dates as ISO text, tuples as lists: what JSON and a table cell both show plainly."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    return value


def _keyed(
    section: str, before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = ""
) -> Iterator[Change]:
    """Items compared by key: changed and added in ``after``'s order, then removed."""
    for key, value in after.items():
        old = before.get(key)
        if key not in before or _json(old) != _json(value):
            yield Change(section, f"{prefix}{key}", _json(old), _json(value))
    for key, value in before.items():
        if key not in after:
            yield Change(section, f"{prefix}{key}", _json(value), None)


def _one(section: str, item: str, before: Any, after: Any) -> Iterator[Change]:
    if _json(before) != _json(after):
        yield Change(section, item, _json(before), _json(after))


# -- sections -----------------------------------------------------------------------------


def _policy(a: Definition, b: Definition) -> Iterator[Change]:
    for item, before, after in (
        ("name", a.name, b.name),
        ("version", a.version, b.version),
        ("title", a.title, b.title),
        ("policy.title", a.policy.title, b.policy.title),
        ("policy.document", a.policy.document, b.policy.document),
        ("policy.issued_on", a.policy.issued_on, b.policy.issued_on),
        ("policy.effective_from", a.policy.effective_from, b.policy.effective_from),
        ("policy.effective_until", a.policy.effective_until, b.policy.effective_until),
    ):
        yield from _one("policy", item, before, after)


def _criterion(criterion: Criterion) -> dict[str, Any]:
    shown: dict[str, Any] = {"article": criterion.article, "clause": criterion.clause}
    if criterion.merit is not None:
        merit = {"max_class": criterion.merit.max_class}
        if criterion.merit.wartime is not None:
            merit["wartime"] = criterion.merit.wartime
        shown["merit"] = merit
    if criterion.honour is not None:
        shown["honour"] = {"kind": criterion.honour.kind, "min_level": criterion.honour.min_level}
    if criterion.recommended_by:
        shown["recommended_by"] = list(criterion.recommended_by)
    return shown


def _tiers(a: PolicyRules | None, b: PolicyRules | None) -> Iterator[Change]:
    """Tiers and the criteria under each (A4.1–A4.3), then who may join which plan (A4.4),
    the levels "or above" counts along, and the categories covered (A2.1, A20.1)."""
    tiers_a = {t.tier: t for t in a.tiers} if a else {}
    tiers_b = {t.tier: t for t in b.tiers} if b else {}
    for name, tier in tiers_b.items():
        old = tiers_a.get(name)
        if old is None:
            yield Change("tiers", name, None, {"label": tier.label})
        else:
            yield from _one("tiers", f"{name}.label", old.label, tier.label)
        before = {c.id: _criterion(c) for c in old.criteria} if old else {}
        yield from _keyed(
            "tiers", before, {c.id: _criterion(c) for c in tier.criteria}, f"{name}: "
        )
    for name, tier in tiers_a.items():
        if name not in tiers_b:
            yield Change("tiers", name, {"label": tier.label}, None)
            yield from _keyed(
                "tiers", {c.id: _criterion(c) for c in tier.criteria}, {}, f"{name}: "
            )
    yield from _keyed(
        "tiers", a.plan_admits if a else {}, b.plan_admits if b else {}, "plan_admits."
    )
    yield from _one("tiers", "levels", a.levels if a else None, b.levels if b else None)
    yield from _keyed("tiers", a.categories if a else {}, b.categories if b else {}, "categories.")


def _limit_values(rules: PolicyRules | None) -> dict[str, Any]:
    limits: Limits | None = rules.limits if rules else None
    values: dict[str, Any] = {n: getattr(limits, n) for n in LIMIT_NAMES} if limits else {}
    if rules is not None and rules.contractor_exit_score is not None:
        values["contractor_exit_score"] = rules.contractor_exit_score
    return values


def _limits(a: PolicyRules | None, b: PolicyRules | None) -> Iterator[Change]:
    """The figures (A6.2 days and people, A8.2 age, A9.1 cycle years, A12.1 staff ratio, the
    home province, and A18.3's exit score)."""
    yield from _keyed("limits", _limit_values(a), _limit_values(b))


def _cycles(a: PolicyRules | None, b: PolicyRules | None) -> Iterator[Change]:
    def spans(rules: PolicyRules | None) -> dict[str, Any]:
        cycles = rules.cycles if rules else ()
        return {c.id: {"start": c.start, "end": c.end} for c in cycles}

    yield from _keyed("cycles", spans(a), spans(b))


def _exceptions(a: PolicyRules | None, b: PolicyRules | None) -> Iterator[Change]:
    def rules_of(rules: PolicyRules | None) -> dict[str, Any]:
        listed = rules.exceptions if rules else ()
        return {e.rule: {"article": e.article, "approvers": list(e.approvers)} for e in listed}

    yield from _keyed("exceptions", rules_of(a), rules_of(b))


def _permissions(a: PolicyRules | None, b: PolicyRules | None) -> Iterator[Change]:
    """One item per permission and role, so a role gaining or losing a scope reads plainly."""

    def pairs(rules: PolicyRules | None) -> dict[str, str]:
        table = rules.permissions if rules else {}
        return {f"{p} {role}": scope for p, held in table.items() for role, scope in held.items()}

    yield from _keyed("permissions", pairs(a), pairs(b))


# -- steps --------------------------------------------------------------------------------


def _notices(step: StepSpec) -> list[str]:
    return [f"{n.template} → {n.to}" for n in step.notify]


def _field(spec: Any) -> dict[str, Any]:
    shown: dict[str, Any] = {"type": spec.type, "label": spec.label, "required": spec.required}
    for name in ("choices", "minimum", "maximum", "max_length"):
        value = getattr(spec, name)
        if value not in (None, ()):
            shown[name] = _json(value)
    return shown


def _step_attributes(step: StepSpec) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "label": step.label,
        "roles": list(step.roles),
        "guards": list(step.guards),
        "notify": _notices(step),
        "article": step.article,
    }
    if isinstance(step, TransitionSpec):
        attributes["batch"] = step.batch
    return attributes


def _compare_steps(key: str, before: StepSpec, after: StepSpec) -> Iterator[Change]:
    yield from _keyed("steps", _step_attributes(before), _step_attributes(after), f"{key}.")
    yield from _keyed(
        "steps",
        {f.name: _field(f) for f in before.fields},
        {f.name: _field(f) for f in after.fields},
        f"{key}.requires.",
    )


def _step_keys(transitions: Iterable[TransitionSpec]) -> dict[str, TransitionSpec]:
    """A step is named by its trigger; a trigger written twice (from different states, as
    ``report_unable``) is named with its sources."""
    listed = list(transitions)
    counts: dict[str, int] = {}
    for t in listed:
        counts[t.trigger] = counts.get(t.trigger, 0) + 1
    return {
        (t.trigger if counts[t.trigger] == 1 else f"{t.trigger}[{','.join(t.sources)}]"): t
        for t in listed
    }


def _pair_steps(
    a: tuple[TransitionSpec, ...], b: tuple[TransitionSpec, ...]
) -> tuple[list[tuple[str, TransitionSpec | None, TransitionSpec]], set[int]]:
    """Each step of ``b`` with the step of ``a`` it continues (the same trigger, and of several
    the one sharing most source states), or with None; and the indexes of ``a`` left over."""
    taken: set[int] = set()
    pairs: list[tuple[str, TransitionSpec | None, TransitionSpec]] = []
    for key, step in _step_keys(b).items():
        candidates = [
            (len(set(old.sources) & set(step.sources)), -index, index)
            for index, old in enumerate(a)
            if old.trigger == step.trigger and index not in taken
        ]
        if candidates:
            best = max(candidates)[2]
            taken.add(best)
            pairs.append((key, a[best], step))
        else:
            pairs.append((key, None, step))
    return pairs, set(range(len(a))) - taken


def _steps(a: Definition, b: Definition) -> Iterator[Change]:
    """Transitions added or removed (one item per trigger and source state, its value the state
    it leads to); steps new or gone, with what they ask; then per step continued what changed:
    roles, guards, notices, article, seat, fields."""

    def edges(definition: Definition) -> dict[str, str]:
        return {
            f"{t.trigger}: {source} →": t.dest
            for t in definition.transitions
            for source in t.sources
        }

    yield from _one("steps", "initial", a.initial, b.initial)
    yield from _keyed("steps", edges(a), edges(b))
    yield from _compare_steps("open", a.open, b.open)
    pairs, left = _pair_steps(a.transitions, b.transitions)
    for key, before, after in pairs:
        if before is None:
            yield Change("steps", key, None, _json(_step_attributes(after)))
        else:
            yield from _compare_steps(key, before, after)
    keys_a = list(_step_keys(a.transitions))
    for index in sorted(left):
        yield Change("steps", keys_a[index], _json(_step_attributes(a.transitions[index])), None)


# -- roles, states, migration -------------------------------------------------------------


def _roles(a: Definition, b: Definition) -> Iterator[Change]:
    yield from _keyed("roles", a.roles, b.roles)
    yield from _keyed("roles", a.scopes, b.scopes, "scopes.")


def _timer(timer: TimerSpec) -> str:
    target = timer.trigger or timer.template or ""
    return " ".join(
        part for part in (f"{timer.after} {timer.unit}", timer.action, timer.role, target) if part
    )


def _states(a: Definition, b: Definition) -> Iterator[Change]:
    def shown(definition: Definition) -> dict[str, Any]:
        return {
            s.name: {
                "label": s.label,
                "terminal": s.terminal,
                "timers": [_timer(t) for t in s.timers],
            }
            for s in definition.states
        }

    before, after = shown(a), shown(b)
    for name, state in after.items():
        old = before.get(name)
        if old is None:
            yield Change("states", name, None, state)
            continue
        yield from _keyed("states", old, state, f"{name}.")
    for name, state in before.items():
        if name not in after:
            yield Change("states", name, state, None)
    rules_a, rules_b = a.rules, b.rules
    yield from _one(
        "states",
        "participation_states",
        rules_a.participation_states if rules_a else None,
        rules_b.participation_states if rules_b else None,
    )


def _migration(a: Definition, b: Definition) -> Iterator[Change]:
    map_a, map_b = a.migrates_from, b.migrates_from
    yield from _one(
        "migration",
        "migrates_from.version",
        map_a.version if map_a else None,
        map_b.version if map_b else None,
    )
    yield from _keyed(
        "migration",
        map_a.states if map_a else {},
        map_b.states if map_b else {},
        "migrates_from.states.",
    )
