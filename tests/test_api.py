"""The REST API (workflow/api): tokens and roles (A5.1, A5.2), refusals citing their articles,
ETag / If-Match concurrency, pagination, and the reads beside cases; on both databases.

These tests drive the app in-process (Starlette's TestClient); the end-to-end run over a real
uvicorn server is in test_api_server.py, the generated requests in test_api_schemathesis.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from factories import APPROVAL, CONSENT, INSURANCE, REGISTRATION, cadre
from fastapi.testclient import TestClient
from plans_setup import batch, seed_batch

from workflow import Engine, i18n
from workflow.api import TokenRegistry, create_app, hash_token
from workflow.cli.main import main
from workflow.errors import InputError
from workflow.plans import service

# long and varied enough for tokens hash (at least 32 characters of 12 kinds, issue 17)
STRONG_TOKEN = "k7Q-2mX9_vR4pL8sT1wZ6yB3nD5hF0jC"
OLD = "1943-06-03"  # 81 on APPROVAL's first day, 2024-06-03, over A8.2's 80 (A8.2)

TOKENS = {
    "t-cadre": "cadre:张建国@LC-DCF-0001",
    "t-family": "family:张丽@LC-DCF-0001",
    "t-agency": "agency_officer:王芳@东昌府区军休所",
    "t-other-agency": "agency_officer:孙莉@茌平区军休所",
    "t-county": "county_officer:刘伟@东昌府区",
    "t-city": "city_officer:赵敏",
    "t-auditor": "auditor:周审",
    "t-contractor": "contractor_staff:李强@1",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


SEED_PLANS = False  # `client` seeds the batch and, with it, the year's plans


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    engine.put_cadres([cadre(), cadre("LC-DCF-0002", birth_date=OLD)])
    seed_batch(engine)  # the batch APPROVAL names: contractor 1, plan 1; plan 2 the county's
    app = create_app(engine, TokenRegistry.from_tokens(TOKENS))
    with TestClient(app) as test_client:
        yield test_client


def open_case(client: TestClient, cadre_id: str = "LC-DCF-0001") -> dict[str, Any]:
    token = "t-agency"  # an agency officer registers on the cadre's behalf (A7.1)
    response = client.post(
        "/cases", json={"cadre_id": cadre_id, "data": REGISTRATION}, headers=auth(token)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def step(
    client: TestClient, case_id: int, trigger: str, token: str, data: dict[str, Any], **headers: str
) -> Any:
    return client.post(
        f"/cases/{case_id}/steps/{trigger}",
        json={"data": data},
        headers={**auth(token), **headers},
    )


# -- 401 and 403 ------------------------------------------------------------------------------


def test_a_missing_or_unknown_token_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    missing = client.get("/cases")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.json()["error"] == "unauthorized"
    unknown = client.get("/cases", headers=auth("nobody"))
    assert unknown.status_code == 401
    assert 'error="invalid_token"' in unknown.headers["WWW-Authenticate"]
    assert client.get("/health").status_code == 200  # the one route without a token


def test_a5_2_a_role_that_may_not_fire_the_step_is_403_naming_the_permission(
    client: TestClient,
) -> None:
    case = open_case(client)
    refused = step(client, case["id"], "reject", "t-family", {})
    assert refused.status_code == 403
    body = refused.json()
    assert body["error"] == "forbidden"
    assert [r["article"] for r in body["refusals"]] == ["A5.2"]
    assert "缺少权限 reject" in body["message"]


def test_a5_2_a_case_outside_the_callers_scope_is_404_to_read_and_to_move(
    client: TestClient,
) -> None:
    """Answered exactly as a case that does not exist (issue 17): the status must not tell
    an outsider which ids exist; tests/test_hostile_api.py compares the bodies."""
    case = open_case(client)
    read = client.get(f"/cases/{case['id']}", headers=auth("t-other-agency"))
    assert read.status_code == 404
    assert read.json()["error"] == "not_found"
    moved = step(client, case["id"], "consent", "t-other-agency", CONSENT)
    assert moved.status_code == 404
    listed = client.get("/cases", headers=auth("t-other-agency"))
    assert listed.status_code == 200
    assert listed.json()["items"] == []  # not an error: nothing of theirs
    assert client.get(f"/cases/{case['id']}", headers=auth("t-county")).status_code == 200


def test_a5_2_api_permissions_not_in_the_definition_are_403_too(client: TestClient) -> None:
    plans = client.get("/plans", headers=auth("t-cadre"))
    assert plans.status_code == 403
    assert plans.json()["permission"] == "plans:read"
    assert plans.json()["refusals"][0]["article"] == "A5.2"
    outbox = client.get("/notifications", headers=auth("t-agency"))
    assert outbox.status_code == 403  # a scoped role must name a case of its own
    assert client.get("/plans", headers=auth("t-auditor")).status_code == 200


# -- refusals, ETag and If-Match ----------------------------------------------------------------


def test_a8_2_refusal_json_carries_the_article_and_an_exception_lifts_it(
    client: TestClient,
) -> None:
    case = open_case(client, "LC-DCF-0002")
    assert step(client, case["id"], "consent", "t-agency", CONSENT).status_code == 200
    refused = step(client, case["id"], "approve", "t-agency", APPROVAL)
    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == "refused"
    assert [r["article"] for r in body["refusals"]] == ["A8.2"]
    assert "A8.2" in body["message"]
    not_approver = client.post(
        f"/cases/{case['id']}/exceptions",
        json={"rule": "under_age_limit_on_first_day", "reason": "体检合格"},
        headers=auth("t-agency"),
    )
    assert not_approver.status_code == 403
    granted = client.post(
        f"/cases/{case['id']}/exceptions",
        json={"rule": "under_age_limit_on_first_day", "reason": "体检合格，家属陪同"},
        headers={**auth("t-county"), "If-Match": '"2"'},
    )
    assert granted.status_code == 200, granted.text
    assert granted.headers["ETag"] == '"3"'
    approved = step(client, case["id"], "approve", "t-agency", APPROVAL)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "agency_approved"


def test_a_step_out_of_order_is_409_citing_a7_1(client: TestClient) -> None:
    case = open_case(client)
    early = step(client, case["id"], "insure", "t-agency", INSURANCE)
    assert early.status_code == 409
    assert early.json()["refusals"][0]["article"] == "A7.1"
    assert early.json()["state"] == "registered"


def test_the_etag_is_the_version_and_a_stale_if_match_is_412_with_nothing_written(
    client: TestClient,
) -> None:
    case = open_case(client)
    shown = client.get(f"/cases/{case['id']}", headers=auth("t-agency"))
    assert shown.headers["ETag"] == '"1"'
    consented = step(client, case["id"], "consent", "t-family", CONSENT, **{"If-Match": '"1"'})
    assert consented.status_code == 200, consented.text
    assert consented.headers["ETag"] == '"2"'
    stale = step(client, case["id"], "approve", "t-agency", APPROVAL, **{"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["error"] == "precondition_failed"
    assert stale.json()["actual_version"] == 2
    garbage = step(client, case["id"], "approve", "t-agency", APPROVAL, **{"If-Match": 'W/"2"'})
    assert garbage.status_code == 412  # If-Match compares strongly: a weak tag never matches
    history = client.get(f"/cases/{case['id']}/history", headers=auth("t-auditor")).json()
    assert [h["trigger"] for h in history] == ["open", "consent"]
    fresh = step(client, case["id"], "approve", "t-agency", APPROVAL, **{"If-Match": '"2"'})
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["version"] == 3


def test_bad_evidence_is_422_naming_the_field(client: TestClient) -> None:
    case = open_case(client)
    bad = step(client, case["id"], "consent", "t-family", {"family_member": "张丽"})
    assert bad.status_code == 422
    assert bad.json()["error"] == "bad_input"
    unknown_key = client.post(
        f"/cases/{case['id']}/steps/consent",
        json={"data": CONSENT, "reasn": "x"},
        headers=auth("t-family"),
    )
    assert unknown_key.status_code == 422
    assert client.get("/cases/999", headers=auth("t-city")).status_code == 404


# -- listing --------------------------------------------------------------------------------


def test_cases_come_in_pages_with_the_next_offset(client: TestClient, engine: Engine) -> None:
    ids = [f"LC-DCF-01{n:02d}" for n in range(5)]
    engine.put_cadres([cadre(i) for i in ids])
    opened = [open_case(client, i)["id"] for i in ids]
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get(
            "/cases",
            params={"limit": 2, "offset": offset, "open_only": True},
            headers=auth("t-city"),
        ).json()
        seen += [item["id"] for item in page["items"]]
        offset = page["next_offset"]
    assert seen == opened
    filtered = client.get("/cases", params={"cadre_id": ids[3]}, headers=auth("t-auditor"))
    assert [c["id"] for c in filtered.json()["items"]] == [opened[3]]
    too_big = client.get("/cases", params={"limit": 501}, headers=auth("t-city"))
    assert too_big.status_code == 422


def test_history_and_stored_eligibility_of_a_case(client: TestClient) -> None:
    case = open_case(client)
    history = client.get(f"/cases/{case['id']}/history", headers=auth("t-cadre"))
    assert history.status_code == 200
    assert history.json()[0]["actor"] == "王芳"
    stored = client.get(f"/cases/{case['id']}/eligibility", headers=auth("t-cadre")).json()
    assert stored["explanation"]["tier"] == "city"
    assert all(r["clause"].startswith("A") for r in stored["explanation"]["reasons"])


# -- reads beside cases -------------------------------------------------------------------------


def test_eligibility_explain_answers_ineligible_with_200_and_garbled_profiles_with_422(
    client: TestClient,
) -> None:
    old = client.post(
        "/eligibility/explain",
        json={"profile": cadre(birth_date=OLD), "level": "city", "on": "2024-06-03"},
        headers=auth("t-agency"),
    )
    assert old.status_code == 200, old.text
    assert old.json()["eligible"] is False
    assert "A8.2" in [r["clause"] for r in old.json()["reasons"] if not r["passed"]]
    garbled = client.post(
        "/eligibility/explain",
        json={"profile": {"birth_date": "1950-13-01"}, "level": "city", "on": "2024-06-03"},
        headers=auth("t-agency"),
    )
    assert garbled.status_code == 422
    assert garbled.json()["field"].startswith("profile.")
    assert (
        client.post(
            "/eligibility/explain",
            json={"profile": cadre(), "level": "city", "on": "2024-06-03"},
            headers=auth("t-family"),
        ).status_code
        == 403
    )


def test_notifications_are_masked_and_scoped_through_their_case(client: TestClient) -> None:
    case = open_case(client)
    everything = client.get("/notifications", headers=auth("t-city"))
    assert everything.status_code == 200
    assert everything.json(), "opening a case renders notices into the outbox"
    mine = client.get("/notifications", params={"case_id": case["id"]}, headers=auth("t-agency"))
    assert mine.status_code == 200
    assert {n["case_id"] for n in mine.json()} == {case["id"]}
    theirs = client.get(
        "/notifications", params={"case_id": case["id"]}, headers=auth("t-other-agency")
    )
    assert theirs.status_code == 404  # outside the scope: answered like a missing case


def test_plans_and_batches_contractor_staff_see_only_their_own(
    client: TestClient, engine: Engine
) -> None:
    made = client.get("/batches/1", headers=auth("t-city")).json()  # seeded by the fixture
    second = service.create_contractor(engine, name="泰安疗养院", kind="partner_unit")["id"]
    service.add_qualification(
        engine, second, name="许可证", valid_from=date(2024, 1, 1), valid_until=date(2026, 1, 1)
    )
    service.add_agreement(
        engine,
        second,
        plan_id=1,
        agreement_no="XY-2",
        signed_on=date(2024, 3, 1),
        valid_from=date(2024, 3, 1),
        valid_until=date(2024, 12, 31),
    )
    other = batch(engine, plan_id=1, contractor_id=second)
    assert made["contractor_id"] == 1
    assert other["contractor_id"] == 2
    plans = client.get("/plans", headers=auth("t-city")).json()
    assert [p["organiser_level"] for p in plans] == ["city", "county"]  # A3.2: seed_plans
    assert isinstance(plans[0]["budget"], str)
    shown = client.get(f"/plans/{made['plan_id']}", headers=auth("t-county"))
    assert [b["id"] for b in shown.json()["batches"]] == [made["id"], other["id"]]
    scoped = client.get(f"/plans/{made['plan_id']}", headers=auth("t-contractor"))
    assert [b["id"] for b in scoped.json()["batches"]] == [made["id"]]
    own = client.get("/batches", headers=auth("t-contractor")).json()
    assert [b["id"] for b in own] == [made["id"]]
    assert client.get(f"/batches/{made['id']}", headers=auth("t-contractor")).status_code == 200
    foreign = client.get(f"/batches/{other['id']}", headers=auth("t-contractor"))
    assert foreign.status_code == 404  # another contractor's: answered like a missing batch
    assert client.get("/batches/99", headers=auth("t-city")).status_code == 404


def test_the_openapi_document_is_published_with_bearer_auth(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert {"/cases", "/cases/{case_id}/steps/{trigger}", "/eligibility/explain"} <= set(
        document["paths"]
    )
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


# -- tokens -----------------------------------------------------------------------------------


def test_the_token_file_holds_digests_and_tokens_hash_prints_an_entry(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["tokens", "hash", "--as", "agency_officer:王芳@东昌府区军休所", "--token", STRONG_TOKEN],
    )
    assert result.exit_code == 0, result.output
    entry = yaml.safe_load(result.stdout)
    assert list(entry) == [hash_token(STRONG_TOKEN)]
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump({"tokens": entry}, allow_unicode=True), encoding="utf-8")
    assert STRONG_TOKEN not in path.read_text(encoding="utf-8")
    actor = TokenRegistry.load(path).actor_for(STRONG_TOKEN)
    assert actor is not None
    assert (actor.role, actor.name, actor.scope) == ("agency_officer", "王芳", "东昌府区军休所")
    toml = tmp_path / "tokens.toml"
    toml.write_text(
        f'[tokens.{hash_token("x")}]\nrole = "city_officer"\nname = "赵敏"\n', encoding="utf-8"
    )
    assert TokenRegistry.load(toml).actor_for("x") is not None


def test_a_token_file_with_bad_entries_is_refused_naming_them(
    tmp_path: Path, engine: Engine
) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n  notahash: {role: city_officer, name: x}\n", encoding="utf-8")
    with pytest.raises(InputError, match="sha256"):
        TokenRegistry.load(path)
    unscoped = TokenRegistry.from_tokens({"a": "county_officer:刘伟"})
    with pytest.raises(InputError, match="需要范围"):
        create_app(engine, unscoped)


def test_tasks_and_the_performance_report_follow_the_roles(client: TestClient) -> None:
    assert client.get("/tasks", headers=auth("t-cadre")).json()["permission"] == "tasks:read"
    assert client.get("/tasks", headers=auth("t-county")).status_code == 200
    other_county = client.get("/tasks", params={"county": "茌平区"}, headers=auth("t-county"))
    assert other_county.json() == []
    report = client.get("/reports/performance/2024", headers=auth("t-auditor"))
    assert report.status_code == 200, report.text
    refused = client.get("/reports/performance/2024", headers=auth("t-agency"))
    assert refused.json()["permission"] == "reports:read"


def test_a_second_grant_of_the_same_exception_is_422_not_a_server_error(
    client: TestClient,
) -> None:
    case = open_case(client, "LC-DCF-0002")
    grant = {"rule": "under_age_limit_on_first_day", "reason": "体检合格"}
    first = client.post(f"/cases/{case['id']}/exceptions", json=grant, headers=auth("t-county"))
    assert first.status_code == 200, first.text
    second = client.post(f"/cases/{case['id']}/exceptions", json=grant, headers=auth("t-county"))
    assert second.status_code == 422
    assert second.json()["field"] == "rule"


def test_an_unknown_query_parameter_is_named_in_one_language(client: TestClient) -> None:
    """One voice (issue 11): Chinese by default, the catalogue's English when asked."""
    chinese = client.get("/cases", params={"opn": "1"}, headers=auth("t-city"))
    assert chinese.status_code == 422
    assert chinese.json()["field"] == "opn"
    assert chinese.json()["message"].startswith("未知的查询参数 'opn'；此路由接受的参数：")
    i18n.set_language("en")
    try:
        english = client.get("/cases", params={"opn": "1"}, headers=auth("t-city")).json()
    finally:
        i18n.set_language(None)
    assert english["message"].startswith("unknown query parameter(s) 'opn'; this route takes ")
    assert "limit" in english["message"]


def test_a_nul_character_in_evidence_is_refused_in_one_language(client: TestClient) -> None:
    """PostgreSQL refuses NUL in JSON; the edge says so in the officer's language (issue 11)."""
    body = {"cadre_id": "LC-DCF-0001", "data": {**REGISTRATION, "note": "a\x00b"}}
    refused = client.post("/cases", json=body, headers=auth("t-cadre"))
    assert refused.status_code == 422
    assert "文本中不得含有 NUL（\\u0000）字符" in refused.json()["message"], refused.json()
