"""``policy what-if``: run the roster and the open cases through the version in force and a
draft, in one read transaction, and return a `WhatIfReport`. Nothing is written.

The draft is checked exactly as ``definitions validate`` checks a file (schema, graph, notices);
a draft with problems is a `DefinitionError` listing every one with file:line:col (exit 2). The
version compared against is the one in force on the day among the bundled files and the
versions stored in the database (those an office published, a version cut short ending on its
``ends_early_on``), else the latest of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow.clock import shanghai_date
from workflow.definition.model import Definition
from workflow.errors import NotFoundError
from workflow.rules import RULES
from workflow.rules.binding import PLANS
from workflow.store import plan_facts
from workflow.store import whatif as store
from workflow.whatif.cases import CaseFacts, outcome
from workflow.whatif.model import CaseOutcome, CaseRuleRow, VersionInfo, WhatIfReport
from workflow.whatif.roster import RosterComparison

if TYPE_CHECKING:
    from workflow.engine import Engine
    from workflow.store.database import Connection

# the loader reads the draft with the shipped notices' check, imported when a draft is read
# (as `Engine` does): importing this module loads no notifications


def load_draft_file(path: Path) -> Definition:
    """The draft in ``path``, checked in full every time (never from the validation cache)."""
    from notifications.shipped import ShippedTemplates  # noqa: PLC0415
    from workflow.definition.loader import load_definition_file  # noqa: PLC0415

    return load_definition_file(path, templates=ShippedTemplates(), trust_cache=False)


def load_draft_text(text: str, source_name: str) -> Definition:
    """The draft sent as text (the API's request body), checked as a file is."""
    from notifications.shipped import ShippedTemplates  # noqa: PLC0415
    from workflow.definition.loader import load_definition_text  # noqa: PLC0415

    return load_definition_text(text, source_name, templates=ShippedTemplates(), trust_cache=False)


@dataclass(frozen=True)
class _Candidate:
    definition: Definition
    ends_early_on: date | None = None

    def in_force(self, on: date) -> bool:
        cut = self.ends_early_on
        return self.definition.policy.in_force_on(on) and (cut is None or on <= cut)


def _stored_definition(row: store.StoredVersion) -> Definition:
    from workflow.definition.loader import load_definition_text  # noqa: PLC0415

    return load_definition_text(row.source_text, row.source_name)


def current_version(
    engine: Engine, connection: Connection, name: str, on: date
) -> tuple[Definition, bool]:
    """The version of ``name`` in force on ``on`` (bundled or stored), else the latest; with
    whether it is in force that day."""
    candidates: dict[int, _Candidate] = {}
    if name in engine.catalog.names():
        candidates = {d.version: _Candidate(d) for d in engine.catalog.versions(name)}
    for row in store.stored_versions(connection, name):
        known = candidates.get(row.version)
        # a stored version the files lack is one an office published; the files' own text
        # of a version is the one stored (the registry refuses a changed text under a number)
        definition = known.definition if known is not None else _stored_definition(row)
        candidates[row.version] = _Candidate(definition, row.ends_early_on)
    if not candidates:
        raise NotFoundError("工作流定义", name)
    ordered = [candidates[v] for v in sorted(candidates)]
    chosen = next((c for c in ordered if c.in_force(on)), None)
    if chosen is not None:
        return chosen.definition, True
    return ordered[-1].definition, False


def _info(definition: Definition, in_force: bool) -> VersionInfo:
    return VersionInfo(
        name=definition.name,
        version=definition.version,
        title=definition.policy.title,
        document=definition.policy.document,
        source=Path(definition.source_name).name,
        effective_from=definition.policy.effective_from,
        effective_until=definition.policy.effective_until,
        in_force=in_force,
    )


def what_if(engine: Engine, draft: Definition, *, on: date | None = None) -> WhatIfReport:
    """The roster and the open cases of ``draft``'s workflow under the current version and
    the draft, on ``on`` (default: the engine clock's day in Asia/Shanghai)."""
    now = engine.clock.now()
    day = on or shanghai_date(now)
    engine.ensure_schema()
    with engine.transaction() as connection:
        current, in_force = current_version(engine, connection, draft.name, day)
        comparison = RosterComparison(current, draft, day)
        open_rows = store.open_cases(connection, draft.name)
        wanted = {row.cadre_id for row in open_rows}
        records: dict[str, store.RosterRow] = {}
        for partition in store.roster(connection):
            for cadre in partition:
                comparison.add(cadre.cadre_id, cadre.name, cadre.county, cadre.agency, cadre.record)
                if cadre.cadre_id in wanted:
                    records[cadre.cadre_id] = cadre
        outcomes, unjudged = _case_outcomes(connection, draft, open_rows, records, day)
    draft_in_force = draft.policy.in_force_on(day)
    return WhatIfReport(
        on=day,
        generated_at=now,
        current=_info(current, in_force),
        draft=_info(draft, draft_in_force),
        roster=comparison.count,
        tiers=comparison.tiers(),
        tier_moves=comparison.tier_moves(),
        eligibility=comparison.eligibility(),
        articles=comparison.articles(),
        changes=tuple(comparison.changes),
        open_cases=len(open_rows),
        cases=tuple(o for o in outcomes if o.refused),
        case_rules=_case_rules(outcomes),
        unjudged_cases=unjudged,
    )


def _case_outcomes(
    connection: Connection,
    draft: Definition,
    open_rows: list[store.OpenCaseRow],
    records: dict[str, store.RosterRow],
    day: date,
) -> tuple[list[CaseOutcome], int]:
    if not open_rows:
        return [], 0
    from workflow.definition.loader import load_definition_text  # noqa: PLC0415

    texts = store.definition_texts(connection, {row.definition_id for row in open_rows})
    own = {key: load_definition_text(text, name) for key, (text, name) in texts.items()}
    context = read_case_context(connection, draft.name, draft, day)
    outcomes = []
    for row in open_rows:
        cadre = records.get(row.cadre_id)
        definition = own[row.definition_id]
        facts = case_facts(
            row,
            context,
            cadre_name=cadre.name if cadre else "",
            record=cadre.record if cadre else {},
            version=definition.version,
            cycle=row.cycle,
        )
        outcomes.append(outcome(draft, definition, facts, on=day, plans=context.plans))
    return outcomes, sum(1 for o in outcomes if o.unjudged)


@dataclass(frozen=True)
class CaseContext:
    """What the open cases' next steps read besides each case (one statement each): the
    exceptions granted, every cadre's cases per cycle (A9.2) and, when a guard needs them, the
    day's annual plans (A3.2). `cases migrate` reads the same (`workflow.carry_over`)."""

    granted: dict[int, frozenset[str]]
    by_cycle: dict[tuple[str, str], list[tuple[int, str]]]
    plans: list[dict[str, Any]] | None


def read_case_context(
    connection: Connection, name: str, judged_by: Definition, day: date
) -> CaseContext:
    """The `CaseContext` of the open cases of the workflow ``name``, for ``judged_by``'s
    guards on ``day``."""
    by_cycle: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for other in store.cycle_cases(connection, name):
        by_cycle.setdefault((other.cadre_id, other.cycle), []).append((other.id, other.state))
    needs_plans = any(PLANS in _needs(spec.guards) for spec in judged_by.transitions)
    return CaseContext(
        granted=store.granted_exceptions(connection, name),
        by_cycle=by_cycle,
        plans=plan_facts.annual_plans(connection, day.year) if needs_plans else None,
    )


def case_facts(
    row: store.OpenCaseRow,
    context: CaseContext,
    *,
    cadre_name: str,
    record: Mapping[str, Any],
    version: int,
    cycle: str | None,
) -> CaseFacts:
    """One open case as its next steps' guards read it, filed under ``cycle`` (its own, or
    the successor's cycle it would move into)."""
    return CaseFacts(
        case_id=row.id,
        cadre_id=row.cadre_id,
        cadre_name=cadre_name,
        county=row.county,
        agency=row.agency,
        version=version,
        state=row.state,
        evidence=row.evidence,
        cycle=cycle,
        cadre=record,
        granted=context.granted.get(row.id, frozenset()),
        seat_batch_started_at=row.seat_batch_started_at,
        cycle_cases=tuple(
            (case_id, state)
            for case_id, state in context.by_cycle.get((row.cadre_id, cycle or ""), [])
            if case_id != row.id
        ),
    )


def _needs(guards: tuple[str, ...]) -> set[str]:
    return {need for name in guards for need in RULES[name].needs}


def _case_rules(outcomes: list[CaseOutcome]) -> tuple[CaseRuleRow, ...]:
    refused: Counter[tuple[str, str, str]] = Counter()
    new: Counter[tuple[str, str, str]] = Counter()
    unjudged: Counter[tuple[str, str, str]] = Counter()
    needs: dict[tuple[str, str, str], set[str]] = {}
    for case in outcomes:
        for step in case.steps:
            for guard in step.guards:
                key = (step.trigger, guard.rule, guard.article)
                if guard.outcome == "refused":
                    refused[key] += 1
                    new[key] += guard.new
                elif guard.outcome == "unjudged":
                    unjudged[key] += 1
                    needs.setdefault(key, set()).update(guard.needs)
    keys = sorted(set(refused) | set(unjudged), key=lambda k: (-refused[k], k))
    return tuple(
        CaseRuleRow(
            trigger=trigger,
            rule=rule,
            article=article,
            refused=refused[(trigger, rule, article)],
            new=new[(trigger, rule, article)],
            unjudged=unjudged[(trigger, rule, article)],
            needs=tuple(sorted(needs.get((trigger, rule, article), ()))),
        )
        for trigger, rule, article in keys
    )
