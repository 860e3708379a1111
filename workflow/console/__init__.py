"""The officer console (issue 19): a Chinese web interface served by the same app as the API.

``convalescence serve`` mounts it at ``/console`` and sends a visitor of ``/`` there
(``--no-console`` leaves it out). Pages are rendered on the server with Jinja2 and work without
JavaScript: links, forms and redirects only. Every asset (one stylesheet) ships in the package,
so an office intranet without internet works; the console's pages allow no other source
(Content-Security-Policy), and every value on them is escaped.

Who is looking: officers log in with the API token they already have (`session`), which gives
the console the same actor (role, name, scope) the API and the engine know. Every read and
every step goes through the engine with that actor as viewer, so the console enforces exactly
the engine's role × scope rules (A5.2); a case outside the scope is a "not found" page that
says nothing of it. Every form carries the session's CSRF token.

Layout of the package:

* `app` builds the console's own FastAPI app (HTML error pages, log-in and log-out) and mounts
  it (`install`); `PAGE_MODULES` lists the page areas.
* `site` is what pages share: the `Console` state, the `ViewerDep` / `ConsoleDep` / `FormDep`
  dependencies, `url` and `render` (the layout with navigation and the actor banner).
* `session` logs in and out and checks CSRF tokens; `forms` turns a step's declared fields into
  inputs and checks them; `progress` and `chain` are the case page's pure parts.
* `inbox` and `cases` are the page areas so far. Their SQL is `workflow.store.console`.
* ``templates/`` (``base.html`` is the layout; ``parts/fields.html`` the form macros) and
  ``static/`` (``console.css``).

Adding a page area (roster, plans and batches, visits, reports, self-service):

1. Write ``workflow/console/<area>.py`` with ``router = APIRouter()`` and
   ``NAV = (NavItem("/<area>", N_("名称"), order, roles=frozenset({...})),)`` (``roles=None``:
   every logged-in role sees the entry; the order places it in the bar: inbox 10, cases 20).
2. Each route takes ``viewer: ViewerDep`` (which sends anyone not logged in to the log-in page),
   ``console: ConsoleDep`` for the engine, and answers ``render(request, "<area>.html",
   viewer=viewer, title=..., **context)``; a template starts with
   ``{% extends "base.html" %}`` and fills ``{% block content %}``.
3. A POST route also takes ``form: FormDep`` and calls ``check_csrf(viewer, form)`` first;
   its form includes ``<input type="hidden" name="csrf" value="{{ csrf }}">``.
4. Add the module's name to `workflow.console.app.PAGE_MODULES`.
5. Mark texts for the catalogue: ``_("…")`` in Python and ``{{ _("…") }}`` in templates, with
   the English appended to the .po (tests/test_console.py checks the templates' texts).

Engine errors need no handling of their own in a page: the app turns a missing or out-of-scope
thing into a 404 page, a refusal into a page citing its article, a database that is down into a
503 page. A step's form handles its own errors in place (see `cases`).
"""
