"""Art. 9 (A9.3): every cadre who qualifies but cannot take part in a cycle gets exactly one
condolence visit, whether or not a case ever reached ``unable_to_attend``, and however late in
(or after) the cycle the inability is known. SQLite and PostgreSQL (the ``engine`` fixture).

The late scenarios use cycle "2023" (2023-03-23 to 2023-12-31), which ends inside the policy's
validity: a visit for a cycle ending 2025-12-31 can only be opened after that day once a
successor condolence-visit definition is in force (A21.1, issue 13)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from factories import AS_AGENCY, AS_COUNTY, CONSENT, REGISTRATION, cadre
from fastapi.testclient import TestClient
from plans_setup import seed_plans

from workflow import Engine
from workflow.api import TokenRegistry, create_app
from workflow.cli.main import main
from workflow.clock import SHANGHAI, SimulatedClock
from workflow.errors import InputError, NotFoundError, RuleRefused
from workflow.machine import Actor
from workflow.scheduler import sweep_condolence
from workflow.store.schema import cases, history, outbox, tasks, unable_reports, visit_keys
from workflow.unable import list_unable, record_unable


@pytest.fixture(autouse=True)
def notices_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVALESCENCE_NOTICES_DIR", str(tmp_path / "notices"))


AGENCY = Actor.parse(AS_AGENCY)
COUNTY = Actor.parse(AS_COUNTY)
AT = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)


def visits(engine: Engine) -> list[Any]:
    with engine.transaction() as connection:
        return list(
            connection.execute(
                sa.select(
                    visit_keys.c.cadre_id,
                    visit_keys.c.cycle,
                    visit_keys.c.late,
                    visit_keys.c.unable_report_id,
                    visit_keys.c.source_case_id,
                    cases.c.id,
                    cases.c.state,
                    cases.c.evidence,
                )
                .join(cases, cases.c.id == visit_keys.c.case_id)
                .order_by(visit_keys.c.cadre_id)
            ).all()
        )


def opening_reason(engine: Engine, case_id: int) -> str:
    with engine.transaction() as connection:
        return str(
            connection.execute(
                sa.select(history.c.reason).where(history.c.case_id == case_id, history.c.seq == 1)
            ).scalar()
        )


def test_a9_3_an_unable_report_opens_the_visit_without_any_case(engine: Engine) -> None:
    """A cadre art. 8 rules out never registers: the officer's report is enough (A9.3)."""
    engine.put_cadres([cadre("LC-DCF-0001", health={"self_care": False})])
    report = record_unable(
        engine, "LC-DCF-0001", cycle="2024-2025", reason="生活不能自理，长期卧床", actor=AGENCY
    )
    assert (report.reporter_role, report.reporter_name, report.occurred_on) == (
        "agency_officer",
        "王芳",
        date(2024, 5, 6),
    )
    assert len(report.hash) == 64
    first = sweep_condolence(engine)
    assert (first.opened, first.tasks_created, first.refused) == (1, 1, 0)
    (visit,) = visits(engine)
    assert (visit.cycle, visit.state, visit.late, visit.source_case_id) == (
        "2024-2025",
        "flagged",
        False,
        None,
    )
    assert visit.unable_report_id == report.id
    assert visit.evidence["unable_report_id"] == report.id
    assert visit.evidence["cause"] == "生活不能自理，长期卧床"
    assert "王芳" in opening_reason(engine, visit.id)
    assert "第九条" in opening_reason(engine, visit.id)
    assert sweep_condolence(engine) == type(first)()  # nothing twice
    listed = list_unable(engine, viewer=COUNTY)
    assert [(r["cadre_id"], r["visit_case_id"], r["visit_late"]) for r in listed] == [
        ("LC-DCF-0001", visit.id, False)
    ]
    with engine.transaction() as connection:
        due = connection.execute(
            sa.select(tasks.c.due_on).where(tasks.c.case_id == visit.id)
        ).scalar()
    assert due == date(2025, 12, 31)


def test_a9_3_unable_report_is_append_only_a19_1(engine: Engine) -> None:
    engine.put_cadres([cadre("LC-DCF-0001")])
    record_unable(engine, "LC-DCF-0001", cycle="2024-2025", reason="住院", actor=COUNTY)
    with (
        pytest.raises(sa.exc.DatabaseError, match="append-only"),
        engine.transaction(write=True) as connection,
    ):
        connection.execute(sa.update(unable_reports).values(reason="改过"))
    with (
        pytest.raises(sa.exc.DatabaseError, match="append-only"),
        engine.transaction(write=True) as connection,
    ):
        connection.execute(sa.delete(unable_reports))


