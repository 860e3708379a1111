"""The timer sweep: the deadlines declared on states (``timers:`` in a definition) come due.

A timer counts from the moment the case entered its current state. That moment is not a column:
it is the ``at`` of the case's latest history row that moved *into* the state (``to_state`` is
the state and ``from_state`` differs — a granted exception writes a row that keeps the state and
does not restart the clock). Its ``seq`` identifies the stay, so a case that comes back to a
state gets fresh timers.

Finding due cases is set-based. Deadlines only grow with the entry date, so for each timer the
sweep computes, once, the latest entry date whose deadline has come (`latest_due_entry`, a few
calendar look-ups), and the database does the rest in one query per timer: cases in the state,
entered before that date's end, with no ``timer_marks`` row for that stay and timer. It pages by
case id in chunks of ``chunk`` rows, so memory stays flat however many cases there are.

Each chunk is one transaction: the marks go in first (``ON CONFLICT DO NOTHING … RETURNING``),
and only the cases whose mark this run inserted get their task and outbox row, so a sweep that
runs twice, or on two nodes at once, reminds nobody twice. A ``fire`` timer moves its case
through the engine in the transaction of its mark; a refusal rolls both back and the next sweep
tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.calendar import WorkingCalendar, default_calendar
from workflow.clock import SHANGHAI, shanghai_date
from workflow.definition.model import Definition, StateSpec, TimerSpec
from workflow.engine import Engine
from workflow.errors import WorkflowError
from workflow.machine import Actor
from workflow.notify import notice_row
from workflow.store.schema import cadres, cases, definitions, history, outbox, timer_marks
from workflow.tasks import close_left_tasks, insert_tasks

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 1000
# The scheduler acts as a system role that every definition it moves declares (unscoped).
SCHEDULER = Actor("scheduler", "定时任务")
ACTION_LABELS = {"remind": "提醒", "escalate": "督办", "fire": "到期自动办理"}


@dataclass(frozen=True)
class TimerReport:
    reminded: int = 0
    escalated: int = 0
    fired: int = 0
    refused: int = 0
    tasks_closed: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def stored_definitions(engine: Engine) -> list[tuple[int, Definition]]:
    """Every definition version cases were opened under, with its stored id."""
    with engine.transaction() as connection:
        rows = connection.execute(
            sa.select(definitions.c.id, definitions.c.name, definitions.c.version)
        ).all()
    found = []
    for row in rows:
        try:
            found.append((row.id, engine.catalog.get(row.name, row.version)))
        except WorkflowError:
            log.warning("definition %s v%s is stored but no longer on disk", row.name, row.version)
    return found


def latest_due_entry(
    calendar: WorkingCalendar, timer: TimerSpec, today: date, *, lookback: int = 400
) -> date | None:
    """The latest date a case may have entered the state on for ``timer`` to be due today.

    ``calendar.add`` never decreases as the entry date grows, so every earlier entry is due too.
    Past the holiday data's end ``add`` raises `CalendarDataError`: never a guess.
    """
    day = today - timedelta(days=timer.after)
    for _ in range(lookback):
        if calendar.add(day, timer.after, timer.unit) <= today:
            return day
        day -= timedelta(days=1)
    return None


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI)


def state_article(definition: Definition, state: str) -> str | None:
    """The article a state's deadlines enforce: that of the step that leads into it."""
    for transition in definition.transitions:
        if transition.dest == state and transition.article:
            return transition.article
    return definition.open.article


def entry_seq(case_table: sa.Table = cases) -> sa.ScalarSelect[Any]:
    """The seq of the history row that moved the case into its current state."""
    entry = history.alias("entry")
    return (
        sa.select(sa.func.max(entry.c.seq))
        .where(
            entry.c.case_id == case_table.c.id,
            entry.c.to_state == case_table.c.state,
            sa.or_(entry.c.from_state.is_(None), entry.c.from_state != entry.c.to_state),
        )
        .correlate(case_table)
        .scalar_subquery()
    )


