"""Cases: the list with its filters and search, the case page, and the steps taken from it.

The case page shows one case as an officer needs it to decide: the cadre (name, tier and why,
age on the batch's first day), where the case stands on the seven steps of art. 7, what was
recorded, the eligibility explanation with its articles, exceptions, notices, and the history
with its hash chain checked. Below come the steps this viewer's role may take now, as forms
generated from the definition (`workflow.console.forms`); posting one calls `Engine.fire` with
the version the form was drawn from, so a case someone else moved in between is never
overwritten: the viewer sees what changed and may try again on the new version.

A case outside the viewer's scope (A5.2) is answered exactly like a case that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.access import list_filter
from workflow.api.errors import outside_scope
from workflow.console.chain import check_chain
from workflow.console.forms import (
    ON_BEHALF_OF,
    REASON,
    StepForm,
    Widget,
    acts_for_someone,
    evidence,
    ordered,
    step_widgets,
)
from workflow.console.progress import main_path, progress
from workflow.console.session import Viewer, check_csrf
from workflow.console.site import (
    OFFICER_ROLES,
    Console,
    ConsoleDep,
    FormDep,
    NavItem,
    ViewerDep,
    render,
    url,
)
from workflow.definition.model import Definition, StepSpec
from workflow.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    RuleRefused,
    WorkflowError,
)
from workflow.i18n import N_, _
from workflow.machine import Actor
from workflow.store import console as store
from workflow.views import CaseView, HistoryEntry

router = APIRouter()
NAV = (NavItem("/cases", N_("案件"), 20, roles=OFFICER_ROLES),)
PAGE = 50
MAX_ID = 2**31 - 1
GRANT = "grant_exception"


# -- the list -----------------------------------------------------------------------------------


def _int(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit() or len(text.strip()) > 10:
        return None
    value = int(text.strip())
    return value if 1 <= value <= MAX_ID else None


def _text(text: str | None) -> str | None:
    cleaned = (text or "").replace("\x00", "").strip()
    return cleaned[:100] or None


def scope_columns(console: Console, actor: Actor) -> dict[str, str]:
    return list_filter(actor, console.listing_scopes())


def state_choices(console: Console) -> list[tuple[str, str]]:
    """Every state of the latest version of each definition, in its order, labelled."""
    seen: dict[str, str] = {}
    for name in console.engine.catalog.names():
        for state in console.engine.catalog.get(name).states:
            seen.setdefault(state.name, state.label)
    return list(seen.items())


def cycle_choices(console: Console) -> list[str]:
    found: list[str] = []
    for definition in console.engine.catalog:
        for cycle in definition.rules.cycles if definition.rules else ():
            if cycle.id not in found:
                found.append(cycle.id)
    return found


def state_label(console: Console, definition: str, version: int, state: str) -> str:
    try:
        return console.engine.catalog.get(definition, version).state(state).label
    except (NotFoundError, KeyError):
        return state


@router.get("/cases", include_in_schema=False)
def case_list(request: Request, console: ConsoleDep, viewer: ViewerDep) -> HTMLResponse:
    query = request.query_params
    scope = scope_columns(console, viewer.actor)
    filters = store.CaseFilter(
        scope=scope,
        state=_text(query.get("state")),
        county=_text(query.get("county")),
        agency=_text(query.get("agency")),
        plan_id=_int(query.get("plan")),
        cycle=_text(query.get("cycle")),
        overdue_on=console.today() if query.get("overdue") else None,
        search=_text(query.get("q")),
        open_only=bool(query.get("open")),
    )
    before = _int(query.get("before"))
    with console.engine.transaction(single_read=True) as connection:
        lines = store.case_page(connection, filters, before=before, limit=PAGE + 1)
    more = len(lines) > PAGE
    lines = lines[:PAGE]
    shown = {
        "q": filters.search or "",
        "state": filters.state or "",
        "county": filters.county or "",
        "agency": filters.agency or "",
        "plan": str(filters.plan_id or ""),
        "cycle": filters.cycle or "",
        "overdue": "1" if filters.overdue_on else "",
        "open": "1" if filters.open_only else "",
    }
    bad_plan = bool(query.get("plan")) and filters.plan_id is None
    return render(
        request,
        "cases.html",
        viewer=viewer,
        title=_("案件"),
        lines=[
            (line, state_label(console, line.definition, line.definition_version, line.state))
            for line in lines
        ],
        shown=shown,
        fixed=scope,
        states=state_choices(console),
        cycles=cycle_choices(console),
        next_before=lines[-1].id if more and lines else None,
        paged=before is not None,
        bad_plan=bad_plan,
        may_register=_may_register(console, viewer.actor),
    )


# -- one case -----------------------------------------------------------------------------------


def _definition(console: Console, view: CaseView) -> Definition:
    return console.engine.catalog.get(view.definition, view.definition_version)


def _visible(console: Console, actor: Actor, case_id: int) -> CaseView:
    """The case if the viewer may see it; a case outside its scope is a missing case."""
    try:
        return console.engine.case(case_id, viewer=actor)
    except RuleRefused as refused:
        if outside_scope(refused):
            raise NotFoundError("案件", case_id) from None
        raise


def _step_labels(definition: Definition) -> dict[str, str]:
    labels = {"open": definition.open.label, GRANT: _("记录例外")}
    for spec in definition.transitions:
        labels.setdefault(spec.trigger, spec.label)
    corrections = definition.corrections
    if corrections.rebook is not None:
        labels["rebook"] = corrections.rebook.label
    if corrections.correct is not None:
        labels["correct"] = corrections.correct.label
    return labels


def _field_labels(definition: Definition) -> dict[str, str]:
    labels = {spec.name: spec.label for spec in definition.open.fields}
    for transition in definition.transitions:
        for spec in transition.fields:
            labels.setdefault(spec.name, spec.label)
    return labels


def _labelled(
    definition: Definition, values: Mapping[str, Any]
) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Recorded values as (label, value) for the fields the definition labels, and the rest
    (what the engine copied beside them, e.g. the batch's dates) as (name, value)."""
    labels = _field_labels(definition)
    named = [(labels[k], v) for k, v in values.items() if k in labels]
    other = [(k, v) for k, v in values.items() if k not in labels]
    return named, other


