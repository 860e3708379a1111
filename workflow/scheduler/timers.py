"""The timer sweep: the deadlines declared on states (``timers:`` in a definition) come due.

A timer counts from the moment the case entered its current state. That moment is not a column:
it is the ``at`` of the case's latest history row that moved *into* the state (``to_state`` is
the state and ``from_state`` differs — a granted exception writes a row that keeps the state and
does not restart the clock). Its ``seq`` identifies the stay, so a case that comes back to a
state gets fresh timers.

Finding due cases reads the due work only. Each case keeps the day from which a sweep has work
on it (``cases.sweep_on``, `workflow.sweep_on`): the step that enters a state writes the entry
day plus the smallest ``after`` of its timers, a bound that no holiday data can undercut. The
sweep reads the cases whose day has come, one page of ``chunk`` rows at a time from a partial
index (`workflow.store.scheduler.due_timer_cases`), decides with the calendar which of their
unmarked timers are due, and acts on them; then it moves each case's day to its next real
deadline (the first of the next year without holiday data when that deadline is beyond the
data), or clears it when the stay has no timer left. A case whose due timer could not act (a
refused or failed step, a working-day timer waiting for holiday data) keeps its day and is read
again next time. So a sweep costs what is due, not what the table holds.

Each timer's work on a page is one transaction: the marks go in first (``ON CONFLICT DO NOTHING
… RETURNING``), and only the cases whose mark this run inserted get their task and outbox row,
so a sweep that runs twice, or on two nodes at once, reminds nobody twice. A ``fire`` timer
moves its case through the engine in the transaction of its mark; a refusal rolls both back and
the next sweep tries again. The sweep day is a hint: only the marks say what was done, so a day
set late or a sweep killed before setting it makes a case read again, never acted on twice.

Each timer runs on its own: one timer's failure is logged and reported in the sweep's result
(``problems``) and the others still run. Past the end of the holiday data the sweep never
guesses: a deadline beyond the data is not due yet, and on a day beyond the data working-day
timers wait while the rest runs (`workflow.scheduler.calendar_watch`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from workflow.calendar import CalendarDataError, WorkingCalendar, default_calendar
from workflow.clock import shanghai_date
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
from workflow.store.scheduler import (
    due_timer_cases,
    insert_marks,
    set_sweep_days,
    stay_marks,
    stored_definition_rows,
)
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
    """The latest date a case may have entered the state on for ``timer`` to be due today
    (the whole day's question; the sweep asks `WorkingCalendar.is_due` of each due case).

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
    sweep = _Sweep(engine, dict(stored), calendar, now, status.missing_today)
    after: tuple[date, int] | None = None
    while True:
        with engine.transaction() as connection:
            page = due_timer_cases(connection, today=today, after=after, limit=chunk)
        if not page:
            break
        sweep.page(page)
        if len(page) < chunk:
            break
        after = (page[-1].sweep_on, page[-1].id)
    problems, exit_codes = sweep.problems(stored)
    waiting = len(sweep.data_missing)
    if status.missing_today is not None:  # every working-day timer waits for the data
        waiting += sum(
            timer.unit == "working_days"
            for _, definition in stored
            for state in definition.states
            for timer in state.timers
        )
    missing = status.missing_today
    if missing is None and sweep.data_missing:
        missing = next(iter(sweep.data_missing.values()))
    return TimerReport(
        reminded=sweep.totals["remind"],
        escalated=sweep.totals["escalate"],
        fired=sweep.totals["fire"],
        refused=sweep.totals["refused"],
        tasks_closed=closed,
        waiting=waiting,
        problems=tuple(problems),
        exit_code=exit_codes[0] if exit_codes else None,
        calendar_missing=missing,
        calendar_warning=_warning(status),
    )


TimerKey = tuple[int, str, int]  # (stored definition id, state, timer index)


@dataclass
class _Sweep:
    """One sweep's pages of due cases: which timers act on which case, and each case's next
    sweep day."""

    engine: Engine
    definitions: dict[int, Definition]
    calendar: WorkingCalendar
    now: datetime
    missing_today: int | None  # today is beyond the holiday data: working-day timers wait
    totals: dict[str, int] = field(
        default_factory=lambda: {"remind": 0, "escalate": 0, "fire": 0, "refused": 0}
    )
    runs: dict[TimerKey, _TimerRun] = field(default_factory=dict)
    broken: dict[TimerKey, Exception] = field(default_factory=dict)  # a timer that failed
    data_missing: dict[TimerKey, int] = field(default_factory=dict)  # a stay without data

    @property
    def today(self) -> date:
        return shanghai_date(self.now)

    def page(self, page: Sequence[Any]) -> None:
        """Act on the page's due timers, timer by timer, then set each case's next day."""
        with self.engine.transaction() as connection:
            marked = stay_marks(connection, [(row.id, row.entry_seq) for row in page])
        due: dict[TimerKey, list[Any]] = {}
        for row in page:
            for key in self._due_timers(row, marked):
                due.setdefault(key, []).append(row)
        moved: set[int] = set()  # cases a fire timer moved: later timers of the page skip them
        for key in sorted(due, key=self._order):
            rows = [row for row in due[key] if row.id not in moved]
            if key in self.broken or not rows:
                continue
            run = self._run(key)
            try:
                for action, count in run.act(rows):
                    self.totals[action] += count
            except CalendarDataError as error:  # a stay that began in a year without data
                self.data_missing.setdefault(key, error.year)
            except Exception as error:  # one timer's failure must not stop the others
                self.broken[key] = error
                message = _problem(run.definition, run.state, run.index, error)
                if isinstance(error, WorkflowError):
                    log.warning("%s", message)
                else:
                    log.exception("%s", message)
            moved |= run.fired
        with self.engine.transaction() as connection:
            marked = stay_marks(connection, [(row.id, row.entry_seq) for row in page])
        days = [day for row in page if (day := self._next_day(row, marked)) is not None]
        with self.engine.transaction(write=True) as connection:
            set_sweep_days(connection, days)

    def _due_timers(self, row: Any, marked: set[tuple[int, int]]) -> Iterator[TimerKey]:
        definition = self.definitions.get(row.definition_id)
        if definition is None:  # no longer on disk (logged): the case waits for it
            return
        entered = shanghai_date(row.entered_at)
        for index, timer in enumerate(definition.state(row.state).timers):
            key = (row.definition_id, row.state, index)
            if (row.id, index) in marked or key in self.broken:
                continue
            if timer.unit == "working_days" and self.missing_today is not None:
                continue
            try:
                if self.calendar.is_due(entered, timer.after, timer.unit, self.today):
                    yield key
            except CalendarDataError as error:
                self.data_missing.setdefault(key, error.year)

    def _next_day(self, row: Any, marked: set[tuple[int, int]]) -> dict[str, Any] | None:
        """The case's next sweep day: its earliest unmarked deadline, NULL when none is left;
        None (keep the day) while a timer that is due, or cannot be dated, is unmarked."""
        definition = self.definitions.get(row.definition_id)
        if definition is None:
            return None
        entered = shanghai_date(row.entered_at)
        days = []
        for index, timer in enumerate(definition.state(row.state).timers):
            if (row.id, index) in marked:
                continue
            day = _deadline(self.calendar, entered, timer)
            if day is None or day <= self.today:
                return None
            days.append(day)
        return {"id": row.id, "version": row.version, "sweep_on": min(days, default=None)}

    def _run(self, key: TimerKey) -> _TimerRun:
        if key not in self.runs:
            definition_id, state_name, index = key
            definition = self.definitions[definition_id]
            state = definition.state(state_name)
            self.runs[key] = _TimerRun(
                self.engine,
                definition_id,
                definition,
                state,
                index,
                state.timers[index],
                self.now,
                self.calendar,
            )
        return self.runs[key]

    def _order(self, key: TimerKey) -> tuple[int, int, int]:
        """Definitions as stored, states and timers as declared (the order problems list in)."""
        definition_id, state_name, index = key
        states = [state.name for state in self.definitions[definition_id].states]
        return definition_id, states.index(state_name), index

    def problems(self, stored: Sequence[tuple[int, Definition]]) -> tuple[list[str], list[int]]:
        """One line per timer that failed or could not handle a case, in declaration order."""
        problems: list[str] = []
        exit_codes: list[int] = []
        for key in sorted({*self.broken, *self.runs}, key=self._order):
            run = self._run(key)
            error = self.broken.get(key)
            if error is not None:
                problems.append(_problem(run.definition, run.state, run.index, error))
                exit_codes.append(error.exit_code if isinstance(error, WorkflowError) else 70)
            elif run.failures:
                reason = "；".join(run.failures)
                problems.append(_problem(run.definition, run.state, run.index, reason))
                exit_codes.append(70)
        return problems, exit_codes


def _deadline(calendar: WorkingCalendar, entered: date, timer: TimerSpec) -> date | None:
    """The timer's deadline for a stay entered on ``entered``; beyond the holiday data, the
    first day of the first year without it (the deadline is no earlier); None when the stay
    began in a year without data (it cannot be dated)."""
    if timer.unit == "calendar_days":
        return entered + timedelta(days=timer.after)
    try:
        deadline = calendar.deadline(entered, timer.after, timer.unit)
    except CalendarDataError:
        return None
    return deadline if deadline is not None else date(calendar.last_year + 1, 1, 1)


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
    fired: set[int] = field(default_factory=set)  # cases a fire timer moved

    def act(self, rows: Sequence[Any]) -> Iterator[tuple[str, int]]:
        """The timer's action on ``rows`` (due cases of its state whose mark is not there)."""
        if self.timer.action == "fire":
            done, refused = self.fire(rows)
            yield "fire", done
            yield "refused", refused
        else:
            yield self.timer.action, self.notify(rows)

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
                self.fired.add(row.id)
        return fired, refused


def _assignee(timer: TimerSpec) -> str:
    """Who works the task: the timer's role when it is an officer's, else the agency (which
    follows up with the cadre or family it reminded)."""
    role = timer.role or "agency_officer"
    return role if role.endswith("_officer") else "agency_officer"
