"""A hand-built year for the report tests (A18.2), small enough to count on paper.

2024: a city plan (batches B1 at contractor A, capacity 60 with an A6.2 over-50 exception, and
B2 at contractor B) and a county plan of 东昌府区 (B3 at contractor A); 2025: a city plan with
B4 at contractor B. Cases (one cadre each; 东 = 东昌府区, 临 = 临清市):

==  ====  =====  =====  =======================================================
 #  cty   plan   batch  outcome
==  ====  =====  =====  =======================================================
 1  东    city   B1     evaluated, satisfaction 5
 2  东    city   B1     evaluated, 4
 3  临    city   B1     attended, not evaluated
 4  临    city   B1     aged 80 on the first day: A8.2 exception, evaluated, 3
 5  东    city   B2     withdrew after approval, for health -> visit, on time
 6  临    city   B2     evaluated, 2
 7  东    county B3     evaluated, 5
 8  东    county B3     unable to attend after approval -> visit, late
 9  东    county —      unable to attend before approval -> visit, never made
10  临    city   —      rejected
11  东    city   B4     (2025) approved only
==  ====  =====  =====  =======================================================

B1, B2 and B3 are started before their check-ins (A13.1), each with its staff first fitted to
the cadres seated (A12.1: one for up to five). Contractor evaluations (A18.3): B1 90, B3 80,
B2 70. Visits are opened by the scheduler's condolence sweep (`open_visit`) in 2024; the
reports are read as of 2026-01-05, after the 2024-2025 cycle ended, so the visit never made is
overdue.

Reports only read, so the year is built once per module and database (`scenario_database`)
and shared by the tests that read it; a test that writes builds its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from factories import AGREEMENT, CONSENT, cadre
from pg_server import fresh_database
from plans_setup import start_batch

from workflow import Engine, SimulatedClock
from workflow.clock import SHANGHAI
from workflow.idcard import make_id_card
from workflow.plans import service
from workflow.plans.service import ExceptionGrant
from workflow.scheduler.condolence import open_visit

DONG, LIN = "东昌府区", "临清市"
AGENCY = {DONG: "东昌府区军休所", LIN: "临清市军休所"}
CYCLE = "2024-2025"
AS_OF = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)
ID_CARD = make_id_card("371502", date(1950, 3, 12), 1, female=False)  # cadre 1's, masked on paper


@dataclass(frozen=True)
class Scenario:
    contractor_a: int
    contractor_b: int
    batches: dict[str, int]
    cases: dict[int, int]  # scenario number -> case id


def _officer(county: str) -> str:
    return f"agency_officer:王芳@{AGENCY[county]}"


def _dates(start: str, end: str) -> dict[str, Any]:
    return {"start_date": date.fromisoformat(start), "end_date": date.fromisoformat(end)}


def _contractor(engine: Engine, name: str, kind: str) -> int:
    made = service.create_contractor(engine, name=name, kind=kind)
    service.add_qualification(
        engine,
        made["id"],
        name="医疗机构执业许可证",
        valid_from=date(2024, 1, 1),
        valid_until=date(2026, 12, 31),
    )
    return int(made["id"])


def _agree(engine: Engine, contractor: int, plan: int, number: str) -> None:
    service.add_agreement(
        engine,
        contractor,
        plan_id=plan,
        agreement_no=number,
        signed_on=date(2024, 3, 1),
        valid_from=date(2024, 3, 1),
        valid_until=date(2025, 12, 31),
    )


def add_batch(engine: Engine, plan: int, contractor: int, **values: Any) -> int:
    defaults: dict[str, Any] = {
        "province": "山东",
        "place": "威海市荣成",
        "capacity": 10,
        "staff_count": 2,
        "safety_plan_ref": "AQ-1",
        "emergency_plan_ref": "YJ-1",
        "organiser_contacts": [{"name": "王芳", "phone": "0635-1234567"}],
        "contractor_contacts": [{"name": "李强", "phone": "0631-7654321"}],
    }
    made = service.create_batch(
        engine, plan_id=plan, contractor_id=contractor, **(defaults | values)
    )
    return int(made["id"])


def build(engine: Engine, clock: SimulatedClock) -> Scenario:
    a = _contractor(engine, "威海荣成疗养院", "own_resource")
    b = _contractor(engine, "泰山疗养中心", "partner_unit")
    money = Decimal("100000.00")
    city = service.create_plan(engine, year=2024, organiser_level="city", budget=money, cycle=CYCLE)
    county = service.create_plan(
        engine, year=2024, organiser_level="county", county=DONG, budget=money, cycle=CYCLE
    )
    later = service.create_plan(
        engine, year=2025, organiser_level="city", budget=money, cycle=CYCLE
    )
    _agree(engine, a, city["id"], "XY-A-1")
    _agree(engine, b, city["id"], "XY-B-1")
    _agree(engine, a, county["id"], "XY-A-2")
    _agree(engine, b, later["id"], "XY-B-2")
    over_50 = ExceptionGrant("over_50", "city_officer", "赵敏", "老干部集中疗养，市局批准扩大批次")
    batches = {
        "B1": add_batch(
            engine,
            city["id"],
            a,
            capacity=60,
            staff_count=6,
            exceptions=[over_50],
            **_dates("2024-06-03", "2024-06-09"),
        ),
        "B2": add_batch(engine, city["id"], b, place="泰安", **_dates("2024-07-01", "2024-07-07")),
        "B3": add_batch(engine, county["id"], a, **_dates("2024-08-05", "2024-08-11")),
        "B4": add_batch(engine, later["id"], b, place="泰安", **_dates("2025-06-02", "2025-06-08")),
    }
    people = [
        (1, DONG, "city", {"id_card": ID_CARD}),
        (2, DONG, "city", {}),
        (3, LIN, "city", {}),
        (4, LIN, "city", {"birth_date": "1943-06-01"}),  # 81 on 2024-06-03, over 80 (A8.2)
        (5, DONG, "city", {}),
        (6, LIN, "city", {}),
        (7, DONG, "county", {}),
        (8, DONG, "county", {}),
        (9, DONG, "county", {}),
        (10, LIN, "city", {}),
        (11, DONG, "city", {}),
    ]
    engine.put_cadres(
        [
            cadre(f"LC-{n:04d}", name=f"干部{n:02d}", county=c, agency=AGENCY[c], **extra)
            for n, c, _, extra in people
        ]
    )
    ids: dict[int, int] = {}
    for n, _, level, _ in people:
        cadre_id = f"LC-{n:04d}"
        ids[n] = engine.open_case(
            cadre_id, actor=f"cadre:干部{n:02d}@{cadre_id}", data={"plan_level": level}
        ).id
        if n != 10:
            engine.fire(ids[n], "consent", actor=f"family:张丽@{cadre_id}", data=CONSENT)
    officer = {n: _officer(c) for n, c, _, _ in people}
    engine.grant_exception(
        ids[4],
        "under_age_limit_on_first_day",
        actor="city_officer:赵敏",
        reason="身体健康，本人坚持",
    )
    batch_of = {1: "B1", 2: "B1", 3: "B1", 4: "B1", 5: "B2", 6: "B2", 7: "B3", 8: "B3", 11: "B4"}
    for n, name in batch_of.items():
        engine.fire(ids[n], "approve", actor=officer[n], data={"batch_id": batches[name]})
    covered = {
        "B1": ("2024-06-03", "2024-06-09"),
        "B2": ("2024-07-01", "2024-07-07"),
        "B3": ("2024-08-05", "2024-08-11"),
    }
    for n, score in ((1, 5), (2, 4), (3, None), (4, 3), (6, 2), (7, 5)):
        start, end = covered[batch_of[n]]
        start_batch(engine, batches[batch_of[n]])  # once per batch: attend needs it (A13.1)
        _go(engine, ids[n], officer[n], start, end)
        if score is not None:
            engine.fire(ids[n], "evaluate", actor=officer[n], data={"satisfaction": score})
    engine.fire(ids[5], "withdraw", actor=officer[5], data={"for_health": True})
    engine.fire(ids[8], "report_unable", actor=officer[8], data={"cause": "健康原因"})
    engine.fire(ids[9], "report_unable", actor=officer[9], data={"cause": "健康原因"})
    engine.fire(ids[10], "reject", actor=officer[10], data={"article": "A8.1"})
    for n in (5, 8, 9):
        assert open_visit(engine, f"LC-{n:04d}", CYCLE, ids[n])
    visits = _visit_ids(engine)
    _visit(engine, visits[ids[5]], "2024-09-01")
    clock.set(datetime(2026, 1, 4, 10, 0, tzinfo=SHANGHAI))
    _visit(engine, visits[ids[8]], "2026-01-03")  # after the cycle ended: done, but late
    clock.set(AS_OF)
    for name, score in (("B1", 90), ("B3", 80), ("B2", 70)):  # after the batches (A18.3)
        service.evaluate_contractor(engine, batches[name], score=score, by="市局评估组")
    return Scenario(a, b, batches, ids)


def _go(engine: Engine, case_id: int, officer: str, start: str, end: str) -> None:
    """Agreement, insurance covering the whole stay (A7.3) and check-in."""
    engine.fire(case_id, "sign_agreement", actor=officer, data=AGREEMENT)
    insurance = {
        "insurer": "中国人寿聊城分公司",
        "policy_no": f"P-{case_id:04d}",
        "covered_from": start,
        "covered_until": end,
    }
    engine.fire(case_id, "insure", actor=officer, data=insurance)
    engine.fire(case_id, "attend", actor=officer, data={"checked_in_on": start})


def _visit_ids(engine: Engine) -> dict[int, int]:
    """Visit case id by the honorary case it follows up (``source_case_id``)."""
    found = [c for c in engine.cases(state="flagged") if c.definition == "condolence_visit"]
    return {int(v.evidence["source_case_id"]): v.id for v in found}


def _visit(engine: Engine, visit_id: int, day: str) -> None:
    engine.fire(
        visit_id,
        "record_visit",
        actor="agency_officer:王芳@东昌府区军休所",
        data={"visited_by": "王芳", "visited_on": day, "items_brought": "慰问金500元"},
    )


@contextmanager
def scenario_database(kind: str, directory: Path) -> Iterator[tuple[str, Scenario]]:
    """The scenario in a database of its own (SQLite file or a new PostgreSQL database, dropped
    afterwards), as a URL for engines and for the command line."""
    with ExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite:///{directory / 'reports.db'}"
        else:
            url = stack.enter_context(fresh_database("cv_reports"))
        clock = SimulatedClock(datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI))
        with Engine(url, clock=clock) as engine:
            engine.upgrade_schema()
            scenario = build(engine, clock)
        yield url, scenario
