"""How does the REST API hold up when several back offices call it at once?

A real server (``convalescence serve``, uvicorn, ``--workers`` processes) on a fresh PostgreSQL
database; clients are separate processes with httpx, each moving its own cases the whole way
(open, consent, approve, sign, insure, attend, evaluate: seven writes per case, each with
If-Match). Attendance is recorded only in a started batch (A13.1), so each run moves its cases
to ``insured``, the organiser starts every batch they sit in (staff fitted to the cadres seated,
A12.1; not timed), and the same clients then record attendance and evaluation. First one
client, then eight at once, then again (``--rounds``). Reported: requests per second for each
(both halves' requests over their time), and the ratio 8 / 1. Checked afterwards, in the
database: no request failed, every case is ``evaluated`` at version 7 with 7 history rows (no
lost update), and each batch counts exactly the seats its rows hold.

Run from the repository root (PostgreSQL as in the tests: $CONVALESCENCE_TEST_PG or
postgresql://postgres@127.0.0.1:5432/postgres, the server's maintenance database, as the admin
URL; the benchmark creates a database of its own there and drops it afterwards)::

    python benchmarks/api_load.py --cases 25 --workers 2 --rounds 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa

# benchmarks/transitions.py shares its name with the `transitions` library the engine uses, and
# running a script puts benchmarks/ first on sys.path: drop that entry before importing it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

from workflow import Engine, SimulatedClock  # noqa: E402
from workflow.clock import SHANGHAI  # noqa: E402
from workflow.plans import service  # noqa: E402

ADMIN_URL = os.environ.get("CONVALESCENCE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)
AGENCY_TOKEN, CONTRACTOR_TOKEN = "bench-agency", "bench-contractor"
REGISTRATION = {"plan_level": "city"}
CONSENT = {"family_member": "张丽", "relation": "女儿"}
AGREEMENT = {"agreement_no": "LC-2024-001", "signed_on": "2024-05-20"}
INSURANCE = {
    "insurer": "中国人寿聊城分公司",
    "policy_no": "P-2024-0001",
    "covered_from": "2024-06-03",
    "covered_until": "2024-06-09",
}
SEATS_PER_BATCH = 50  # A6.2: more needs an exception
STEPS = 7
# what each half of a run does to a case: up to insurance, then (the batch started) the rest
TO_INSURED = "to_insured"
ATTEND = [
    (CONTRACTOR_TOKEN, "attend", {"checked_in_on": "2024-06-03"}),
    (AGENCY_TOKEN, "evaluate", {"satisfaction": 5}),
]
Job = tuple[str, int, int, int]  # cadre id, batch id, case id and version once opened (else 0)


def cadre_record(number: int) -> dict[str, Any]:
    """A roster record that passes every rule (tests/factories.py has the annotated original)."""
    return {
        "id": f"LC-BENCH-{number:06d}",
        "name": "张建国",
        "gender": "男",
        "birth_date": "1950-03-12",
        "category": "退休干部",
        "branch": "PLA",
        "county": "东昌府区",
        "agency": "东昌府区军休所",
        "placed_on": "2008-09-01",
        "merits": [{"class": 2, "wartime": False, "year": 1979}],
        "honours": [],
        "recommendation": None,
        # the family member who consents is the roster's contact (A5.2)
        "family_contact": {"name": "张丽", "relation": "女儿", "phone": "13800001234"},
        "health": {"self_care": True, "infectious": False, "mental": False, "critical": False},
    }


def seed(url: str, cadres: int) -> None:
    """Schema, cadres, one city plan, one qualified contractor (id 1) and enough batches."""
    with Engine(url, clock=SimulatedClock(NOW)) as engine:
        engine.upgrade_schema()
        engine.put_cadres([cadre_record(n) for n in range(cadres)])
        plan = service.create_plan(
            engine, year=2024, organiser_level="city", budget=Decimal(500000), cycle="2024-2025"
        )["id"]
        contractor = service.create_contractor(engine, name="威海荣成疗养院", kind="own_resource")
        service.add_qualification(
            engine,
            contractor["id"],
            name="许可证",
            valid_from=date(2024, 1, 1),
            valid_until=date(2026, 12, 31),
        )
        service.add_agreement(
            engine,
            contractor["id"],
            plan_id=plan,
            agreement_no="XY-2024-01",
            signed_on=date(2024, 3, 1),
            valid_from=date(2024, 3, 1),
            valid_until=date(2024, 12, 31),
        )
        for _ in range(-(-cadres // SEATS_PER_BATCH)):
            service.create_batch(
                engine,
                plan_id=plan,
                contractor_id=contractor["id"],
                province="山东",
                place="威海市荣成",
                start_date=date(2024, 6, 3),
                end_date=date(2024, 6, 9),
                capacity=SEATS_PER_BATCH,
                staff_count=5,
                safety_plan_ref="AQ-1",
                emergency_plan_ref="YJ-1",
                organiser_contacts=[{"name": "王芳", "phone": "0635-1234567"}],
                contractor_contacts=[{"name": "李强", "phone": "0631-7654321"}],
            )


def start_batches(engine: Engine) -> None:
    """The organiser starts every batch with cadres seated that has not started (A13.1), its
    staff first fitted to them (A12.1, 1:5); later cases are seated in it started."""
    for batch in service.list_batches(engine):
        if batch["started_at"] is None and batch["seats_taken"]:
            staff = math.ceil(batch["seats_taken"] / 5)
            service.update_batch(engine, batch["id"], staff_count=staff)
            service.start_batch(engine, batch["id"])


def token_file(directory: Path) -> Path:
    path = directory / "tokens.yaml"
    entries = {
        AGENCY_TOKEN: "{role: agency_officer, name: 王芳, scope: 东昌府区军休所}",
        CONTRACTOR_TOKEN: "{role: contractor_staff, name: 李强, scope: '1'}",
    }
    lines = ["tokens:"] + [
        f"  {hashlib.sha256(token.encode()).hexdigest()}: {fields}"
        for token, fields in entries.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, tokens: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("convalescence")),
        "--db",
        url,
        "--now",
        NOW.isoformat(),
        "serve",
        "--port",
        str(port),
        "--tokens",
        str(tokens),
        "--workers",
        str(workers),
    ]
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    reason = server.stderr.read().decode() if server.stderr else ""
    raise SystemExit(f"the server did not start: {reason}")


def client(args: tuple[str, list[Job], str]) -> tuple[int, list[str], list[Job]]:
    """One client process: every case of ``jobs`` through one half of the way: opened and
    taken to insurance (``to_insured``), or attended and evaluated (``attend``)."""
    base, jobs, half = args
    errors: list[str] = []
    moved: list[Job] = []
    requests = 0
    auth = {"Authorization": f"Bearer {AGENCY_TOKEN}"}
    with httpx.Client(base_url=base, timeout=60) as http:
        for cadre_id, batch_id, case_id, version in jobs:
            if half == TO_INSURED:
                answer = http.post(
                    "/cases", json={"cadre_id": cadre_id, "data": REGISTRATION}, headers=auth
                )
                requests += 1
                if answer.status_code != 201:
                    errors.append(f"open {cadre_id}: {answer.status_code} {answer.text}")
                    continue
                case = answer.json()
                steps = [
                    (AGENCY_TOKEN, "consent", CONSENT),
                    (AGENCY_TOKEN, "approve", {"batch_id": batch_id}),
                    (AGENCY_TOKEN, "sign_agreement", AGREEMENT),
                    (AGENCY_TOKEN, "insure", INSURANCE),
                ]
            else:
                case, steps = {"id": case_id, "version": version}, ATTEND
            for token, trigger, data in steps:
                answer = http.post(
                    f"/cases/{case['id']}/steps/{trigger}",
                    json={"data": data},
                    headers={
                        "Authorization": f"Bearer {token}",
                        "If-Match": f'"{case["version"]}"',
                    },
                )
                requests += 1
                if answer.status_code != 200:
                    errors.append(f"{trigger} {case['id']}: {answer.status_code} {answer.text}")
                    break
                case = answer.json()
            else:
                moved.append((cadre_id, batch_id, case["id"], case["version"]))
    return requests, errors, moved


def run(base: str, pool: Any, engine: Engine, jobs_by_client: list[list[Job]]) -> tuple[float, int]:
    """Each client's cases to insurance, the batches started (not timed), then on to the end;
    the rate is the requests of both halves over their time."""
    elapsed, requests = 0.0, 0
    for half in (TO_INSURED, "attend"):
        started = time.perf_counter()
        results = pool.map(client, [(base, jobs, half) for jobs in jobs_by_client])
        elapsed += time.perf_counter() - started
        errors = [e for _, errs, _ in results for e in errs]
        if errors:
            raise SystemExit("requests failed:\n" + "\n".join(errors[:20]))
        requests += sum(n for n, _, _ in results)
        jobs_by_client = [moved for _, _, moved in results]
        if half == TO_INSURED:
            start_batches(engine)
    return requests / elapsed, requests


def verify(url: str, cases: int) -> None:
    """Every case evaluated at version 7 with 7 history rows; seats match their rows."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT c.state, c.version, count(h.seq) AS steps FROM cases c "
                "JOIN history h ON h.case_id = c.id GROUP BY c.id"
            )
        ).all()
        seats = connection.execute(
            sa.text(
                "SELECT b.seats_taken, (SELECT count(*) FROM batch_seats s WHERE s.batch_id = b.id)"
                " FROM batches b"
            )
        ).all()
    engine.dispose()
    bad = [r for r in rows if (r.state, r.version, r.steps) != ("evaluated", STEPS, STEPS)]
    if len(rows) != cases or bad:
        raise SystemExit(f"lost updates: {len(rows)} cases of {cases}, wrong: {bad[:5]}")
    if any(taken != held for taken, held in seats):
        raise SystemExit(f"seat counts differ from seat rows: {seats}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=25, help="cases per client per round")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="2 cases, 2 clients, 1 worker, 1 round: only shows the benchmark still works; its "
        "ratio means nothing (the test suite runs it)",
    )
    options = parser.parse_args()
    if options.smoke:
        options.cases, options.clients, options.workers, options.rounds = 2, 2, 1, 1

    per_round = options.cases * (1 + options.clients)
    warm_up = options.clients * 2  # two cases per client, not measured
    total = warm_up + per_round * options.rounds
    name = f"cv_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        seed(url, total)
        ids = [(cadre_record(n)["id"], n // SEATS_PER_BATCH + 1, 0, 0) for n in range(total)]
        organiser = Engine(url, clock=SimulatedClock(NOW))  # starts the batches (A13.1)
        with organiser, tempfile.TemporaryDirectory() as directory:
            server, base = start_server(url, token_file(Path(directory)), options.workers)
            try:
                ctx = multiprocessing.get_context("spawn")
                with ctx.Pool(options.clients) as pool:
                    single: list[float] = []
                    many: list[float] = []
                    # warm up: client processes import httpx, server workers compile the
                    # definition and fill their connection pools
                    run(
                        base,
                        pool,
                        organiser,
                        [ids[n : warm_up : options.clients] for n in range(options.clients)],
                    )
                    cursor = warm_up
                    for _ in range(options.rounds):
                        one = ids[cursor : cursor + options.cases]
                        cursor += options.cases
                        rate, _n = run(base, pool, organiser, [one])
                        single.append(rate)
                        jobs = []
                        for _c in range(options.clients):
                            jobs.append(ids[cursor : cursor + options.cases])
                            cursor += options.cases
                        rate, _n = run(base, pool, organiser, jobs)
                        many.append(rate)
            finally:
                server.terminate()
                server.wait(timeout=30)
        verify(url, total)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    result = {
        "cases_per_client": options.cases,
        "clients": options.clients,
        "workers": options.workers,
        "rounds": options.rounds,
        "requests_per_s_1_client": [round(r, 1) for r in single],
        f"requests_per_s_{options.clients}_clients": [round(r, 1) for r in many],
        "median_1": round(statistics.median(single), 1),
        f"median_{options.clients}": round(statistics.median(many), 1),
        "ratio": round(statistics.median(many) / statistics.median(single), 2),
        "cases_checked": total,
    }
    if options.json:
        print(json.dumps(result))
        return
    print(f"1 client: {result['median_1']} requests/s (rounds {result['requests_per_s_1_client']})")
    print(
        f"{options.clients} clients: {result[f'median_{options.clients}']} requests/s "
        f"(rounds {result[f'requests_per_s_{options.clients}_clients']})"
    )
    print(
        f"ratio {options.clients}/1: {result['ratio']}; {total} cases checked: no error, "
        "every case at version 7 with 7 history rows, seats match"
    )


if __name__ == "__main__":
    main()
