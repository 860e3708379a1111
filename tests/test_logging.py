"""Structured logs (issue 18): one JSON object per line with the request id and the actor on
every API request, the run id, job and outcome on every scheduler run, a line per dispatcher
batch; ``--log-format text`` for a terminal. Read back from a real app (TestClient) and the
real CLI; the service processes' lines are checked in test_metrics.py.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from factories import REGISTRATION, cadre
from fastapi.testclient import TestClient
from plans_setup import seed_plans

from workflow import Engine
from workflow.api import TokenRegistry, create_app
from workflow.cli.main import main
from workflow.observability import logs
from workflow.observability.steps import StepEnded

TOKENS = {"t-agency-logging-0001": "agency_officer:王芳@东昌府区军休所"}
AGENCY = {"Authorization": "Bearer t-agency-logging-0001"}
NOW = "2024-05-06T09:30"


class Captured:
    """The root logger's lines, written by the formatter under test into a buffer."""

    def __init__(self, log_format: str) -> None:
        self.buffer = io.StringIO()
        self.handler = logs.configure(log_format, stream=self.buffer)

    def lines(self) -> list[str]:
        return self.buffer.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]  # each line one JSON object

    def close(self) -> None:
        logging.getLogger().removeHandler(self.handler)


@pytest.fixture
def captured() -> Iterator[Captured]:
    level = logging.getLogger().level
    found = Captured("json")
    yield found
    found.close()
    logging.getLogger().setLevel(level)


@pytest.fixture
def url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """A SQLite file at the head revision (a copy of the run's migrated template)."""
    shutil.copyfile(migrated_sqlite, tmp_path / "cases.db")
    return f"sqlite:///{tmp_path / 'cases.db'}"


@pytest.fixture
def client(url: str, clock: Any) -> Iterator[TestClient]:
    with Engine(url, clock=clock) as engine:
        seed_plans(engine)
        engine.put_cadres([cadre()])
        # a step observer that logs, as a host's might: its line must carry the request's id
        step_log = logging.getLogger("workflow.test.steps")
        engine.observers.add(
            lambda ended: step_log.info("step %s %s", ended.trigger, ended.outcome)
        )
        with TestClient(create_app(engine, TokenRegistry.from_tokens(TOKENS))) as test_client:
            yield test_client


def access(captured: Captured) -> list[dict[str, Any]]:
    return [r for r in captured.records() if r["logger"] == "workflow.api.access"]


def test_each_request_has_an_id_echoed_logged_and_carried_by_lines_written_meanwhile(
    client: TestClient, captured: Captured
) -> None:
    given = client.post(
        "/cases",
        json={"cadre_id": "LC-DCF-0001", "data": REGISTRATION},
        headers={**AGENCY, "X-Request-ID": "proxy-7f3a.42"},
    )
    assert given.status_code == 201, given.text
    assert given.headers["X-Request-ID"] == "proxy-7f3a.42"
    line = access(captured)[-1]
    assert line["request_id"] == "proxy-7f3a.42"
    assert line["actor"] == "agency_officer:王芳@东昌府区军休所"
    assert (line["method"], line["path"], line["status"]) == ("POST", "/cases", 201)
    assert line["route"] == "/cases"
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0
    assert line["level"] == "info"
    assert line["time"].endswith("+08:00")
    step = [r for r in captured.records() if r["logger"] == "workflow.test.steps"]
    assert step[-1]["message"] == "step open done"
    assert step[-1]["request_id"] == "proxy-7f3a.42"

    # no id, or one that could forge log lines: a fresh one, different each time
    for header in ({}, {"X-Request-ID": "a b\r\nfake"}, {"X-Request-ID": "x" * 129}):
        answered = client.get("/health", headers=header)
        rid = answered.headers["X-Request-ID"]
        assert len(rid) == 32
        assert int(rid, 16) >= 0
        assert access(captured)[-1]["request_id"] == rid
        assert "actor" not in access(captured)[-1]  # /health takes no token
    ids = [line["request_id"] for line in access(captured)]
    assert len(set(ids)) == len(ids)


