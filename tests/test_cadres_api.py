"""``GET /cadres`` and ``GET /cadres/{id}`` (issue 19 item 5) and the cadre's name in the API's
case views, on SQLite and PostgreSQL.

Each token reads the roster in its own scope (A5.2): a county officer its county, an agency
officer its agency, contractor staff the cadres seated in their contractor's batches, a cadre
himself; a cadre outside the scope is a 404 with the body of a missing one. Pages go by id,
``next`` being the ``after`` of the following page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from factories import APPROVAL, CONSENT, REGISTRATION, cadre
from fastapi.testclient import TestClient
from plans_setup import seed_batch

from workflow import Engine
from workflow.api import TokenRegistry, create_app

TOKENS = {
    "t-city": "city_officer:赵敏",
    "t-county": "county_officer:刘伟@东昌府区",
    "t-chiping": "county_officer:孙科长@茌平区",
    "t-agency": "agency_officer:王芳@东昌府区军休所",
    "t-cadre": "cadre:张建国@LC-DCF-0001",
    "t-contractor": "contractor_staff:李强@1",
    "t-family": "family:张丽@LC-DCF-0001",
    "t-family-2": "family:张丽@LC-DCF-0002",
}
DONGCHANGFU = ["LC-DCF-0001", "LC-DCF-0002", "LC-DCF-0003"]
CHIPING = ["LC-CP-0001", "LC-CP-0002"]

SEED_PLANS = False  # `client` seeds the batch and, with it, the year's plans


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    engine.put_cadres(
        [cadre(i, name=f"张建{i[-1]}" if i != "LC-DCF-0001" else "张建国") for i in DONGCHANGFU]
        + [cadre(i, name="李明", county="茌平区", agency="茌平区军休所") for i in CHIPING]
    )
    seed_batch(engine)  # the batch APPROVAL names: contractor 1
    with TestClient(create_app(engine, TokenRegistry.from_tokens(TOKENS))) as test_client:
        yield test_client


def read_all(client: TestClient, token: str, **query: Any) -> list[list[str]]:
    """Every page, following ``next``."""
    found: list[list[str]] = []
    params = dict(query)
    while True:
        response = client.get("/cadres", params=params, headers=auth(token))
        assert response.status_code == 200, response.text
        page = response.json()
        found.append([item["id"] for item in page["items"]])
        if page["next"] is None:
            return found
        params["after"] = page["next"]
        assert len(found) < 20, "paging does not end"


def test_every_token_reads_its_own_scope_page_by_page(client: TestClient) -> None:
    assert read_all(client, "t-city", limit=2) == [
        CHIPING,
        DONGCHANGFU[:2],
        DONGCHANGFU[2:],
    ]
    assert read_all(client, "t-county") == [DONGCHANGFU]
    assert read_all(client, "t-chiping") == [CHIPING]
    assert read_all(client, "t-agency", q="张建") == [DONGCHANGFU]
    assert read_all(client, "t-cadre") == [["LC-DCF-0001"]]
    assert read_all(client, "t-family") == [["LC-DCF-0001"]]
    # a filter naming another scope than the token's own gives an empty page
    assert read_all(client, "t-chiping", county="东昌府区") == [[]]
    # contractor staff read the cadres seated in their contractor's batches, once one is
    assert read_all(client, "t-contractor") == [[]]
    opened = client.post(
        "/cases", json={"cadre_id": "LC-DCF-0002", "data": REGISTRATION}, headers=auth("t-agency")
    ).json()
    for trigger, token, data in (
        ("consent", "t-family-2", CONSENT),
        ("approve", "t-agency", APPROVAL),
    ):
        step = client.post(
            f"/cases/{opened['id']}/steps/{trigger}", json={"data": data}, headers=auth(token)
        )
        assert step.status_code == 200, step.text
    assert read_all(client, "t-contractor") == [["LC-DCF-0002"]]


def test_a_cadre_outside_the_scope_is_a_404_like_a_missing_one(client: TestClient) -> None:
    shown = client.get("/cadres/LC-DCF-0001", headers=auth("t-county"))
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["name"], body["age"], body["tier"]) == ("张建国", 74, "city")
    assert body["eligibility"]["decided_by"] == "merit_second_class_or_higher"
    assert body["record"]["family_contact"]["phone"] == "138****1234"
    hidden = client.get("/cadres/LC-DCF-0001", headers=auth("t-chiping"))
    missing = client.get("/cadres/LC-DCF-0009", headers=auth("t-chiping"))
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.text.replace("0001", "0009") == missing.text
    assert client.get("/cadres/LC-DCF-0002", headers=auth("t-cadre")).status_code == 404


def test_bad_queries_are_422_naming_the_field(client: TestClient) -> None:
    for query, field in (
        ({"tier": "province"}, "tier"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"offset": "5"}, "offset"),  # keyset pages: there is no offset
    ):
        response = client.get("/cadres", params=query, headers=auth("t-city"))
        assert response.status_code == 422, (query, response.text)
        assert field in response.text
    none = client.get("/cadres", params={"tier": "none"}, headers=auth("t-city")).json()
    assert (none["items"], none["next"], none["examined"]) == ([], None, 5)


def test_case_views_name_the_cadre(client: TestClient) -> None:
    opened = client.post(
        "/cases", json={"cadre_id": "LC-DCF-0001", "data": REGISTRATION}, headers=auth("t-agency")
    )
    assert opened.json()["cadre_name"] == "张建国"
    case_id = opened.json()["id"]
    shown = client.get(f"/cases/{case_id}", headers=auth("t-county")).json()
    listed = client.get("/cases", headers=auth("t-county")).json()["items"]
    assert shown["cadre_name"] == "张建国"
    assert [item["cadre_name"] for item in listed] == ["张建国"]
    assert shown == opened.json()