def test_a9_3_a5_2_who_may_report_and_what_is_refused(engine: Engine) -> None:
    engine.put_cadres(
        [
            cadre("LC-DCF-0001"),
            cadre("LC-DCF-0002", merits=[], honours=[]),  # art. 4: not eligible at all
        ]
    )
    other_county = Actor.parse("county_officer:钱科长@临清市")
    with pytest.raises(RuleRefused) as refused:
        record_unable(engine, "LC-DCF-0001", cycle="2024-2025", reason="住院", actor=other_county)
    assert refused.value.articles == ("A5.2",)
    with pytest.raises(RuleRefused) as refused:
        record_unable(
            engine,
            "LC-DCF-0001",
            cycle="2024-2025",
            reason="住院",
            actor=Actor.parse("cadre:张建国@LC-DCF-0001"),
        )
    assert refused.value.articles == ("A5.2",)
    with pytest.raises(RuleRefused) as refused:
        record_unable(engine, "LC-DCF-0002", cycle="2024-2025", reason="住院", actor=AGENCY)
    assert refused.value.articles == ("A9.3",)
    with pytest.raises(RuleRefused) as refused:  # a day outside the cycle named
        record_unable(
            engine,
            "LC-DCF-0001",
            cycle="2023",
            reason="住院",
            actor=AGENCY,
            occurred_on=date(2024, 2, 1),
        )
    assert refused.value.articles == ("A9.1",)
    with pytest.raises(InputError) as bad:
        record_unable(engine, "LC-DCF-0001", cycle="2030", reason="住院", actor=AGENCY)
    assert bad.value.field == "cycle"
    with pytest.raises(InputError) as bad:
        record_unable(engine, "LC-DCF-0001", cycle="2024-2025", reason="  ", actor=AGENCY)
    assert bad.value.field == "reason"
    with pytest.raises(NotFoundError):
        record_unable(engine, "LC-NOBODY", cycle="2024-2025", reason="住院", actor=AGENCY)
    record_unable(engine, "LC-DCF-0001", cycle="2024-2025", reason="住院", actor=AGENCY)
    with pytest.raises(InputError, match="王芳"):  # one report per cadre and cycle
        record_unable(engine, "LC-DCF-0001", cycle="2024-2025", reason="再报", actor=COUNTY)


def test_a9_3_reported_on_the_last_day_after_the_sweep_gets_one_late_visit(
    engine: Engine, clock: SimulatedClock
) -> None:
    """Cycle 2023 ends 2023-12-31: the day's sweep ran at 08:00, a report (and a case ending
    unable) come in that evening; the first sweep of 2024 opens both, marked late."""
    engine.put_cadres([cadre("LC-DCF-0001"), cadre("LC-DCF-0002")])
    clock.set(datetime(2023, 12, 31, 8, 0, tzinfo=SHANGHAI))
    assert sweep_condolence(engine).opened == 0
    clock.set(datetime(2023, 12, 31, 18, 0, tzinfo=SHANGHAI))
    record_unable(engine, "LC-DCF-0001", cycle="2023", reason="突发心脏病住院", actor=AGENCY)
    seed_plans(engine)  # the 2023 plans the registration names (A3.2)
    case = engine.open_case("LC-DCF-0002", actor=AGENCY, data=REGISTRATION)
    engine.fire(case.id, "consent", actor="family:张丽@LC-DCF-0002", data=CONSENT)
    engine.fire(case.id, "report_unable", actor=AGENCY, data={"cause": "健康原因"})
    clock.set(datetime(2024, 1, 2, 8, 0, tzinfo=SHANGHAI))
    report = sweep_condolence(engine)
    assert (report.opened, report.refused) == (2, 0)
    found = visits(engine)
    assert [(v.cadre_id, v.cycle, v.late, v.state) for v in found] == [
        ("LC-DCF-0001", "2023", True, "flagged"),
        ("LC-DCF-0002", "2023", True, "flagged"),
    ]
    assert all(v.evidence["late"] is True for v in found)
    assert found[1].source_case_id == case.id
    assert "逾期" in opening_reason(engine, found[0].id)
    with engine.transaction() as connection:
        bodies = list(
            connection.execute(
                sa.select(outbox.c.body).where(outbox.c.template == "condolence_visit_task")
            ).scalars()
        )
    assert len(bodies) == 2
    assert all("逾期补开" in body for body in bodies)  # the agency is told it is late
    clock.set(datetime(2024, 1, 3, 8, 0, tzinfo=SHANGHAI))
    assert sweep_condolence(engine).opened == 0  # exactly one per cadre and cycle


