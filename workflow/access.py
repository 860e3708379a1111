"""Organisational scope (A5.1, A5.2): which cases an actor may act on and see.

Which role may fire which step is declared per step in the definition (``roles:``); which part
of the cases a role is limited to is declared once in its ``scopes:`` block (county officer →
county, agency officer → agency, cadre and family → the cadre, contractor staff → the contractor
of the case's batch). This module only compares; the engine gathers the case's side and calls it
before any rule runs, so an out-of-scope request learns nothing about the case's eligibility.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflow.errors import Refusal
from workflow.i18n import N_, _
from workflow.machine import Actor

SCOPE_LABELS = {
    "county": N_("县（市、区）"),
    "agency": N_("军休机构"),
    "cadre": N_("军休干部"),
    "contractor": N_("承办单位"),
}


@dataclass(frozen=True)
class CaseScope:
    """The organisational facts of one case that scopes are compared against."""

    county: str | None
    agency: str | None
    cadre_id: str | None
    contractor_id: str | None = None  # of the batch holding the case's seat, if any

    def value(self, kind: str) -> str | None:
        if kind == "cadre":
            return self.cadre_id
        if kind == "contractor":
            return self.contractor_id
        return self.county if kind == "county" else self.agency


def missing_scope(
    actor: Actor, scopes: Mapping[str, str], roles: Mapping[str, str]
) -> Refusal | None:
    """A scoped role must say its scope: an unscoped county officer would see every county."""
    kind = scopes.get(actor.role)
    if kind is None or actor.scope:
        return None
    role = roles.get(actor.role, actor.role)
    return Refusal(
        article="A5.2",
        rule="scope_required",
        message=_(
            "“{role}”须注明权限范围（{scope}），写作 {actor}@范围（缺少权限范围 {kind}）"
        ).format(
            role=role, scope=_(SCOPE_LABELS[kind]), actor=f"{actor.role}:{actor.name}", kind=kind
        ),
    )


def scope_refusal(
    actor: Actor,
    scopes: Mapping[str, str],
    roles: Mapping[str, str],
    case: CaseScope,
    *,
    action: str,
) -> Refusal | None:
    """None if ``actor`` may do ``action`` on ``case`` as far as scope goes (A5.2)."""
    unscoped = missing_scope(actor, scopes, roles)
    if unscoped is not None:
        return unscoped
    kind = scopes.get(actor.role)
    if kind is None:
        return None
    theirs = case.value(kind)
    if theirs is not None and theirs == actor.scope:
        return None
    label = _(SCOPE_LABELS[kind])
    # the message names the caller's scope, never the case's: refusals must not map cases to
    # counties or cadres for someone outside them
    return Refusal(
        article="A5.2",
        rule="out_of_scope",
        message=_(
            "{name}的权限范围是{label}“{scope}”，该案件不在此范围内（缺少权限 {permission}）"
        ).format(name=actor.name, label=label, scope=actor.scope, permission=action),
    )


def role_outside(actor: Actor, workflow_title: str) -> Refusal:
    """A role the workflow does not declare sees none of its cases (A5.1): a cadre's token
    must not open another cadre's condolence visit."""
    return Refusal(
        article="A5.2",
        rule="role_not_in_workflow",
        message=_("“{role}”不是“{workflow}”的角色，无权查看其案件（缺少权限 read）").format(
            role=actor.role, workflow=workflow_title
        ),
    )


def list_filter(actor: Actor, scopes: Mapping[str, str]) -> dict[str, str]:
    """The filter a case listing must add for ``actor``: its scope as a column condition."""
    kind = scopes.get(actor.role)
    if kind is None or actor.scope is None:
        return {}
    return {{"cadre": "cadre_id", "contractor": "contractor_id"}.get(kind, kind): actor.scope}


def identity_refusal(
    actor: Actor,
    cadre: Mapping[str, Any],
    *,
    on_behalf_of: str | None = None,
    reason: str | None = None,
) -> Refusal | None:
    """Is the actor who the roster says (A5.2, A19.1)? None if so.

    A cadre acts only under the roster's own name for that cadre; a family member only as the
    roster's family contact. Anyone else in the family is recorded by an officer acting on
    their behalf (``on_behalf_of``), and when that person is not the roster's contact the
    officer must say why (``reason``), so the record shows who vouched for them. ``cadre`` is
    the roster record (``name``, optional ``family_contact.name``). Pure; the caller reads the
    roster.
    """
    name = str(cadre.get("name") or "")
    contact = cadre.get("family_contact") or {}
    family = str(contact.get("name") or "") if isinstance(contact, Mapping) else ""
    if actor.role == "cadre" and actor.name != name:
        return Refusal(
            article="A5.2",
            rule="identity",
            message=_("{actor} 与花名册不符：军休干部 {cadre} 的姓名不是“{name}”").format(
                actor=actor, cadre=cadre.get("id", actor.scope), name=actor.name
            ),
        )
    if actor.role == "family" and (not family or actor.name != family):
        return Refusal(
            article="A5.2",
            rule="identity",
            message=_(
                "{actor} 与花名册不符：“{name}”不是登记的家属联系人；其他家属的意见由军休机构"
                "工作人员以 --on-behalf-of 代为记录并说明理由"
            ).format(actor=actor, name=actor.name),
        )
    known = {n for n in (name, family) if n}
    if on_behalf_of and on_behalf_of not in known and not (reason and reason.strip()):
        return Refusal(
            article="A19.1",
            rule="on_behalf_reason",
            message=_(
                "代“{person}”办理：此人不是花名册登记的本人或家属联系人，须用 --reason 说明理由"
            ).format(person=on_behalf_of),
        )
    return None