def _age_on(birth: Any, day: date) -> int | None:
    try:
        born = date.fromisoformat(str(birth))
    except ValueError:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def step_forms(
    request: Request,
    definition: Definition,
    view: CaseView,
    actor: Actor,
    posted: StepForm | None = None,
) -> list[StepForm]:
    """The steps ``actor``'s role may take from the case's state, as forms; ``posted`` (a
    form just sent back with its problems) replaces the blank one of its step."""
    if view.terminal:
        return []
    along = {step.state for step in main_path(definition)}
    forms: list[StepForm] = []
    for spec in definition.transitions_from(view.state):
        if actor.role not in spec.roles:
            continue
        if posted is not None and posted.trigger == spec.trigger:
            forms.append(posted)
            continue
        blank = blank_form(request, spec, spec.trigger, view, actor)
        forms.append(replace(blank, open=posted is None and spec.dest in along))
    return ordered(forms)


def blank_form(
    request: Request, spec: StepSpec, trigger: str, view: CaseView, actor: Actor
) -> StepForm:
    return StepForm(
        trigger=trigger,
        label=spec.label,
        article=spec.article,
        action=url(request, f"/cases/{view.id}/steps/{trigger}"),
        widgets=step_widgets(spec),
        version=view.version,
        acting_for=acts_for_someone(spec, actor.role),
    )


def exception_form(definition: Definition, view: CaseView, actor: Actor) -> list[tuple[str, str]]:
    """The in-principle rules (A6.2, A8.2, A9.2) this viewer may waive on the case, with their
    articles; none once the case is closed or for a role that approves none."""
    if view.terminal or definition.rules is None:
        return []
    granted = {exception.rule for exception in view.exceptions}
    return [
        (rule.rule, rule.article)
        for rule in definition.rules.exceptions
        if actor.role in rule.approvers and rule.rule not in granted
    ]


