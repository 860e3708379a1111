"""Graph and reference checks that a JSON schema cannot express.

They run on the raw parsed data, even when the schema found problems elsewhere, so one run reports
everything wrong with a file. Each check skips items whose shape is already wrong: the schema has
reported those.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any

from workflow.definition.yaml_source import Located, Path
from workflow.errors import Problem
from workflow.i18n import N_, _
from workflow.policy import cycle_last_day, cycle_too_long
from workflow.ports import TemplateCheck


def _scope_and_seat_problems(
    located: Located, data: dict[str, Any], roles: set[str] | None
) -> list[Problem]:
    """A5.2 scopes name declared roles; a step taking a batch seat (A6.2) names the batch."""
    problems: list[Problem] = []
    for role in data.get("scopes") or {}:
        if roles is not None and isinstance(role, str) and role not in roles:
            problems.append(
                located.problem(
                    ("scopes", role),
                    _("未知角色 '{role}' 的范围（已声明的角色：{roles}）").format(
                        role=role, roles=", ".join(sorted(roles))
                    ),
                    key=True,
                )
            )
    for index, transition in enumerate(_list(data.get("transitions"))):
        if isinstance(transition, dict) and transition.get("batch") == "take":
            batch_field = (transition.get("requires") or {}).get("batch_id")
            if not isinstance(batch_field, dict) or batch_field.get("type") != "integer":
                problems.append(
                    located.problem(
                        ("transitions", index, "batch"),
                        _("占用批次座位的步骤须要求 integer 类型的 'batch_id'"),
                    )
                )
    return problems


def graph_problems(
    located: Located,
    known_guards: Mapping[str, object],
    templates: TemplateCheck | None = None,
) -> list[Problem]:
    data = located.data
    if not isinstance(data, dict):
        return []
    problems: list[Problem] = []
    problems += _date_problems(located, data.get("policy"))
    roles = set(data["roles"]) if isinstance(data.get("roles"), dict) else None
    states = _states(data.get("states"))
    terminal = {name for name, (_, spec) in states.items() if spec.get("terminal") is True}
    problems += _duplicate_state_problems(located, data.get("states"))

    def unknown_state(path: Path, name: object) -> None:
        if isinstance(name, str) and states and name not in states:
            problems.append(located.problem(path, _unknown("状态", name)))

    initial = data.get("initial")
    unknown_state(("initial",), initial)
    if isinstance(initial, str) and initial in terminal:
        problems.append(
            located.problem(("initial",), _("初始状态 '{state}' 是终态").format(state=initial))
        )

    steps: list[tuple[Path, Any]] = [(("open",), data.get("open"))]
    steps += [(("transitions", i), t) for i, t in enumerate(_list(data.get("transitions")))]
    for step_path, step in steps:
        if isinstance(step, dict):
            problems += _step_reference_problems(
                located, path=step_path, step=step, roles=roles, known_guards=known_guards
            )
            problems += _notice_problems(located, step_path, step, roles, templates)

    edges: dict[str, set[str]] = defaultdict(set)
    movers: dict[str, set[str]] = defaultdict(set)
    seen_pairs: dict[tuple[str, str], Path] = {}
    for index, transition in enumerate(_list(data.get("transitions"))):
        if not isinstance(transition, dict):
            continue
        path: Path = ("transitions", index)
        trigger, dest = transition.get("trigger"), transition.get("dest")
        unknown_state((*path, "dest"), dest)
        for source_path, source in _sources(path, transition.get("source")):
            unknown_state(source_path, source)
            if source in terminal:
                problems.append(
                    located.problem(
                        source_path, _("终态 '{state}' 不能有出口").format(state=source)
                    )
                )
            if isinstance(trigger, str):
                first = seen_pairs.setdefault((trigger, source), source_path)
                if first is not source_path:
                    line, _column = located.where(first)
                    problems.append(
                        located.problem(
                            source_path,
                            _(
                                "重复的转移：从状态 '{state}' 出发的触发 '{trigger}' "
                                "已在第 {line} 行定义"
                            ).format(state=source, trigger=trigger, line=line),
                        )
                    )
            if isinstance(dest, str):
                edges[source].add(dest)
            if _list(transition.get("roles")):
                movers[source].add(str(trigger))
        if trigger == "open":
            problems.append(located.problem((*path, "trigger"), _("'open' 是保留名称")))

    problems += _migration_map_problems(located, data, unknown_state) + _correction_problems(
        located, data, roles, unknown_state, known_guards
    )
    problems += _timer_problems(located, data.get("states"), roles, seen_pairs)
    problems += _scope_and_seat_problems(located, data, roles)
    problems += _timer_template_problems(located, data.get("states"), templates)
    if isinstance(data.get("rules"), dict):
        problems += rules_problems(
            located, data["rules"], roles=roles, states=set(states), known_guards=known_guards
        )
    if states and isinstance(initial, str) and initial in states:
        problems += _reachability_problems(
            located, states=states, terminal=terminal, initial=initial, edges=edges, movers=movers
        )
    return problems


def _migration_map_problems(
    located: Located, data: dict[str, Any], unknown_state: Callable[[Path, object], None]
) -> list[Problem]:
    """A21.1: a successor maps states of an *earlier* version onto states of its own; the
    earlier version's state names are checked when cases are carried over, against its text."""
    mapping = data.get("migrates_from")
    if not isinstance(mapping, dict):
        return []
    problems = []
    version, own = mapping.get("version"), data.get("version")
    if isinstance(version, int) and isinstance(own, int) and version >= own:
        problems.append(
            located.problem(
                ("migrates_from", "version"),
                _(
                    "只能从较早的版本迁入：本文件是第 {own} 版，迁入自第 {version} 版（A21.1）"
                ).format(own=own, version=version),
            )
        )
    states = mapping.get("states")
    if isinstance(states, dict):
        for old, new in states.items():
            unknown_state(("migrates_from", "states", old), new)
    return problems