def due_cases(
    connection: sa.Connection,
    *,
    definition_id: int,
    state: str,
    timer_index: int,
    entered_before: datetime,
    after_id: int,
    limit: int,
) -> Sequence[Any]:
    """One page of cases whose timer is due and not yet marked, in case id order."""
    mark = (
        sa.select(timer_marks.c.id)
        .where(
            timer_marks.c.case_id == cases.c.id,
            timer_marks.c.entry_seq == history.c.seq,
            timer_marks.c.timer_index == timer_index,
        )
        .exists()
    )
    query = (
        sa.select(
            cases.c.id,
            cases.c.version,
            cases.c.cadre_id,
            cases.c.county,
            cases.c.agency,
            cases.c.state,
            cases.c.cycle,
            cases.c.tier,
            cases.c.evidence,
            history.c.seq.label("entry_seq"),
            history.c.at.label("entered_at"),
            cadres.c.record,
        )
        .select_from(cases)
        .join(history, sa.and_(history.c.case_id == cases.c.id, history.c.seq == entry_seq()))
        .join(cadres, cadres.c.id == cases.c.cadre_id)
        .where(
            cases.c.definition_id == definition_id,
            cases.c.state == state,
            cases.c.terminal.is_(False),
            cases.c.id > after_id,
            history.c.at < entered_before,
            ~mark,
        )
        .order_by(cases.c.id)
        .limit(limit)
    )
    return connection.execute(query).all()


def sweep_timers(
    engine: Engine, *, calendar: WorkingCalendar | None = None, chunk: int = DEFAULT_CHUNK
) -> TimerReport:
    """Run every timer that is due at the engine clock's moment, exactly once."""
    now = engine.clock.now()
    today = shanghai_date(now)
    calendar = calendar or default_calendar()
    with engine.transaction(write=True) as connection:
        closed = close_left_tasks(connection, now)
    totals = {"remind": 0, "escalate": 0, "fire": 0, "refused": 0}
    for definition_id, definition in stored_definitions(engine):
        for state in definition.states:
            for index, timer in enumerate(state.timers):
                run = _TimerRun(
                    engine, definition_id, definition, state, index, timer, now, calendar
                )
                for action, count in run.run(today, chunk):
                    totals[action] += count
    return TimerReport(
        reminded=totals["remind"],
        escalated=totals["escalate"],
        fired=totals["fire"],
        refused=totals["refused"],
        tasks_closed=closed,
    )