def case_page(
    request: Request,
    console: Console,
    viewer: Viewer,
    case_id: int,
    *,
    posted: StepForm | None = None,
    status: int = 200,
    done: str | None = None,
    exception_problem: str | None = None,
    alert: WorkflowError | None = None,
) -> HTMLResponse:
    """The case page; ``posted`` is a form sent back with its problems, ``alert`` a refusal
    or problem of a post that matched no form on the page."""
    actor = viewer.actor
    view = _visible(console, actor, case_id)
    definition = _definition(console, view)
    entries = console.engine.history(case_id, viewer=actor)
    with console.engine.transaction() as connection:
        rows, version, head = store.case_chain(connection, case_id)
        notices = store.case_notices(connection, case_id)
        seat = store.case_seat(connection, case_id)
    cadre = console.engine.cadre(view.cadre_id)
    labels = _step_labels(definition)
    tier_label = next(
        (
            t.label
            for t in (definition.rules.tiers if definition.rules else ())
            if t.tier == view.tier
        ),
        view.tier or "",
    )
    eligibility = view.eligibility or {}
    age_day = seat.start_date if seat is not None else console.today()
    return render(
        request,
        "case.html",
        viewer=viewer,
        status=status,
        title=_("案件 {id}").format(id=view.id),
        case=view,
        definition=definition,
        cadre=cadre,
        tier_label=tier_label,
        decided_by=eligibility.get("decided_by"),
        reasons=eligibility.get("reasons", []),
        eligible_on=eligibility.get("on"),
        age=_age_on(cadre.get("birth_date"), age_day),
        age_day=age_day,
        seat=seat,
        progress=progress(definition, view.state, [e.to_state for e in entries]),
        evidence=_labelled(definition, view.evidence),
        history=[
            (
                e,
                labels.get(e.trigger, e.trigger),
                _states(definition, e),
                _labelled(definition, e.data),
            )
            for e in entries
        ],
        role_labels=dict(definition.roles),
        chain=check_chain(rows, version, head),
        notices=notices,
        forms=step_forms(request, definition, view, actor, posted),
        exceptions_open=exception_form(definition, view, actor),
        exception_problem=exception_problem,
        done=labels.get(done or "") if done else None,
        alert=alert,
        alert_refusals=alert.refusals if isinstance(alert, RuleRefused) else (),
    )


def _states(definition: Definition, entry: HistoryEntry) -> tuple[str, str]:
    def label(name: str | None) -> str:
        if name is None:
            return ""
        try:
            return definition.state(name).label
        except KeyError:
            return name

    return label(entry.from_state), label(entry.to_state)


@router.get("/cases/{case_id}", include_in_schema=False)
def show_case(request: Request, case_id: str, console: ConsoleDep, viewer: ViewerDep) -> Response:
    number = _int(case_id)
    if number is None:
        raise NotFoundError("案件", case_id)
    return case_page(request, console, viewer, number, done=request.query_params.get("done"))


# -- a step ------------------------------------------------------------------------------------


def _posted_version(form: Mapping[str, str]) -> int | None:
    text = form.get("version", "")
    return int(text) if text.isdigit() and len(text) <= 10 else None


@router.post("/cases/{case_id}/steps/{trigger}", include_in_schema=False)
def take_step(
    request: Request,
    *,
    case_id: str,
    trigger: str,
    console: ConsoleDep,
    viewer: ViewerDep,
    form: FormDep,
) -> Response:
    check_csrf(viewer, form)
    number = _int(case_id)
    if number is None:
        raise NotFoundError("案件", case_id)
    actor = viewer.actor
    view = _visible(console, actor, number)
    definition = _definition(console, view)
    expected = _posted_version(form)
    spec = _spec_for(definition, trigger, view.state)
    if expected is not None and expected != view.version:
        return conflict_page(
            request, console, viewer, view, expected=expected, trigger=trigger, form=form
        )
    if spec is None:  # not a step from here (a hand-made post): the engine says why (A7.1)
        failed = _try(console, view, trigger, actor, data={}, form=form)
        if failed is None:  # the engine knows the step after all: it went through
            return RedirectResponse(url(request, f"/cases/{number}"), status_code=303)
        if isinstance(failed, ConflictError):
            return conflict_page(
                request, console, viewer, view, expected=view.version, trigger=trigger, form=form
            )
        status = 409 if isinstance(failed, RuleRefused) else 422
        return case_page(request, console, viewer, number, status=status, alert=failed)
    data, errors = evidence(spec, trigger, form)
    posted = _posted_form(request, spec, trigger, view, actor, form=form, errors=errors)
    if errors:
        return case_page(request, console, viewer, number, posted=posted, status=422)
    outcome = _try(console, view, trigger, actor, data=data, form=form, expected=expected)
    if outcome is None:
        target = url(request, f"/cases/{number}", {"done": trigger})
        return RedirectResponse(target, status_code=303)
    if isinstance(outcome, ConflictError):
        return conflict_page(
            request, console, viewer, view, expected=view.version, trigger=trigger, form=form
        )
    if isinstance(outcome, InputError):
        field = outcome.field if outcome.field in {s.name for s in spec.fields} else None
        if field is not None:
            posted = replace(
                posted,
                widgets=tuple(
                    replace(w, error=outcome.message) if w.name == field else w
                    for w in posted.widgets
                ),
            )
        else:
            posted = replace(posted, problem=outcome.message)
        return case_page(request, console, viewer, number, posted=posted, status=422)
    if isinstance(outcome, NotFoundError):  # a batch or plan the evidence names
        return case_page(
            request,
            console,
            viewer,
            number,
            posted=replace(posted, problem=outcome.message),
            status=422,
        )
    return case_page(
        request,
        console,
        viewer,
        number,
        posted=replace(posted, refusals=outcome.refusals),
        status=409,
    )


