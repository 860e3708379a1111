"""Something outside the caller's scope answers exactly like something that does not exist
(issue 17, A5.2): the notices of a case (``/notifications?case_id=``), a cadre to register
(``POST /cases``), a batch of another contractor (``GET /batches/{id}``). Same status, same
body but for the id itself, nothing that hints the id exists; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from factories import REGISTRATION, cadre
from fastapi.testclient import TestClient
from plans_setup import seed_batch

from workflow import Engine
from workflow.api import TokenRegistry, create_app

TOKENS = {
    "t-agency": "agency_officer:王芳@东昌府区军休所",
    "t-other-agency": "agency_officer:孙莉@茌平区军休所",
    "t-cadre": "cadre:张建国@LC-DCF-0001",
    "t-contractor": "contractor_staff:李强@1",
    "t-other-contractor": "contractor_staff:钱多@2",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    engine.put_cadres([cadre(), cadre("LC-DCF-0002", name="李秀英")])
    seed_batch(engine)  # batch 1, run by contractor 1
    app = create_app(engine, TokenRegistry.from_tokens(TOKENS))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def same_answer(outside: httpx.Response, missing: httpx.Response, ids: tuple[Any, Any]) -> None:
    """Both 404 and the same body once each answer's own id is blanked out."""
    assert outside.status_code == missing.status_code == 404, (outside.text, missing.text)
    bodies = []
    for answer, key in zip((outside, missing), ids, strict=True):
        body = answer.json()
        assert body["key"] == key
        body["key"], body["message"] = None, body["message"].replace(str(key), "N")
        bodies.append(body)
    assert bodies[0] == bodies[1]
    assert "A5.2" not in outside.text
    assert "范围" not in outside.text


def test_a5_2_notices_of_a_case_outside_the_scope_answer_like_a_missing_case(
    client: TestClient,
) -> None:
    opened = client.post(
        "/cases", json={"cadre_id": "LC-DCF-0001", "data": REGISTRATION}, headers=auth("t-agency")
    )
    assert opened.status_code == 201, opened.text
    case_id = int(opened.json()["id"])
    mine = client.get("/notifications", params={"case_id": case_id}, headers=auth("t-agency"))
    assert mine.status_code == 200
    assert mine.json()
    outside = client.get(
        "/notifications", params={"case_id": case_id}, headers=auth("t-other-agency")
    )
    missing = client.get(
        "/notifications", params={"case_id": case_id + 1000}, headers=auth("t-other-agency")
    )
    same_answer(outside, missing, (case_id, case_id + 1000))


@pytest.mark.parametrize(
    ("token", "outside_id"),
    [("t-other-agency", "LC-DCF-0001"), ("t-cadre", "LC-DCF-0002")],
)
def test_a5_2_registering_a_cadre_outside_the_scope_answers_like_a_missing_cadre(
    client: TestClient, token: str, outside_id: str
) -> None:
    def register(cadre_id: str) -> httpx.Response:
        body = {"cadre_id": cadre_id, "data": REGISTRATION}
        answer: httpx.Response = client.post("/cases", json=body, headers=auth(token))
        return answer

    same_answer(register(outside_id), register("LC-DCF-9999"), (outside_id, "LC-DCF-9999"))
    listed = client.get("/cases", headers=auth("t-agency")).json()
    assert listed["items"] == []  # nothing written


def test_a5_2_another_contractors_batch_answers_like_a_missing_batch(
    client: TestClient,
) -> None:
    assert client.get("/batches/1", headers=auth("t-contractor")).status_code == 200
    outside = client.get("/batches/1", headers=auth("t-other-contractor"))
    missing = client.get("/batches/99", headers=auth("t-other-contractor"))
    same_answer(outside, missing, (1, 99))
    # a role the definition gives no batches:read at all is still told so (403, A5.2)
    refused = client.get("/batches/1", headers=auth("t-cadre"))
    assert refused.status_code == 403
    assert refused.json()["permission"] == "batches:read"
