"""Closing a cycle (issue 13 item 5; A9.1, A9.3, A18.2, A18.3, A19.1): the refusal that lists
what is still open, the closing once it is all done (row, admin-log entry, archive folder), the
freeze on every later step, plan and batch, and the closing's own refusals; on the hand-counted
year of `reports_scenario` (as of 2026-01-05, after the 2024-2025 cycle ended), through the real
command line, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from factories import AS_CADRE, REGISTRATION, cadre
from reports_scenario import AGENCY, AS_OF, DONG, LIN, Scenario, scenario_database
from tampering import tamper

from workflow import Engine, RuleRefused, SimulatedClock
from workflow.audit import verify_database
from workflow.cli.main import main
from workflow.clock import SHANGHAI
from workflow.cycles import close_cycle
from workflow.machine import Actor
from workflow.plans import service
from workflow.scheduler.condolence import sweep_condolence
from workflow.store import cycles as store
from workflow.store.admin_log import Author
from workflow.store.schema import admin_log, cycle_closures
from workflow.unable import record_unable

NOW = "2026-01-05T09:00"  # the scenario's AS_OF
CYCLE = "2024-2025"
CLOSER = "city_officer:赵敏"
DECEMBER = datetime(2025, 12, 1, 9, 0, tzinfo=SHANGHAI)  # the cycle's last month


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, "--now", NOW, *args], catch_exceptions=False)


def officer(county: str) -> str:
    return f"agency_officer:王芳@{AGENCY[county]}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_cycle_closes_only_when_nothing_is_open_and_then_is_frozen(
    kind: str, tmp_path: Path
) -> None:
    with scenario_database(kind, tmp_path) as (url, scenario):
        _refused_while_open(url, scenario, tmp_path)
        with Engine(url, clock=SimulatedClock(AS_OF)) as engine:
            _resolve(engine, scenario)
            before = verify_database(engine.db)
        folder = tmp_path / "archive" / f"cycle-{CYCLE}"
        folder.parent.mkdir()
        closed = cli(url, "cycles", "close", CYCLE, "--as", CLOSER, "--out", str(folder), "--json")
        assert closed.exit_code == 0, closed.stderr
        answer = json.loads(closed.stdout)
        assert (answer["cycle"], answer["closed_by"]) == (CYCLE, CLOSER)
        assert answer["closed_at"] == "2026-01-05T09:00:00+08:00"
        _check_folder(folder, answer, before.digest)
        _check_recorded(url, answer)
        assert cli(url, "audit", "verify").exit_code == 0  # the closing's entry is chained
        checked = cli(url, "audit", "verify", "--against", str(folder / "audit-checkpoint.jsonl"))
        assert checked.exit_code == 0, checked.stderr
        _frozen(url, scenario)
        again = cli(url, "cycles", "close", CYCLE, "--as", CLOSER, "--out", str(tmp_path / "x"))
        assert again.exit_code == 1
        assert f"{CYCLE} 疗养周期已由 {CLOSER} 于 2026-01-05 09:00 关闭" in again.stderr
        assert not (tmp_path / "x").exists()
        listed = json.loads(cli(url, "cycles", "list", "--json").stdout)
        assert [(c["cycle"], c["state"]) for c in listed] == [
            ("2023", "ended"),
            (CYCLE, "closed"),
        ]


def _refused_while_open(url: str, scenario: Scenario, tmp_path: Path) -> None:
    """Case 3 attended but not evaluated, case 11 approved only, the visits not closed (one
    never made, after the cycle's end), a cadre reported unable whose visit the sweep has not
    opened yet, then the visit tasks the sweep gives the agencies, and batch B4, whose cadre is
    still seated, not evaluated: each named under its article, and nothing written."""
    with Engine(url, clock=SimulatedClock(DECEMBER)) as engine:
        record_unable(
            engine, "LC-0010", cycle=CYCLE, reason="身体健康原因", actor=Actor.parse(officer(LIN))
        )
    status = json.loads(cli(url, "cycles", "status", CYCLE, "--json").stdout)
    kinds = {k["kind"]: k for k in status["open"]}
    assert (status["state"], status["closable"]) == ("ended", False)
    assert [i["id"] for i in kinds["cases"]["items"]] == [scenario.cases[3], scenario.cases[11]]
    assert (kinds["visits"]["total"], kinds["visits"]["article"]) == (3, "A9.3")
    assert [i["cadre_id"] for i in kinds["visits_to_open"]["items"]] == ["LC-0010"]
    assert [i["id"] for i in kinds["batches"]["items"]] == [scenario.batches["B4"]]
    assert set(kinds) == {"cases", "visits", "visits_to_open", "batches"}
    with Engine(url, clock=SimulatedClock(DECEMBER)) as engine:
        swept = sweep_condolence(engine)  # as on a December morning: the visit, the tasks
    assert (swept.opened, swept.tasks_created) == (1, 2)
    shown = cli(url, "cycles", "status", CYCLE)
    assert "未结案件（A9.1）：共 2 项" in shown.stdout
    assert "待办任务（A9.3）：共 2 项" in shown.stdout
    folder = tmp_path / "refused"
    refused = cli(url, "cycles", "close", CYCLE, "--as", CLOSER, "--out", str(folder), "--json")
    assert refused.exit_code == 1
    error = json.loads(refused.stdout)
    assert [(r["article"], r["rule"]) for r in error["refusals"]] == [
        ("A9.1", "cycle_cases_open"),
        ("A9.3", "cycle_visits_open"),
        ("A18.3", "cycle_batches_open"),
        ("A9.3", "cycle_tasks_open"),
    ]
    message = refused.stderr
    assert f"{CYCLE} 疗养周期尚不能关闭" in message
    assert f"案件 {scenario.cases[3]}（LC-0003，{LIN}，已参加疗养）" in message
    assert "待安排走访，已逾期" in message  # case 9's visit, due by 2025-12-31
    assert f"批次 {scenario.batches['B4']}（泰安" in message
    assert not folder.exists()
    assert not list(tmp_path.glob(".refused*"))  # no archive left aside either
    with Engine(url) as engine, engine.transaction() as connection:
        count = sa.select(sa.func.count()).select_from(cycle_closures)
        assert connection.execute(count).scalar() == 0


def _resolve(engine: Engine, scenario: Scenario) -> None:
    """What the office does: the satisfaction score of case 3, case 11 withdrawn (its seat in
    B4 given back: a batch nobody went on needs no evaluation), the visits made and closed
    (their tasks then wait no more)."""
    engine.fire(scenario.cases[3], "evaluate", actor=officer(LIN), data={"satisfaction": 4})
    engine.fire(scenario.cases[11], "withdraw", actor=officer(DONG), data={"for_health": False})
    visits = [c for c in engine.cases(open_only=True) if c.definition == "condolence_visit"]
    for visit in visits:
        if visit.state == "flagged":
            record = {"visited_by": "王芳", "visited_on": "2026-01-05", "items_brought": "慰问金"}
            engine.fire(visit.id, "record_visit", actor=officer(visit.county), data=record)
        engine.fire(visit.id, "close", actor=officer(visit.county), data={})
    assert [c.id for c in engine.cases(open_only=True)] == []


def _check_folder(folder: Path, answer: dict[str, object], digest: str) -> None:
    names = {p.name for p in folder.iterdir()}
    assert names == {
        "manifest.json",
        "performance-2024.html",
        "performance-2024.xlsx",
        "performance-2025.html",
        "performance-2025.xlsx",
        f"visits-{CYCLE}.html",
        f"visits-{CYCLE}.xlsx",
        "audit-verify.json",
        "audit-checkpoint.jsonl",
    }
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["cycle"] == {"id": CYCLE, "start": "2024-01-01", "end": "2025-12-31"}
    assert (manifest["closed_by"], manifest["closed_at"]) == (CLOSER, answer["closed_at"])
    listed = {f["name"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) == names - {"manifest.json"}
    assert all(_sha256(folder / name) == sha for name, sha in listed.items())
    assert _sha256(folder / "manifest.json") == answer["archive_digest"]
    audit = json.loads((folder / "audit-verify.json").read_text(encoding="utf-8"))
    assert audit["intact"] is True
    assert audit["digest"] == manifest["audit_digest"] == answer["audit_digest"] == digest
    report = (folder / "performance-2024.html").read_text(encoding="utf-8")
    assert "A18.2" in report
    assert "威海荣成疗养院" in report
    assert not list(folder.parent.glob(".cycle-*"))  # the staging folder became the archive


def _check_recorded(url: str, answer: dict[str, object]) -> None:
    with Engine(url) as engine, engine.transaction() as connection:
        rows = connection.execute(sa.select(cycle_closures)).mappings().all()
        logged = (
            connection.execute(sa.select(admin_log).where(admin_log.c.entity == "cycle"))
            .mappings()
            .all()
        )
    assert [(r["cycle"], r["closed_by"], r["role"]) for r in rows] == [
        (CYCLE, "赵敏", "city_officer")
    ]
    assert rows[0]["archive_digest"] == answer["archive_digest"]
    assert [(e["action"], e["actor"], e["entity_id"]) for e in logged] == [
        ("close", "赵敏", rows[0]["id"])
    ]
    assert logged[0]["data"]["archive_digest"] == answer["archive_digest"]


def _frozen(url: str, scenario: Scenario) -> None:
    """Every later step on a case of the cycle and a write on one of its batches is refused
    citing A9.1 and naming the closing; nothing of it is written. (An opening into a closed
    cycle: `test_two_officers_closing_at_the_same_moment_one_wins`.)"""
    with Engine(url, clock=SimulatedClock(AS_OF)) as engine:
        case = engine.case(scenario.cases[3])
        with pytest.raises(RuleRefused) as fired:
            engine.fire(case.id, "evaluate", actor=officer(LIN), data={"satisfaction": 5})
        assert [(r.article, r.rule) for r in fired.value.refusals] == [("A9.1", "cycle_closed")]
        assert "由市级退役军人事务部门工作人员 赵敏 关闭" in str(fired.value)
        assert "A18.2" in str(fired.value)
        assert engine.case(case.id).version == case.version
        with pytest.raises(RuleRefused) as batch:
            service.update_batch(engine, scenario.batches["B4"], staff_count=3)
        assert batch.value.refusals[0].rule == "cycle_closed"
        assert service.show_batch(engine, scenario.batches["B4"])["staff_count"] == 2
    command = cli(url, "cases", "fire", str(scenario.cases[3]), "evaluate", "--as", officer(LIN))
    assert command.exit_code == 1
    assert "A9.1" in command.stderr
    assert "cycle_closed" in command.stderr


def test_an_unknown_cycle_is_exit_4_naming_the_known_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert cli(url, "db", "upgrade").exit_code == 0
    for args in (("status", "2026-2027"), ("close", "2026-2027", "--as", CLOSER)):
        result = cli(url, "cycles", *args)
        assert result.exit_code == 4
        assert "找不到疗养周期：2026-2027（已知的周期：2023、2024-2025）" in result.stderr
    english = cli(url, "--lang", "en", "cycles", "status", "2026-2027")
    assert english.exit_code == 4
    assert "2026-2027" in english.stderr
    assert "2024-2025" in english.stderr
    assert "疗养周期" not in english.stderr


def test_only_a_city_officer_closes_and_a_full_folder_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert cli(url, "db", "upgrade").exit_code == 0
    county = cli(url, "cycles", "close", "2023", "--as", "county_officer:刘伟@东昌府区")
    assert county.exit_code == 1
    assert "A5.2" in county.stderr
    assert "county_officer" in county.stderr
    full = tmp_path / "full"
    full.mkdir()
    (full / "old.txt").write_text("keep me")
    refused = cli(url, "cycles", "close", "2023", "--as", CLOSER, "--out", str(full))
    assert refused.exit_code == 2
    assert "目录已存在且不为空" in refused.stderr
    assert [p.name for p in full.iterdir()] == ["old.txt"]
    status = json.loads(cli(url, "cycles", "status", "2023", "--json").stdout)
    assert (status["closure"], status["closable"]) == (None, True)
    empty = tmp_path / "empty"
    empty.mkdir()  # an empty folder made ready for the archive is used
    closed = cli(url, "cycles", "close", "2023", "--as", CLOSER, "--out", str(empty))
    assert closed.exit_code == 0, closed.stderr
    assert "performance-2023.html" in {p.name for p in empty.iterdir()}
    assert date(2023, 12, 31).isoformat() in cli(url, "cycles", "list").stdout


def test_two_officers_closing_at_the_same_moment_one_wins(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """Both find nothing open in the 2024-2025 cycle (its plans only, on 2024-05-06: an early
    closing, nothing to wait for) and build their archives; the closings take turns, the second
    is refused naming the first, and only the first's folder exists. Then the cycle is frozen
    for an opening and a plan too, the unique cycle stops a closing that skipped the check, and
    the closing can be neither deleted nor deleted unnoticed (A19.1)."""
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def close(name: str) -> None:
        clock = SimulatedClock(engine.clock.now())
        with Engine(db_url, clock=clock) as own:
            own.ensure_schema()
            barrier.wait(timeout=60)
            try:
                close_cycle(own, CYCLE, actor=Actor("city_officer", name), out=tmp_path / name)
                outcomes[name] = "won"
            except RuleRefused as refused:
                outcomes[name] = ",".join(r.rule for r in refused.refusals)

    threads = [threading.Thread(target=close, args=(name,)) for name in ("赵敏", "钱军")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes.values()) == ["cycle_closed", "won"], outcomes
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name in outcomes) == [winner]
    assert not list(tmp_path.glob(".*"))  # the loser's archive, built aside, is gone
    with engine.transaction() as connection:
        rows = connection.execute(sa.select(cycle_closures.c.closed_by)).scalars().all()
        logged = (
            connection.execute(sa.select(admin_log.c.actor).where(admin_log.c.entity == "cycle"))
            .scalars()
            .all()
        )
    assert rows == logged == [winner]

    engine.put_cadres([cadre()])
    with pytest.raises(RuleRefused) as opened:
        engine.open_case("LC-DCF-0001", actor=AS_CADRE, data=REGISTRATION)
    assert [(r.article, r.rule) for r in opened.value.refusals] == [("A9.1", "cycle_closed")]
    assert engine.cases() == []
    with pytest.raises(RuleRefused) as planned:
        service.create_plan(
            engine, year=2025, organiser_level="city", budget=Decimal("1.00"), cycle=CYCLE
        )
    assert planned.value.refusals[0].rule == "cycle_closed"
    assert [p["year"] for p in service.list_plans(engine)] == [2024, 2024]
    with engine.transaction(write=True) as connection:
        skipped = store.record_closure(
            connection,
            cycle=CYCLE,
            author=Author("city_officer", "孙丽"),
            at=engine.clock.now(),
            audit_digest="0" * 64,
            archive_digest="0" * 64,
        )
    assert skipped is None
    with pytest.raises(sa.exc.DBAPIError), engine.transaction(write=True) as connection:
        connection.execute(sa.delete(cycle_closures))  # append-only (A19.1)
    tamper(engine, sa.delete(cycle_closures))  # a DBA unfreezing the cycle behind our back
    broken = verify_database(engine.db).broken
    assert broken is not None
    assert (broken.table, broken.problem) == ("cycle_closures", "vanished")
