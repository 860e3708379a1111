"""Contract of the scheduler's stores (`workflow.store.scheduler`, `.tasks`, `.lease`), run on
SQLite and PostgreSQL alike: every effect keyed, so a repeat writes nothing twice (A9.3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from factories import AS_AGENCY, REGISTRATION, cadre

from workflow import Engine
from workflow.store import scheduler as store
from workflow.store.lease import LeaseKeeper, current_holder
from workflow.store.schema import scheduler_runs
from workflow.store.tasks import (
    close_tasks_by_key,
    insert_tasks,
    list_tasks,
    open_task_keys,
    record_alarms,
)

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def task(key: str, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "key": key,
        "kind": "calendar",
        "case_id": None,
        "state": None,
        "assignee_role": "city_officer",
        "county": "",
        "agency": "",
        "title": f"任务 {key}",
        "article": None,
        "due_on": date(2026, 12, 31),
        "created_at": NOW,
    }
    row.update(overrides)
    return row


def test_runs_claim_finish_release_take_over(engine: Engine) -> None:
    slot = datetime(2026, 12, 1, 10, tzinfo=UTC)
    with engine.transaction(write=True) as connection:
        first = store.claim_run(connection, "timers", slot, "a", NOW)
        assert first is not None
        assert store.claim_run(connection, "timers", slot, "b", NOW) is None  # fresh claim
        store.release_run(connection, first)  # a failure gives the slot back
        second = store.claim_run(connection, "timers", slot, "b", NOW)
        assert second is not None
        store.finish_run(connection, second, {"reminded": 1}, NOW)
        assert store.claim_run(connection, "timers", slot, "c", NOW) is None  # done
        late = NOW + store.STALE_CLAIM + timedelta(seconds=1)
        assert store.claim_run(connection, "timers", slot, "c", late) is None  # done stays done
        killed = store.claim_run(connection, "dispatch", slot, "a", NOW)
        assert store.claim_run(connection, "dispatch", slot, "b", late) == killed  # stale
        runs = store.last_runs(connection)
        assert runs["timers"].holder == "b"
        assert runs["dispatch"].holder == "b"
        count = connection.execute(sa.select(sa.func.count()).select_from(scheduler_runs))
        assert count.scalar() == 2


def test_timer_marks_are_inserted_once(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    mark = {
        "case_id": case.id,
        "entry_seq": 1,
        "timer_index": 0,
        "state": case.state,
        "action": "remind",
        "due_on": date(2024, 5, 13),
        "fired_at": NOW,
    }
    with engine.transaction(write=True) as connection:
        assert store.insert_marks(connection, [mark]) == {case.id}
        assert store.insert_marks(connection, [mark]) == set()
        rows = store.stored_definition_rows(connection)
    assert [(r.name, r.version) for r in rows] == [("honor_convalescence", 1)]


def test_tasks_are_keyed_and_alarms_close_when_covered(engine: Engine) -> None:
    with engine.transaction(write=True) as connection:
        assert insert_tasks(connection, [task("calendar:next:2027")]) == 1
        assert insert_tasks(connection, [task("calendar:next:2027")]) == 0
        assert insert_tasks(connection, []) == 0
        assert open_task_keys(connection, "calendar:") == ["calendar:next:2027"]
        assert open_task_keys(connection, "calendar_") == []  # the prefix is literal
        rows = [task("calendar:missing:2027", due_on=date(2027, 1, 4))]
        assert record_alarms(connection, "calendar:", rows, covered_through=2026, now=NOW) == 1
        assert len(open_task_keys(connection, "calendar:")) == 2
        assert record_alarms(connection, "calendar:", [], covered_through=2027, now=NOW) == 0
        assert open_task_keys(connection, "calendar:") == []
        assert close_tasks_by_key(connection, ["calendar:next:2027"], NOW) == 0  # already done
        found = list_tasks(connection, today=date(2027, 1, 5), include_done=True)
    assert {t.key for t in found} == {"calendar:next:2027", "calendar:missing:2027"}
    assert all(t.case_id is None and t.done_at is not None for t in found)


def test_the_lease_has_one_holder_at_a_time(engine: Engine) -> None:
    a = LeaseKeeper(engine.db, "node-a", now=lambda: NOW)  # a 30-second lease
    b = LeaseKeeper(engine.db, "node-b", now=lambda: NOW)
    assert a.try_acquire()
    assert not b.try_acquire()  # held and not expired
    assert current_holder(engine.db) is not None
    later = LeaseKeeper(engine.db, "node-b", now=lambda: NOW + timedelta(seconds=31))
    assert later.try_acquire_or_stand_by()  # expired: taken over
    holder = current_holder(engine.db)
    assert holder is not None
    assert holder[0] == "node-b"