def _correction_problems(
    located: Located,
    data: dict[str, Any],
    roles: set[str] | None,
    unknown_state: Callable[[Path, object], None],
    known_guards: Mapping[str, object],
) -> list[Problem]:
    """Issue 13: a correction names declared roles, states and guards, and only fields a
    transition records; a batch is changed by rebook, never by correcting its id (A6.2)."""
    block = data.get("corrections")
    if not isinstance(block, dict):
        return []
    recorded: set[str] = set()
    seat_fields: set[str] = set()
    for transition in _list(data.get("transitions")):
        requires = transition.get("requires") if isinstance(transition, dict) else None
        if isinstance(requires, dict):
            recorded |= set(requires)
            if transition.get("batch") == "take":
                seat_fields |= set(requires)
    problems: list[Problem] = []
    for kind, spec in block.items():
        if not isinstance(spec, dict):
            continue
        path: Path = ("corrections", kind)
        problems += _step_reference_problems(
            located, path=path, step=spec, roles=roles, known_guards=known_guards
        )
        for index, state in enumerate(_list(spec.get("states"))):
            unknown_state((*path, "states", index), state)
        for index, name in enumerate(_list(spec.get("fields"))):
            if not isinstance(name, str):
                continue
            if name not in recorded:
                message = _("字段 '{name}' 不是任何步骤记录的字段，无从更正").format(name=name)
            elif name in seat_fields:
                message = _("字段 '{name}' 由占用批次座位的步骤记录，须用 rebook 改签").format(
                    name=name
                )
            else:
                continue
            problems.append(located.problem((*path, "fields", index), message))
    return problems


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _states(raw: object) -> dict[str, tuple[int, dict[str, Any]]]:
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, spec in enumerate(_list(raw)):
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            found.setdefault(spec["name"], (index, spec))
    return found


def _sources(path: Path, raw: object) -> Iterator[tuple[Path, str]]:
    if isinstance(raw, str):
        yield (*path, "source"), raw
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            if isinstance(item, str):
                yield (*path, "source", index), item


