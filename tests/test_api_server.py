"""The API over real HTTP: a uvicorn server on 127.0.0.1 (a free port, in a thread), httpx
clients holding the tokens of the roles art. 7 and A5.2 name.

* End to end, on both databases: registration → consent → approval → agreement → insurance →
  (the city officer starts the batch, A13.1) → attendance → evaluation, each step by its own
  role, with If-Match on every write.
* Load, on PostgreSQL: eight clients at once, each moving its own cases to insurance, the batch
  starts, then again at once to evaluation; no request may fail and no update may be lost
  (each case ends at version 7 with 7 history rows).
  The full benchmark with throughput figures is benchmarks/api_load.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from factories import AGREEMENT, APPROVAL, CONSENT, INSURANCE, REGISTRATION, cadre
from plans_setup import fit_staff, seed_batch, start_batch

from workflow import Engine, SimulatedClock
from workflow.api import TokenRegistry, create_app
from workflow.api.server import serve_in_thread
from workflow.plans import service

TOKENS = {
    "cadre-token": "cadre:张建国@LC-DCF-0001",
    "family-token": "family:张丽@LC-DCF-0001",
    "agency-token": "agency_officer:王芳@东昌府区军休所",
    "contractor-token": "contractor_staff:李强@1",  # the contractor of the seeded batch 1
    "auditor-token": "auditor:周审",
    "city-token": "city_officer:赵敏",  # starts the batch (batches:write, A13.1)
}
ATTENDANCE = {"checked_in_on": "2024-06-03"}
EVALUATION: dict[str, Any] = {"satisfaction": 5}
STEPS = 7  # open + six steps: the version a case ends at


@pytest.fixture
def server(engine: Engine) -> Iterator[str]:
    seed_batch(engine)
    app = create_app(engine, TokenRegistry.from_tokens(TOKENS))
    with serve_in_thread(app) as base_url:
        yield base_url


def client(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def move(http: httpx.Client, case: dict[str, Any], trigger: str, data: dict[str, Any]) -> Any:
    """One step with If-Match set to the version last seen; the answer is the next case."""
    response = http.post(
        f"/cases/{case['id']}/steps/{trigger}",
        json={"data": data},
        headers={"If-Match": f'"{case["version"]}"'},
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == f'"{case["version"] + 1}"'
    return response.json()


def test_a_case_goes_from_registration_to_evaluation_over_http(engine: Engine, server: str) -> None:
    engine.put_cadres([cadre()])
    with (
        client(server, "cadre-token") as cadre_http,
        client(server, "family-token") as family_http,
        client(server, "agency-token") as agency_http,
        client(server, "contractor-token") as contractor_http,
        client(server, "auditor-token") as auditor_http,
        client(server, "city-token") as city_http,
    ):
        opened = cadre_http.post("/cases", json={"cadre_id": "LC-DCF-0001", "data": REGISTRATION})
        assert opened.status_code == 201, opened.text
        case = opened.json()
        assert opened.headers["Location"] == f"/cases/{case['id']}"
        case = move(family_http, case, "consent", CONSENT)
        case = move(agency_http, case, "approve", APPROVAL)
        case = move(agency_http, case, "sign_agreement", AGREEMENT)
        case = move(agency_http, case, "insure", INSURANCE)
        fit_staff(engine)  # one cadre seated of 50 planned (A12.1); the API has no update
        started = city_http.post(f"/batches/{APPROVAL['batch_id']}/start")
        assert started.status_code == 200, started.text
        case = move(contractor_http, case, "attend", ATTENDANCE)
        case = move(cadre_http, case, "evaluate", EVALUATION)
        assert (case["state"], case["terminal"], case["version"]) == ("evaluated", True, STEPS)
        history = auditor_http.get(f"/cases/{case['id']}/history").json()
        assert [(h["trigger"], h["role"]) for h in history] == [
            ("open", "cadre"),
            ("consent", "family"),
            ("approve", "agency_officer"),
            ("sign_agreement", "agency_officer"),
            ("insure", "agency_officer"),
            ("attend", "contractor_staff"),
            ("evaluate", "cadre"),
        ]
        # the read-only auditor (A5.1) may not register anyone: 403 over the wire, citing A5.2
        refused = auditor_http.post(
            "/cases", json={"cadre_id": "LC-DCF-0001", "data": REGISTRATION}
        )
        assert refused.status_code == 403
        assert refused.json()["refusals"][0]["article"] == "A5.2"


CLIENTS = 8
CASES_PER_CLIENT = 5  # 40 approvals: all fit the seeded batch of 50


# (token, trigger, data) before the batch starts, and after (attendance needs it, A13.1)
TO_INSURED = [
    ("agency-token", "consent", CONSENT),
    ("agency-token", "approve", APPROVAL),
    ("agency-token", "sign_agreement", AGREEMENT),
    ("agency-token", "insure", INSURANCE),
]
TO_EVALUATED = [
    ("contractor-token", "attend", ATTENDANCE),
    ("agency-token", "evaluate", EVALUATION),
]


def drive(
    base_url: str,
    cases: dict[str, Any],
    steps: list[tuple[str, str, dict[str, Any]]],
    errors: list[str],
) -> None:
    """One client: each of its cases (cadre id -> case, None until opened) through ``steps``;
    any non-2xx answer is recorded."""
    try:
        with (
            client(base_url, "agency-token") as agency,
            client(base_url, "contractor-token") as contractor,
        ):
            https = {"agency-token": agency, "contractor-token": contractor}
            for cadre_id, seen in cases.items():
                case = seen
                if case is None:
                    opened = agency.post(
                        "/cases", json={"cadre_id": cadre_id, "data": REGISTRATION}
                    )
                    if opened.status_code != 201:
                        errors.append(opened.text)
                        continue
                    case = opened.json()
                for token, trigger, data in steps:
                    case = move(https[token], case, trigger, data)
                cases[cadre_id] = case
    except (AssertionError, httpx.HTTPError) as error:
        errors.append(repr(error))


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_clients_at_once_on_postgresql_lose_nothing(
    pg_url: str, clock: SimulatedClock
) -> None:
    with Engine(pg_url, clock=clock) as engine:
        engine.upgrade_schema()
        ids = [f"LC-DCF-{n:04d}" for n in range(1, CLIENTS * CASES_PER_CLIENT + 1)]
        engine.put_cadres([cadre(i) for i in ids])
        seed_batch(engine)  # all approvals take a seat in this one batch, at once
        app = create_app(engine, TokenRegistry.from_tokens(TOKENS))
        errors: list[str] = []
        shares: list[dict[str, Any]] = [dict.fromkeys(ids[n::CLIENTS]) for n in range(CLIENTS)]
        with serve_in_thread(app) as base_url:
            for steps in (TO_INSURED, TO_EVALUATED):
                threads = [
                    threading.Thread(
                        target=drive, args=(base_url, share, steps, errors), name=f"client-{n}"
                    )
                    for n, share in enumerate(shares)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=120)
                if steps is TO_INSURED:
                    start_batch(engine)  # 40 seated, 5 staff (A12.1): the batch starts (A13.1)
        assert errors == []
        cases = engine.cases(limit=500)
        assert len(cases) == len(ids)
        assert {c.state for c in cases} == {"evaluated"}
        assert {c.version for c in cases} == {STEPS}
        assert all(len(engine.history(c.id)) == STEPS for c in cases)
        assert service.show_batch(engine, 1)["seats_taken"] == len(ids)  # no seat lost either