def _spec_for(definition: Definition, trigger: str, state: str) -> StepSpec | None:
    return definition.transition(trigger, state)


def _posted_form(
    request: Request,
    spec: StepSpec,
    trigger: str,
    view: CaseView,
    actor: Actor,
    *,
    form: Mapping[str, str],
    errors: Mapping[str, str],
) -> StepForm:
    blank = blank_form(request, spec, trigger, view, actor)
    return replace(
        blank,
        widgets=step_widgets(spec, form, errors),
        reason=form.get(REASON, ""),
        on_behalf_of=form.get(ON_BEHALF_OF, ""),
        open=True,
    )


def _try(
    console: Console,
    view: CaseView,
    trigger: str,
    actor: Actor,
    *,
    data: Mapping[str, Any],
    form: Mapping[str, str],
    expected: int | None = None,
) -> RuleRefused | InputError | ConflictError | NotFoundError | None:
    """Fire the step; None when it went through, else the error to show (a case outside the
    viewer's scope still raises: it is a missing case)."""
    try:
        console.engine.fire(
            view.id,
            trigger,
            actor=actor,
            data=dict(data),
            reason=_text_or_none(form.get(REASON)),
            on_behalf_of=_text_or_none(form.get(ON_BEHALF_OF)),
            expected_version=expected if expected is not None else view.version,
        )
    except RuleRefused as refused:
        if outside_scope(refused):
            raise NotFoundError("案件", view.id) from None
        return refused
    except (InputError, ConflictError) as problem:
        return problem
    except NotFoundError as missing:
        if missing.kind == "案件":
            raise
        return missing
    return None


def _text_or_none(text: str | None) -> str | None:
    cleaned = (text or "").strip()
    return cleaned or None


def conflict_page(
    request: Request,
    console: Console,
    viewer: Viewer,
    seen: CaseView,
    *,
    expected: int,
    trigger: str,
    form: Mapping[str, str],
) -> HTMLResponse:
    """Someone moved the case since this viewer's form was drawn: nothing was written. Show
    what changed since the version the viewer saw and offer the step again on the new one."""
    actor = viewer.actor
    view = console.engine.case(seen.id, viewer=actor)
    definition = _definition(console, view)
    labels = _step_labels(definition)
    since = [
        (e, labels.get(e.trigger, e.trigger), _states(definition, e))
        for e in console.engine.history(view.id, viewer=actor)
        if e.seq > expected
    ]
    spec = _spec_for(definition, trigger, view.state)
    retry = None
    if spec is not None and actor.role in spec.roles and not view.terminal:
        retry = replace(
            _posted_form(request, spec, trigger, view, actor, form=form, errors={}),
            version=view.version,
        )
    return render(
        request,
        "conflict.html",
        viewer=viewer,
        status=409,
        title=_("案件已被他人修改"),
        case=view,
        expected=expected,
        since=since,
        retry=retry,
        step_label=labels.get(trigger, trigger),
        others=[f for f in step_forms(request, definition, view, actor) if f.trigger != trigger],
    )


# -- exceptions --------------------------------------------------------------------------------


