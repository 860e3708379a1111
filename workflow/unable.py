"""Recording that a cadre cannot take part in a cycle (A9.3, 第九条 因身体健康等原因无法参加).

Art. 9 names every cadre who qualifies but cannot go, not only those whose case ended
``unable_to_attend``: a cadre whose health rules him out (art. 8) may never register at all.
An agency or county officer records it here, with the reason, for one cycle; the condolence
sweep (`workflow.scheduler.condolence`) then opens the visit from the report. The report is
append-only (who, when, why; revision 0009) and its visit's opening history row cites it.

Who may record: the roles that record the visit itself in the condolence-visit definition in
force (``record_visit``), within the scope that definition gives them (A5.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from workflow.access import CaseScope
from workflow.audit.chain import GENESIS, chained_hash
from workflow.clock import shanghai_date
from workflow.definition.model import Definition
from workflow.definition.policy_rules import Cycle, PolicyRules
from workflow.eligibility import NO_TIER, highest_tier
from workflow.engine import DEFAULT_DEFINITION, Engine
from workflow.errors import InputError, NotFoundError, Refusal, RuleRefused
from workflow.i18n import _
from workflow.machine import Actor
from workflow.reader import check_scope
from workflow.store import unable as store

VISIT_DEFINITION = "condolence_visit"
RECORDING_STEP = "record_visit"  # whoever records the visit may record that it is needed
REPORT_FIELDS = (
    "cadre_id",
    "cycle",
    "occurred_on",
    "reason",
    "reporter_role",
    "reporter_name",
    "reported_at",
)


@dataclass(frozen=True)
class UnableReport:
    id: int
    cadre_id: str
    cycle: str
    occurred_on: date
    reason: str
    reporter_role: str
    reporter_name: str
    reported_at: datetime
    hash: str

    @classmethod
    def of(cls, row: Any) -> UnableReport:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cadre_id": self.cadre_id,
            "cycle": self.cycle,
            "occurred_on": self.occurred_on.isoformat(),
            "reason": self.reason,
            "reporter_role": self.reporter_role,
            "reporter_name": self.reporter_name,
            "reported_at": self.reported_at.isoformat(),
            "hash": self.hash,
        }


def _definitions(engine: Engine, today: date) -> tuple[Definition, Definition]:
    """The visit definition and the honorary definition whose cycles and tiers apply today
    (else the latest: a report for a past cycle may be entered after the policy ended)."""
    catalog = engine.catalog
    visit = catalog.in_force(VISIT_DEFINITION, today) or catalog.get(VISIT_DEFINITION)
    honor = catalog.in_force(DEFAULT_DEFINITION, today) or catalog.get(DEFAULT_DEFINITION)
    return visit, honor


def known_cycles(engine: Engine) -> dict[str, Cycle]:
    """Every cycle any loaded honorary definition declares (A9.1)."""
    return {
        cycle.id: cycle
        for definition in engine.catalog
        if definition.rules is not None
        for cycle in definition.rules.cycles
    }


def check_report(
    *,
    rules: PolicyRules | None,
    cycles: dict[str, Cycle],
    cycle: str,
    occurred_on: date,
    today: date,
    cadre: dict[str, Any],
    reason: str,
) -> None:
    """Pure: the report names a known cycle the day lies in, a day not in the future, a
    reason, and a cadre art. 4 makes eligible (art. 9 names those who qualify)."""
    if not reason.strip():
        raise InputError(_("须写明无法参加的原因（第九条）"), field="reason")
    found = cycles.get(cycle)
    if found is None:
        options = _("、").join(cycles) or _("无")
        raise InputError(
            _("周期“{cycle}”不在政策规定的周期中（{options}）").format(
                cycle=cycle, options=options
            ),
            field="cycle",
        )
    if occurred_on > today:
        raise InputError(
            _("发生日期 {day} 晚于今天 {today}").format(day=occurred_on, today=today),
            field="on",
        )
    if not found.contains(occurred_on):
        raise RuleRefused(
            [
                Refusal(
                    "A9.1",
                    "unable_in_cycle",
                    _("{day} 不在周期 {cycle}（{start} 至 {end}）内").format(
                        day=occurred_on, cycle=cycle, start=found.start, end=found.end
                    ),
                )
            ]
        )
    if rules is None:
        return
    tier, _reasons = highest_tier(cadre, rules)
    if tier == NO_TIER:
        raise RuleRefused(
            [
                Refusal(
                    "A9.3",
                    "unable_needs_eligibility",
                    _(
                        "{name}不符合第四条荣誉疗养条件，不属于第九条“因身体健康等原因无法参加”"
                        "的重点走访慰问对象"
                    ).format(name=cadre.get("name", "")),
                )
            ]
        )


def record_unable(
    engine: Engine,
    cadre_id: str,
    *,
    cycle: str,
    reason: str,
    actor: Actor,
    occurred_on: date | None = None,
) -> UnableReport:
    """Record that ``cadre_id`` cannot take part in ``cycle`` (A9.3); one report per cadre and
    cycle, a second is an `InputError` naming the first. Refusals cite their article."""
    now = engine.clock.now()
    today = shanghai_date(now)
    day = occurred_on or today
    visit, honor = _definitions(engine, today)
    allowed = next((t.roles for t in visit.transitions if t.trigger == RECORDING_STEP), ())
    with engine.transaction(write=True) as connection:
        filing = store.cadre_filing(connection, cadre_id)
        if filing is None:
            raise NotFoundError(_("军休干部"), cadre_id)
        if actor.role in visit.roles:  # an unknown role is refused below, naming the roles
            check_scope(
                visit, actor, CaseScope(filing.county, filing.agency, cadre_id), "report_unable"
            )
        if actor.role not in allowed:
            names = _("、").join(visit.roles.get(r, r) for r in allowed)
            raise RuleRefused(
                [
                    Refusal(
                        "A5.2",
                        "permission",
                        _("只有{names}可以登记无法参加疗养（缺少权限 report_unable）").format(
                            names=names
                        ),
                    )
                ]
            )
        check_report(
            rules=honor.rules,
            cycles=known_cycles(engine),
            cycle=cycle,
            occurred_on=day,
            today=today,
            cadre=dict(filing.record),
            reason=reason,
        )
        values: dict[str, Any] = {
            "cadre_id": cadre_id,
            "cycle": cycle,
            "occurred_on": day,
            "reason": reason.strip(),
            "reporter_role": actor.role,
            "reporter_name": actor.name,
            "reported_at": now,
        }
        values["hash"] = chained_hash(GENESIS, values, REPORT_FIELDS)
        key = store.insert_report(connection, values)
        if key is None:
            first = store.report_for(connection, cadre_id, cycle)
            raise InputError(
                _("{cadre} 在周期 {cycle} 已登记无法参加（{who}，{at}）").format(
                    cadre=cadre_id,
                    cycle=cycle,
                    who=first.reporter_name if first else "",
                    at=first.reported_at.date() if first else "",
                ),
                field="cycle",
            )
        row = store.report(connection, key)
    return UnableReport.of(row)


def list_unable(
    engine: Engine,
    *,
    viewer: Actor | None = None,
    cadre_id: str | None = None,
    cycle: str | None = None,
) -> list[dict[str, Any]]:
    """Reports with their visit case (if opened); a county or agency officer sees its own."""
    county = viewer.scope if viewer and viewer.role == "county_officer" else None
    agency = viewer.scope if viewer and viewer.role == "agency_officer" else None
    with engine.transaction() as connection:
        rows = store.reports(
            connection, cadre_id=cadre_id, cycle=cycle, county=county, agency=agency
        )
    result = []
    for row in rows:
        item = UnableReport.of(row).to_json()
        item.update(
            name=row.name,
            county=row.county,
            agency=row.agency,
            visit_case_id=row.visit_case_id,
            visit_late=row.visit_late,
        )
        result.append(item)
    return result
