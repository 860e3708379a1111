"""The roster as officers read it (issue 19 item 5): a page of cadres, a search, one cadre's page.

Every read is narrowed to the reader's scope (A5.2) the way case listings are, by the database:
a county officer reads its county's cadres, an agency officer its agency's, contractor staff
those seated in their contractor's batches, a cadre or family member the one cadre; a cadre
outside the scope reads exactly like a missing one (`NotFoundError`), so an id tells nothing.

Pages are keyset pages by cadre id (``after`` is the last id of the previous page): a page costs
its own rows whatever its depth. The art. 4 tier is not stored (it follows from the record and
the rules in force, which a successor policy changes, A21.1): it is computed per row, so a
``tier`` filter examines at most `TIER_SCAN` cadres per page and may return a short page with a
cursor to go on from.

Personal numbers (ID card, telephones) are masked in everything returned: the listing and the
page are for finding and following a cadre; the full record stays in the agency's roster file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from definitions import DEFAULT_DEFINITION
from notifications.masking import mask_text
from workflow.access import list_filter, missing_scope
from workflow.clock import shanghai_date
from workflow.definition.model import Definition
from workflow.definition.policy_rules import PolicyRules
from workflow.eligibility import NO_TIER, Explanation, explain, highest_tier
from workflow.engine import Engine
from workflow.errors import InputError, NotFoundError, Refusal, RuleRefused
from workflow.facts import age_in_full_years
from workflow.i18n import _
from workflow.machine import Actor
from workflow.store import roster as store
from workflow.store import unable as unable_store
from workflow.store.roster import RosterFilter

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
TIER_SCAN = 2_000  # cadres examined for one page at most when filtering by the computed tier
_CHUNK = 500  # rows read at a time while filtering by tier
CHANGES_SHOWN = 10  # the latest import changes on a cadre's page


@dataclass(frozen=True)
class CadreRow:
    """A cadre as a listing shows it: who, where, age today and art. 4 tier today (A4.2)."""

    id: str
    name: str
    county: str
    agency: str
    birth_date: date
    age: int
    tier: str
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "county": self.county,
            "agency": self.agency,
            "birth_date": self.birth_date.isoformat(),
            "age": self.age,
            "tier": self.tier,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class CadrePage:
    """One page; ``next_after`` is the cursor of the next page (None: this is the last).
    ``examined`` counts the cadres read to fill it (more than the items with a tier filter)."""

    items: tuple[CadreRow, ...]
    limit: int
    next_after: str | None
    examined: int

    def to_json(self) -> dict[str, Any]:
        return {
            "items": [item.to_json() for item in self.items],
            "limit": self.limit,
            "next": self.next_after,
            "examined": self.examined,
        }


@dataclass(frozen=True)
class CadreCase:
    """One of the cadre's cases (every workflow: convalescence and condolence visits), with
    the cycle it takes part in when it holds a participation (A9.2; ``claim`` None: let in by
    a recorded exception)."""

    id: int
    definition: str
    definition_version: int
    state: str
    state_label: str
    terminal: bool
    cycle: str | None
    tier: str | None
    opened_at: datetime
    updated_at: datetime
    taking_part_in: str | None
    claim: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "definition": self.definition,
            "definition_version": self.definition_version,
            "state": self.state,
            "state_label": self.state_label,
            "terminal": self.terminal,
            "cycle": self.cycle,
            "tier": self.tier,
            "opened_at": self.opened_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "taking_part_in": self.taking_part_in,
            "claim": self.claim,
        }


@dataclass(frozen=True)
class CycleLine:
    """The cadre in one cycle (A9.1): cases registered, the case taking part (A9.2: once per
    cycle in principle), whether an officer reported him unable, the visit opened (A9.3)."""

    cycle: str
    cases: tuple[int, ...]
    taking_part: tuple[int, ...]
    unable_reported: bool
    visit_case: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "cases": list(self.cases),
            "taking_part": list(self.taking_part),
            "unable_reported": self.unable_reported,
            "visit_case": self.visit_case,
        }


@dataclass(frozen=True)
class CadreDetail:
    """One cadre's page: the row, the masked record, the art. 4 tier today and why (the
    explanation at the plan level that admits most tiers, A4.4), the cases, the cycles, the
    condolence visits and unable reports (A9.3), and the latest import changes (A19.1)."""

    cadre: CadreRow
    record: Mapping[str, Any]
    definition: str
    definition_version: int
    explanation: Explanation
    cases: tuple[CadreCase, ...]
    cycles: tuple[CycleLine, ...]
    visits: tuple[Mapping[str, Any], ...]
    unable: tuple[Mapping[str, Any], ...]
    changes_total: int
    changes: tuple[Mapping[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        decided = self.explanation.decided_by
        return {
            **self.cadre.to_json(),
            "record": dict(self.record),
            "eligibility": {
                **self.explanation.to_json(),
                "definition": self.definition,
                "definition_version": self.definition_version,
                "why": None if decided is None else decided.message,
                "sentences": self.explanation.sentences(),
            },
            "cases": [case.to_json() for case in self.cases],
            "cycles": [line.to_json() for line in self.cycles],
            "visits": [dict(visit) for visit in self.visits],
            "unable_reports": [dict(report) for report in self.unable],
            "changes_total": self.changes_total,
            "changes": [dict(change) for change in self.changes],
        }


# -- reads ----------------------------------------------------------------------------------


def list_cadres(
    engine: Engine,
    viewer: Actor,
    *,
    county: str | None = None,
    agency: str | None = None,
    tier: str | None = None,
    text: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> CadrePage:
    """Cadres by id after ``after``, in ``viewer``'s scope; a filter naming another scope than
    the viewer's own gives an empty page, as a case listing does. ``text``: a substring of the
    id or the name (``cadres search``)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(_("每页条数须在 1 到 {most} 之间").format(most=MAX_LIMIT), field="limit")
    today = shanghai_date(engine.clock.now())
    rules = _tier_rules(engine, today)[1]
    if tier is not None and tier not in _tiers(rules):
        raise InputError(
            _("层级 {tier!r} 不是以下之一：{tiers}").format(
                tier=tier, tiers=", ".join(_tiers(rules))
            ),
            field="tier",
        )
    where = roster_filter(engine, viewer, county=county, agency=agency, text=text)
    if where is None:
        return CadrePage(items=(), limit=limit, next_after=None, examined=0)
    with engine.transaction() as connection:
        if tier is None:
            rows = store.page(connection, where, after=after, limit=limit + 1)
            items = tuple(_row(r, rules, today) for r in rows[:limit])
            more = len(rows) > limit
            return CadrePage(
                items=items,
                limit=limit,
                next_after=items[-1].id if more else None,
                examined=len(items),
            )
        return _tier_page(connection, where, rules, today, tier=tier, after=after, limit=limit)


