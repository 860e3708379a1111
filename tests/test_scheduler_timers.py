"""Timers declared on states (A9.3 scheduler; A7.1 consent reminders) through the real sweep,
on SQLite and PostgreSQL: due on their deadline and not a day early, across the 2024 Spring
Festival and its make-up working day; one task and one outbox row per remind/escalate; a fire
timer moves its case; a sweep run twice does nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import AS_CADRE, AS_FAMILY, CONSENT, REGISTRATION, cadre
from tampering import tamper

from notifications.channels import FileChannel
from workflow import Engine
from workflow.calendar import CalendarDataError, default_calendar
from workflow.clock import SHANGHAI, SimulatedClock
from workflow.definition.model import TimerSpec
from workflow.scheduler import run_due, sweep_timers
from workflow.scheduler.jobs import JobContext
from workflow.scheduler.timers import latest_due_entry
from workflow.store.schema import cases, outbox, tasks, timer_marks


def at(day: str, hour: int = 9) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), SHANGHAI).replace(
        hour=hour
    )


def count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.transaction() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()
            or 0
        )


def test_consent_timers_across_the_2024_spring_festival(
    engine: Engine, clock: SimulatedClock
) -> None:
    """Registered Tue 2024-02-06. Working days after it: 7, 8, 9 Feb, then the holiday
    (10-17 Feb), the make-up Sunday 18 Feb (4th), Mon 19 Feb (5th) → remind the family;
    20-23 Feb, Mon 26 Feb (10th) → escalate to the agency (A7.1 timers)."""
    clock.set(at("2024-02-06", 10))
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    before = count(engine, outbox)

    clock.set(at("2024-02-18", 23))  # the make-up working day: only the 4th
    assert sweep_timers(engine).reminded == 0
    clock.set(at("2024-02-19", 0))
    report = sweep_timers(engine)
    assert (report.reminded, report.escalated) == (1, 0)
    assert count(engine, tasks, tasks.c.kind == "remind") == 1
    assert count(engine, outbox, outbox.c.template == "consent_reminder") == 1
    with engine.transaction() as connection:
        task = connection.execute(sa.select(tasks)).one()
        notice = connection.execute(
            sa.select(outbox).where(outbox.c.template == "consent_reminder")
        ).one()
    assert (task.case_id, task.state, task.assignee_role) == (
        case.id,
        "registered",
        "agency_officer",
    )
    assert task.due_on == date(2024, 2, 26)  # when it would escalate
    assert task.article == "A7.1"
    assert notice.recipient_role == "family"
    assert "第七条" in notice.body

    clock.set(at("2024-02-23", 18))
    assert sweep_timers(engine).escalated == 0
    clock.set(at("2024-02-26", 8))
    report = sweep_timers(engine)
    assert (report.reminded, report.escalated) == (0, 1)
    assert count(engine, outbox) == before + 2
    assert count(engine, outbox, outbox.c.template == "consent_escalation") == 1

    # run twice, and again a week later: nothing twice
    for moment in ("2024-02-26", "2024-03-04"):
        clock.set(at(moment, 12))
        assert sweep_timers(engine) == type(report)()
    assert count(engine, tasks) == 2
    assert count(engine, timer_marks) == 2
    assert count(engine, outbox) == before + 2

    # the family consents: the case leaves the state and both tasks are done
    engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    assert sweep_timers(engine).tasks_closed == 2
    assert count(engine, tasks, tasks.c.done_at.is_(None)) == 0


def test_national_day_holiday_delays_a_working_day_timer(
    engine: Engine, clock: SimulatedClock
) -> None:
    """Registered Fri 2024-09-27: the make-up Sunday 29 Sep (1st), Mon 30 Sep (2nd), then
    National Day (1-7 Oct), then 8, 9, 10 Oct → the 5th working day, and the reminder, is
    Thu 10 Oct."""
    clock.set(at("2024-09-27", 15))
    engine.put_cadres([cadre()])
    engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    clock.set(at("2024-10-09", 20))
    assert sweep_timers(engine).reminded == 0
    clock.set(at("2024-10-10", 8))
    assert sweep_timers(engine).reminded == 1


PROBE = """\
name: timer_probe
version: 1
title: 计时器测试流程
policy:
  title: 测试
  document: 测试〔2024〕1号
  effective_from: 2023-01-01
  effective_until: 2030-12-31
roles:
  clerk: 经办人
  agency_officer: 军休机构工作人员
  scheduler: 定时任务
initial: waiting
open:
  label: 开始
  roles: [clerk]
  requires: {}
