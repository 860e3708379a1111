"""Issue 15: an office gives the scheduler next year's holiday notice without a release.

``--holidays FILE`` (a global option) and ``$CONVALESCENCE_HOLIDAYS`` reach every command, the
scheduler and the API's ``/ready``; a bad file stops any command with every problem located
(exit 2); a day beyond the data is exit 5, "calendar data missing"; from 1 November the
scheduler and ``/ready`` warn while next year's notice is missing (A7.1, A9.3 deadlines).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from factories import AS_AGENCY, REGISTRATION, cadre
from fastapi.testclient import TestClient
from plans_setup import seed_plans

from workflow import Engine
from workflow.api import TokenRegistry, create_app
from workflow.api.server import TOKENS_VAR, app_from_environment
from workflow.calendar import HOLIDAYS_VAR, default_calendar
from workflow.cli.main import main
from workflow.clock import SHANGHAI, SimulatedClock

# Illustrative 2027 data in the shape of a notice (not the real 2027 notice).
GOOD = """\
years:
  2027:
    holidays: [2027-01-01, 2027-01-02, 2027-01-03, 2027-02-06, 2027-02-07, 2027-02-08,
               2027-02-09, 2027-02-10, 2027-02-11, 2027-02-12, 2027-02-13]
    workdays: [2027-02-14]
"""
BAD = """\
years:
  2027:
    holidays: [2027-01-01, 2027-02-30]
    workdays: [2027-02-15]
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(BAD, encoding="utf-8")
    return {"good": tmp_path / "good.yaml", "bad": tmp_path / "bad.yaml"}


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CONVALESCENCE_NOTICES_DIR", str(tmp_path / "notices"))
    monkeypatch.delenv(HOLIDAYS_VAR, raising=False)
    url = f"sqlite:///{tmp_path / 'holidays.db'}"
    clock = SimulatedClock(datetime(2025, 12, 22, 9, 0, tzinfo=SHANGHAI))
    with Engine(url, clock=clock, auto_upgrade=True) as engine:
        engine.put_cadres([cadre("LC-DCF-0001")])
        seed_plans(engine)  # the year's plan the registration names (A3.2)
        engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    return url


def run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--db", url, *args], env=env)


def test_a_bad_holidays_file_stops_any_command_naming_every_problem(
    url: str, files: dict[str, Path]
) -> None:
    for command in (["calendar", "status"], ["tasks", "list"], ["cases", "list"]):
        result = run(url, "--holidays", str(files["bad"]), *command)
        assert result.exit_code == 2, (command, result.output)
        assert f"{files['bad']}:3:" in result.output  # the impossible 30 February
        assert f"{files['bad']}:4:" in result.output  # a weekday as a make-up working day
        assert "节假日覆盖文件有误" in result.output
        assert "Traceback" not in result.output
    result = run(url, "tasks", "list", env={HOLIDAYS_VAR: str(files["bad"])})
    assert result.exit_code == 2
    assert f"{files['bad']}:3:" in result.output


def test_calendar_status_from_the_option_or_the_environment(
    url: str, files: dict[str, Path]
) -> None:
    now = ["--now", "2027-01-04T10:00"]
    result = run(url, *now, "calendar", "status")
    assert result.exit_code == 5, result.output
    result = run(url, *now, "calendar", "status", "--json")
    assert result.exit_code == 5
    assert json.loads(result.stdout)["missing_today"] == 2027  # one JSON document
    assert "没有 2027 年的法定节假日" in result.output
    for given in (["--holidays", str(files["good"])], []):
        env = None if given else {HOLIDAYS_VAR: str(files["good"])}
        result = run(url, *given, *now, "calendar", "status", "--json", env=env)
        assert result.exit_code == 0, result.output
        value = json.loads(result.stdout)
        assert value["covered_years"] == [2004, 2027]
        assert value["missing_today"] is None
        assert value["holidays_file"] == str(files["good"])


@pytest.mark.parametrize(
    ("now", "warned"), [("2026-10-31T10:00", False), ("2026-11-01T10:00", True)]
)
def test_from_1_november_next_years_notice_is_asked_for(url: str, now: str, warned: bool) -> None:
    result = run(url, "--now", now, "calendar", "status", "--json")
    assert result.exit_code == 0
    assert (json.loads(result.stdout)["missing_next"] == 2027) is warned
    result = run(url, "--now", now, "scheduler", "run", "--once")
    assert result.exit_code == 0, result.output
    assert ("提醒：还没有 2027 年" in result.output) is warned


