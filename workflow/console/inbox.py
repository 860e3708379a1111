"""The inbox: what the logged-in officer has to do, overdue first.

Two kinds of work: the follow-up tasks the scheduler opened for the viewer's role in its scope
(reminders, escalations, condolence visits, A9.3), soonest due first so the overdue lead, one
keyset page at a time; and the open cases standing before a step of art. 7 this role may take,
counted per step, the longest waiting first. Each line is one click from its case.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from workflow.api.auth import PERMISSIONS
from workflow.console.cases import scope_columns, state_label
from workflow.console.progress import forward_states
from workflow.console.site import (
    OFFICER_ROLES,
    Console,
    ConsoleDep,
    NavItem,
    ViewerDep,
    render,
)
from workflow.i18n import N_, _
from workflow.machine import Actor
from workflow.store import console as store

router = APIRouter()
NAV = (NavItem("/inbox", N_("待办"), 10, roles=OFFICER_ROLES),)
PAGE = 50
WAITING_SHOWN = 5  # cases listed under each waiting step; the rest is one click away


def task_filter(console: Console, actor: Actor) -> store.TaskFilter | None:
    """The tasks the viewer works on: its role's, in its scope; every task for the auditor;
    None for roles that hold no tasks (cadres, families, contractor staff)."""
    if actor.role not in PERMISSIONS["tasks:read"]:
        return None
    roles = None if actor.role == "auditor" else (actor.role,)
    kind = console.listing_scopes().get(actor.role)
    return store.TaskFilter(
        roles=roles,
        county=actor.scope if kind == "county" else None,
        agency=actor.scope if kind == "agency" else None,
    )


def _after(text: str | None) -> tuple[date, int] | None:
    """The keyset of the last task shown, written ``2024-05-06.17``."""
    day, _sep, task_id = (text or "").partition(".")
    try:
        return date.fromisoformat(day), int(task_id)
    except ValueError:
        return None


@router.get("/inbox", include_in_schema=False)
def inbox(request: Request, console: ConsoleDep, viewer: ViewerDep) -> HTMLResponse:
    actor = viewer.actor
    today = console.today()
    after = _after(request.query_params.get("after"))
    found = task_filter(console, actor)
    scope = scope_columns(console, actor)
    waiting_steps: dict[str, str] = {}
    for name in console.engine.catalog.names():
        for state, label in forward_states(console.engine.catalog.get(name), actor.role).items():
            waiting_steps.setdefault(state, label)
    with console.engine.transaction() as connection:
        tasks = (
            [] if found is None else store.task_page(connection, found, after=after, limit=PAGE + 1)
        )
        total, overdue = (0, 0) if found is None else store.task_counts(connection, found, today)
        people = store.case_cadres(connection, [t.case_id for t in tasks if t.case_id is not None])
        counts = (
            store.open_counts_by_state(
                connection, store.CaseFilter(scope=scope, states=list(waiting_steps))
            )
            if waiting_steps
            else {}
        )
        waiting = []
        for state, step in waiting_steps.items():
            if counts.get(state):
                lines = store.case_page(
                    connection,
                    store.CaseFilter(scope=scope, state=state, open_only=True),
                    limit=WAITING_SHOWN,
                    oldest_first=True,
                )
                waiting.append((state, step, counts[state], lines))
    more = len(tasks) > PAGE
    tasks = tasks[:PAGE]
    return render(
        request,
        "inbox.html",
        viewer=viewer,
        title=_("待办"),
        tasks=[(t, people.get(t.case_id or 0)) for t in tasks],
        holds_tasks=found is not None,
        total=total,
        overdue=overdue,
        next_after=f"{tasks[-1].due_on.isoformat()}.{tasks[-1].id}" if more and tasks else None,
        paged=after is not None,
        waiting=[
            (
                state,
                step,
                count,
                [
                    (
                        line,
                        state_label(console, line.definition, line.definition_version, line.state),
                    )
                    for line in lines
                ],
            )
            for state, step, count, lines in waiting
        ],
        waiting_total=sum(count for _s, _l, count, _c in waiting),
    )
