"""Cadre and family self-service (issue 19 item 9): a cadre sees where his own case stands, in
plain Chinese, and gives his evaluation (A18.1); a family member gives or refuses consent
(A7.1, A7.2). Nothing else is theirs to see.

Who they are is the API's token identities: a ``cadre:NAME@CADRE_ID`` or
``family:NAME@CADRE_ID`` token, scoped to the one cadre (A5.2). The office hands the person a
personal link, ``/console/self/enter?key=TOKEN``; opening it shows one button that logs in (a
form with the log-in page's own double-submit token, so no page elsewhere can log a browser in
as someone else), and the session then holds the person's identity like an officer's. The key
travels in the query string, which the request log leaves out. The token can also be typed on
the ordinary log-in page.

The pages have a layout of their own (``self_base.html``): no navigation, large type, one case
after another with what happened, what comes next, and the one question the person is asked
now. The forms are the definition's own steps (``consent``, ``refuse_consent``, ``evaluate``,
``withdraw``), asking what the person must say and leaving out paper references that only an
officer records; each is fired through the engine with the person as actor, on the version the
page was drawn from, so a case an officer moved meanwhile is said to have changed, never
overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.api.errors import outside_scope
from workflow.console.cases import scope_columns
from workflow.console.forms import Widget, evidence, step_widgets
from workflow.console.progress import Progress, progress
from workflow.console.session import (
    Viewer,
    check_csrf,
    check_login_form,
    log_in,
    new_login_token,
    set_login_cookie,
    set_session_cookie,
)
from workflow.console.site import (
    Console,
    ConsoleDep,
    FormDep,
    NavItem,
    ViewerDep,
    console_of,
    render,
    url,
)
from workflow.definition.model import StepSpec, TransitionSpec
from workflow.errors import ConflictError, InputError, NotFoundError, Refusal, RuleRefused
from workflow.i18n import N_, _
from workflow.store import console as store
from workflow.views import CaseView

router = APIRouter()
SELF_ROLES = frozenset({"cadre", "family"})
NAV = (NavItem("/self", N_("我的疗养"), 5, roles=SELF_ROLES),)
HONOR = "honor_convalescence"

# what the case's state means to the person, in plain words; {name} is the cadre's name
FOR_CADRE = {
    "registered": N_("您的报名已收到，正在等待家属表示是否同意。"),
    "family_consented": N_("家属已同意。军休机构正在审核，批准后会为您安排疗养批次。"),
    "agency_approved": N_("军休机构已批准，已为您安排疗养批次。接下来签订疗养协议。"),
    "agreement_signed": N_("疗养协议已签订。接下来由军休机构为您购买意外伤害保险。"),
    "insured": N_("保险已办好，一切就绪。请按出发通知的时间、地点按时报到。"),
    "attended": N_("您已参加疗养。请告诉我们您对这次疗养是否满意。"),
    "evaluated": N_("这次疗养已全部办完，谢谢您的评价。"),
    "withdrawn": N_("您的报名已撤回，本次报名已结束。"),
    "consent_refused": N_("家属不同意参加，本次报名已结束。"),
    "rejected": N_("本次报名未获批准，已结束。如有疑问，请联系您的军休机构。"),
    "unable_to_attend": N_("因身体健康等原因无法参加，本次报名已结束。军休机构会安排走访慰问。"),
}
FOR_FAMILY = {
    "registered": N_("{name}同志报名参加荣誉疗养，需要您表示是否同意。"),
    "family_consented": N_("您已同意。军休机构正在审核，批准后会安排疗养批次。"),
    "agency_approved": N_("军休机构已批准，已安排疗养批次。接下来签订疗养协议。"),
    "agreement_signed": N_("疗养协议已签订。接下来由军休机构购买意外伤害保险。"),
    "insured": N_("保险已办好，一切就绪，请按出发通知按时报到。"),
    "attended": N_("{name}同志已参加疗养，正在等待本人评价。"),
    "evaluated": N_("这次疗养已全部办完。"),
    "withdrawn": N_("报名已撤回，本次报名已结束。"),
    "consent_refused": N_("您不同意参加，本次报名已结束。"),
    "rejected": N_("本次报名未获批准，已结束。如有疑问，请联系军休机构。"),
    "unable_to_attend": N_("因身体健康等原因无法参加，本次报名已结束。"),
}
DONE = {
    "consent": N_("已记录：您同意参加。谢谢！"),
    "refuse_consent": N_("已记录：您不同意参加。"),
    "evaluate": N_("已收到您的评价。谢谢！"),
    "withdraw": N_("已撤回报名。"),
}
BUTTONS = {
    "consent": N_("同意参加"),
    "refuse_consent": N_("不同意"),
    "evaluate": N_("提交评价"),
    "withdraw": N_("撤回报名"),
}


@dataclass(frozen=True)
class Question:
    """What the person is asked on one case now: the steps (one or two buttons sharing the
    fields, as consent and refusal do), the fields, and what went wrong last time."""

    case_id: int
    version: int
    triggers: tuple[tuple[str, str], ...]  # (trigger, button text)
    widgets: tuple[Widget, ...]
    main: bool  # the step along the path (consent, evaluation), not withdrawal
    refusals: tuple[Refusal, ...] = ()
    problem: str | None = None


def _person(viewer: Viewer) -> None:
    if viewer.actor.role not in SELF_ROLES:
        raise NotFoundError("页面", "self")


def _asked(spec: StepSpec) -> set[str]:
    """The fields the person is asked: the required ones and free text; a paper form's
    reference is the officer's to record (A7.2)."""
    return {f.name for f in spec.fields if f.required or f.type == "text"}


