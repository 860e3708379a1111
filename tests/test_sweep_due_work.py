"""The sweeps read their due work, not the table (issue 14 item 3), on SQLite and PostgreSQL:
the step writes the case's sweep day (``cases.sweep_on``), the timer sweep moves it to the next
real deadline and clears it when the stay has none left, the condolence sweep settles an ended
case or a queued report once, the searches are ranges of the partial index, and revision 0021
gives an existing database's cases their day."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from factories import AS_AGENCY, CONSENT, REGISTRATION, cadre

from workflow import Engine
from workflow.clock import SHANGHAI, SimulatedClock
from workflow.machine import Actor
from workflow.scheduler import sweep_condolence, sweep_timers
from workflow.store.database import WRITE
from workflow.store.migrate import head_revision, upgrade
from workflow.store.scheduler import due_timer_cases, ended_cases
from workflow.store.schema import cases, unable_report_queue
from workflow.unable import record_unable


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


def sweep_day(engine: Engine, case_id: int) -> date | None:
    with engine.transaction() as connection:
        day = connection.execute(sa.select(cases.c.sweep_on).where(cases.c.id == case_id))
        return day.scalar_one()  # type: ignore[no-any-return]


def queued(engine: Engine) -> list[int]:
    with engine.transaction() as connection:
        return list(connection.execute(sa.select(unable_report_queue.c.report_id)).scalars())


def test_the_day_follows_the_stay_to_its_next_deadline(
    engine: Engine, clock: SimulatedClock
) -> None:
    """Registered Tue 2024-02-06 (remind after 5 working days, escalate after 10): the step
    writes the entry day + 5; a sweep before the deadline moves it to the real 5th working day
    (19 Feb, after the Spring Festival), the reminder to the 10th (26 Feb), the escalation
    clears it; a state without timers has none."""
    clock.set(at("2024-02-06", 10))
    engine.put_cadres([cadre(), cadre("LC-DCF-0002")])
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    assert sweep_day(engine, case.id) == date(2024, 2, 11)
    clock.set(at("2024-02-12", 8))
    assert sweep_timers(engine).reminded == 0
    assert sweep_day(engine, case.id) == date(2024, 2, 19)
    clock.set(at("2024-02-19", 8))
    assert sweep_timers(engine).reminded == 1
    assert sweep_day(engine, case.id) == date(2024, 2, 26)
    clock.set(at("2024-02-26", 8))
    assert sweep_timers(engine).escalated == 1
    assert sweep_day(engine, case.id) is None
    other = engine.open_case("LC-DCF-0002", actor=AS_AGENCY, data=REGISTRATION)
    engine.fire(other.id, "consent", actor="family:张丽@LC-DCF-0002", data=CONSENT)
    assert sweep_day(engine, other.id) is None  # family_consented has no timer


def test_ended_cases_and_reports_are_settled_once(engine: Engine) -> None:
    """A case unable to attend and one withdrawn for another reason each get the day they
    ended; a report is queued. One sweep opens the two visits and settles all three; the visits
    carry their own first deadline."""
    engine.put_cadres([cadre(f"LC-DCF-000{n}") for n in (1, 2, 3)])
    unable = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    engine.fire(unable.id, "consent", actor="family:张丽@LC-DCF-0001", data=CONSENT)
    engine.fire(unable.id, "report_unable", actor=AS_AGENCY, data={"cause": "健康原因"})
    withdrawn = engine.open_case("LC-DCF-0002", actor=AS_AGENCY, data=REGISTRATION)
    engine.fire(withdrawn.id, "withdraw", actor=AS_AGENCY, data={"for_health": False})
    today = engine.clock.now().date()
    assert sweep_day(engine, unable.id) == sweep_day(engine, withdrawn.id) == today
    report = record_unable(
        engine, "LC-DCF-0003", cycle="2024-2025", reason="住院", actor=Actor.parse(AS_AGENCY)
    )
    assert queued(engine) == [report.id]

    first = sweep_condolence(engine)
    assert (first.opened, first.tasks_created, first.refused) == (2, 2, 0)
    assert sweep_day(engine, unable.id) is None
    assert sweep_day(engine, withdrawn.id) is None
    assert queued(engine) == []
    with engine.transaction() as connection:
        visits = connection.execute(
            sa.select(cases.c.sweep_on).where(cases.c.state == "flagged")
        ).scalars()
        assert sorted(visits) == [date(2024, 5, 11)] * 2  # opened Mon 6 May, + 5 days
        assert ended_cases(connection, after=None, limit=10) == []
    assert sweep_condolence(engine) == type(first)()


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        seen.append((sql, parameters))

    sa.event.listen(engine.db, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine.db, "before_cursor_execute", record)


def test_the_searches_are_ranges_of_the_partial_index(engine: Engine) -> None:
    """The query plans of both searches read ix_cases_sweep_on (on PostgreSQL with sequential
    scans off, since its tables here are tiny): a regression to a scan of cases fails."""
    engine.put_cadres([cadre()])
    engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    pg = engine.db.dialect.name == "postgresql"
    searches: list[Callable[[sa.Connection], Any]] = [
        lambda c: due_timer_cases(c, today=date(2024, 6, 1), after=(date(2024, 5, 1), 0), limit=9),
        lambda c: ended_cases(c, after=None, limit=9),
    ]
    for search in searches:
        with statements(engine) as seen, engine.transaction() as connection:
            search(connection)
        sql, parameters = seen[-1]
        with engine.db.connect() as connection:
            if pg:
                connection.exec_driver_sql("SET enable_seqscan = off")
                plan = connection.exec_driver_sql(f"EXPLAIN {sql}", parameters).scalars().all()
            else:
                found = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
                plan = [row[-1] for row in found]
        text = "\n".join(plan)
        assert "ix_cases_sweep_on" in text, text
        if not pg:
            assert "SCAN cases" not in text, text


def test_revision_0021_gives_existing_cases_their_day(engine: Engine) -> None:
    """Back to 0020 (the column and the queue go), forward again: open and could-not-attend
    cases get the UTC day they opened, the rest none; a report without a visit is queued."""
    engine.put_cadres([cadre(f"LC-DCF-000{n}") for n in (1, 2, 3)])
    registered = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    withdrawn = engine.open_case("LC-DCF-0002", actor=AS_AGENCY, data=REGISTRATION)
    engine.fire(withdrawn.id, "withdraw", actor=AS_AGENCY, data={"for_health": True})
    refused = engine.open_case("LC-DCF-0003", actor=AS_AGENCY, data=REGISTRATION)
    engine.fire(refused.id, "refuse_consent", actor="family:张丽@LC-DCF-0003", data=CONSENT)
    report = record_unable(
        engine, "LC-DCF-0003", cycle="2024-2025", reason="住院", actor=Actor.parse(AS_AGENCY)
    )
    config = Config()
    config.set_main_option("script_location", "workflow.store:migrations")
    with engine.db.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0020")
    assert "sweep_on" not in {c["name"] for c in sa.inspect(engine.db).get_columns("cases")}
    assert upgrade(engine.db) == ("0020", head_revision())
    opened = registered.opened_at.astimezone(SHANGHAI).date()  # 09:30 Shanghai: the UTC day
    assert sweep_day(engine, registered.id) == opened
    assert sweep_day(engine, withdrawn.id) == opened
    assert sweep_day(engine, refused.id) is None
    assert queued(engine) == [report.id]
