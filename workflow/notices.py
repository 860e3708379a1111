"""The notices a step (or a scheduler timer) sends, as outbox rows written in its transaction.

Rendering happens here, when the step commits, so a notice says what was true at that moment;
the dispatcher (``notifications``) only delivers. Recipients are resolved from the cadre record
(cadre, family contact) or the case's filing (agency, county), and a channel is picked per role;
addresses stay in the outbox, and every listing masks them.

Rendering goes through a port (`workflow.ports.NoticeRenderer`): the caller may pass its own;
by default the shipped Jinja2 templates (``notifications.render.render``) are used, imported on
first use so that importing the core does not import the notifications package.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from workflow.definition.model import Definition, NoticeSpec, StepSpec
from workflow.ports import NoticeRenderer

DEFAULT_CHANNEL = "file"


def notice_rows(
    step: StepSpec,
    *,
    step_name: str,
    definition: Definition,
    case: Mapping[Any, Any],
    cadre: Mapping[str, Any],
    seq: int,
    now: datetime,
    reason: str | None,
    routing: Mapping[str, str],
    render: NoticeRenderer | None = None,
) -> list[dict[str, Any]]:
    """One outbox row per notice the step declares; empty when it declares none."""
    if not step.notify:
        return []
    render = render or shipped_renderer()
    return [
        _row(
            notice,
            step=step,
            step_name=step_name,
            definition=definition,
            case=case,
            cadre=cadre,
            seq=seq,
            now=now,
            reason=reason,
            routing=routing,
            render=render,
        )
        for notice in step.notify
    ]


def _row(
    notice: NoticeSpec,
    *,
    step: StepSpec,
    step_name: str,
    definition: Definition,
    case: Mapping[Any, Any],
    cadre: Mapping[str, Any],
    seq: int,
    now: datetime,
    reason: str | None,
    routing: Mapping[str, str],
    render: NoticeRenderer,
) -> dict[str, Any]:
    return notice_row(
        key=f"case-{case['id']}-{seq}-{notice.template}-{notice.to}",
        template=notice.template,
        role=notice.to,
        definition=definition,
        case=case,
        cadre=cadre,
        step={"trigger": step_name, "label": step.label, "article": step.article},
        now=now,
        reason=reason,
        routing=routing,
        render=render,
    )


def notice_row(
    *,
    key: str,
    template: str,
    role: str,
    definition: Definition,
    case: Mapping[Any, Any],
    cadre: Mapping[str, Any],
    step: Mapping[str, Any],
    now: datetime,
    reason: str | None,
    routing: Mapping[str, str],
    render: NoticeRenderer | None = None,
) -> dict[str, Any]:
    """One rendered outbox row; steps and the scheduler's timers share it, so a template sees
    the same context whoever sends it. ``key`` is the idempotency key channels receive."""
    name, address = recipient(role, cadre, case)
    context = {
        "case": {
            "id": case["id"],
            "state": case["state"],
            "state_label": definition.state(case["state"]).label,
            "cycle": case.get("cycle"),
            "tier": case.get("tier"),
        },
        "cadre": {
            "id": cadre.get("id", case.get("cadre_id")),
            "name": cadre.get("name", ""),
            "county": case.get("county", ""),
            "agency": case.get("agency", ""),
        },
        "step": dict(step),
        "evidence": dict(case.get("evidence") or {}),
        "recipient": {
            "role": role,
            "role_label": definition.roles.get(role, role),
            "name": name,
        },
        "policy": {"title": definition.policy.title, "document": definition.policy.document},
        "now": now.isoformat(),
        "reason": reason,
    }
    rendered = (render or shipped_renderer())(template, context, html=True)
    return {
        "idempotency_key": key,
        "case_id": case["id"],
        "template": template,
        "channel": routing.get(role, DEFAULT_CHANNEL),
        "recipient_role": role,
        "recipient_name": name,
        "address": address,
        "subject": rendered.subject,
        "body": rendered.body,
        "body_html": rendered.body_html,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def shipped_renderer() -> NoticeRenderer:
    """The notices shipped with the ``notifications`` package (sandboxed Jinja2, compiled
    templates cached). Imported here, on first use, because ``notifications`` imports
    `workflow` modules: a module-level import would make the two packages import each other."""
    from notifications.render import render  # noqa: PLC0415

    return render


def recipient(
    role: str, cadre: Mapping[str, Any], case: Mapping[str, Any]
) -> tuple[str, str | None]:
    """Name and address of whoever plays ``role`` for this case."""
    if role == "cadre":
        return str(cadre.get("name", "")), cadre.get("phone")
    if role == "family":
        contact = cadre.get("family_contact") or {}
        return str(contact.get("name") or "家属"), contact.get("phone")
    if role == "agency_officer":
        return str(case.get("agency", "军休机构")), None
    if role == "county_officer":
        return f"{case.get('county', '')}退役军人事务局", None
    if role == "city_officer":
        return "聊城市退役军人事务局", None
    return role, None