def _date_problems(located: Located, policy: object) -> list[Problem]:
    if not isinstance(policy, dict):
        return []
    problems, parsed = [], {}
    for key in ("issued_on", "effective_from", "effective_until"):
        value = policy.get(key)
        if isinstance(value, str):
            try:
                parsed[key] = date.fromisoformat(value)
            except ValueError:
                problems.append(
                    located.problem(
                        ("policy", key), _("'{value}' 不是真实的日期").format(value=value)
                    )
                )
    start, end = parsed.get("effective_from"), parsed.get("effective_until")
    if start and end and end < start:
        problems.append(
            located.problem(
                ("policy", "effective_until"),
                _("effective_until {end} 早于 effective_from {start}").format(
                    end=end.isoformat(), start=start.isoformat()
                ),
            )
        )
    return problems


def _duplicate_state_problems(located: Located, raw: object) -> list[Problem]:
    problems: list[Problem] = []
    first_seen: dict[str, int] = {}
    for index, spec in enumerate(_list(raw)):
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_seen:
            line, _column = located.where(("states", first_seen[name], "name"))
            problems.append(
                located.problem(
                    ("states", index, "name"),
                    _("状态 '{name}' 重复（首次见于第 {line} 行）").format(name=name, line=line),
                )
            )
        else:
            first_seen[name] = index
    return problems


def _step_reference_problems(
    located: Located,
    *,
    path: Path,
    step: dict[str, Any],
    roles: set[str] | None,
    known_guards: Mapping[str, object],
) -> list[Problem]:
    problems = []
    for index, role in enumerate(_list(step.get("roles"))):
        if roles is not None and isinstance(role, str) and role not in roles:
            problems.append(
                located.problem(
                    (*path, "roles", index),
                    _("未知角色 '{role}'（已声明的角色：{roles}）").format(
                        role=role, roles=", ".join(sorted(roles))
                    ),
                )
            )
    for index, guard in enumerate(_list(step.get("guards"))):
        if isinstance(guard, str) and guard not in known_guards:
            problems.append(
                located.problem(
                    (*path, "guards", index),
                    _("未知守卫 '{guard}'（已知：{known}）").format(
                        guard=guard, known=", ".join(sorted(known_guards))
                    ),
                )
            )
    requires = step.get("requires")
    for name, spec in (requires or {}).items() if isinstance(requires, dict) else ():
        if not isinstance(spec, dict):
            continue
        field_path = (*path, "requires", name)
        if spec.get("type") == "choice" and "choices" not in spec:
            problems.append(
                located.problem(
                    field_path, _("choice 类型的字段 '{name}' 须给出 choices").format(name=name)
                )
            )
        if spec.get("type") != "choice" and "choices" in spec:
            problems.append(
                located.problem(
                    field_path, _("只有 choice 字段才有 choices（'{name}'）").format(name=name)
                )
            )
        low, high = spec.get("minimum"), spec.get("maximum")
        if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
            problems.append(
                located.problem(
                    field_path, _("字段 '{name}'：minimum 大于 maximum").format(name=name)
                )
            )
    return problems


def _notice_problems(
    located: Located,
    path: Path,
    step: dict[str, Any],
    roles: set[str] | None,
    templates: TemplateCheck | None,
) -> list[Problem]:
    problems = []
    for index, notice in enumerate(_list(step.get("notify"))):
        if not isinstance(notice, dict):
            continue
        to = notice.get("to")
        if isinstance(to, str) and roles is not None and to not in roles:
            problems.append(located.problem((*path, "notify", index, "to"), _unknown("角色", to)))
        problems += _template_problems(
            located, (*path, "notify", index, "template"), notice.get("template"), templates
        )
    return problems


def _timer_template_problems(
    located: Located, raw_states: object, templates: TemplateCheck | None
) -> list[Problem]:
    problems = []
    for s_index, spec in enumerate(_list(raw_states)):
        for t_index, timer in enumerate(
            _list(spec.get("timers") if isinstance(spec, dict) else None)
        ):
            if isinstance(timer, dict) and "template" in timer:
                path: Path = ("states", s_index, "timers", t_index, "template")
                problems += _template_problems(located, path, timer["template"], templates)
    return problems


