"""``POST /cases/fire-many`` and ``/bulk-runs`` (issue 13, item 6): the same runs as the CLI's,
through the token's actor and scope, on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from test_bulk import OTHER_COUNTY, registered_cases

from workflow import Engine, bulk
from workflow.api import TokenRegistry, create_app
from workflow.errors import NotFoundError

SEED_BATCH = True
TOKENS = {
    "t-county": "county_officer:刘伟@东昌府区",
    "t-other-county": "county_officer:孙强@茌平区",
    "t-city": "city_officer:赵敏",
}
REJECT = {
    "trigger": "reject",
    "where": {"state": "registered"},
    "data": {"article": "A4.1"},
    "reason": "计划撤销",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, TokenRegistry.from_tokens(TOKENS))) as test_client:
        yield test_client


def test_a_bulk_step_over_the_api_is_scoped_recorded_and_readable(
    engine: Engine, client: TestClient
) -> None:
    mine = registered_cases(engine, 2)
    (other,) = registered_cases(engine, 1, prefix="LC-CP", **OTHER_COUNTY)

    preview = client.post(
        "/cases/fire-many/dry-run",
        json={"trigger": "reject", "where": {"state": "registered"}},
        headers=auth("t-county"),
    )
    assert preview.status_code == 200, preview.text
    assert [c["case_id"] for c in preview.json()["cases"]] == mine

    response = client.post("/cases/fire-many", json=REJECT, headers=auth("t-county"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["Location"] == f"/bulk-runs/{body['id']}"
    assert body["counts"]["succeeded"] == 2
    assert body["exit_code"] == 0
    assert [(i["case_id"], i["new_state"]) for i in body["items"]] == [
        (case_id, "rejected") for case_id in mine
    ]
    assert engine.case(other).state == "registered"

    run = f"/bulk-runs/{body['id']}"
    assert client.get(run, headers=auth("t-county")).json() == body
    assert client.get(run, headers=auth("t-city")).status_code == 200  # unscoped: reads all
    hidden = client.get(run, headers=auth("t-other-county"))
    assert hidden.status_code == 404  # another county's officer: as if there were no run
    missing = client.get("/bulk-runs/99", headers=auth("t-county")).json()
    shown = missing["message"].replace("99", str(body["id"]))
    assert hidden.json() == {**missing, "key": body["id"], "message": shown}
    refused = client.post(f"{run}/resume", headers=auth("t-city"))
    assert refused.status_code == 403  # only its own officer continues a run (A5.2)
    assert refused.json()["refusals"][0]["article"] == "A5.2"
    again = client.post(f"{run}/resume", headers=auth("t-county"))
    assert again.status_code == 200
    assert [entry.trigger for entry in engine.history(mine[0])] == ["open", "reject"]


def test_bad_bulk_requests_write_nothing(engine: Engine, client: TestClient) -> None:
    registered_cases(engine, 1)
    bad_data = client.post(
        "/cases/fire-many", json={**REJECT, "data": {"artcle": "A4.1"}}, headers=auth("t-county")
    )
    assert bad_data.status_code == 422
    assert bad_data.json()["field"] == "artcle"
    unknown_key = client.post(
        "/cases/fire-many",
        json={**REJECT, "where": {"state": "registered", "stat": "x"}},
        headers=auth("t-county"),
    )
    assert unknown_key.status_code == 422
    no_state = client.post(
        "/cases/fire-many", json={**REJECT, "where": {}}, headers=auth("t-county")
    )
    assert no_state.status_code == 422
    with pytest.raises(NotFoundError):
        bulk.report(engine, 1)
