"""The condolence-visit list (A9.3): every visit task of a cycle with its due date, who visited
and when, and whether that was on time; or only the overdue ones, for the agency to act on.

A visit is due by the last day of its cycle (A9.1, ``rules.cycles`` of the honorary policy),
since art. 9 asks for the visit within the cycle the cadre could not attend. The overdue filter
runs in SQL (`workflow.store.reports.visit_rows`) so a list of the few late visits does not
read every visit first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from workflow.clock import shanghai_date
from workflow.engine import Engine
from workflow.errors import InputError
from workflow.i18n import _
from workflow.reports import _sources as src
from workflow.reports._model import VisitEntry, VisitList
from workflow.store import reports as store


def visit_list(engine: Engine, *, cycle: str | None = None, overdue: bool = False) -> VisitList:
    """Visit tasks, by due date then county; ``cycle`` must be a cycle of the policy (A9.1)."""
    ends = src.cycle_ends(engine.catalog)
    if cycle is not None and cycle not in ends:
        known = _("、").join(sorted(ends)) or _("无")
        raise InputError(
            _("--cycle {cycle!r} 不是政策规定的疗养周期（已有：{known}）").format(
                cycle=cycle, known=known
            ),
            field="cycle",
        )
    labels = src.state_labels(engine.catalog, src.VISIT)
    now = engine.clock.now()
    today = shanghai_date(now)
    engine.ensure_schema()
    rows = store.visit_rows(
        engine.db, cycle_ends=ends, cycle=cycle, overdue_on=today if overdue else None
    )
    return VisitList(
        cycle=cycle,
        overdue_only=overdue,
        as_of=today,
        generated_at=now,
        policy=src.policy_source(engine.catalog),
        entries=tuple(_entry(row, ends, labels) for row in rows),
    )


def _entry(row: Mapping[str, Any], ends: dict[str, date], labels: dict[str, str]) -> VisitEntry:
    return VisitEntry(
        case_id=row["id"],
        cadre_id=row["cadre_id"],
        name=row["name"],
        county=row["county"],
        agency=row["agency"],
        state=row["state"],
        state_label=labels.get(row["state"], row["state"]),
        cycle=row["cycle"],
        due_on=ends.get(row["cycle"]) if row["cycle"] is not None else None,
        visited_by=row["visited_by"],
        visited_on=date.fromisoformat(row["visited_on"]) if row["visited_on"] else None,
    )
