"""``cases rebook`` / ``cases correct`` and ``POST /cases/{id}/rebook`` / ``/correct`` (issue 13
item 7): the real command line (click's runner over the installed group) and the real app
(Starlette's TestClient) over a SQLite file; the engine beneath is tested on both databases in
test_corrections.py. Exit codes and HTTP statuses follow the engine's error classes: a refusal
is exit 1 / 409 citing its article, bad input exit 2 / 422, a stale version exit 3 / 412, a
role that may not correct 403, a case outside the scope 404 like a missing one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from corrections_setup import FIRST, case_at, later_batch
from factories import AS_AGENCY, AS_COUNTY
from fastapi.testclient import TestClient

from workflow import Engine
from workflow.api import TokenRegistry, create_app
from workflow.cli.main import main

SEED_BATCH = True
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
NOW = "2024-05-07T10:00"


def cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", db_url, "--now", NOW, *args], catch_exceptions=False)


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


@SQLITE_ONLY
def test_cli_rebook_and_correct_record_both_values_and_audit_verify_holds(
    engine: Engine, db_url: str
) -> None:
    later = later_batch(engine)
    case_id = str(case_at(engine, 3))  # agreement_signed in batch 1

    moved = cli(db_url, "cases", "rebook", case_id, "--batch", str(later), "--as", AS_AGENCY,
                "--reason", "本人要求改期", "--json")  # fmt: skip
    assert moved.exit_code == 0, moved.output
    assert (as_json(moved)["state"], as_json(moved)["evidence"]["batch_id"]) == (
        "agreement_signed",
        later,
    )
    fixed = cli(db_url, "cases", "correct", case_id, "--field", "agreement_no=LC-2024-009",
                "--as", AS_COUNTY, "--reason", "协议编号录入错误")  # fmt: skip
    assert fixed.exit_code == 0, fixed.output
    assert "LC-2024-009" in fixed.stdout  # the case as every cases command prints it
    shown = as_json(cli(db_url, "cases", "show", case_id, "--json"))
    assert shown["evidence"]["agreement_no"] == "LC-2024-009"
    rows = as_json(cli(db_url, "cases", "history", case_id, "--json"))
    assert [r["trigger"] for r in rows[-2:]] == ["rebook", "correct"]
    assert rows[-2]["data"]["_rebook"] == {"from_batch": FIRST, "to_batch": later}
    assert rows[-1]["data"]["_corrected"] == {
        "agreement_no": {"before": "LC-2024-001", "after": "LC-2024-009"}
    }
    table = cli(db_url, "cases", "history", case_id)
    assert "rebook" in table.stdout
    assert "协议编号录入错误" in table.stdout
    verified = cli(db_url, "audit", "verify")
    assert verified.exit_code == 0, verified.output


@SQLITE_ONLY
def test_cli_exit_codes_and_english(engine: Engine, db_url: str) -> None:
    later = later_batch(engine)
    case_id = str(case_at(engine, 1))  # family_consented: not yet seated
    base = ("--as", AS_AGENCY, "--reason", "改期")

    no_reason = cli(db_url, "cases", "rebook", case_id, "--batch", str(later), "--as", AS_AGENCY)
    assert no_reason.exit_code == 2
    assert "--reason" in no_reason.output
    state = cli(db_url, "cases", "rebook", case_id, "--batch", str(later), *base)
    assert state.exit_code == 1
    assert "A6.2" in state.output
    assert "agency_approved" in state.output
    english = cli(db_url, "--lang", "en", "cases", "rebook", case_id, "--batch", str(later), *base)
    assert english.exit_code == 1
    assert "only possible in these states" in english.output
    unknown = cli(db_url, "cases", "correct", case_id, "--field", "colour=red", *base)
    assert unknown.exit_code == 2
    assert "colour" in unknown.output
    scored = cli(db_url, "cases", "correct", case_id, "--field", "satisfaction=5", *base)
    assert scored.exit_code == 1
    assert "A7.2" in scored.output
    stale = cli(db_url, "cases", "correct", case_id, "--field", "relation=长女",
                "--expect-version", "1", *base)  # fmt: skip
    assert stale.exit_code == 3
    assert engine.case(int(case_id)).evidence["relation"] == "女儿"  # nothing written


TOKENS = {
    "t-agency": AS_AGENCY,
    "t-other-agency": "agency_officer:孙莉@茌平区军休所",
    "t-county": AS_COUNTY,
}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, TokenRegistry.from_tokens(TOKENS))) as test_client:
        yield test_client


def post(client: TestClient, path: str, token: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(path, json=body, headers={"Authorization": f"Bearer {token}", **headers})


@SQLITE_ONLY
def test_api_rebook_and_correct(engine: Engine, client: TestClient) -> None:
    later = later_batch(engine)
    case_id = case_at(engine, 2)
    version = engine.case(case_id).version
    body = {"batch_id": later, "reason": "本人要求改期"}

    stale = post(client, f"/cases/{case_id}/rebook", "t-agency", body, **{"If-Match": '"1"'})
    assert stale.status_code == 412
    hidden = post(client, f"/cases/{case_id}/rebook", "t-other-agency", body)
    missing = post(client, "/cases/999/rebook", "t-other-agency", body)
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json()["message"].replace(str(case_id), "ID") == missing.json()[
        "message"
    ].replace("999", "ID")
    forbidden = post(client, f"/cases/{case_id}/rebook", "t-county", body)
    assert forbidden.status_code == 403
    assert forbidden.json()["refusals"][0]["article"] == "A5.2"
    no_reason = post(client, f"/cases/{case_id}/rebook", "t-agency", {"batch_id": later})
    assert no_reason.status_code == 422
    assert engine.case(case_id).version == version  # nothing of those written

    moved = post(
        client, f"/cases/{case_id}/rebook", "t-agency", body, **{"If-Match": f'"{version}"'}
    )
    assert moved.status_code == 200, moved.text
    assert moved.headers["ETag"] == f'"{version + 1}"'
    assert moved.json()["evidence"]["batch_id"] == later

    refused = post(
        client, f"/cases/{case_id}/correct", "t-county", {"data": {"batch_id": 1}, "reason": "x"}
    )
    assert refused.status_code == 409
    assert [(r["article"], r["rule"]) for r in refused.json()["refusals"]] == [
        ("A7.2", "correctable_fields")
    ]
    fixed = post(
        client,
        f"/cases/{case_id}/correct",
        "t-county",
        {"data": {"relation": "长女"}, "reason": "关系写得不准确"},
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["evidence"]["relation"] == "长女"
    history = client.get(
        f"/cases/{case_id}/history", headers={"Authorization": "Bearer t-agency"}
    ).json()
    assert history[-1]["data"]["_corrected"] == {"relation": {"before": "女儿", "after": "长女"}}
    assert history[-1]["reason"] == "关系写得不准确"