def _questions(
    console: Console,
    viewer: Viewer,
    view: CaseView,
    posted: Mapping[str, Any] | None = None,
) -> list[Question]:
    if view.terminal:
        return []
    definition = console.engine.catalog.get(view.definition, view.definition_version)
    role = viewer.actor.role
    specs = [s for s in definition.transitions_from(view.state) if role in s.roles]
    groups: list[list[TransitionSpec]] = []
    for spec in specs:  # steps asking the same fields share one form (consent / refusal)
        for group in groups:
            if _asked(group[0]) == _asked(spec):
                group.append(spec)
                break
        else:
            groups.append([spec])
    questions = []
    for group in groups:
        first = group[0]
        values: dict[str, str] = {}
        if role == "family":
            values["family_member"] = viewer.actor.name
        errors: Mapping[str, str] = {}
        refusals: tuple[Refusal, ...] = ()
        problem = None
        triggers = tuple(s.trigger for s in group)
        if posted is not None and posted.get("trigger") in triggers:
            values = dict(posted["values"])
            errors = posted.get("errors", {})
            refusals = posted.get("refusals", ())
            problem = posted.get("problem")
        widgets = tuple(w for w in step_widgets(first, values, errors) if w.name in _asked(first))
        questions.append(
            Question(
                case_id=view.id,
                version=view.version,
                triggers=tuple((t, _(BUTTONS.get(t, t))) for t in triggers),
                widgets=widgets,
                main="withdraw" not in triggers,
                refusals=refusals,
                problem=problem,
            )
        )
    return sorted(questions, key=lambda q: not q.main)


def _progress(console: Console, viewer: Viewer, view: CaseView) -> Progress:
    definition = console.engine.catalog.get(view.definition, view.definition_version)
    try:
        reached = [e.to_state for e in console.engine.history(view.id, viewer=viewer.actor)]
    except RuleRefused:
        reached = [view.state]
    return progress(definition, view.state, reached)


def self_page(
    request: Request,
    console: Console,
    viewer: Viewer,
    *,
    posted: Mapping[str, Any] | None = None,
    status: int = 200,
    changed: int | None = None,
) -> HTMLResponse:
    _person(viewer)
    scope = scope_columns(console, viewer.actor)
    with console.engine.transaction(single_read=True) as connection:
        lines = store.case_page(connection, store.CaseFilter(scope=scope), limit=20)
    sentences = FOR_CADRE if viewer.actor.role == "cadre" else FOR_FAMILY
    cases = []
    for line in lines:
        if line.definition != HONOR:
            continue  # a condolence visit is the office's work, not a step of theirs
        view = console.engine.case(line.id, viewer=viewer.actor)
        case_posted = posted if posted is not None and posted.get("case") == view.id else None
        cases.append(
            {
                "view": view,
                "name": line.cadre_name,
                "sentence": _(sentences.get(view.state, "")).format(name=line.cadre_name)
                or view.state_label,
                "progress": _progress(console, viewer, view),
                "questions": _questions(console, viewer, view, case_posted),
            }
        )
    done = request.query_params.get("done", "")
    return render(
        request,
        "self.html",
        viewer=viewer,
        status=status,
        title=_("我的疗养"),
        cases=cases,
        done=_(DONE[done]) if done in DONE else None,
        changed=changed,
        who=viewer.actor.name,
        family=viewer.actor.role == "family",
    )


