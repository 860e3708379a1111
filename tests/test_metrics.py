"""``/metrics`` (issue 18): what the API process counts, what the database says at scrape time,
and the scheduler's and the API workers' own counters, read back in the Prometheus text format
with prometheus_client's own parser.

The process's counters (steps by trigger and outcome, refusals by article, conflicts, requests
by route) are checked against the requests that caused them; the database's figures (outbox
depth and age, dead and retrying notices, each job's last run and lag, the lease) on both
databases, after real ``notifications dispatch`` and ``scheduler run`` commands. The scheduler
service and ``serve --workers 2`` run as real processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from factories import APPROVAL, CONSENT, INSURANCE, REGISTRATION, cadre
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from workflow import Engine, SimulatedClock
from workflow.api import TokenRegistry, create_app
from workflow.cli.main import main
from workflow.clock import SHANGHAI
from workflow.observability.database import DatabaseCollector
from workflow.observability.metrics import Metrics
from workflow.store.lease import LeaseKeeper
from workflow.store.schema import outbox, scheduler_runs

SEED_BATCH = True  # approval takes a seat in the batch APPROVAL names (A6.2)
TOKENS = {
    "t-agency-metrics-0001": "agency_officer:王芳@东昌府区军休所",
    "t-family-metrics-0001": "family:张丽@LC-DCF-0001",
}
AGENCY = {"Authorization": "Bearer t-agency-metrics-0001"}
FAMILY = {"Authorization": "Bearer t-family-metrics-0001"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of a scrape, by name and labels (the parser refuses a malformed scrape)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def count_outbox(engine: Engine, status: str) -> int:
    with engine.transaction() as connection:
        query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == status)
        return int(connection.execute(query).scalar_one())


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    engine.put_cadres([cadre()])
    with TestClient(create_app(engine, TokenRegistry.from_tokens(TOKENS))) as test_client:
        yield test_client


def test_steps_refusals_conflicts_requests_and_the_outbox(
    engine: Engine, clock: SimulatedClock, client: TestClient, db_url: str
) -> None:
    opened = client.post(
        "/cases", json={"cadre_id": "LC-DCF-0001", "data": REGISTRATION}, headers=AGENCY
    )
    assert opened.status_code == 201, opened.text
    case = f"/cases/{opened.json()['id']}/steps"
    early = client.post(f"{case}/insure", json={"data": INSURANCE}, headers=AGENCY)
    assert early.status_code == 409  # out of order: refused citing A7.1
    consent = client.post(f"{case}/consent", json={"data": CONSENT}, headers=FAMILY)
    assert consent.status_code == 200, consent.text
    stale = client.post(
        f"{case}/approve", json={"data": APPROVAL}, headers={**AGENCY, "If-Match": '"1"'}
    )
    assert stale.status_code == 412  # the case moved since version 1: a lost race
    made_up = client.post(f"{case}/no_such_step_{'x' * 40}", json={"data": {}}, headers=AGENCY)
    assert made_up.status_code == 422

    found = scrape(client)
    assert value(found, "convalescence_steps_total", trigger="open", outcome="done") == 1
    assert value(found, "convalescence_steps_total", trigger="consent", outcome="done") == 1
    assert value(found, "convalescence_steps_total", trigger="insure", outcome="refused") == 1
    assert value(found, "convalescence_steps_total", trigger="approve", outcome="conflict") == 1
    # a made-up trigger is counted, but under "other": callers cannot mint time series
    assert value(found, "convalescence_steps_total", trigger="other", outcome="bad_input") == 1
    assert not any("no_such_step" in str(labels) for _name, labels in found)
    assert value(found, "convalescence_refusals_total", article="A7.1") == 1
    assert value(found, "convalescence_conflicts_total", trigger="approve") == 1
    assert value(found, "convalescence_step_duration_seconds_count", trigger="open") == 1
    steps_route = "/cases/{case_id}/steps/{trigger}"
    by_route = {"method": "POST", "route": steps_route}
    assert value(found, "convalescence_http_requests_total", **by_route, status="409") == 1
    assert value(found, "convalescence_http_requests_total", **by_route, status="412") == 1
    assert value(found, "convalescence_http_request_duration_seconds_count", **by_route) == 4
    assert not any("/cases/1" in str(labels) for _name, labels in found)  # templates only

    # the database's figures: the notices the steps wrote, their age on the engine's clock
    assert value(found, "convalescence_database_up") == 1
    pending = count_outbox(engine, "pending")
    assert pending > 0
    assert value(found, "convalescence_outbox_notices", status="pending") == pending
    assert value(found, "convalescence_outbox_notices", status="dead") == 0
    assert value(found, "convalescence_outbox_oldest_undelivered_age_seconds") == 0
    clock.advance(timedelta(hours=1))
    assert value(scrape(client), "convalescence_outbox_oldest_undelivered_age_seconds") == 3600

    # a second app in the same process, on its own engine, counts nothing of the first's
    with Engine(db_url, clock=clock) as other_engine:
        other = TestClient(create_app(other_engine, TokenRegistry.from_tokens(TOKENS)))
        theirs = scrape(other)
    assert value(theirs, "convalescence_steps_total", trigger="open", outcome="done") is None
    assert value(theirs, "convalescence_outbox_notices", status="pending") == pending


def insert_notice(engine: Engine, key: str, channel: str, status: str, created: datetime) -> None:
    with engine.transaction(write=True) as connection:
        connection.execute(
            sa.insert(outbox).values(
                idempotency_key=key,
                case_id=None,
                template="consent_request",
                channel=channel,
                recipient_role="family",
                recipient_name="张丽",
                address="https://example.org/hook",
                subject="请确认",
                body="尊敬的张丽：\n",
                status=status,
                attempts=0,
                next_attempt_at=created,
                created_at=created,
            )
        )


def test_dead_retrying_and_the_scheduler_read_from_the_database(
    engine: Engine,
    clock: SimulatedClock,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a real dispatcher and a real scheduler run, on either database."""
    monkeypatch.setenv("CONVALESCENCE_NOTICES_DIR", str(tmp_path / "notices"))
    monkeypatch.setenv("CONVALESCENCE_WEBHOOK_URL", "http://127.0.0.1:9/unreachable")
    monkeypatch.delenv("CONVALESCENCE_SMTP", raising=False)
    written = clock.now() - timedelta(minutes=30)
    insert_notice(engine, "k-hook", "webhook", "pending", written)  # will fail: retrying
    insert_notice(engine, "k-dead", "file", "dead", written)
    at = ["--db", db_url, "--now", clock.now().isoformat()]
    dispatched = CliRunner().invoke(main, [*at, "notifications", "dispatch", "--once", "--json"])
    assert dispatched.exit_code == 0, dispatched.output
    assert json.loads(dispatched.stdout)["retrying"] == 1

    periods = {"condolence": 86400.0, "timers": 3600.0, "dispatch": 60.0, "checkpoint": 86400.0}
    wall = datetime.now(SHANGHAI)
    registry = Metrics()
    registry.add_collector(
        DatabaseCollector(engine.db, engine.clock, periods=periods, wall=lambda: wall)
    )
    found = samples(registry.exposition()[0].decode())
    assert value(found, "convalescence_outbox_notices", status="pending") == 1
    assert value(found, "convalescence_outbox_notices", status="dead") == 1
    assert value(found, "convalescence_outbox_retrying") == 1
    assert value(found, "convalescence_outbox_oldest_undelivered_age_seconds") == 1800
    assert value(found, "convalescence_scheduler_lease_held") == 0
    assert value(found, "convalescence_scheduler_run_unfinished", job="timers") == 0
    assert value(found, "convalescence_scheduler_last_run_timestamp_seconds", job="timers") is None

    ran = CliRunner().invoke(main, [*at, "scheduler", "run", "--once"])
    assert ran.exit_code == 0, ran.output
    with engine.transaction() as connection:
        finished = dict(
            connection.execute(sa.select(scheduler_runs.c.job, scheduler_runs.c.finished_at)).all()
        )
    assert set(finished) == {"condolence", "timers", "dispatch"}  # checkpoint: service only
    keeper = LeaseKeeper(engine.db, "node-a", timedelta(seconds=30), now=lambda: wall)
    assert keeper.try_acquire()

    later = finished["timers"] + timedelta(hours=3)  # two periods behind its hourly schedule
    registry = Metrics()
    registry.add_collector(
        DatabaseCollector(engine.db, engine.clock, periods=periods, wall=lambda: later)
    )
    found = samples(registry.exposition()[0].decode())
    for job, at_ in finished.items():
        stamp = value(found, "convalescence_scheduler_last_run_timestamp_seconds", job=job)
        assert stamp == pytest.approx(at_.timestamp())
        assert value(found, "convalescence_scheduler_run_unfinished", job=job) == 0
    assert value(found, "convalescence_scheduler_lag_seconds", job="timers") == pytest.approx(7200)
    lag_of_condolence = value(found, "convalescence_scheduler_lag_seconds", job="condolence")
    assert lag_of_condolence == 0  # daily: not behind yet
    assert value(found, "convalescence_scheduler_lag_seconds", job="checkpoint") is None
    # the lease, on the wall clock: held by node-a until 30 s after it was taken
    expires = value(
        found, "convalescence_scheduler_lease_expires_timestamp_seconds", holder="node-a"
    )
    assert expires == pytest.approx((wall + timedelta(seconds=30)).timestamp())
    assert value(found, "convalescence_scheduler_lease_held") == 0  # 3 h later it has run out
    registry = Metrics()
    registry.add_collector(
        DatabaseCollector(engine.db, engine.clock, periods=periods, wall=lambda: wall)
    )
    assert (
        value(samples(registry.exposition()[0].decode()), "convalescence_scheduler_lease_held") == 1
    )


