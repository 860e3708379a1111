"""``/cycles`` over the REST API (issue 13 item 5): the list and one cycle's status for the
officers who read reports, the closing for a city officer only (403 citing A5.2 otherwise),
its archive folder under ``$CONVALESCENCE_ARCHIVE_DIR``, a second closing (409 naming the
first), an unknown cycle (404 naming the known ones), and what is open as a 409 citing its
articles. The routes are thin (`workflow.cycles` decides, tested on both databases in
test_cycles.py), so SQLite only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import APPROVAL, AS_AGENCY, AS_FAMILY, CONSENT, REGISTRATION, cadre
from fastapi.testclient import TestClient

from workflow import Engine
from workflow.api import TokenRegistry, create_app
from workflow.api.cycles import ARCHIVE_VAR

SEED_BATCH = True  # the approval below takes a seat in batch 1 (conftest `engine`)
TOKENS = {
    "t-city": "city_officer:赵敏",
    "t-county": "county_officer:刘伟@东昌府区",
    "t-auditor": "auditor:周审",
    "t-agency": "agency_officer:王芳@东昌府区军休所",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(ARCHIVE_VAR, str(tmp_path))
    with TestClient(create_app(engine, TokenRegistry.from_tokens(TOKENS))) as test_client:
        yield test_client


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cycles_over_the_api(client: TestClient, engine: Engine, tmp_path: Path) -> None:
    listed = client.get("/cycles", headers=auth("t-auditor"))
    assert listed.status_code == 200, listed.text
    assert [(c["cycle"], c["state"], c["closable"]) for c in listed.json()] == [
        ("2023", "ended", True),
        ("2024-2025", "running", True),
    ]
    assert client.get("/cycles", headers=auth("t-agency")).status_code == 403
    missing = client.get("/cycles/2030", headers=auth("t-city"))
    assert missing.status_code == 404
    assert "2024-2025" in missing.json()["message"]

    engine.put_cadres([cadre()])  # an approved case, and the batch it is seated in, keep it open
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    engine.fire(case.id, "approve", actor=AS_AGENCY, data=APPROVAL)
    shown = client.get("/cycles/2024-2025", headers=auth("t-city")).json()
    assert [(k["kind"], k["total"]) for k in shown["open"]] == [("cases", 1), ("batches", 1)]
    refused = client.post("/cycles/2024-2025/close", headers=auth("t-city"))
    assert refused.status_code == 409
    assert [r["article"] for r in refused.json()["refusals"]] == ["A9.1", "A18.3"]
    assert not (tmp_path / "cycle-2024-2025").exists()

    county = client.post("/cycles/2023/close", headers=auth("t-county"))
    assert county.status_code == 403
    assert county.json()["refusals"][0]["article"] == "A5.2"
    closed = client.post("/cycles/2023/close", headers=auth("t-city"))
    assert closed.status_code == 200, closed.text
    body = closed.json()
    folder = tmp_path / "cycle-2023"
    assert (body["cycle"], body["closed_by"], body["folder"]) == (
        "2023",
        "city_officer:赵敏",
        str(folder),
    )
    manifest = (folder / "manifest.json").read_bytes()
    assert hashlib.sha256(manifest).hexdigest() == body["archive_digest"]
    assert {f["name"] for f in body["files"]} == {
        p.name for p in folder.iterdir() if p.name != "manifest.json"
    }
    again = client.post("/cycles/2023/close", headers=auth("t-city"))
    assert again.status_code == 409
    assert "已由 city_officer:赵敏 于" in again.json()["message"]
    assert client.get("/cycles/2023", headers=auth("t-city")).json()["state"] == "closed"
