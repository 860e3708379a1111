"""The condolence sweep (A9.3, 第九条): one focused visit per cadre who could not attend.

A cadre "eligible in a cycle but could not attend" is one of two kinds:

* a case of a cycle-keeping definition (``rules.cycles``, i.e. honor_convalescence) filed in the
  cycle ended ``unable_to_attend``, or ``withdrawn`` with ``for_health`` recorded true;
* an officer recorded that the cadre cannot take part in the cycle (`workflow.unable`, an
  ``unable_reports`` row): art. 9 names the cadres whose health rules them out, who may never
  register at all;

and has no case in that cycle that reached ``attended`` or ``evaluated``. For each such
(cadre, cycle) of every cycle that has begun, the sweep inserts a ``visit_keys`` row first
(unique per cadre and cycle) and opens the ``condolence_visit`` case for the cadre's agency in
the same transaction, so a sweep that runs twice, or on two nodes, opens one visit. A cycle that
has already ended is still swept: a cadre reported unable on its last day after that day's
sweep, or reported afterwards for something in it, gets the visit opened late and marked late
(``late`` in the key and the visit's evidence), never silently dropped.

A cadre who attends later in the same cycle has an open visit (``flagged`` or ``assigned``)
moved to ``not_needed``. Each open visit has a task for the agency, due on the cycle's last day;
the visit's own timers remind the agency and escalate to the county until the visit is recorded.

Finding is set-based (grouped queries per cycle, paged by cadre id); only the cadres found get
per-case work, through the engine.

A visit is opened under the condolence-visit definition in force on the day of the sweep
(A21.1): after the last version's ``effective_until`` no visit can be opened until a successor
definition is published; the sweep counts those as refused and logs why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from workflow.definition.model import Definition
from workflow.definition.policy_rules import Cycle
from workflow.engine import Engine
from workflow.errors import WorkflowError
from workflow.scheduler.timers import DEFAULT_CHUNK, SCHEDULER, stored_definitions
from workflow.store.scheduler import (
    ensure_visit_tasks,
    insert_visit_key,
    link_visit,
    source_evidence,
    unneeded_visits,
    visit_candidates,
)
from workflow.store.tasks import close_left_tasks
from workflow.store.unable import report_candidates

log = logging.getLogger(__name__)

VISIT_DEFINITION = "condolence_visit"
HEALTH_CAUSE = "身体健康原因"


@dataclass(frozen=True)
class CondolenceReport:
    opened: int = 0
    not_needed: int = 0
    tasks_created: int = 0
    refused: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def begun_cycles(sources: Sequence[tuple[int, Definition]], today: date) -> list[Cycle]:
    """Every cycle that has begun by ``today``, running or ended (a late report still counts)."""
    return [cycle for cycle in all_cycles(sources).values() if cycle.start <= today]


def all_cycles(sources: Sequence[tuple[int, Definition]]) -> dict[str, Cycle]:
    return {
        cycle.id: cycle
        for _, definition in sources
        if definition.rules is not None
        for cycle in definition.rules.cycles
    }


def sweep_condolence(engine: Engine, *, chunk: int = DEFAULT_CHUNK) -> CondolenceReport:
    """Open missing visits, close unneeded ones, give every open visit its task; idempotent."""
    now = engine.clock.now()
    today = now.date()
    stored = stored_definitions(engine)
    sources = [(i, d) for i, d in stored if d.rules is not None and d.rules.cycles]
    source_ids = [i for i, _ in sources]
    visit_ids = [i for i, d in stored if d.name == VISIT_DEFINITION]
    # cycles of the stored versions and of the catalog: a report needs no case, so the
    # honorary definition may never have been stored
    known = [*sources, *((0, d) for d in engine.catalog if d.rules is not None and d.rules.cycles)]
    opened = refused = 0
    for cycle in begun_cycles(known, today):
        o, r = _open_visits(engine, source_ids, cycle, chunk, late=today > cycle.end)
        opened, refused = opened + o, refused + r
    if opened and not visit_ids:  # the first visit stored the visit definition
        visit_ids = [i for i, d in stored_definitions(engine) if d.name == VISIT_DEFINITION]
    not_needed = 0
    if source_ids and visit_ids:
        n, r = _close_unneeded(engine, source_ids, visit_ids, chunk)
        not_needed, refused = not_needed + n, refused + r
    created = 0
    if visit_ids:
        with engine.transaction(write=True) as connection:
            close_left_tasks(connection, now)
            ends = {cycle.id: cycle.end for cycle in all_cycles(known).values()}
            created = ensure_visit_tasks(connection, visit_ids, ends, now)
    return CondolenceReport(
        opened=opened, not_needed=not_needed, tasks_created=created, refused=refused
    )


def _open_visits(
    engine: Engine, source_ids: Sequence[int], cycle: Cycle, chunk: int, *, late: bool
) -> tuple[int, int]:
    """Visits for the cadres whose case ended unable, then for those an officer reported."""
    opened = refused = 0
    for kind in ("case", "report") if source_ids else ("report",):
        after = ""
        while True:
            with engine.transaction() as connection:
                if kind == "case":
                    page = visit_candidates(connection, source_ids, cycle.id, after, chunk)
                else:
                    page = report_candidates(connection, source_ids, cycle.id, after, chunk)
            for row in page:
                try:
                    if kind == "case":
                        done = open_visit(engine, row.cadre_id, cycle.id, row.source_id, late=late)
                    else:
                        done = open_visit(
                            engine, row.cadre_id, cycle.id, None, report=row, late=late
                        )
                    opened += done
                except WorkflowError as error:
                    refused += 1
                    log.warning(
                        "no condolence visit for %s in %s: %s", row.cadre_id, cycle.id, error
                    )
            if len(page) < chunk:
                break
            after = page[-1].cadre_id
    return opened, refused


def open_visit(
    engine: Engine,
    cadre_id: str,
    cycle: str,
    source_id: int | None,
    *,
    report: Any = None,
    late: bool = False,
) -> bool:
    """The key row, then the visit case, in one transaction; False if the key existed.

    ``source_id`` is the case that ended unable; ``report`` instead an officer's unable report
    (`workflow.store.unable.report_candidates` row). ``late``: the cycle had ended."""
    now = engine.clock.now()
    with engine.transaction(write=True) as connection:
        key = {
            "cadre_id": cadre_id,
            "cycle": cycle,
            "source_case_id": source_id,
            "unable_report_id": report.id if report is not None else None,
            "late": late,
            "created_at": now,
        }
        if not insert_visit_key(connection, key):
            return False
        data: dict[str, Any] = {"cycle": cycle}
        if report is not None:
            cause = report.reason
            data["unable_report_id"] = report.id
            why = (
                f"第九条：{report.reporter_name}（{report.reporter_role}）于登记编号 {report.id}"
                f"报告该同志 {report.occurred_on.isoformat()} 起因{cause}无法参加 {cycle} "
                "周期疗养，列入重点走访慰问"
            )
        else:
            assert source_id is not None
            cause = source_evidence(connection, source_id).get("cause") or HEALTH_CAUSE
            data["source_case_id"] = source_id
            why = f"第九条：案件 {source_id} 未能参加 {cycle} 周期疗养，列入重点走访慰问"
        data["cause"] = cause
        if late:
            data["late"] = True
            why += "（周期已结束，逾期补开）"
        # the visit is filed under the cycle it serves (its definition keeps no cycles), so
        # reports count visits per cycle like every other case
        visit = engine.open_case(
            cadre_id,
            actor=SCHEDULER,
            definition=VISIT_DEFINITION,
            data=data,
            reason=why,
            within=connection,
        )
        link_visit(connection, cadre_id, cycle, visit.id)
    return True


def _close_unneeded(
    engine: Engine, source_ids: Sequence[int], visit_ids: Sequence[int], chunk: int
) -> tuple[int, int]:
    closed = refused = 0
    after = 0
    while True:
        with engine.transaction() as connection:
            page = unneeded_visits(connection, source_ids, visit_ids, after, chunk)
        for row in page:
            try:
                engine.fire(
                    row.id,
                    "no_longer_needed",
                    actor=SCHEDULER,
                    expected_version=row.version,
                    reason=f"军休干部已于 {row.cycle} 周期参加疗养，无需重点走访慰问",
                )
                closed += 1
            except WorkflowError as error:  # moved by an officer meanwhile: next sweep decides
                refused += 1
                log.warning("visit %s not closed: %s", row.id, error)
        if len(page) < chunk:
            return closed, refused
        after = page[-1].id