def test_a_scrape_without_the_database_says_so_and_keeps_the_rest() -> None:
    with Engine("postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2") as engine:
        registry = Metrics()
        registry.add_collector(
            DatabaseCollector(engine.db, engine.clock, periods={"timers": 3600.0})
        )
        found = samples(registry.exposition()[0].decode())
    assert value(found, "convalescence_database_up") == 0
    assert value(found, "convalescence_outbox_retrying") is None
    assert value(found, "convalescence_dispatch_failures_total", outcome="dead") == 0


def test_when_the_database_breaks_under_a_running_app_ready_and_metrics_say_so(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    path = tmp_path / "cases.db"
    shutil.copyfile(migrated_sqlite, path)
    with Engine(f"sqlite:///{path}") as engine:
        client = TestClient(create_app(engine, TokenRegistry.from_tokens(TOKENS)))
        assert client.get("/ready").status_code == 200
        assert value(scrape(client), "convalescence_database_up") == 1
        engine.db.dispose()  # no pooled connection still reading the old pages
        with path.open("r+b") as overwritten:
            overwritten.write(b"not a database " * 512)
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready"
        found = scrape(client)  # still 200: the process's own figures are still worth having
    assert value(found, "convalescence_database_up") == 0
    assert value(found, "convalescence_outbox_notices", status="pending") is None
    ready_route = {"method": "GET", "route": "/ready", "status": "503"}
    assert value(found, "convalescence_http_requests_total", **ready_route) == 1


# -- real processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], process: subprocess.Popen[str], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the process ended ({process.returncode}): {process.communicate()[1]}")
        try:
            found = condition()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"not within {timeout} s")


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from workflow.cli.main import main; main()", *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """SIGTERM, then every line it logged, each of which must be one JSON object."""
    process.send_signal(signal.SIGTERM)
    try:
        _out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    return [json.loads(line) for line in err.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_scheduler_service_serves_its_own_counters(tmp_path: Path) -> None:
    """``scheduler run --metrics-address --log-format json``: its runs and its dispatch batches
    are counted, and each run's JSON line names its run id, job and outcome."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    clock = SimulatedClock(datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI))
    with Engine(url, clock=clock) as engine:
        engine.upgrade_schema()
        insert_notice(engine, "k-file", "file", "pending", clock.now())
    port = free_port()
    process = cli(
        "--db", url, "--now", "2024-05-06T09:30", "scheduler", "run", "--every", "0.3",
        "--lease-seconds", "3", "--log-format", "json", "--metrics-address", f"127.0.0.1:{port}",
        cwd=tmp_path, env={"CONVALESCENCE_NOTICES_DIR": str(tmp_path / "notices")},
    )  # fmt: skip
    try:

        def sent() -> Samples | None:
            """The notice sent and the run that sent it finished: the run's counter moves only
            when the whole run is done, a moment after the dispatch counted its notice."""
            found = samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text)
            delivered = value(found, "convalescence_dispatch_sent_total") == 1
            runs = value(
                found, "convalescence_scheduler_job_runs_total", job="dispatch", outcome="done"
            )
            return found if delivered and runs else None

        found = wait_for(sent, process, timeout=30)
    finally:
        lines = stop(process)
    assert process.returncode == 0, lines
    done = value(found, "convalescence_scheduler_job_runs_total", job="dispatch", outcome="done")
    assert done is not None
    assert done >= 1
    assert value(found, "convalescence_dispatch_failures_total", outcome="dead") == 0
    runs = [line for line in lines if line["logger"] == "workflow.scheduler.jobs"]
    ran = [line for line in runs if line.get("outcome") == "done" and line["job"] == "dispatch"]
    assert ran
    assert isinstance(ran[0]["run_id"], int)
    assert ran[0]["result"]["sent"] == 1
    batches = [line for line in lines if line.get("batch")]
    assert batches[0]["claimed"] == 1
    assert batches[0]["sent"] == 1
    assert {"time", "level", "logger", "message"} <= set(runs[0])


