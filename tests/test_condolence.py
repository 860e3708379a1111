"""The condolence sweep (A9.3) on SQLite and PostgreSQL: one visit per cadre per cycle for the
cadres who could not attend, reminders and escalation until the visit is recorded, and the visit
closed as not needed when the cadre attends later in the same cycle."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from factories import AS_AGENCY, HAPPY_PATH, REGISTRATION, cadre
from plans_setup import walk

from workflow import Engine
from workflow.clock import SHANGHAI, SimulatedClock
from workflow.scheduler import run_due, sweep_condolence, sweep_timers
from workflow.store.schema import cases, outbox, tasks, visit_keys

SEED_BATCH = True  # the second registration of LC-DCF-0001 attends the seeded batch


@pytest.fixture(autouse=True)
def notices_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`run_due` also dispatches the outbox through the file channel: into tmp_path, never the
    working directory's ./notices."""
    monkeypatch.setenv("CONVALESCENCE_NOTICES_DIR", str(tmp_path / "notices"))


def family(cadre_id: str) -> str:
    return f"family:张丽@{cadre_id}"


def could_not_attend(engine: Engine) -> None:
    """0001 unable to attend (health); 0002 withdrew for health; 0003 withdrew for another
    reason (no visit); 0004 was unable twice (one visit)."""
    engine.put_cadres([cadre(f"LC-DCF-000{n}") for n in range(1, 5)])
    consent = {"family_member": "张丽", "relation": "女儿"}
    for cadre_id, times in (("LC-DCF-0001", 1), ("LC-DCF-0004", 2)):
        for _ in range(times):
            case = engine.open_case(cadre_id, actor=AS_AGENCY, data=REGISTRATION)
            engine.fire(case.id, "consent", actor=family(cadre_id), data=consent)
            engine.fire(case.id, "report_unable", actor=AS_AGENCY, data={"cause": "健康原因"})
    for cadre_id, health in (("LC-DCF-0002", True), ("LC-DCF-0003", False)):
        case = engine.open_case(cadre_id, actor=AS_AGENCY, data=REGISTRATION)
        engine.fire(case.id, "withdraw", actor=AS_AGENCY, data={"for_health": health})


def visits(engine: Engine) -> list[Any]:
    with engine.transaction() as connection:
        return list(
            connection.execute(
                sa.select(cases.c.cadre_id, cases.c.state, cases.c.cycle)
                .join(visit_keys, visit_keys.c.case_id == cases.c.id)
                .order_by(cases.c.cadre_id)
            ).all()
        )


def open_tasks(engine: Engine, kind: str) -> int:
    with engine.transaction() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(tasks)
                .where(tasks.c.kind == kind, tasks.c.done_at.is_(None))
            ).scalar()
            or 0
        )


def test_one_visit_per_cadre_per_cycle_and_nothing_twice(
    engine: Engine, clock: SimulatedClock
) -> None:
    could_not_attend(engine)
    report = sweep_condolence(engine)
    assert (report.opened, report.tasks_created) == (3, 3)
    assert [(v.cadre_id, v.state, v.cycle) for v in visits(engine)] == [
        ("LC-DCF-0001", "flagged", "2024-2025"),
        ("LC-DCF-0002", "flagged", "2024-2025"),
        ("LC-DCF-0004", "flagged", "2024-2025"),
    ]
    assert sweep_condolence(engine) == type(report)()  # the same sweep again: nothing
    assert run_due(engine)["condolence"] == type(report)().to_json()
    assert run_due(engine) == dict.fromkeys(("condolence", "timers", "dispatch"))  # same slot
    assert len(visits(engine)) == 3
    with engine.transaction() as connection:
        task = connection.execute(
            sa.select(tasks).where(tasks.c.kind == "condolence_visit").limit(1)
        ).one()
        notices = connection.execute(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.template == "condolence_visit_task")
        ).scalar()
    assert (task.assignee_role, task.agency, task.article) == (
        "agency_officer",
        "东昌府区军休所",
        "A9.3",
    )
    assert task.due_on == date(2025, 12, 31)  # before the cycle ends
    assert notices == 3


def test_reminds_and_escalates_until_the_visit_is_recorded(
    engine: Engine, clock: SimulatedClock
) -> None:
    could_not_attend(engine)
    sweep_condolence(engine)  # Mon 2024-05-06
    with engine.transaction() as connection:
        ids = dict(connection.execute(sa.select(visit_keys.c.cadre_id, visit_keys.c.case_id)).all())
    # 0002's visit is recorded in time; the others are not
    engine.fire(ids["LC-DCF-0002"], "assign", actor=AS_AGENCY, data={"visitors": "王芳"})
    visit = {
        "visited_by": "王芳、李明",
        "visited_on": "2024-05-10",
        "items_brought": "慰问金500元、牛奶一箱",
        "notes": "身体恢复良好",
    }
    engine.fire(ids["LC-DCF-0002"], "record_visit", actor=AS_AGENCY, data=visit)
    # 5 working days after Mon 6 May 2024: 7-10 May and Sat 11 May, the Labour Day make-up
    # working day; the 10th is Fri 17 May
    clock.set(datetime(2024, 5, 10, 23, 0, tzinfo=SHANGHAI))
    first = sweep_timers(engine)
    assert (first.reminded, first.tasks_closed) == (0, 1)  # 0002's visit left "flagged"
    clock.set(datetime(2024, 5, 11, 8, 0, tzinfo=SHANGHAI))
    assert run_due(engine)["timers"] == {
        "reminded": 2,
        "escalated": 0,
        "fired": 0,
        "refused": 0,
        "tasks_closed": 0,
    }
    clock.set(datetime(2024, 5, 16, 23, 0, tzinfo=SHANGHAI))
    assert sweep_timers(engine).escalated == 0
    clock.set(datetime(2024, 5, 17, 8, 0, tzinfo=SHANGHAI))  # the 10th working day
    report = sweep_timers(engine)
    assert (report.reminded, report.escalated) == (0, 2)
    with engine.transaction() as connection:
        escalations = connection.execute(
            sa.select(outbox.c.recipient_role, outbox.c.body).where(
                outbox.c.template == "visit_escalation"
            )
        ).all()
    assert [e.recipient_role for e in escalations] == ["county_officer", "county_officer"]
    assert all("第九条" in e.body for e in escalations)
    assert open_tasks(engine, "escalate") == 2


def test_a_cadre_who_attends_later_in_the_cycle_needs_no_visit(
    engine: Engine, clock: SimulatedClock
) -> None:
    could_not_attend(engine)
    sweep_condolence(engine)
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    walk(engine, case.id, HAPPY_PATH[:5])  # up to attended, in the started batch (A13.1)
    report = sweep_condolence(engine)
    assert (report.opened, report.not_needed) == (0, 1)
    assert [(v.cadre_id, v.state) for v in visits(engine)] == [
        ("LC-DCF-0001", "not_needed"),
        ("LC-DCF-0002", "flagged"),
        ("LC-DCF-0004", "flagged"),
    ]
    assert open_tasks(engine, "condolence_visit") == 2
    assert sweep_condolence(engine) == type(report)()