def test_a9_3_a_report_entered_after_the_cycle_ended_still_gets_its_visit(
    engine: Engine, clock: SimulatedClock
) -> None:
    engine.put_cadres([cadre("LC-DCF-0001")])
    clock.set(datetime(2024, 3, 1, 10, 0, tzinfo=SHANGHAI))
    report = record_unable(
        engine,
        "LC-DCF-0001",
        cycle="2023",
        reason="2023年11月骨折，未能参加",
        actor=COUNTY,
        occurred_on=date(2023, 11, 10),
    )
    assert report.occurred_on == date(2023, 11, 10)
    assert sweep_condolence(engine).opened == 1
    (visit,) = visits(engine)
    assert (visit.cycle, visit.late, visit.unable_report_id) == ("2023", True, report.id)
    # the running cycle is untouched: no visit for 2024-2025
    assert sweep_condolence(engine).opened == 0


def test_a9_3_cli_records_and_lists_a_report(tmp_path: Path, db_url: str) -> None:
    with Engine(db_url, clock=SimulatedClock(AT)) as engine:
        engine.upgrade_schema()
        engine.put_cadres([cadre("LC-DCF-0001")])
    base = ["--db", db_url, "--now", "2024-05-06T09:30"]
    runner = CliRunner()
    unable = ["cadres", "unable", "LC-DCF-0001", "--cycle", "2024-2025", "--reason", "住院"]
    refused = runner.invoke(main, [*base, *unable, "--as", "county_officer:钱科长@临清市"])
    assert refused.exit_code == 1, refused.output
    assert "A5.2" in refused.output
    done = runner.invoke(main, [*base, *unable, "--as", AS_AGENCY, "--json"])
    assert done.exit_code == 0, done.output
    assert '"reporter_name": "王芳"' in done.output
    again = runner.invoke(main, [*base, *unable, "--as", AS_AGENCY])
    assert again.exit_code == 2, again.output
    listed = runner.invoke(main, [*base, "cadres", "unable-list", "--cycle", "2024-2025"])
    assert listed.exit_code == 0, listed.output
    assert "LC-DCF-0001" in listed.output


def test_a9_3_api_records_a_report_and_the_officer_lists_it(engine: Engine) -> None:
    engine.put_cadres([cadre("LC-DCF-0001")])
    tokens = {
        "t-agency": AS_AGENCY,
        "t-other": "county_officer:钱科长@临清市",
        "t-cadre": "cadre:张建国@LC-DCF-0001",
    }
    app = create_app(engine, TokenRegistry.from_tokens(tokens))
    body = {"cycle": "2024-2025", "reason": "住院治疗"}
    with TestClient(app) as client:
        other = client.post(
            "/cadres/LC-DCF-0001/unable", json=body, headers={"Authorization": "Bearer t-other"}
        )
        assert other.status_code in (403, 409), other.text
        assert "A5.2" in other.text
        done = client.post(
            "/cadres/LC-DCF-0001/unable", json=body, headers={"Authorization": "Bearer t-agency"}
        )
        assert done.status_code == 201, done.text
        assert done.json()["reporter_name"] == "王芳"
        again = client.post(
            "/cadres/LC-DCF-0001/unable", json=body, headers={"Authorization": "Bearer t-agency"}
        )
        assert again.status_code == 422, again.text
        assert sweep_condolence(engine).opened == 1
        listed = client.get(
            "/unable-reports",
            params={"cycle": "2024-2025"},
            headers={"Authorization": "Bearer t-agency"},
        )
        assert listed.status_code == 200, listed.text
        assert [r["visit_case_id"] is not None for r in listed.json()] == [True]
        assert (
            client.get("/unable-reports", headers={"Authorization": "Bearer t-cadre"}).status_code
            == 403
        )