states:
  - name: waiting
    label: 等待中
    timers:
      - {after: 2, unit: calendar_days, action: remind, role: agency_officer,
         template: consent_escalation}
      - {after: 3, unit: calendar_days, action: fire, trigger: expire}
  - name: expired
    label: 已过期
    terminal: true
  - name: done
    label: 已办结
    terminal: true
transitions:
  - {trigger: expire, label: 过期, source: waiting, dest: expired, roles: [scheduler], requires: {}}
  - {trigger: finish, label: 办结, source: waiting, dest: done, roles: [clerk], requires: {}}
"""


@pytest.fixture
def probe(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, SimulatedClock]]:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "timer_probe.yaml").write_text(PROBE, encoding="utf-8")
    clock = SimulatedClock(at("2024-02-08", 16))  # Thursday before the Spring Festival
    with Engine(db_url, clock=clock, definition_dirs=[tmp_path / "defs"]) as engine:
        engine.upgrade_schema()
        engine.put_cadres([cadre()])
        yield engine, clock


def test_calendar_day_timers_ignore_holidays_and_fire_moves_the_case(
    probe: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = probe
    case = engine.open_case("LC-DCF-0001", actor="clerk:李", definition="timer_probe")
    clock.set(at("2024-02-09", 23))
    assert sweep_timers(engine) == type(sweep_timers(engine))()
    clock.set(at("2024-02-10", 0))  # 2 calendar days, a holiday: due all the same
    assert sweep_timers(engine).reminded == 1
    clock.set(at("2024-02-10", 23))
    assert sweep_timers(engine).fired == 0  # not a day early
    clock.set(at("2024-02-11", 0))
    assert sweep_timers(engine).fired == 1
    moved = engine.case(case.id)
    assert moved.state == "expired"
    history = engine.history(case.id)
    assert (history[-1].trigger, history[-1].actor) == ("expire", "定时任务")
    assert sweep_timers(engine).fired == 0  # terminal now; and the mark stays unique
    assert count(engine, timer_marks) == 2


def test_a_case_that_left_the_state_before_the_deadline_gets_nothing(
    probe: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = probe
    case = engine.open_case("LC-DCF-0001", actor="clerk:李", definition="timer_probe")
    engine.fire(case.id, "finish", actor="clerk:李")
    clock.set(at("2024-03-01"))
    report = sweep_timers(engine)
    assert (report.reminded, report.fired) == (0, 0)


def test_working_days_past_the_holiday_data_are_an_error_not_a_guess() -> None:
    calendar = default_calendar()
    timer = TimerSpec(after=5, unit="working_days", action="remind", role="family")
    year = calendar.last_year + 1
    with pytest.raises(CalendarDataError) as raised:
        latest_due_entry(calendar, timer, date(year, 3, 2))
    assert raised.value.year == year


def test_one_failing_timer_does_not_stop_the_others_or_the_notices(
    probe: tuple[Engine, SimulatedClock], tmp_path: Path
) -> None:
    """Issue 15: a timer that fails (here: a case row damaged behind the engine's back, so its
    reminder cannot be rendered) is reported; the state's other timer still fires, and in a
    `run_due` the notice dispatch still runs after it."""
    engine, clock = probe
    damaged = engine.open_case("LC-DCF-0001", actor="clerk:李", definition="timer_probe")
    engine.open_case("LC-DCF-0001", actor="clerk:李", definition="timer_probe")
    tamper(engine, sa.update(cases).where(cases.c.id == damaged.id).values(evidence="damaged"))
    clock.set(at("2024-02-11", 1))  # the 2-day reminder and the 3-day expiry are both due
    results = run_due(
        engine, context=JobContext(channels={"file": FileChannel(tmp_path / "notices")})
    )
    timers = results["timers"]
    assert timers is not None
    assert results["dispatch"] is not None
    assert timers["fired"] == 1, str(timers)  # the second timer still moved the sound case
    assert timers["reminded"] == 0  # the first timer's page failed as a whole: nothing half-sent
    assert timers["problems"] == [
        "timer_probe v1 状态“等待中”的第 1 个期限未能处理：AttributeError: 'str' object has no "
        "attribute 'get'",
        f"timer_probe v1 状态“等待中”的第 2 个期限未能处理：案件 {damaged.id}：TypeError: 'str' "
        "object is not a mapping",
    ]
    assert timers["exit_code"] == 70  # not one of the engine's own errors: a bug to look at
    assert "error" not in results["dispatch"]
    # the run stays unfinished, so the same moment runs the timers again (and only them)
    again = run_due(engine)
    assert again["timers"] is not None
    assert again["condolence"] is None