@router.post("/cases/{case_id}/exceptions", include_in_schema=False)
def grant_exception(
    request: Request, case_id: str, console: ConsoleDep, viewer: ViewerDep, form: FormDep
) -> Response:
    check_csrf(viewer, form)
    number = _int(case_id)
    if number is None:
        raise NotFoundError("案件", case_id)
    view = _visible(console, viewer.actor, number)
    expected = _posted_version(form)
    if expected is not None and expected != view.version:
        return conflict_page(
            request, console, viewer, view, expected=expected, trigger=GRANT, form=form
        )
    rule, reason = form.get("rule", ""), form.get(REASON, "").strip()
    try:
        console.engine.grant_exception(
            number, rule, actor=viewer.actor, reason=reason, expected_version=view.version
        )
    except RuleRefused as refused:
        if outside_scope(refused):
            raise NotFoundError("案件", number) from None
        return case_page(
            request, console, viewer, number, status=409, exception_problem=str(refused)
        )
    except InputError as problem:
        return case_page(
            request, console, viewer, number, status=422, exception_problem=problem.message
        )
    except ConflictError:
        return conflict_page(
            request, console, viewer, view, expected=view.version, trigger=GRANT, form=form
        )
    return RedirectResponse(url(request, f"/cases/{number}", {"done": GRANT}), status_code=303)


# -- registration ------------------------------------------------------------------------------


def _registering(console: Console) -> Definition | None:
    """The definition a registration opens under today (A21.1), if one is in force."""
    from workflow.engine import DEFAULT_DEFINITION  # noqa: PLC0415

    return console.engine.catalog.in_force(DEFAULT_DEFINITION, console.today())


def _may_register(console: Console, actor: Actor) -> bool:
    definition = _registering(console)
    return definition is not None and actor.role in definition.open.roles


def _register_form(
    request: Request,
    definition: Definition,
    actor: Actor,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> StepForm:
    form = form or {}
    errors = errors or {}
    cadre = Widget(
        name="cadre_id",
        label=_("军休干部编号"),
        kind="text",
        required=True,
        value=form.get("cadre_id", ""),
        error=errors.get("cadre_id"),
        maxlength=64,
    )
    return StepForm(
        trigger="open",
        label=definition.open.label,
        article=definition.open.article,
        action=url(request, "/register"),
        widgets=step_widgets(definition.open, form, errors),
        version=None,
        acting_for=acts_for_someone(definition.open, actor.role),
        reason=form.get(REASON, ""),
        on_behalf_of=form.get(ON_BEHALF_OF, ""),
        open=True,
        extra=(cadre,),
    )


@router.get("/register", include_in_schema=False)
def register_page(request: Request, console: ConsoleDep, viewer: ViewerDep) -> HTMLResponse:
    definition = _registering(console)
    if definition is None or viewer.actor.role not in definition.open.roles:
        raise NotFoundError("工作流定义", "open")
    prefill = {"cadre_id": request.query_params.get("cadre_id", "")[:64]}
    return render(
        request,
        "register.html",
        viewer=viewer,
        title=definition.open.label,
        form=_register_form(request, definition, viewer.actor, prefill),
    )


@router.post("/register", include_in_schema=False)
def register(request: Request, console: ConsoleDep, viewer: ViewerDep, form: FormDep) -> Response:
    check_csrf(viewer, form)
    definition = _registering(console)
    if definition is None or viewer.actor.role not in definition.open.roles:
        raise NotFoundError("工作流定义", "open")
    data, errors = evidence(definition.open, "open", form)
    cadre_id = form.get("cadre_id", "").strip()
    if not cadre_id:
        errors["cadre_id"] = _("“军休干部编号”必填")

    def again(status: int, **changes: Any) -> HTMLResponse:
        shown = replace(_register_form(request, definition, viewer.actor, form, errors), **changes)
        return render(
            request,
            "register.html",
            viewer=viewer,
            status=status,
            title=definition.open.label,
            form=shown,
        )

    if errors:
        return again(422)
    try:
        view = console.engine.open_case(
            cadre_id,
            actor=viewer.actor,
            data=data,
            reason=_text_or_none(form.get(REASON)),
            on_behalf_of=_text_or_none(form.get(ON_BEHALF_OF)),
        )
    except RuleRefused as refused:
        if outside_scope(refused):  # a cadre outside the scope: as if there were none
            errors["cadre_id"] = NotFoundError("军休干部", cadre_id).message
            return again(422)
        return again(409, refusals=refused.refusals)
    except NotFoundError as missing:
        errors["cadre_id"] = missing.message
        return again(422)
    except InputError as problem:
        if problem.field in {s.name for s in definition.open.fields}:
            errors[str(problem.field)] = problem.message
            return again(422)
        return again(422, problem=problem.message)
    return RedirectResponse(url(request, f"/cases/{view.id}", {"done": "open"}), status_code=303)
