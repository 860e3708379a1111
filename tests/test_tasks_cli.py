"""`convalescence tasks list` filters and --json, and `scheduler run --once --now` (A9.3)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from factories import AS_AGENCY, REGISTRATION, cadre
from plans_setup import seed_plans

from workflow import Engine
from workflow.cli.main import main
from workflow.clock import SHANGHAI, SimulatedClock


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, *args], catch_exceptions=False)


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Two cadres who could not attend in 2024, in two counties."""
    monkeypatch.setenv("CONVALESCENCE_NOTICES_DIR", str(tmp_path / "notices"))
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    clock = SimulatedClock(datetime(2024, 5, 6, 9, 0, tzinfo=SHANGHAI))
    with Engine(url, clock=clock, auto_upgrade=True) as engine:
        engine.put_cadres(
            [
                cadre("LC-DCF-0001"),
                cadre("LC-GX-0001", county="冠县", agency="冠县军休所"),
            ]
        )
        seed_plans(engine)  # the year's plan the registrations name (A3.2)
        for cadre_id, agency in (("LC-DCF-0001", "东昌府区军休所"), ("LC-GX-0001", "冠县军休所")):
            actor = f"agency_officer:王芳@{agency}"
            case = engine.open_case(cadre_id, actor=actor, data=REGISTRATION)
            engine.fire(case.id, "withdraw", actor=actor, data={"for_health": True})
    return url


def test_scheduler_once_then_tasks_list_filters(url: str) -> None:
    result = cli(url, "scheduler", "run", "--once", "--now", "2024-05-06T10:00", "--json")
    assert result.exit_code == 0, result.output
    ran = json.loads(result.output)
    assert ran["jobs"]["condolence"]["opened"] == 2
    assert ran["jobs"]["dispatch"]["sent"] == 6  # 2 registrations x 2 notices, 2 visit tasks
    again = cli(url, "scheduler", "run", "--once", "--now", "2024-05-06T10:00", "--json")
    assert json.loads(again.output)["jobs"] == dict.fromkeys(("condolence", "timers", "dispatch"))

    listed = json.loads(cli(url, "--now", "2024-05-07", "tasks", "list", "--json").output)
    assert [(t["kind"], t["county"], t["due_on"]) for t in listed] == [
        ("condolence_visit", "东昌府区", "2025-12-31"),
        ("condolence_visit", "冠县", "2025-12-31"),
    ]
    one = json.loads(cli(url, "tasks", "list", "--county", "冠县", "--json").output)
    assert [t["agency"] for t in one] == ["冠县军休所"]
    assert json.loads(cli(url, "tasks", "list", "--agency", "无此机构", "--json").output) == []
    assert json.loads(cli(url, "tasks", "list", "--role", "county_officer", "--json").output) == []

    # ten working days later (2024-05-17, after the Labour Day make-up Saturday): escalated
    cli(url, "scheduler", "run", "--once", "--now", "2024-05-17T08:00")
    county = json.loads(
        cli(
            url, "--now", "2024-05-17", "tasks", "list", "--role", "county_officer", "--json"
        ).output
    )
    assert len(county) == 2
    assert {t["kind"] for t in county} == {"escalate"}
    due = date.fromisoformat(county[0]["due_on"])
    overdue = cli(
        url,
        "--now",
        str(date.fromordinal(due.toordinal() + 1)),
        "tasks",
        "list",
        "--overdue",
        "--json",
    )
    assert {t["kind"] for t in json.loads(overdue.output)} == {"escalate", "remind"}
    assert cli(url, "tasks", "list", "--due-before", "2024-05-18", "--json").exit_code == 0
    table = cli(url, "--now", "2024-05-17", "tasks", "list", "--county", "冠县")
    assert "冠县军休所" in table.output
    status = json.loads(cli(url, "scheduler", "status", "--json").output)
    assert status["jobs"]["timers"]["holder"] == "once"


def test_bad_input_names_the_option(url: str) -> None:
    result = CliRunner().invoke(main, ["--db", url, "tasks", "list", "--due-before", "soon"])
    assert result.exit_code == 2
    assert "--due-before" in result.output
    result = CliRunner().invoke(main, ["--db", url, "scheduler", "run", "--once", "--now", "x"])
    assert result.exit_code == 2
    assert "--now" in result.output


def test_a_day_beyond_the_holiday_data_exits_5_after_running_everything_else(url: str) -> None:
    """Issue 15: no notice for today's year is "calendar data missing" (exit 5, not bad input);
    the working-day timers wait, every other job runs, and the message says how to add a year."""
    result = CliRunner().invoke(
        main, ["--db", url, "scheduler", "run", "--once", "--now", "2024-05-06T10:00"]
    )
    assert result.exit_code == 0
    # a registered case's working-day timers, asked about a year without a State Council notice
    with Engine(url, clock=SimulatedClock(datetime(2024, 5, 6, tzinfo=SHANGHAI))) as engine:
        engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    moment = ["--now", "2031-03-02T10:00"]
    result = CliRunner().invoke(main, ["--db", url, "scheduler", "run", "--once", *moment])
    assert result.exit_code == 5, result.output
    assert "2031" in result.output
    assert "--holidays" in result.output
    assert "Traceback" not in result.output
    later = ["--now", "2031-03-02T11:00"]  # same moment: the incomplete timers run again only
    result = CliRunner().invoke(main, ["--db", url, "scheduler", "run", "--once", *later, "--json"])
    assert result.exit_code == 5
    jobs = json.loads(result.stdout)["jobs"]
    assert jobs["timers"]["calendar_missing"] == 2031
    assert jobs["timers"]["waiting"] == 6  # 2 + 4 working-day timers of the two definitions
    assert jobs["dispatch"] is not None
    assert "error" not in jobs["dispatch"]