def test_refused_and_unauthenticated_requests_are_logged_too(
    client: TestClient, captured: Captured
) -> None:
    nobody = client.get("/cases")
    assert nobody.status_code == 401
    unknown = client.get("/no-such-route", headers=AGENCY)
    assert unknown.status_code == 404
    lines = access(captured)
    assert [(r["status"], r["route"]) for r in lines] == [(401, "/cases"), (404, "unmatched")]
    assert "actor" not in lines[0]  # no valid token: nobody is named
    assert nobody.headers["X-Request-ID"] == lines[0]["request_id"]


def test_the_text_format_is_one_readable_line_with_the_same_fields(client: TestClient) -> None:
    text = Captured("text")
    try:
        client.get("/health", headers={"X-Request-ID": "t-1"})
    finally:
        text.close()
    line = [s for s in text.lines() if " workflow.api.access " in s][-1]
    assert " INFO workflow.api.access GET /health 200 " in line
    assert "request_id=t-1" in line
    assert "status=200" in line
    with pytest.raises(ValueError, match="xml"):
        logs.formatter("xml")


def test_a_failing_step_observer_neither_fails_the_step_nor_hides_its_error(
    url: str, clock: Any, captured: Captured
) -> None:
    seen: list[StepEnded] = []

    def broken(_ended: StepEnded) -> None:
        raise RuntimeError("observer bug")

    with Engine(url, clock=clock) as engine:
        seed_plans(engine)
        engine.put_cadres([cadre()])
        engine.observers.add(broken)
        engine.observers.add(seen.append)
        view = engine.open_case(
            "LC-DCF-0001", actor=TOKENS["t-agency-logging-0001"], data=REGISTRATION
        )
        assert view.version == 1
    assert [(s.trigger, s.outcome) for s in seen] == [("open", "done")]
    failed = [r for r in captured.records() if r["logger"] == "workflow.observability.steps"]
    assert "observer bug" in failed[0]["exception"]


# -- the commands ------------------------------------------------------------------------------


def test_scheduler_run_logs_each_run_with_its_id_job_and_outcome(url: str, tmp_path: Path) -> None:
    args = ["--db", url, "--now", NOW, "scheduler", "run", "--once", "--json"]
    first = CliRunner().invoke(main, [*args, "--log-format", "json"], env=notices(tmp_path))
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["jobs"]["timers"] is not None  # stdout: the result alone
    runs = [json.loads(line) for line in first.stderr.splitlines()]
    ran = {r["job"]: r for r in runs if r["logger"] == "workflow.scheduler.jobs"}
    assert set(ran) == {"condolence", "timers", "dispatch"}
    assert all(r["outcome"] == "done" and isinstance(r["run_id"], int) for r in ran.values())
    assert ran["timers"]["slot"].startswith("2024-05-06T09:30")
    assert len({r["run_id"] for r in ran.values()}) == 3
    again = CliRunner().invoke(main, [*args, "--log-format", "text"], env=notices(tmp_path))
    assert again.exit_code == 0, again.output
    skipped = [s for s in again.stderr.splitlines() if "workflow.scheduler.jobs" in s]
    assert len(skipped) == 3
    assert all("outcome=skipped" in s for s in skipped)
    quiet = CliRunner().invoke(main, args, env=notices(tmp_path))  # --once: no log unless asked
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""


def notices(tmp_path: Path) -> dict[str, str]:
    return {"CONVALESCENCE_NOTICES_DIR": str(tmp_path / "notices")}


def test_notifications_dispatch_logs_each_batch(url: str, tmp_path: Path, clock: Any) -> None:
    with Engine(url, clock=clock) as engine:
        seed_plans(engine)
        engine.put_cadres([cadre()])
        engine.open_case("LC-DCF-0001", actor=TOKENS["t-agency-logging-0001"], data=REGISTRATION)
    args = ["--db", url, "--now", NOW, "notifications", "dispatch", "--once", "--batch", "1"]
    result = CliRunner().invoke(main, [*args, "--log-format", "json"], env=notices(tmp_path))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    batches = [r for r in lines if r.get("batch")]
    assert len(batches) >= 2  # a batch of one at a time: one line per batch that did anything
    assert all(b["claimed"] == 1 and b["sent"] == 1 and b["dead"] == 0 for b in batches)
    assert all(b["logger"] == "notifications.dispatch" for b in batches)
    bad = CliRunner().invoke(main, [*args, "--log-format", "xml"])
    assert bad.exit_code == 2
    address = CliRunner().invoke(main, [*args, "--metrics-address", "nowhere"])
    assert address.exit_code == 2
    assert "HOST:PORT" in address.output
