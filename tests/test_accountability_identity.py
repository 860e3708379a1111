"""Issue 17: the roster vouches for who acts (A5.2, A19.1). A cadre acts only under the
roster's name for that cadre; a family member only as the roster's family contact; anyone else
in the family through an officer who records them on behalf, with a reason. Both databases."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factories import AS_AGENCY, CONSENT, REGISTRATION, cadre

from workflow import Engine
from workflow.access import identity_refusal
from workflow.cli.main import main
from workflow.machine import Actor

NOW = "2024-05-06T09:30"
CADRE = "LC-DCF-0001"  # 张建国, family contact 张丽 (factories.cadre)


@pytest.mark.parametrize(
    ("actor", "on_behalf_of", "reason", "rule"),
    [
        ("cadre:张建国@LC-DCF-0001", None, None, None),
        ("cadre:随便谁@LC-DCF-0001", None, None, "identity"),
        ("family:张丽@LC-DCF-0001", None, None, None),
        ("family:陌生人@LC-DCF-0001", None, None, "identity"),
        (AS_AGENCY, "张丽", None, None),  # the roster's contact, on paper
        (AS_AGENCY, "张建国", None, None),  # the cadre's own paper form
        (AS_AGENCY, "张小明", None, "on_behalf_reason"),  # a son the roster does not know
        (AS_AGENCY, "张小明", "  ", "on_behalf_reason"),
        (AS_AGENCY, "张小明", "联系人张丽住院，由儿子张小明签署", None),
        (AS_AGENCY, None, None, None),
    ],
)
def test_identity_refusal_follows_the_roster_A5_2(
    actor: str, on_behalf_of: str | None, reason: str | None, rule: str | None
) -> None:
    found = identity_refusal(
        Actor.parse(actor), cadre(CADRE), on_behalf_of=on_behalf_of, reason=reason
    )
    assert (found.rule if found else None) == rule


def test_a_roster_without_a_family_contact_admits_no_family_actor_A5_2() -> None:
    record = cadre(CADRE)
    del record["family_contact"]
    refusal = identity_refusal(Actor.parse("family:张丽@LC-DCF-0001"), record)
    assert refusal is not None
    assert refusal.article == "A5.2"


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, "--now", NOW, *args])


@pytest.fixture
def url(engine: Engine, db_url: str) -> str:
    engine.put_cadres([cadre(CADRE)])
    return db_url


def _open(url: str, actor: str) -> Result:
    return run(url, "cases", "open", "--cadre", CADRE, "--as", actor,
               "--data", f"plan_level={REGISTRATION['plan_level']}", "--json")  # fmt: skip


def _consent(url: str, case_id: int, actor: str, *extra: str) -> Result:
    data = [arg for k, v in CONSENT.items() for arg in ("--data", f"{k}={v}")]
    return run(url, "cases", "fire", str(case_id), "consent", "--as", actor, *data, *extra,
               "--json")  # fmt: skip


def test_a_cadre_not_named_as_the_roster_says_cannot_open_A5_2(url: str, engine: Engine) -> None:
    """Before issue 17 `--as cadre:随便谁@LC-DCF-0001` opened a case as 张建国."""
    refused = _open(url, f"cadre:随便谁@{CADRE}")
    assert refused.exit_code == 1, refused.output
    assert "A5.2" in refused.stderr
    assert "随便谁" in refused.stderr
    assert engine.cases() == []
    assert _open(url, f"cadre:张建国@{CADRE}").exit_code == 0


def test_a_family_member_the_roster_does_not_know_cannot_consent_A5_2(
    url: str, engine: Engine
) -> None:
    case_id = int(json.loads(_open(url, f"cadre:张建国@{CADRE}").stdout)["id"])
    refused = _consent(url, case_id, f"family:陌生人@{CADRE}")
    assert refused.exit_code == 1, refused.output
    assert "A5.2" in refused.stderr
    assert engine.case(case_id).state == "registered"
    assert _consent(url, case_id, f"family:张丽@{CADRE}").exit_code == 0
    assert engine.case(case_id).state == "family_consented"


def test_an_officer_records_another_relative_on_behalf_only_with_a_reason_A19_1(
    url: str, engine: Engine
) -> None:
    case_id = int(json.loads(_open(url, f"cadre:张建国@{CADRE}").stdout)["id"])
    paper = ("--on-behalf-of", "张小明", "--data", "consent_form_ref=TY-0001")
    refused = _consent(url, case_id, AS_AGENCY, *paper)
    assert refused.exit_code == 1, refused.output
    assert "A19.1" in refused.stderr
    assert "--reason" in refused.stderr
    reason = "联系人张丽住院，由儿子张小明签署"
    done = _consent(url, case_id, AS_AGENCY, *paper, "--reason", reason)
    assert done.exit_code == 0, done.output
    last: Any = engine.history(case_id)[-1]
    assert (last.actor, last.on_behalf_of, last.reason) == ("王芳", "张小明", reason)
