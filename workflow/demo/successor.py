"""After the 2024–2025 cycle: the policy changes, as an office lives it (A21.1, issue 13).

The 2023 rules ended on 2025-12-31 while a few late registrations were still open. On today's
real date the demo's city officer drafts a successor from the current version (a clearly
labelled sample: the same rules, a new document number, the two-year cycles up to today),
looks at its what-if, publishes it, carries the open cases over, closes the old cycle (its
archive folder beside the database) and runs a few cases under the new version: the steps a
real office would take, through the same services the commands use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from notifications.shipped import ShippedTemplates
from workflow import carry_over, publishing
from workflow.carry_over import CarryOverReport
from workflow.clock import SHANGHAI, SimulatedClock, SystemClock, shanghai_date
from workflow.definition.draft import SuccessorTerms, draft_successor
from workflow.demo.roster import COUNTIES
from workflow.engine import Engine
from workflow.errors import RuleRefused
from workflow.i18n import _
from workflow.machine import Actor
from workflow.plans import service
from workflow.publishing import Published

NAME = "honor_convalescence"
VISITS = "condolence_visit"  # the A9.3 visits' definition expired with the same document
OLD_CYCLE = "2024-2025"
SUCCESSOR_FROM = date(2026, 1, 1)
CITY = Actor("city_officer", "钱处长")
NEW_CASES = 3  # registrations under the new version, to show it runs


@dataclass
class SuccessorSummary:
    """What the policy change came to, for the demo's closing lines."""

    today: date
    draft_file: Path
    published: Published
    roster: int = 0  # cadres the what-if ran through both versions
    gained: int = 0  # cadres eligible only under the draft
    lost: int = 0  # cadres eligible only under the current version
    refused_cases: int = 0  # open cases the draft would stop at their next step
    carried: CarryOverReport | None = None
    closed_folder: Path | None = None
    still_open: list[str] = field(default_factory=list)  # why the old cycle stayed open
    new_cases: list[tuple[int, str]] = field(default_factory=list)  # (case id, state)
    refusals: list[str] = field(default_factory=list)  # refusals met on the way (article rule)
    visits_version: int | None = None  # the condolence visits' successor, published alongside


def change_policy(engine: Engine, clock: SimulatedClock, directory: Path) -> SuccessorSummary:
    """The steps of the module docstring, on today's real date (Asia/Shanghai)."""
    today = max(shanghai_date(SystemClock().now()), shanghai_date(clock.now()))
    clock.set(datetime.combine(today, time(9), SHANGHAI))
    current = engine.catalog.get(NAME)
    terms = SuccessorTerms(
        version=current.version + 1,
        document=_("聊退役军人发〔2026〕1号（演示样例）"),
        effective_from=SUCCESSOR_FROM,
        effective_until=_last_day_of_cycles_to(today),
    )
    draft_file = directory / f"{NAME}-v{terms.version}.yaml"
    draft = draft_successor(
        current, terms, today=today, source_name=str(draft_file), templates=ShippedTemplates()
    )
    draft_file.write_text(draft.text, encoding="utf-8")

    from workflow.whatif.service import what_if  # noqa: PLC0415 (the what-if when it runs)

    foreseen = what_if(engine, draft.definition, on=today)
    published = publishing.publish(engine, draft.text, str(draft_file), actor=CITY)
    summary = SuccessorSummary(
        today=today,
        draft_file=draft_file,
        published=published,
        roster=foreseen.roster,
        gained=sum(1 for c in foreseen.changes if c.eligible_after and not c.eligible_before),
        lost=sum(1 for c in foreseen.changes if c.eligible_before and not c.eligible_after),
        refused_cases=foreseen.refused_cases,
    )
    summary.visits_version = _publish_visits_successor(engine, terms, today, directory)
    summary.carried = carry_over.carry_over(
        engine,
        f"{NAME}@{published.version}",
        actor=CITY,
        reason=_("新细则施行，在办案件按新细则续办"),
    )
    _close_old_cycle(engine, directory, summary)
    _run_new_cases(engine, today, summary)
    return summary