def show_cadre(engine: Engine, viewer: Actor, cadre_id: str) -> CadreDetail:
    """One cadre's page, if the cadre lies in ``viewer``'s scope (else `NotFoundError`, as for
    a cadre that does not exist). Its cases are those the viewer may see as cases (A5.2)."""
    today = shanghai_date(engine.clock.now())
    definition, rules = _tier_rules(engine, today)
    where = roster_filter(engine, viewer)
    assert where is not None  # no filter was asked for, so none can contradict the scope
    with engine.transaction() as connection:
        row = store.cadre(connection, cadre_id, where)
        if row is None:
            raise NotFoundError("军休干部", cadre_id)
        case_scope = RosterFilter(
            county=where.county, agency=where.agency, contractor_id=where.contractor_id
        )
        case_rows = store.cadre_cases(connection, cadre_id, case_scope)
        visit_rows = store.cadre_visits(connection, cadre_id)
        reports = unable_store.reports(connection, cadre_id=cadre_id)
        changes_total, change_rows = store.cadre_changes_of(
            connection, cadre_id, limit=CHANGES_SHOWN
        )
    cases = tuple(_case(engine, r) for r in case_rows)
    visible = {case.id for case in cases}
    visits = tuple(
        {
            "cycle": v.cycle,
            "case_id": v.case_id,
            "state": v.state,
            "state_label": _label(engine, "condolence_visit", None, v.state),
            "terminal": v.terminal,
            "late": bool(v.late),
            "source_case_id": v.source_case_id,
            "unable_report_id": v.unable_report_id,
            "opened_at": v.created_at.isoformat(),
        }
        for v in visit_rows
        if v.case_id in visible
    )
    unable = tuple(
        {
            "id": r.id,
            "cycle": r.cycle,
            "occurred_on": r.occurred_on.isoformat(),
            "reason": mask_text(r.reason),
            "reporter": f"{r.reporter_role}:{r.reporter_name}",
            "reported_at": r.reported_at.isoformat(),
        }
        for r in reports
    )
    changes = tuple(
        {"at": c.at.isoformat(), "source": c.source, "kind": c.kind, "changes": _masked(c.changes)}
        for c in change_rows
    )
    broadest = max(rules.plan_admits, key=lambda level: len(rules.plan_admits[level]))
    explanation = explain(
        row.record, rules=rules, policy=definition.policy, level=broadest, on=today
    )
    return CadreDetail(
        cadre=_row(row, rules, today),
        record=_masked(row.record),
        definition=definition.name,
        definition_version=definition.version,
        explanation=explanation,
        cases=cases,
        cycles=_cycles(cases, unable, visits),
        visits=visits,
        unable=unable,
        changes_total=changes_total,
        changes=changes,
    )


# -- scope ----------------------------------------------------------------------------------