@dataclass
class _TimerRun:
    """One timer of one state of one stored definition, as of one sweep."""

    engine: Engine
    definition_id: int
    definition: Definition
    state: StateSpec
    index: int
    timer: TimerSpec
    now: datetime
    calendar: WorkingCalendar
    deadlines: dict[date, date] = field(default_factory=dict)  # entry date -> deadline

    def run(self, today: date, chunk: int) -> Iterator[tuple[str, int]]:
        cutoff = latest_due_entry(self.calendar, self.timer, today)
        if cutoff is None:
            return
        bound = start_of(cutoff + timedelta(days=1))
        after_id = 0
        while True:
            with self.engine.transaction() as connection:
                page = due_cases(
                    connection,
                    definition_id=self.definition_id,
                    state=self.state.name,
                    timer_index=self.index,
                    entered_before=bound,
                    after_id=after_id,
                    limit=chunk,
                )
            if not page:
                return
            after_id = page[-1].id
            if self.timer.action == "fire":
                done, refused = self.fire(page)
                yield "fire", done
                yield "refused", refused
            else:
                yield self.timer.action, self.notify(page)
            if len(page) < chunk:
                return

    def deadline(self, entered_at: datetime) -> date:
        entered = shanghai_date(entered_at)
        if entered not in self.deadlines:
            self.deadlines[entered] = self.calendar.add(entered, self.timer.after, self.timer.unit)
        return self.deadlines[entered]

    def mark(self, row: Any) -> dict[str, Any]:
        return {
            "case_id": row.id,
            "entry_seq": row.entry_seq,
            "timer_index": self.index,
            "state": row.state,
            "action": self.timer.action,
            "due_on": self.deadline(row.entered_at),
            "fired_at": self.now,
        }

    def notify(self, page: Sequence[Any]) -> int:
        """Marks, then one task and (with a template) one outbox row per newly marked case."""
        timer = self.timer
        later = [
            t.after for t in self.state.timers if t.after > timer.after and t.unit == timer.unit
        ]
        with self.engine.transaction(write=True) as connection:
            new = _insert_marks(connection, [self.mark(r) for r in page])
            rows = [r for r in page if r.id in new]
            task_rows, notices = [], []
            for row in rows:
                # the task is due when the next deadline of the stay would escalate it
                task_due = (
                    self.calendar.add(shanghai_date(row.entered_at), min(later), timer.unit)
                    if later
                    else self.deadline(row.entered_at)
                )
                task_rows.append(self.task_row(row, task_due))
                if timer.template:
                    notices.append(self.notice_row(row, timer.template))
            insert_tasks(connection, task_rows)
            if notices:
                connection.execute(sa.insert(outbox), notices)
        return len(rows)

    def task_row(self, row: Any, due: date) -> dict[str, Any]:
        definition, timer = self.definition, self.timer
        label = definition.state(row.state).label
        role = timer.role or ""
        whom = definition.roles.get(role, role)
        unit = "个工作日" if timer.unit == "working_days" else "天"
        notified = f"，已通知{whom}" if whom and timer.template else ""
        return {
            "key": f"timer:{row.id}:{row.entry_seq}:{self.index}",
            "kind": timer.action,
            "case_id": row.id,
            "state": row.state,
            "assignee_role": _assignee(timer),
            "county": row.county,
            "agency": row.agency,
            "title": f"{ACTION_LABELS[timer.action]}：案件 {row.id}（{definition.title}）"
            f"处于“{label}”已满 {timer.after} {unit}{notified}",
            "article": state_article(definition, row.state),
            "due_on": due,
            "created_at": self.now,
        }

    def notice_row(self, row: Any, template: str) -> dict[str, Any]:
        """An outbox row rendered exactly as a step's notices are (`workflow.notify`)."""
        definition, timer = self.definition, self.timer
        role = timer.role or "agency_officer"
        case = {
            "id": row.id,
            "state": row.state,
            "cycle": row.cycle or (row.evidence or {}).get("cycle"),
            "tier": row.tier,
            "evidence": row.evidence,
            "county": row.county,
            "agency": row.agency,
            "cadre_id": row.cadre_id,
        }
        return notice_row(
            key=f"timer-{row.id}-{row.entry_seq}-{self.index}-{template}-{role}",
            template=template,
            role=role,
            definition=definition,
            case=case,
            cadre=row.record or {},
            step={
                "trigger": timer.action,
                "label": ACTION_LABELS[timer.action],
                "article": state_article(definition, row.state),
            },
            now=self.now,
            reason=None,
            routing=self.engine.notice_channels,
        )

    def fire(self, page: Sequence[Any]) -> tuple[int, int]:
        """Each case in its own transaction: its mark, then the engine's step; both or neither."""
        trigger = self.timer.trigger
        assert trigger is not None  # the schema requires it for action: fire
        unit = "个工作日" if self.timer.unit == "working_days" else "天"
        fired = refused = 0
        for row in page:
            try:
                with self.engine.transaction(write=True) as connection:
                    if not _insert_marks(connection, [self.mark(row)]):
                        continue
                    self.engine.fire(
                        row.id,
                        trigger,
                        actor=SCHEDULER,
                        expected_version=row.version,
                        data={},
                        reason=f"期限届满（{self.timer.after} {unit}），系统自动办理",
                        within=connection,
                    )
            except WorkflowError as error:
                refused += 1
                log.warning("timer on case %s could not fire %s: %s", row.id, trigger, error)
            else:
                fired += 1
        return fired, refused


def _insert_marks(connection: sa.Connection, rows: list[dict[str, Any]]) -> set[int]:
    """Insert marks first; the case ids whose mark this transaction inserted."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(timer_marks)
        .on_conflict_do_nothing(
            index_elements=[
                timer_marks.c.case_id,
                timer_marks.c.entry_seq,
                timer_marks.c.timer_index,
            ]
        )
        .returning(timer_marks.c.case_id)
    )
    return {row.case_id for row in connection.execute(statement, rows)}


def _assignee(timer: TimerSpec) -> str:
    """Who works the task: the timer's role when it is an officer's, else the agency (which
    follows up with the cadre or family it reminded)."""
    role = timer.role or "agency_officer"
    return role if role.endswith("_officer") else "agency_officer"