def _publish_visits_successor(
    engine: Engine, terms: SuccessorTerms, today: date, directory: Path
) -> int:
    """The condolence visits (A9.3) follow the same document: without a version in force no
    visit for a cadre reported unable after 2025 could open (A21.1)."""
    current = engine.catalog.get(VISITS)
    visits_terms = SuccessorTerms(
        version=current.version + 1,
        document=terms.document,
        effective_from=terms.effective_from,
        effective_until=terms.effective_until,
    )
    draft_file = directory / f"{VISITS}-v{visits_terms.version}.yaml"
    draft = draft_successor(
        current,
        visits_terms,
        today=today,
        source_name=str(draft_file),
        templates=ShippedTemplates(),
    )
    draft_file.write_text(draft.text, encoding="utf-8")
    return publishing.publish(engine, draft.text, str(draft_file), actor=CITY).version


def _last_day_of_cycles_to(today: date) -> date:
    """The end of the two-year cycle (A9.1) holding ``today``, counted from 2026."""
    start = SUCCESSOR_FROM.year
    while date(start + 1, 12, 31) < today:
        start += 2
    return date(start + 1, 12, 31)


def _close_old_cycle(engine: Engine, directory: Path, summary: SuccessorSummary) -> None:
    from workflow import cycles  # noqa: PLC0415

    try:
        closed = cycles.close_cycle(
            engine, OLD_CYCLE, actor=CITY, out=directory / f"cycle-{OLD_CYCLE}"
        )
    except RuleRefused as refused:  # something of the cycle is still open: say what
        summary.still_open = [r.message for r in refused.refusals]
        return
    summary.closed_folder = closed.folder


def _run_new_cases(engine: Engine, today: date, summary: SuccessorSummary) -> None:
    """The year's annual plans (A3.2), a few new registrations with the family's consent, and
    the consent of the carried-over registrations: all under the new version."""
    rules = engine.catalog.get(NAME).rules
    cycle = rules.cycle_on(today) if rules is not None else None
    if cycle is None:
        return
    have = {
        (p["organiser_level"], p["county"]) for p in service.list_plans(engine, year=today.year)
    }
    for level, county in [("city", None), *(("county", c) for c in COUNTIES)]:
        if (level, county) not in have:
            service.create_plan(
                engine,
                year=today.year,
                organiser_level=level,
                county=county,
                budget=Decimal("240000.00") if county else Decimal("2600000.00"),
                cycle=cycle.id,
            )
    opened: list[int] = []
    for record in _candidates(engine):
        if len(opened) == NEW_CASES:
            break
        try:
            case = engine.open_case(
                record["id"],
                actor=f"cadre:{record['name']}@{record['id']}",
                data={"plan_level": "county"},
            )
        except RuleRefused as refused:
            summary.refusals += [f"{r.article} {r.rule}" for r in refused.refusals]
            continue
        opened.append(case.id)
    carried = [
        m.case_id
        for m in (summary.carried.moves if summary.carried else ())
        if m.outcome == "moved"
    ]
    for case_id in [*carried, *opened]:
        view = engine.case(case_id)
        if view.state == "registered":
            cadre = engine.cadre(view.cadre_id)
            family = cadre.get("family_contact") or {"name": "家属", "relation": "子女"}
            try:
                view = engine.fire(
                    case_id,
                    "consent",
                    actor=f"family:{family['name']}@{view.cadre_id}",
                    data={"family_member": family["name"], "relation": family["relation"]},
                )
            except RuleRefused as refused:
                summary.refusals += [f"{r.article} {r.rule}" for r in refused.refusals]
        summary.new_cases.append((case_id, view.state))


def _candidates(engine: Engine) -> list[dict[str, Any]]:
    """Cadres of the county tier or above with no case open, in roster order."""
    from workflow.eligibility import NO_TIER, highest_tier  # noqa: PLC0415

    rules = engine.catalog.get(NAME).rules
    assert rules is not None
    busy = {c.cadre_id for c in engine.cases(open_only=True, limit=100_000)}
    found = []
    for row in engine.cases(limit=100_000):
        if row.cadre_id in busy:
            continue
        busy.add(row.cadre_id)
        record = engine.cadre(row.cadre_id)
        if highest_tier(record, rules)[0] != NO_TIER:
            found.append(record)
        if len(found) >= NEW_CASES * 3:
            break
    return found