def roster_filter(
    engine: Engine,
    viewer: Actor,
    *,
    county: str | None = None,
    agency: str | None = None,
    text: str | None = None,
) -> RosterFilter | None:
    """The asked-for filter narrowed to ``viewer``'s scope (A5.2), as case listings narrow
    theirs; None when it names another scope than the viewer's own (nothing is visible).

    A role no definition declares reads nothing (A5.1), and a scoped role must say its scope:
    an unscoped county officer would read every county."""
    roles: dict[str, str] = {}
    scopes: dict[str, str] = {}
    for definition in engine.catalog:
        for role, label in definition.roles.items():
            roles.setdefault(role, label)
        for role, kind in definition.scopes.items():
            scopes.setdefault(role, kind)
    if viewer.role not in roles:
        raise RuleRefused(
            [
                Refusal(
                    article="A5.2",
                    rule="role_unknown",
                    message=_(
                        "“{role}”不是任何流程定义的角色，无权查看名册（可用角色：{roles}）"
                    ).format(role=viewer.role, roles="、".join(sorted(roles))),
                )
            ]
        )
    unscoped = missing_scope(viewer, scopes, roles)
    if unscoped is not None:
        raise RuleRefused([unscoped])
    narrowed: dict[str, str | None] = {
        "county": county,
        "agency": agency,
        "cadre_id": None,
        "contractor_id": None,
    }
    for column, value in list_filter(viewer, scopes).items():
        if narrowed.get(column) not in (None, value):
            return None
        narrowed[column] = value
    return RosterFilter(text=text, **narrowed)


# -- helpers --------------------------------------------------------------------------------


def _tier_rules(engine: Engine, today: date) -> tuple[Definition, PolicyRules]:
    """The convalescence rules in force today, else the latest version's (a roster is read
    after a policy expired too; its art. 21 reason then says so)."""
    catalog = engine.catalog
    chosen = catalog.in_force(DEFAULT_DEFINITION, today) or catalog.get(DEFAULT_DEFINITION)
    assert chosen.rules is not None, "the shipped definition declares its art. 4 rules"
    return chosen, chosen.rules


def _tiers(rules: PolicyRules) -> list[str]:
    return [*(t.tier for t in rules.tiers), NO_TIER]


def _row(row: Any, rules: PolicyRules, today: date) -> CadreRow:
    return CadreRow(
        id=row.id,
        name=row.name,
        county=row.county,
        agency=row.agency,
        birth_date=row.birth_date,
        age=age_in_full_years(row.birth_date, today),
        tier=highest_tier(row.record, rules)[0],
        updated_at=row.updated_at,
    )


def _tier_page(
    connection: Any,
    where: RosterFilter,
    rules: PolicyRules,
    today: date,
    *,
    tier: str,
    after: str | None,
    limit: int,
) -> CadrePage:
    """Read on by id until ``limit`` cadres of ``tier`` are found or `TIER_SCAN` were
    examined; the cursor is the last cadre examined, so the next page goes on from there."""
    items: list[CadreRow] = []
    examined = 0
    cursor = after
    exhausted = False
    while len(items) < limit and examined < TIER_SCAN:
        wanted = min(_CHUNK, TIER_SCAN - examined)
        rows = store.page(connection, where, after=cursor, limit=wanted)
        for found in rows:
            examined += 1
            cursor = found.id
            row = _row(found, rules, today)
            if row.tier == tier:
                items.append(row)
                if len(items) == limit:
                    break
        if len(rows) < wanted and len(items) < limit:
            exhausted = True
            break
    return CadrePage(
        items=tuple(items),
        limit=limit,
        next_after=None if exhausted else cursor,
        examined=examined,
    )


def _case(engine: Engine, row: Any) -> CadreCase:
    return CadreCase(
        id=row.id,
        definition=row.definition,
        definition_version=row.definition_version,
        state=row.state,
        state_label=_label(engine, row.definition, row.definition_version, row.state),
        terminal=row.terminal,
        cycle=row.cycle,
        tier=row.tier,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        taking_part_in=row.taking_part_in,
        claim=row.claim,
    )


def _label(engine: Engine, name: str, version: int | None, state: str | None) -> str:
    """The state's label in its definition; the state's own name if that version or state is
    unknown to this engine (a record must stay readable)."""
    if state is None:
        return ""
    try:
        return engine.catalog.get(name, version).state(state).label
    except (NotFoundError, KeyError):
        return state


def _cycles(
    cases: Sequence[CadreCase],
    unable: Sequence[Mapping[str, Any]],
    visits: Sequence[Mapping[str, Any]],
) -> tuple[CycleLine, ...]:
    visit_cases = {v["case_id"] for v in visits}
    cycles = sorted(
        {c.cycle for c in cases if c.cycle and c.id not in visit_cases}
        | {str(u["cycle"]) for u in unable}
        | {str(v["cycle"]) for v in visits}
    )
    return tuple(
        CycleLine(
            cycle=cycle,
            cases=tuple(c.id for c in cases if c.cycle == cycle and c.id not in visit_cases),
            taking_part=tuple(c.id for c in cases if c.taking_part_in == cycle),
            unable_reported=any(u["cycle"] == cycle for u in unable),
            visit_case=next((v["case_id"] for v in visits if v["cycle"] == cycle), None),
        )
        for cycle in cycles
    )


def _masked(value: Any) -> Any:
    """``value`` with every ID number and telephone in its strings masked, at any depth."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value
