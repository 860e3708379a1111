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

Each timer runs on its own: one timer's failure is logged and reported in the sweep's result
(``problems``) and the others still run. Past the end of the holiday data the sweep never
guesses: a deadline beyond the data is not due yet, and on a day beyond the data working-day
timers wait while the rest runs (`workflow.scheduler.calendar_watch`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from workflow.calendar import CalendarDataError, WorkingCalendar, default_calendar
from workflow.clock import SHANGHAI, shanghai_date
from workflow.definition.model import Definition, StateSpec, TimerSpec
from workflow.engine import Engine
from workflow.errors import WorkflowError
from workflow.machine import Actor
from workflow.notices import notice_row
from workflow.scheduler.calendar_watch import (
    ALARM_PREFIX,
    CalendarStatus,
    alarm_rows,
    calendar_status,
    longest_working_days,
    say_once_a_day,
)
from workflow.store.cases import insert_notices
from workflow.store.scheduler import due_cases, insert_marks, stored_definition_rows
from workflow.store.tasks import close_left_tasks, insert_tasks, record_alarms

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 1000
# The scheduler acts as a system role that every definition it moves declares (unscoped).
SCHEDULER = Actor("scheduler", "定时任务")
ACTION_LABELS = {"remind": "提醒", "escalate": "督办", "fire": "到期自动办理"}


@dataclass(frozen=True)
class TimerReport:
    """What one sweep did. ``waiting``: working-day timers not run because today is beyond the
    holiday data (``calendar_missing`` names the year); ``problems``: one line per timer that
    failed (the others ran); ``calendar_warning``: next year's notice is missing (from 1 Nov)."""

    reminded: int = 0
    escalated: int = 0
    fired: int = 0
    refused: int = 0
    tasks_closed: int = 0
    waiting: int = 0
    problems: tuple[str, ...] = ()
    exit_code: int | None = None  # the first problem's (WorkflowError.exit_code; 70 otherwise)
    calendar_missing: int | None = None
    calendar_warning: str | None = None

    @property
    def complete(self) -> bool:
        """Every timer ran: no failure and none waiting for holiday data."""
        return not self.problems and self.calendar_missing is None

    def to_json(self) -> dict[str, Any]:
        """The counts, plus the waiting/problem/calendar entries only when there are any."""
        value: dict[str, Any] = {
            "reminded": self.reminded,
            "escalated": self.escalated,
            "fired": self.fired,
            "refused": self.refused,
            "tasks_closed": self.tasks_closed,
        }
        if self.waiting:
            value["waiting"] = self.waiting
        if self.problems:
            value["problems"] = list(self.problems)
            value["exit_code"] = self.exit_code
        if self.calendar_missing is not None:
            value["calendar_missing"] = self.calendar_missing
        if self.calendar_warning is not None:
            value["calendar_warning"] = self.calendar_warning
        return value


def stored_definitions(engine: Engine) -> list[tuple[int, Definition]]:
    """Every definition version cases were opened under, with its stored id."""
    with engine.transaction() as connection:
        rows = stored_definition_rows(connection)
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

    Deadlines never decrease as the entry date grows, so every earlier entry is due too. A
    deadline beyond the holiday data is not due yet while today is covered; a working-day timer
    on a day beyond the data raises `CalendarDataError` naming the year: never a guess.
    """
    day = today - timedelta(days=timer.after)
    for _ in range(lookback):
        if calendar.is_due(day, timer.after, timer.unit, today):
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


def sweep_timers(
    engine: Engine, *, calendar: WorkingCalendar | None = None, chunk: int = DEFAULT_CHUNK
) -> TimerReport:
    """Run every timer that is due at the engine clock's moment, exactly once; each timer on
    its own, so one timer's failure does not stop the others."""
    now = engine.clock.now()
    today = shanghai_date(now)
    calendar = calendar or default_calendar()
    stored = stored_definitions(engine)
    status = calendar_status(calendar, today, longest_working_days(d for _, d in stored))
    say_once_a_day(status)
    with engine.transaction(write=True) as connection:
        closed = close_left_tasks(connection, now)
        alarms = alarm_rows(status, now)
        record_alarms(connection, ALARM_PREFIX, alarms, covered_through=calendar.last_year, now=now)
    totals = {"remind": 0, "escalate": 0, "fire": 0, "refused": 0}
    waiting = 0
    problems: list[str] = []
    exit_codes: list[int] = []
    missing = status.missing_today
    for definition_id, definition in stored:
        for state in definition.states:
            for index, timer in enumerate(state.timers):
                if timer.unit == "working_days" and status.missing_today is not None:
                    waiting += 1
                    continue
                run = _TimerRun(
                    engine, definition_id, definition, state, index, timer, now, calendar
                )
                try:
                    for action, count in run.run(today, chunk):
                        totals[action] += count
                    if run.failures:
                        problems.append(_problem(definition, state, index, "；".join(run.failures)))
                        exit_codes.append(70)
                except CalendarDataError as error:  # a stay that began in a year without data
                    waiting += 1
                    missing = missing if missing is not None else error.year
                except Exception as error:  # one timer's failure must not stop the others
                    problems.append(_problem(definition, state, index, error))
                    if isinstance(error, WorkflowError):
                        exit_codes.append(error.exit_code)
                        log.warning("%s", problems[-1])
                    else:
                        exit_codes.append(70)
                        log.exception("%s", problems[-1])
    return TimerReport(
        reminded=totals["remind"],
        escalated=totals["escalate"],
        fired=totals["fire"],
        refused=totals["refused"],
        tasks_closed=closed,
        waiting=waiting,
        problems=tuple(problems),
        exit_code=exit_codes[0] if exit_codes else None,
        calendar_missing=missing,
        calendar_warning=_warning(status),
    )


def _warning(status: CalendarStatus) -> str | None:
    return status.message if status.missing_next is not None else None


def _problem(definition: Definition, state: StateSpec, index: int, error: Exception | str) -> str:
    what = f"{definition.name} v{definition.version} 状态“{state.label}”的第 {index + 1} 个期限"
    if isinstance(error, str | WorkflowError):
        reason = str(error)
    else:
        reason = f"{type(error).__name__}: {error}"
    return f"{what}未能处理：{reason}"


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
    failures: list[str] = field(default_factory=list)  # cases a fire timer could not handle

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
            new = insert_marks(connection, [self.mark(r) for r in page])
            rows = [r for r in page if r.id in new]
            task_rows, notices = [], []
            for row in rows:
                # the task is due when the next deadline of the stay would escalate it
                task_due = self.task_due(row.entered_at, min(later) if later else None)
                task_rows.append(self.task_row(row, task_due))
                if timer.template:
                    notices.append(self.notice_row(row, timer.template))
            insert_tasks(connection, task_rows)
            insert_notices(connection, notices)
        return len(rows)

    def task_due(self, entered_at: datetime, escalation: int | None) -> date:
        """When the task is due: at the stay's next (escalation) deadline, else at this one.

        An escalation deadline beyond the holiday data cannot be dated yet; the task is then due
        on the data's last day, the latest date that is certainly no later than the real one."""
        if escalation is None:
            return self.deadline(entered_at)
        due = self.calendar.deadline(shanghai_date(entered_at), escalation, self.timer.unit)
        return due if due is not None else date(self.calendar.last_year, 12, 31)

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
        """An outbox row rendered exactly as a step's notices are (`workflow.notices`)."""
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
                    if not insert_marks(connection, [self.mark(row)]):
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
            except Exception as error:  # one broken case must not stop the others
                log.exception("timer on case %s failed firing %s", row.id, trigger)
                self.failures.append(f"案件 {row.id}：{type(error).__name__}: {error}")
            else:
                fired += 1
        return fired, refused


def _assignee(timer: TimerSpec) -> str:
    """Who works the task: the timer's role when it is an officer's, else the agency (which
    follows up with the cadre or family it reminded)."""
    role = timer.role or "agency_officer"
    return role if role.endswith("_officer") else "agency_officer"
