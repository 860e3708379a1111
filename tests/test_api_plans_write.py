"""Writing plans, contractors and batches over the REST API: the whole chain with the right
tokens, A5.2 permissions and scopes (403 naming the permission), the batch rules as 409s citing
A6.2, A12.1, A13.1 and A18.3, and malformed input as 422 naming the field; on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from plans_setup import open_cases

from workflow import Engine, SimulatedClock
from workflow.api import TokenRegistry, create_app
from workflow.clock import SHANGHAI
from workflow.plans import take_seat

SEED_PLANS = False  # the tests make and count their own plans (conftest `engine`)
AFTER_THE_TRIP = datetime(2024, 6, 10, 9, 0, tzinfo=SHANGHAI)  # evaluations follow it (A18.3)

TOKENS = {
    "t-city": "city_officer:赵敏",
    "t-county": "county_officer:刘伟@东昌府区",
    "t-agency": "agency_officer:王芳@东昌府区军休所",
    "t-auditor": "auditor:周审",
    "t-family": "family:张丽@LC-DCF-0001",
    "t-cadre": "cadre:张建国@LC-DCF-0001",
    "t-contractor": "contractor_staff:李强@1",
    "t-other-contractor": "contractor_staff:钱多@2",
}
PLAN = {"year": 2024, "organiser_level": "city", "budget": "500000.00", "cycle": "2024-2025"}
BATCH = {
    "province": "山东",
    "place": "威海市荣成",
    "start_date": "2024-06-03",
    "end_date": "2024-06-09",
    "capacity": 30,
    "staff_count": 4,
    "safety_plan_ref": "AQ-2024-01",
    "emergency_plan_ref": "YJ-2024-01",
    "organiser_contacts": [{"name": "王芳", "phone": "0635-1234567"}],
    "contractor_contacts": [{"name": "李强", "phone": "0631-7654321"}],  # A15.1
    "itinerary": [{"day": 1, "plan": "报到"}],
    "budget": "60000.00",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, TokenRegistry.from_tokens(TOKENS))) as test_client:
        yield test_client


def post(client: TestClient, path: str, token: str, body: Any = None, status: int = 201) -> Any:
    response = client.post(path, json=body, headers=auth(token))
    assert response.status_code == status, response.text
    return response.json()


def papers(
    client: TestClient, plan: dict[str, Any] = PLAN, token: str = "t-city"
) -> tuple[int, int]:
    """A plan and a contractor with a qualification and an agreement covering 2024."""
    plan_id = post(client, "/plans", token, plan)["id"]
    contractor = post(
        client, "/contractors", "t-city", {"name": f"疗养院{plan_id}", "kind": "own_resource"}
    )
    post(
        client,
        f"/contractors/{contractor['id']}/qualifications",
        "t-city",
        {"name": "医疗机构执业许可证", "valid_from": "2024-01-01", "valid_until": "2026-12-31"},
    )
    post(
        client,
        f"/contractors/{contractor['id']}/agreements",
        token,
        {
            "plan_id": plan_id,
            "agreement_no": "XY-2024-01",
            "signed_on": "2024-03-01",
            "valid_from": "2024-03-01",
            "valid_until": "2024-12-31",
        },
    )
    return plan_id, contractor["id"]


def articles(body: dict[str, Any]) -> list[str]:
    return [r["article"] for r in body["refusals"]]


def seat(engine: Engine, batch_id: int, count: int) -> None:
    """Seat ``count`` cases as approval does (the API has no shortcut for it)."""
    for case_id in open_cases(engine, count):
        with engine.transaction(write=True) as connection:
            take_seat(connection, batch_id=batch_id, case_id=case_id, now=engine.clock.now())


def test_the_whole_chain_plan_to_incident_with_the_right_tokens(
    client: TestClient, engine: Engine, clock: SimulatedClock
) -> None:
    plan_id, contractor_id = papers(client)
    assert plan_id == 1
    assert contractor_id == 1
    batch = post(
        client,
        "/batches",
        "t-city",
        {
            **BATCH,
            "plan_id": plan_id,
            "contractor_id": contractor_id,
            "province": "浙江",
            "capacity": 10,
            "staff_count": 2,
            "exceptions": [{"rule": "out_of_province", "reason": "赴浙江疗养，经市局批准"}],
        },
    )
    assert batch["budget"] == "60000.00"
    assert batch["start_date"] == "2024-06-03"
    grant = post(
        client,
        f"/batches/{batch['id']}/exceptions",
        "t-city",
        {"rule": "over_50", "reason": "报名人数多，经市局批准"},
    )
    assert (grant["article"], grant["approver_role"], grant["approver_name"]) == (
        "A6.2",
        "city_officer",
        "赵敏",
    )
    seat(engine, batch["id"], 6)  # 6 seated cadres take 1 or 2 staff (A12.1)
    started = post(client, f"/batches/{batch['id']}/start", "t-city", status=200)
    assert started["started_at"] is not None
    clock.set(AFTER_THE_TRIP)
    evaluation = post(client, f"/batches/{batch['id']}/evaluation", "t-city", {"score": 90})
    assert (evaluation["score"], evaluation["by"]) == (90, "city_officer:赵敏")
    incident = post(
        client,
        f"/batches/{batch['id']}/incidents",
        "t-contractor",
        {"description": "一名干部夜间突发胸闷，已送当地医院"},
    )
    assert incident["reported_by"] == "contractor_staff:李强@1"
    post(client, f"/batches/{batch['id']}/incidents", "t-agency", {"description": "行李遗失"})
    shown = client.get(f"/batches/{batch['id']}", headers=auth("t-city")).json()
    assert [e["rule"] for e in shown["exceptions"]] == ["out_of_province", "over_50"]
    assert len(shown["incidents"]) == 2
    assert len(shown["evaluations"]) == 1
    contractor = client.get(f"/contractors/{contractor_id}", headers=auth("t-contractor")).json()
    assert contractor["average_score"] == 90
    assert len(contractor["agreements"]) == 1
    assert [c["id"] for c in client.get("/contractors", headers=auth("t-contractor")).json()] == [
        contractor_id
    ]


@pytest.mark.parametrize("token", ["t-family", "t-cadre", "t-auditor", "t-agency"])
def test_a5_2_roles_without_the_write_permission_are_403_naming_it(
    client: TestClient, token: str
) -> None:
    body = post(client, "/plans", token, PLAN, status=403)
    assert body["permission"] == "plans:write"
    assert articles(body) == ["A5.2"]
    body = post(client, "/contractors", token, {"name": "x", "kind": "own_resource"}, status=403)
    assert body["permission"] == "contractors:write"


def test_a5_2_scopes_county_contractor_staff_and_approvers(
    client: TestClient, clock: SimulatedClock
) -> None:
    plan_id, contractor_id = papers(client)
    county_plan = {**PLAN, "organiser_level": "county", "county": "东昌府区"}
    # a county officer: its own county's plan, not the city's nor another county's
    body = post(client, "/plans", "t-county", PLAN, status=403)
    assert body["permission"] == "plans:write"
    assert "plans:write@市级" in body["message"]
    post(client, "/plans", "t-county", {**county_plan, "county": "茌平区"}, status=403)
    own_plan, own_contractor = papers(client, county_plan, token="t-county")
    batch = {**BATCH, "plan_id": own_plan, "contractor_id": own_contractor}
    made = post(client, "/batches", "t-county", batch)
    post(client, "/batches", "t-county", {**batch, "plan_id": plan_id}, status=403)
    # ... but the definition names only the city as A6.2 approver: the service says A5.2
    refused = post(
        client,
        f"/batches/{made['id']}/exceptions",
        "t-county",
        {"rule": "over_50", "reason": "扩容"},
        status=403,
    )
    assert articles(refused) == ["A5.2"]
    clock.set(AFTER_THE_TRIP)
    post(client, f"/batches/{made['id']}/evaluation", "t-county", {"score": 80})
    # contractor staff: incidents of their own contractor's batches only, no other writes
    city_batch = post(
        client, "/batches", "t-city", {**BATCH, "plan_id": plan_id, "contractor_id": contractor_id}
    )
    post(
        client,
        f"/batches/{city_batch['id']}/incidents",
        "t-other-contractor",
        {"description": "x"},
        status=403,
    )
    post(client, f"/batches/{city_batch['id']}/start", "t-contractor", status=403)
    post(client, f"/batches/{city_batch['id']}/evaluation", "t-agency", {"score": 80}, status=403)
    assert client.get("/contractors/1", headers=auth("t-other-contractor")).status_code == 403


def test_batch_rules_are_409_citing_their_articles(
    client: TestClient, clock: SimulatedClock
) -> None:
    plan_id, contractor_id = papers(client)
    batch = {**BATCH, "plan_id": plan_id, "contractor_id": contractor_id}
    eight_days = post(client, "/batches", "t-city", {**batch, "end_date": "2024-06-10"}, status=409)
    assert eight_days["error"] == "refused"
    assert "A6.2" in articles(eight_days)
    few_staff = post(client, "/batches", "t-city", {**batch, "staff_count": 2}, status=409)
    assert articles(few_staff) == ["A12.1"]
    over_50 = post(
        client, "/batches", "t-city", {**batch, "capacity": 60, "staff_count": 8}, status=409
    )
    assert articles(over_50) == ["A6.2"]
    no_plans = post(client, "/batches", "t-city", {**batch, "safety_plan_ref": None})
    unstartable = post(client, f"/batches/{no_plans['id']}/start", "t-city", status=409)
    assert articles(unstartable) == ["A13.1", "A12.1"]  # no safety plan; 4 staff, none seated
    unpapered = post(client, "/contractors", "t-city", {"name": "无证单位", "kind": "partner_unit"})
    refused = post(
        client, "/batches", "t-city", {**batch, "contractor_id": unpapered["id"]}, status=409
    )
    assert articles(refused) == ["A14.1"]
    # A18.3: after a low evaluation the contractor takes no new batch
    low = post(client, "/batches", "t-city", batch)
    clock.set(AFTER_THE_TRIP)
    post(client, f"/batches/{low['id']}/evaluation", "t-city", {"score": 30})
    assert articles(post(client, "/batches", "t-city", batch, status=409)) == ["A18.3"]
    purchased = post(
        client, "/contractors", "t-city", {"name": "购买", "kind": "purchased_service"}, status=409
    )
    assert articles(purchased) == ["A10.2"]


def test_bad_input_is_422_naming_the_field_and_missing_rows_404(
    client: TestClient, clock: SimulatedClock
) -> None:
    plan_id, contractor_id = papers(client)
    bad_date = post(
        client,
        "/batches",
        "t-city",
        {**BATCH, "plan_id": plan_id, "contractor_id": contractor_id, "start_date": "2024-02-30"},
        status=422,
    )
    assert bad_date["error"] == "bad_input"
    assert bad_date["field"] == "body.start_date"
    assert (
        post(client, "/plans", "t-city", {**PLAN, "budget": "1.5e3"}, status=422)["field"]
        == "body.budget"
    )
    backwards = post(
        client,
        f"/contractors/{contractor_id}/qualifications",
        "t-city",
        {"name": "许可证", "valid_from": "2024-02-01", "valid_until": "2024-01-01"},
        status=422,
    )
    assert backwards["field"] == "valid_until"
    county_without = {**PLAN, "organiser_level": "county"}
    assert post(client, "/plans", "t-city", county_without, status=422)["field"] == "county"
    twin = post(
        client, "/contractors", "t-city", {"name": "疗养院1", "kind": "own_resource"}, status=422
    )
    assert twin["field"] == "name"
    batch = post(
        client, "/batches", "t-city", {**BATCH, "plan_id": plan_id, "contractor_id": contractor_id}
    )
    ghost = post(
        client,
        f"/batches/{batch['id']}/incidents",
        "t-city",
        {"description": "x", "case_id": 99},
        status=422,
    )
    assert ghost["field"] == "case_id"
    clock.set(AFTER_THE_TRIP)
    post(client, f"/batches/{batch['id']}/evaluation", "t-city", {"score": 70})
    again = post(client, f"/batches/{batch['id']}/evaluation", "t-city", {"score": 70}, status=422)
    assert again["field"] == "batch_id"
    assert post(client, "/batches/999/start", "t-city", status=404)["error"] == "not_found"
    assert (
        post(
            client,
            "/contractors/999/qualifications",
            "t-city",
            {"name": "x", "valid_from": "2024-01-01", "valid_until": "2024-01-02"},
            status=404,
        )["error"]
        == "not_found"
    )


def test_a_duplicate_contractor_name_is_422_naming_it(client: TestClient) -> None:
    """The store maps the unique index (workflow.store.errors); the API answers as it answers
    any bad input, naming the field and the name."""
    body = {"name": "威海荣成疗养院", "kind": "own_resource"}
    post(client, "/contractors", "t-city", body)
    duplicate = post(client, "/contractors", "t-city", body, status=422)
    assert (duplicate["error"], duplicate["field"]) == ("bad_input", "name")
    assert "威海荣成疗养院" in duplicate["message"]


def test_a_constraint_no_store_mapped_is_still_422_not_500(engine: Engine) -> None:
    """The safety net: a route whose write breaks a constraint without the store's mapping
    (a host's own route on the same app) gets the same translation, not the driver's text."""
    import sqlalchemy as sa  # noqa: PLC0415  # only this test writes around the store

    from workflow.store.schema import contractors  # noqa: PLC0415

    app = create_app(engine, TokenRegistry.from_tokens(TOKENS))

    @app.post("/raw-duplicate")
    def raw_duplicate() -> None:
        with engine.transaction(write=True) as connection:
            for _ in range(2):
                connection.execute(sa.insert(contractors).values(name="甲", kind="own_resource"))

    with TestClient(app) as test_client:
        answer = test_client.post("/raw-duplicate")
    assert answer.status_code == 422, answer.text
    assert (answer.json()["error"], answer.json()["field"]) == ("bad_input", "name")
    assert "IntegrityError" not in answer.text
