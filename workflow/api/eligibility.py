"""``/eligibility/explain``: may this cadre join a plan of this level on this day, and why.

The same checks as ``convalescence eligibility explain`` (the profile's shape, then the pure
evaluator the engine stores with each case), on the definitions this server's engine loaded.
"""

from __future__ import annotations

from fastapi import APIRouter

from workflow.api.auth import Caller, Svc, require
from workflow.api.errors import responses
from workflow.api.models import ExplainIn, ExplainOut
from workflow.eligibility import explain
from workflow.errors import InputError
from workflow.i18n import _
from workflow.profile_check import profile_problems

router = APIRouter(tags=["eligibility"])


@router.post(
    "/eligibility/explain",
    summary="Explain a cadre's eligibility (art. 4 tier, art. 8 age and health, art. 21)",
    responses=responses(400, 401, 403, 404, 422, 503),
)
def explain_profile(body: ExplainIn, actor: Caller, svc: Svc) -> ExplainOut:
    """Being ineligible is an answer (200, ``eligible: false``), not an error; 422 only when the
    profile lacks or garbles a fact the rules read."""
    require("eligibility:explain", actor)
    catalog = svc.engine.catalog
    # the version in force that day, else the latest, whose art. 21 reason then shows why
    chosen = catalog.in_force(body.definition, body.on) or catalog.get(body.definition)
    rules = chosen.rules
    if rules is None:
        raise InputError(
            _("流程定义 {name} 未规定资格规则").format(name=chosen.name), field="definition"
        )
    if body.level not in rules.plan_admits:
        levels = ", ".join(rules.plan_admits)
        raise InputError(
            _("计划级别 {level!r} 不是以下之一：{levels}").format(level=body.level, levels=levels),
            field="level",
        )
    problems = profile_problems(body.profile, rules)
    if problems:
        raise InputError(
            "; ".join(f"profile.{key}: {reason}" for key, reason in problems),
            field=f"profile.{problems[0][0]}",
        )
    explanation = explain(
        body.profile, rules=rules, policy=chosen.policy, level=body.level, on=body.on
    )
    return ExplainOut.model_validate(
        {
            **explanation.to_json(),
            "definition": chosen.name,
            "definition_version": chosen.version,
            "cadre_id": body.profile.get("id") if isinstance(body.profile.get("id"), str) else None,
        }
    )