def test_calendar_show_lists_what_a_notice_changes(url: str, files: dict[str, Path]) -> None:
    result = run(url, "calendar", "show", "2026", "--json")
    assert result.exit_code == 0
    value = json.loads(result.stdout)
    assert "2026-10-10" in value["make_up_working_days"]
    assert "2026-02-16" in value["holidays_on_weekdays"]
    assert value["working_days"] == 248
    result = run(url, "--holidays", str(files["good"]), "calendar", "show", "2027")
    assert result.exit_code == 0
    assert "2027-02-14" in result.output
    assert "调休上班" in result.output
    assert run(url, "calendar", "show", "2027").exit_code == 5


def test_the_scheduler_uses_the_file(url: str, files: dict[str, Path]) -> None:
    """The case registered on 2025-12-22 has had its 5 and 10 working-day timers; on a 2027
    day with the file given, the run is complete (exit 0); without it, exit 5."""
    moment = ["--now", "2027-01-04T10:00"]
    assert run(url, *moment, "scheduler", "run", "--once").exit_code == 5
    result = run(url, "--holidays", str(files["good"]), *moment, "scheduler", "run", "--once")
    assert result.exit_code == 0, result.output


@pytest.fixture
def ready_engine(url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    clock = SimulatedClock(datetime(2026, 11, 15, 9, 0, tzinfo=SHANGHAI))
    with Engine(url, clock=clock) as engine:
        yield engine, clock


def test_ready_warns_about_the_calendar_and_stays_ready(
    ready_engine: tuple[Engine, SimulatedClock], files: dict[str, Path]
) -> None:
    engine, clock = ready_engine
    tokens = TokenRegistry.from_tokens({})
    with TestClient(create_app(engine, tokens)) as client:
        body = client.get("/ready").json()
        assert body["status"] == "ready"
        assert body["calendar"]["missing_next"] == 2027
        assert "2027" in body["warnings"][0]
        clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=SHANGHAI))
        response = client.get("/ready")
        assert response.status_code == 200  # the API itself needs no working days
        assert response.json()["calendar"]["missing_today"] == 2027
    with TestClient(create_app(engine, tokens, calendar=default_calendar(files["good"]))) as client:
        body = client.get("/ready").json()
        assert body["warnings"] == []
        assert body["calendar"]["covered_years"] == [2004, 2027]


def test_ready_is_503_when_the_schema_is_not_current(tmp_path: Path) -> None:
    with Engine(f"sqlite:///{tmp_path / 'empty.db'}") as engine:
        app = create_app(engine, TokenRegistry.from_tokens({}))
        with TestClient(app) as client:
            response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert "db upgrade" in response.json()["problems"][0]


def test_api_workers_read_the_file_from_the_environment(
    url: str, files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`convalescence serve` hands the file to its workers through $CONVALESCENCE_HOLIDAYS."""
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens: {}\n", encoding="utf-8")
    monkeypatch.setenv("CONVALESCENCE_DB", url)
    monkeypatch.setenv(TOKENS_VAR, str(tokens))
    monkeypatch.setenv("CONVALESCENCE_API_NOW", "2027-01-04T09:00:00+08:00")
    monkeypatch.setenv(HOLIDAYS_VAR, str(files["good"]))
    with TestClient(app_from_environment()) as client:
        body = client.get("/ready").json()
    assert body["calendar"]["missing_today"] is None
    assert body["calendar"]["covered_years"] == [2004, 2027]


def test_the_readme_example_is_the_2026_notice_day_by_day() -> None:
    """examples/holidays-2026.yaml, the README's worked example, reads as the built-in 2026."""
    example = Path(__file__).parent.parent / "examples" / "holidays-2026.yaml"
    typed, built_in = default_calendar(example), default_calendar()
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert typed.is_working_day(day) == built_in.is_working_day(day), day
        day += timedelta(days=1)
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "examples/holidays-2026.yaml" in readme
    assert "--holidays" in readme
    assert HOLIDAYS_VAR in readme