def _template_problems(
    located: Located, path: Path, name: object, templates: TemplateCheck | None
) -> list[Problem]:
    """A referenced template must exist and render against a sample context, so a typo fails
    at `definitions validate`, not when an officer moves a case."""
    if templates is None or not isinstance(name, str):
        return []
    if name not in templates.names():
        known = ", ".join(sorted(templates.names()))
        return [
            located.problem(
                path, _("未知模板 '{name}'（现有模板：{known}）").format(name=name, known=known)
            )
        ]
    return [located.problem(path, problem) for problem in templates.problems(name)]


def _timer_problems(
    located: Located,
    raw_states: object,
    roles: set[str] | None,
    pairs: Mapping[tuple[str, str], Path],
) -> list[Problem]:
    problems = []
    for s_index, spec in enumerate(_list(raw_states)):
        if not isinstance(spec, dict):
            continue
        for t_index, timer in enumerate(_list(spec.get("timers"))):
            if not isinstance(timer, dict):
                continue
            path: Path = ("states", s_index, "timers", t_index)
            role, trigger = timer.get("role"), timer.get("trigger")
            if isinstance(role, str) and roles is not None and role not in roles:
                problems.append(located.problem((*path, "role"), _unknown("角色", role)))
            state = spec.get("name")
            if isinstance(trigger, str) and (trigger, state) not in pairs:
                problems.append(
                    located.problem(
                        (*path, "trigger"),
                        _("定时器触发 '{trigger}'，但它不是从 '{state}' 出发的转移").format(
                            trigger=trigger, state=state
                        ),
                    )
                )
    return problems


def _reachability_problems(
    located: Located,
    *,
    states: Mapping[str, tuple[int, dict[str, Any]]],
    terminal: set[str],
    initial: str,
    edges: Mapping[str, set[str]],
    movers: Mapping[str, set[str]],
) -> list[Problem]:
    problems = []
    reachable = _closure({initial}, edges)
    reverse: dict[str, set[str]] = defaultdict(set)
    for source, dests in edges.items():
        for dest in dests:
            reverse[dest].add(source)
    can_finish = _closure(terminal, reverse)
    if not terminal:
        problems.append(located.problem(("states",), _("没有终态：任何案件都无法结束")))
    for name, (index, _spec) in states.items():
        path: Path = ("states", index, "name")
        if name not in reachable:
            problems.append(
                located.problem(
                    path,
                    _("从初始状态 '{initial}' 无法到达状态 '{name}'").format(
                        initial=initial, name=name
                    ),
                )
            )
        if name in terminal:
            continue
        if not movers.get(name):
            problems.append(
                located.problem(
                    path, _("非终态 '{name}' 没有任何角色可执行的转移").format(name=name)
                )
            )
        elif terminal and name not in can_finish:
            problems.append(
                located.problem(path, _("非终态 '{name}' 无路可达终态").format(name=name))
            )
    return problems


