"""Load a definition in fixed steps: YAML (safe) → schema → graph checks → frozen data classes.

Every step adds to one list of problems, so ``convalescence definitions validate`` reports them
all at once with file, line and column; a ``Definition`` is only built when the list is empty.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, cast

from workflow.definition.checks import graph_problems
from workflow.definition.model import (
    Corrections,
    CorrectionSpec,
    Definition,
    FieldSpec,
    FieldType,
    MigrationMap,
    NoticeSpec,
    PolicyInfo,
    StateSpec,
    StepSpec,
    TimerSpec,
    TransitionSpec,
)
from workflow.definition.policy_rules import (
    Criterion,
    Cycle,
    ExceptionRule,
    HonourTest,
    Limits,
    MeritTest,
    PermissionScope,
    PolicyRules,
    Tier,
)
from workflow.definition.validated import remember_validated, validation_key, was_validated
from workflow.definition.yaml_source import Located, Path, parse_yaml
from workflow.errors import DefinitionError, Problem
from workflow.i18n import _
from workflow.ports import TemplateCheck
from workflow.rules import RULES

if TYPE_CHECKING:  # jsonschema loads when a text is validated, not on a validated-cache hit
    import jsonschema


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # noqa: PLC0415 - only a text not validated before needs it

    text = resources.files("workflow.definition").joinpath("schema.json").read_text("utf-8")
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def load_definition_file(
    path: str | FsPath, *, templates: TemplateCheck | None = None, trust_cache: bool = True
) -> Definition:
    file = FsPath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(
            [Problem(str(file), 1, 1, _("无法读取文件：{reason}").format(reason=exc))]
        ) from exc
    return load_definition_text(text, str(file), templates=templates, trust_cache=trust_cache)


def load_definition_text(
    text: str,
    source_name: str,
    *,
    known_guards: Mapping[str, object] | None = None,
    templates: TemplateCheck | None = None,
    trust_cache: bool = True,
) -> Definition:
    """The definition in ``text``, or a `DefinitionError` listing every problem.

    With ``trust_cache`` (the default) a text that passed these very checks before is not
    checked again; ``definitions validate`` passes False so it always checks.

    ``templates`` checks the notices the definition names (they exist, and render against a
    sample and a sparse context). Whoever loads definitions to run or validate them passes the
    real check (``notifications.shipped.ShippedTemplates()``); without one, template names are
    not checked, as for a stored text that was checked when it was first loaded. The check is
    passed in, not imported, so reading a definition does not load the notifications package.
    """
    guards = RULES if known_guards is None else known_guards
    # a text that passed these very checks before is not checked again (`validated`); a check
    # made without templates is remembered apart from one made with them
    key = validation_key(text, guards, "-" if templates is None else templates.fingerprint())
    located = parse_yaml(text, source_name)
    problems = list(located.problems)
    if located.data is not None and not problems and trust_cache and was_validated(key):
        return _build(located.data, text, source_name)
    if isinstance(located.data, dict):
        problems += _schema_problems(located)
        problems += graph_problems(located, guards, templates)
    elif not problems:  # a scalar, a list, or nothing at all (an empty file, ``null``)
        problems.append(located.problem((), _("流程定义须为由键组成的映射")))
    if problems:
        raise DefinitionError(sorted(set(problems), key=lambda p: (p.line, p.column, p.message)))
    remember_validated(key)
    return _build(located.data, text, source_name)


def _schema_problems(located: Located) -> list[Problem]:
    problems = []
    for error in _validator().iter_errors(located.data):
        path: Path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - allowed):
                problems.append(
                    located.problem(
                        (*path, key),
                        _("未知的键 '{key}'（此处可用：{allowed}）").format(
                            key=key, allowed=", ".join(sorted(allowed))
                        )
                        if allowed
                        else _("未知的键 '{key}'").format(key=key),
                        key=True,
                    )
                )
            continue
        problems.append(located.problem(path, _describe(error, path)))
    return problems


def _describe(error: jsonschema.ValidationError, path: Path) -> str:
    where = ".".join(str(p) for p in path) or _("整个文件")
    value = error.instance
    expected: Any = error.validator_value
    match error.validator:
        case "required":
            missing = [k for k in expected if k not in cast(dict[str, Any], value)]
            return _("{where}：缺少必需的键 {keys}").format(where=where, keys=", ".join(missing))
        case "type":
            return _("{where}：应为 {expected}，得到 {kind} {value!r}").format(
                where=where, expected=error.validator_value, kind=type(value).__name__, value=value
            )
        case "enum":
            options = ", ".join(str(v) for v in expected)
            return _("{where}：{value!r} 不是以下之一：{options}").format(
                where=where, value=value, options=options
            )
        case "pattern":
            return _("{where}：{value!r} 不符合应有的形式 {form}").format(
                where=where, value=value, form=error.validator_value
            )
        case "anyOf" | "oneOf":
            return _("{where}：{value!r} 既不是名称也不是名称列表").format(where=where, value=value)
        case "uniqueItems":
            return _("{where}：各项不能重复").format(where=where)
        case _:
            return f"{where}: {error.message}"  # jsonschema's own words


def _build(data: dict[str, Any], text: str, source_name: str) -> Definition:
    policy = data["policy"]
    return Definition(
        name=data["name"],
        version=data["version"],
        title=data["title"],
        policy=PolicyInfo(
            title=policy["title"],
            document=policy["document"],
            issued_on=_date(policy.get("issued_on")),
            effective_from=date.fromisoformat(policy["effective_from"]),
            effective_until=_date(policy.get("effective_until")),
        ),
        roles=dict(data["roles"]),
        scopes=dict(data.get("scopes", {})),
        initial=data["initial"],
        open=StepSpec(**_step(data["open"])),
        states=tuple(
            StateSpec(
                name=s["name"],
                label=s["label"],
                terminal=s.get("terminal", False),
                timers=tuple(
                    TimerSpec(
                        after=t["after"],
                        unit=t.get("unit", "calendar_days"),
                        action=t["action"],
                        role=t.get("role"),
                        trigger=t.get("trigger"),
                        template=t.get("template"),
                    )
                    for t in s.get("timers", [])
                ),
            )
            for s in data["states"]
        ),
        transitions=tuple(
            TransitionSpec(
                trigger=t["trigger"],
                sources=(t["source"],) if isinstance(t["source"], str) else tuple(t["source"]),
                dest=t["dest"],
                batch=t.get("batch"),
                **_step(t),
            )
            for t in data["transitions"]
        ),
        source_name=source_name,
        source_text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        rules=_rules(data["rules"]) if "rules" in data else None,
        migrates_from=_migration_map(data.get("migrates_from")),
        corrections=_corrections(data.get("corrections") or {}),
    )


def _migration_map(raw: dict[str, Any] | None) -> MigrationMap | None:
    if raw is None:
        return None
    return MigrationMap(version=raw["version"], states=dict(raw["states"]))


def _corrections(raw: dict[str, Any]) -> Corrections:
    """The ``corrections:`` block (issue 13): rebook and correct, each only if declared."""

    def spec(kind: str) -> CorrectionSpec | None:
        found = raw.get(kind)
        if found is None:
            return None
        return CorrectionSpec(
            label=found["label"],
            roles=tuple(found["roles"]),
            states=tuple(found["states"]),
            article=found["article"],
            fields=tuple(found.get("fields", ())),
            guards=tuple(found.get("guards", ())),
        )

    return Corrections(rebook=spec("rebook"), correct=spec("correct"))


def _rules(raw: dict[str, Any]) -> PolicyRules:
    return PolicyRules(
        levels=tuple(raw["levels"]),
        categories=dict(raw["categories"]),
        tiers=tuple(
            Tier(
                tier=t["tier"],
                label=t["label"],
                criteria=tuple(
                    Criterion(
                        id=c["id"],
                        article=c["article"],
                        clause=c["clause"],
                        merit=MeritTest(**c["merit"]) if "merit" in c else None,
                        honour=HonourTest(**c["honour"]) if "honour" in c else None,
                        recommended_by=tuple(c.get("recommended_by", ())),
                    )
                    for c in t["criteria"]
                ),
            )
            for t in raw["tiers"]
        ),
        plan_admits={level: tuple(tiers) for level, tiers in raw["plan_admits"].items()},
        contractor_exit_score=raw.get("contractor_exit_score"),
        limits=_limits(raw["limits"]) if "limits" in raw else None,
        permissions={
            permission: {role: cast(PermissionScope, scope) for role, scope in holders.items()}
            for permission, holders in raw.get("permissions", {}).items()
        },
        exceptions=tuple(
            ExceptionRule(rule=e["rule"], article=e["article"], approvers=tuple(e["approvers"]))
            for e in raw.get("exceptions", ())
        ),
        cycles=tuple(
            Cycle(
                id=str(c["id"]),
                start=date.fromisoformat(c["start"]),
                end=date.fromisoformat(c["end"]),
            )
            for c in raw.get("cycles", ())
        ),
        participation_states=tuple(raw.get("participation_states", ())),
    )


def _step(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "label": raw["label"],
        "roles": tuple(raw["roles"]),
        "guards": tuple(raw.get("guards", ())),
        "article": raw.get("article"),
        "notify": tuple(
            NoticeSpec(template=n["template"], to=n["to"]) for n in raw.get("notify", ())
        ),
        "fields": tuple(
            FieldSpec(
                name=name,
                type=cast(FieldType, spec["type"]),
                label=spec.get("label", name),
                required=spec.get("required", True),
                choices=tuple(spec.get("choices", ())),
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
                max_length=spec.get("max_length"),
            )
            for name, spec in raw.get("requires", {}).items()
        ),
    }


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _limits(raw: dict[str, Any]) -> Limits:
    values = dict(raw)
    if "staff_ratio" in values:
        values["staff_ratio"] = tuple(values["staff_ratio"])
    return Limits(**values)
