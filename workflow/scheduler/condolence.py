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

The sweep reads the rows that create the need, not every case: a case of a cycle-keeping
definition that ended outside the participating states carries a sweep day (``cases.sweep_on``,
written by its last step, `workflow.sweep_on`), and an officer's report waits in
``unable_report_queue`` (written with the report). Each is looked at once: the cadre's visit is
opened if the (cadre, cycle) still needs one, and the row is settled (its day cleared, the report
dequeued) once the visit is opened or found not needed; a refused opening, or a cycle that has
not begun, leaves it for the next sweep. The cases are settled before the reports, so a cadre
with both gets the visit for the case, as when every candidate was read per cycle. Closing
unneeded visits and giving open visits their tasks read the open visits (ix_cases_state_id).

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
    COULD_NOT_ATTEND,
    ended_cases,
    ensure_visit_tasks,
    insert_visit_key,
    link_visit,
    set_sweep_days,
    source_evidence,
    unneeded_visits,
    visit_candidates,
)
from workflow.store.tasks import close_left_tasks
from workflow.store.unable import dequeue_reports, queued_reports, report_candidates

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
    need = _Need(engine, source_ids, all_cycles(known), today)
    need.settle_ended_cases(chunk)
    need.settle_reports(chunk)
    opened, refused = need.opened, need.refused
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


@dataclass
class _Need:
    """The rows that may call for a visit (ended cases, queued reports), settled one by one."""

    engine: Engine
    source_ids: Sequence[int]
    cycles: dict[str, Cycle]
    today: date
    opened: int = 0
    refused: int = 0

    def settle_ended_cases(self, chunk: int) -> None:
        """Each ended case with a sweep day: its cadre's visit if still needed, then no day."""
        after: tuple[date, int] | None = None
        while True:
            with self.engine.transaction() as connection:
                page = ended_cases(connection, after=after, limit=chunk)
            if not page:
                return
            settled = [
                {"id": row.id, "version": row.version, "sweep_on": None}
                for row in page
                if self._case(row)
            ]
            with self.engine.transaction(write=True) as connection:
                set_sweep_days(connection, settled)
            if len(page) < chunk:
                return
            after = (page[-1].sweep_on, page[-1].id)

    def settle_reports(self, chunk: int) -> None:
        """Each queued report: its cadre's visit if still needed, then out of the queue."""
        after = 0
        while True:
            with self.engine.transaction() as connection:
                page = queued_reports(connection, after=after, limit=chunk)
            if not page:
                return
            settled = [row.id for row in page if self._report(row)]
            with self.engine.transaction(write=True) as connection:
                dequeue_reports(connection, settled)
            if len(page) < chunk:
                return
            after = page[-1].id

    def _cycle(self, cycle_id: str | None) -> Cycle | bool | None:
        """The begun cycle; False for one that has not begun (wait for it); None for a cycle
        no definition keeps (nothing to do)."""
        cycle = self.cycles.get(cycle_id) if cycle_id is not None else None
        if cycle is not None and cycle.start > self.today:
            return False
        return cycle

    def _case(self, row: Any) -> bool:
        """True once the case is settled: a visit opened, or none needed for it."""
        if row.definition_id not in self.source_ids or row.state not in COULD_NOT_ATTEND:
            return True
        cycle = self._cycle(row.cycle)
        if not isinstance(cycle, Cycle):
            return cycle is None
        with self.engine.transaction() as connection:
            found = visit_candidates(
                connection, self.source_ids, cycle.id, "", 1, cadre_id=row.cadre_id
            )
        if not found:  # keyed, took part, or withdrew for another reason
            return True
        return self._open(row.cadre_id, cycle, found[0].source_id, None)

    def _report(self, row: Any) -> bool:
        """True once the report is settled: a visit opened, or none needed for it."""
        cycle = self._cycle(row.cycle)
        if not isinstance(cycle, Cycle):
            return cycle is None
        with self.engine.transaction() as connection:
            found = report_candidates(
                connection, self.source_ids or [-1], cycle.id, "", 1, cadre_id=row.cadre_id
            )
        if not found:  # keyed (a case's visit, or this report's) or took part after all
            return True
        return self._open(row.cadre_id, cycle, None, found[0])

    def _open(self, cadre_id: str, cycle: Cycle, source_id: int | None, report: Any) -> bool:
        try:
            self.opened += open_visit(
                self.engine,
                cadre_id,
                cycle.id,
                source_id,
                report=report,
                late=self.today > cycle.end,
            )
        except WorkflowError as error:  # e.g. no visit definition in force (A21.1): next sweep
            self.refused += 1
            log.warning("no condolence visit for %s in %s: %s", cadre_id, cycle.id, error)
            return False
        return True


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
