"""Condolence visits (issue 19 item 7, A9.3): the visits due and overdue in the officer's scope,
and recording one.

A visit is a case of the ``condolence_visit`` definition, opened by the scheduler for a cadre
who could not attend in a cycle; it is due by the last day of that cycle (A9.1), and the
definition's timers remind and escalate before that. The list reads open visit cases (states
``flagged`` and ``assigned``) in the viewer's scope (A5.2) as keyset pages, oldest first,
with the overdue ones (cycle ended, or a reminder or escalation past its day) in a section
above. Recording a visit is the definition's own steps (``assign``, ``record_visit``), drawn
from its ``requires:`` fields and fired through the engine with the viewer as actor and the
version the form was drawn from; someone else's step in between shows the cases page's
conflict page, never a lost update.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.api.errors import outside_scope
from workflow.console.cases import (
    blank_form,
    conflict_page,
    scope_columns,
    state_label,
)
from workflow.console.forms import REASON, StepForm, evidence, step_widgets
from workflow.console.session import Viewer, check_csrf
from workflow.console.site import Console, ConsoleDep, FormDep, NavItem, ViewerDep, render, url
from workflow.errors import ConflictError, InputError, NotFoundError, RuleRefused
from workflow.i18n import N_, _
from workflow.store import console as store
from workflow.views import CaseView

router = APIRouter()
VISIT = "condolence_visit"
HONOR = "honor_convalescence"
OPEN_STATES = ("flagged", "assigned")
VISIT_ROLES = frozenset({"agency_officer", "county_officer", "city_officer", "auditor"})
NAV = (NavItem("/visits", N_("走访慰问"), 50, roles=VISIT_ROLES),)
PAGE = 50
OVERDUE_SHOWN = 100


def cycle_ends(console: Console) -> dict[str, date]:
    """Cycle id → its last day, over every version of the convalescence policy (A9.1)."""
    ends: dict[str, date] = {}
    for definition in console.engine.catalog:
        if definition.name != HONOR or definition.rules is None:
            continue
        for cycle in definition.rules.cycles:
            ends[cycle.id] = cycle.end
    return ends


def _viewer_may_visit(viewer: Viewer) -> None:
    if viewer.actor.role not in VISIT_ROLES:
        raise NotFoundError("页面", "visits")


def _after(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 10 else None


@router.get("/visits", include_in_schema=False)
def visit_list(request: Request, console: ConsoleDep, viewer: ViewerDep) -> HTMLResponse:
    _viewer_may_visit(viewer)
    today = console.today()
    scope = scope_columns(console, viewer.actor)
    ends = cycle_ends(console)
    ended = sorted(cycle for cycle, end in ends.items() if end < today)
    after = _after(request.query_params.get("after"))
    every = store.CaseFilter(scope=scope, states=OPEN_STATES, open_only=True)
    late_tasks = replace(every, overdue_on=today)
    with console.engine.transaction(single_read=True) as connection:
        total = sum(store.open_counts_by_state(connection, every).values())
        overdue_lines = {
            line.id: line
            for line in store.case_page(
                connection, late_tasks, limit=OVERDUE_SHOWN, oldest_first=True
            )
        }
        for cycle in ended:
            for line in store.case_page(
                connection,
                replace(every, cycle=cycle),
                limit=OVERDUE_SHOWN,
                oldest_first=True,
            ):
                overdue_lines.setdefault(line.id, line)
        # overdue: a reminder or escalation past its day, or the cycle over (each counted once)
        overdue_count = _count(connection, late_tasks)
        for cycle in ended:
            overdue_count += _count(connection, replace(every, cycle=cycle))
            overdue_count -= _count(connection, replace(late_tasks, cycle=cycle))
        lines = store.case_page(connection, every, before=after, limit=PAGE + 1, oldest_first=True)
    more = len(lines) > PAGE
    lines = lines[:PAGE]

    def shown(line: store.CaseLine) -> dict[str, Any]:
        due = ends.get(line.cycle or "")
        return {
            "line": line,
            "label": state_label(console, line.definition, line.definition_version, line.state),
            "due": due,
            "overdue": line.id in overdue_lines,
        }

    overdue = sorted(overdue_lines.values(), key=lambda line: line.id)[:OVERDUE_SHOWN]
    return render(
        request,
        "visits.html",
        viewer=viewer,
        title=_("走访慰问"),
        total=total,
        overdue_count=overdue_count,
        overdue=[shown(line) for line in overdue],
        lines=[shown(line) for line in lines],
        next_after=lines[-1].id if more and lines else None,
        paged=after is not None,
        done=_after(request.query_params.get("done")),
    )


def _count(connection: Any, found: store.CaseFilter) -> int:
    return sum(store.open_counts_by_state(connection, found).values())


# -- one visit --------------------------------------------------------------------------------


def _visit(console: Console, viewer: Viewer, text: str) -> CaseView:
    """The visit case if the viewer may see it; anything else (another definition's case, a
    case outside the scope) is a missing visit."""
    number = _after(text)
    if number is None or number < 1:
        raise NotFoundError("走访慰问", text[:20])
    try:
        view = console.engine.case(number, viewer=viewer.actor)
    except RuleRefused as refused:
        if outside_scope(refused):
            raise NotFoundError("走访慰问", number) from None
        raise
    if view.definition != VISIT:
        raise NotFoundError("走访慰问", number)
    return view


def _forms(
    request: Request, console: Console, view: CaseView, viewer: Viewer, posted: StepForm | None
) -> list[StepForm]:
    if view.terminal:
        return []
    definition = console.engine.catalog.get(view.definition, view.definition_version)
    forms = []
    for spec in definition.transitions_from(view.state):
        if viewer.actor.role not in spec.roles:
            continue
        if posted is not None and posted.trigger == spec.trigger:
            forms.append(posted)
            continue
        blank = blank_form(request, spec, spec.trigger, view, viewer.actor)
        action = url(request, f"/visits/{view.id}/steps/{spec.trigger}")
        forms.append(replace(blank, action=action, open=spec.trigger == "record_visit"))
    return sorted(forms, key=lambda form: not form.open)


def visit_page(
    request: Request,
    console: Console,
    viewer: Viewer,
    view: CaseView,
    *,
    posted: StepForm | None = None,
    status: int = 200,
) -> HTMLResponse:
    cadre = console.engine.cadre(view.cadre_id)
    due = cycle_ends(console).get(view.cycle or "")
    return render(
        request,
        "visit.html",
        viewer=viewer,
        status=status,
        title=_("走访慰问 · 案件 {id}").format(id=view.id),
        case=view,
        cadre=cadre,
        due=due,
        late=due is not None and due < console.today() and not view.terminal,
        forms=_forms(request, console, view, viewer, posted),
        cause=view.evidence.get("cause"),
    )


@router.get("/visits/{case_id}", include_in_schema=False)
def show_visit(
    request: Request, case_id: str, console: ConsoleDep, viewer: ViewerDep
) -> HTMLResponse:
    _viewer_may_visit(viewer)
    return visit_page(request, console, viewer, _visit(console, viewer, case_id))


@router.post("/visits/{case_id}/steps/{trigger}", include_in_schema=False)
def take_visit_step(
    request: Request,
    *,
    case_id: str,
    trigger: str,
    console: ConsoleDep,
    viewer: ViewerDep,
    form: FormDep,
) -> Response:
    check_csrf(viewer, form)
    _viewer_may_visit(viewer)
    view = _visit(console, viewer, case_id)
    definition = console.engine.catalog.get(view.definition, view.definition_version)
    expected = _after(form.get("version"))
    if expected is not None and expected != view.version:
        return conflict_page(
            request, console, viewer, view, expected=expected, trigger=trigger, form=form
        )
    spec = definition.transition(trigger, view.state)
    if spec is None or viewer.actor.role not in spec.roles:
        raise NotFoundError("步骤", trigger[:40])
    data, errors = evidence(spec, trigger, form)
    blank = blank_form(request, spec, trigger, view, viewer.actor)
    posted = replace(
        blank,
        action=url(request, f"/visits/{view.id}/steps/{trigger}"),
        widgets=step_widgets(spec, form, errors),
        reason=form.get(REASON, ""),
        open=True,
    )
    if errors:
        return visit_page(request, console, viewer, view, posted=posted, status=422)
    try:
        console.engine.fire(
            view.id,
            trigger,
            actor=viewer.actor,
            data=data,
            reason=form.get(REASON, "").strip() or None,
            expected_version=view.version,
        )
    except ConflictError:
        return conflict_page(
            request, console, viewer, view, expected=view.version, trigger=trigger, form=form
        )
    except RuleRefused as refused:
        if outside_scope(refused):
            raise NotFoundError("走访慰问", view.id) from None
        posted = replace(posted, refusals=refused.refusals)
        return visit_page(request, console, viewer, view, posted=posted, status=409)
    except InputError as problem:
        if problem.field in {w.name for w in posted.widgets}:
            posted = replace(
                posted,
                widgets=tuple(
                    replace(w, error=problem.message) if w.name == problem.field else w
                    for w in posted.widgets
                ),
            )
        else:
            posted = replace(posted, problem=problem.message)
        return visit_page(request, console, viewer, view, posted=posted, status=422)
    if trigger == "record_visit":
        return RedirectResponse(url(request, "/visits", {"done": view.id}), status_code=303)
    return RedirectResponse(url(request, f"/visits/{view.id}"), status_code=303)