def _closure(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def rules_problems(
    located: Located,
    rules: dict[str, Any],
    *,
    roles: set[str] | None,
    states: set[str],
    known_guards: Mapping[str, object],
) -> list[Problem]:
    """References inside the ``rules:`` block, and A9.1's two-year limit on cycles."""
    problems: list[Problem] = []
    levels = {x for x in _list(rules.get("levels")) if isinstance(x, str)}
    tiers = set()
    seen_criteria: set[str] = set()
    for t_index, tier in enumerate(_list(rules.get("tiers"))):
        if not isinstance(tier, dict):
            continue
        tiers.add(tier.get("tier"))
        for c_index, criterion in enumerate(_list(tier.get("criteria"))):
            if not isinstance(criterion, dict):
                continue
            path: Path = ("rules", "tiers", t_index, "criteria", c_index)
            if criterion.get("id") in seen_criteria:
                problems.append(
                    located.problem((*path, "id"), _("条件 '{id}' 重复").format(id=criterion["id"]))
                )
            seen_criteria.add(str(criterion.get("id")))
            honour = criterion.get("honour")
            level = honour.get("min_level") if isinstance(honour, dict) else None
            if isinstance(level, str) and level not in levels:
                problems.append(
                    located.problem((*path, "honour", "min_level"), _unknown("级别", level))
                )
    admits = rules.get("plan_admits")
    for plan_level, admitted in admits.items() if isinstance(admits, dict) else ():
        if plan_level not in levels:
            problems.append(
                located.problem(
                    ("rules", "plan_admits", plan_level), _unknown("级别", plan_level), key=True
                )
            )
        for index, tier_name in enumerate(_list(admitted)):
            if tier_name not in tiers:
                problems.append(
                    located.problem(
                        ("rules", "plan_admits", plan_level, index), _unknown("档次", tier_name)
                    )
                )
    for index, exception in enumerate(_list(rules.get("exceptions"))):
        if not isinstance(exception, dict):
            continue
        path = ("rules", "exceptions", index)
        if isinstance(exception.get("rule"), str) and exception["rule"] not in known_guards:
            problems.append(located.problem((*path, "rule"), _unknown("规则", exception["rule"])))
        for r_index, role in enumerate(_list(exception.get("approvers"))):
            if roles is not None and role not in roles:
                problems.append(
                    located.problem((*path, "approvers", r_index), _unknown("角色", role))
                )
    for index, state in enumerate(_list(rules.get("participation_states"))):
        if states and state not in states:
            problems.append(
                located.problem(("rules", "participation_states", index), _unknown("状态", state))
            )
    for permission, holders in (rules.get("permissions") or {}).items():
        for role in holders if isinstance(holders, dict) else ():
            if roles is not None and role not in roles:
                problems.append(
                    located.problem(
                        ("rules", "permissions", permission, role),
                        _unknown("角色", role),
                        key=True,
                    )
                )
    limits = rules.get("limits")
    years = limits.get("cycle_max_years") if isinstance(limits, dict) else None
    problems += _cycle_problems(
        located, _list(rules.get("cycles")), years if isinstance(years, int) else None
    )
    return problems


def _cycle_problems(located: Located, cycles: list[Any], years: int | None) -> list[Problem]:
    """Cycles are real, ordered, do not overlap and last at most ``years`` (A9.1, the
    definition's ``limits.cycle_max_years``; None when the schema already refused it)."""
    problems: list[Problem] = []
    spans: list[tuple[date, date, int]] = []
    for index, cycle in enumerate(cycles):
        if not isinstance(cycle, dict):
            continue
        path: Path = ("rules", "cycles", index)
        try:
            start = date.fromisoformat(str(cycle.get("start")))
            end = date.fromisoformat(str(cycle.get("end")))
        except ValueError:
            problems.append(located.problem(path, _("周期的起止须为真实的日期")))
            continue
        if end < start:
            problems.append(located.problem((*path, "end"), _("周期的结束早于开始")))
            continue
        if years is not None and cycle_too_long(start, end, years):
            last = cycle_last_day(start, years)
            problems.append(
                located.problem(
                    (*path, "end"),
                    _("一个周期至多 {years} 年（A9.1）：自 {start} 起须在 {last} 前结束").format(
                        years=years, start=start.isoformat(), last=last.isoformat()
                    ),
                )
            )
        for other_start, other_end, other_index in spans:
            if start <= other_end and other_start <= end:
                line, _column = located.where(("rules", "cycles", other_index))
                problems.append(
                    located.problem(path, _("周期与第 {line} 行的周期重叠").format(line=line))
                )
        spans.append((start, end, index))
    return problems


_KINDS = {  # what an unknown name is, in the catalogue
    "状态": N_("未知状态 '{name}'"),
    "角色": N_("未知角色 '{name}'"),
    "级别": N_("未知级别 '{name}'"),
    "档次": N_("未知档次 '{name}'"),
    "规则": N_("未知规则 '{name}'"),
}


def _unknown(kind: str, name: object) -> str:
    return _(_KINDS[kind]).format(name=name)