@pytest.mark.slow
def test_serve_with_two_workers_adds_up_both_workers_counters(tmp_path: Path) -> None:
    """Whichever worker answers the scrape, it reports every request both workers served."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("{}\n", encoding="utf-8")
    with Engine(url) as engine:
        engine.upgrade_schema()
    port = free_port()
    process = cli(
        "--db", url, "serve", "--tokens", str(tokens), "--port", str(port), "--workers", "2",
        "--no-console",
        cwd=tmp_path, env={},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        up = lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200  # noqa: E731
        wait_for(up, process, timeout=60)
        served = 20
        for _ in range(served):  # a new connection each: the kernel spreads them over workers
            assert httpx.get(f"{base}/health", timeout=5).status_code == 200
        counts = set()
        for _ in range(6):
            found = samples(httpx.get(f"{base}/metrics", timeout=5).text)
            health = {"method": "GET", "route": "/health", "status": "200"}
            counts.add(value(found, "convalescence_http_requests_total", **health))
    finally:
        lines = stop(process)
    # the probes before the server was up may have reached it too: at least `served`, and the
    # same total from every scrape (one worker alone would report only its share)
    assert len(counts) == 1, counts
    total = counts.pop()
    assert total is not None
    assert total >= served + 1
    access = [line for line in lines if line["logger"] == "workflow.api.access"]
    assert {line["path"] for line in access} == {"/health", "/metrics"}
    assert len({line["request_id"] for line in access}) == len(access)
    started = [line for line in lines if line["logger"] == "uvicorn.error"]  # uvicorn's, in JSON
    assert any("Started server process" in line["message"] for line in started)
    assert not any("color_message" in line for line in started)