@router.get("/self", include_in_schema=False)
def show_self(request: Request, console: ConsoleDep, viewer: ViewerDep) -> HTMLResponse:
    return self_page(request, console, viewer)


# -- the personal link ------------------------------------------------------------------------


@router.get("/self/enter", include_in_schema=False)
def enter_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    key = request.query_params.get("key", "").strip()[:200]
    actor = console.tokens.actor_for(key, console.today()) if key else None
    usable = actor is not None and actor.role in SELF_ROLES
    token = new_login_token()
    page = render(
        request,
        "self_enter.html",
        viewer=None,
        status=200 if usable else 404,
        title=_("我的疗养"),
        key=key if usable else "",
        name=actor.name if usable and actor is not None else "",
        login_csrf=token,
    )
    page.headers["Referrer-Policy"] = "no-referrer"  # the key never leaves in a Referer
    set_login_cookie(request, page, token)
    return page


@router.post("/self/enter", include_in_schema=False)
def enter(request: Request, console: ConsoleDep, form: FormDep) -> Response:
    check_login_form(request, form)
    key = form.get("key", "").strip()
    actor = console.tokens.actor_for(key, console.today()) if key else None
    started = log_in(console.engine, console.tokens, key) if actor is not None else None
    if started is None or actor is None or actor.role not in SELF_ROLES:
        return render(
            request,
            "self_enter.html",
            viewer=None,
            status=401,
            title=_("我的疗养"),
            key="",
            name="",
            login_csrf="",
        )
    cookie, _viewer = started
    response = RedirectResponse(url(request, "/self"), status_code=303)
    set_session_cookie(request, response, cookie)
    return response


# -- answering -------------------------------------------------------------------------------


@router.post("/self/cases/{case_id}", include_in_schema=False)
def answer(
    request: Request, case_id: str, console: ConsoleDep, viewer: ViewerDep, form: FormDep
) -> Response:
    check_csrf(viewer, form)
    _person(viewer)
    number = int(case_id) if case_id.isdigit() and len(case_id) <= 10 else 0
    try:
        view = console.engine.case(number, viewer=viewer.actor)
    except RuleRefused as refused:
        if outside_scope(refused):
            raise NotFoundError("案件", case_id[:12]) from None
        raise
    if view.definition != HONOR:
        raise NotFoundError("案件", number)
    trigger = form.get("trigger", "")
    version = form.get("version", "")
    if not version.isdigit() or int(version) != view.version:
        return self_page(request, console_of(request), viewer, status=409, changed=view.id)
    definition = console.engine.catalog.get(view.definition, view.definition_version)
    spec = definition.transition(trigger, view.state)
    if spec is None or viewer.actor.role not in spec.roles:
        return self_page(request, console, viewer, status=409, changed=view.id)
    asked = _asked(spec)
    data, errors = evidence(spec, trigger, {k: v for k, v in form.items() if k in asked})
    posted: dict[str, Any] = {
        "case": view.id,
        "trigger": trigger,
        "values": {k: form.get(k, "") for k in asked},
        "errors": errors,
    }
    if errors:
        return self_page(request, console, viewer, posted=posted, status=422)
    try:
        console.engine.fire(
            view.id, trigger, actor=viewer.actor, data=data, expected_version=view.version
        )
    except ConflictError:
        return self_page(request, console, viewer, status=409, changed=view.id)
    except RuleRefused as refused:
        return self_page(
            request, console, viewer, posted={**posted, "refusals": refused.refusals}, status=409
        )
    except InputError as problem:
        if problem.field in asked:
            posted["errors"] = {**errors, str(problem.field): problem.message}
        else:
            posted["problem"] = problem.message
        return self_page(request, console, viewer, posted=posted, status=422)
    return RedirectResponse(url(request, "/self", {"done": trigger}), status_code=303)
