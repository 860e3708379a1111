"""``definitions diff`` and ``/definitions/diff``: what changed between two definitions in policy
terms (issue 13 item 2).

The pure diff is checked on a successor made from the bundled text with one edit per kind of
policy fact (a limit, a criterion, an exception's approvers, a permission, a guard, a timer, a
field, a transition), which must come back exactly, each in its section; then through the
command line (tables, ``--json``, ``--lang en``, refusals) and the REST API (two known versions,
one of them published into the database, and a posted draft; roles and bad input), on both
databases where the database is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from definitions import bundled_directory
from workflow import Engine
from workflow.api import TokenRegistry, create_app
from workflow.cli.main import main
from workflow.definition.diff import SECTIONS, diff_definitions, diff_report, parse_reference
from workflow.definition.draft import SuccessorTerms, draft_successor
from workflow.definition.loader import load_definition_file, load_definition_text
from workflow.definition.model import Definition
from workflow.errors import InputError
from workflow.machine import Actor
from workflow.publishing import publish

BUNDLED = bundled_directory() / "honor_convalescence.yaml"
REPORT_UNABLE_LATE = "report_unable[agency_approved,agreement_signed,insured]"

# one edit per kind of policy fact: (old text, new text) on the bundled file
EDITS = [
    ("age_limit: 80 ", "age_limit: 75 "),
    ("batch_max_days: 7 ", "batch_max_days: 6 "),
    ("staff_ratio: [5, 10]", "staff_ratio: [5, 8]"),
    ("contractor_exit_score: 60 ", "contractor_exit_score: 70 "),
    ("- id: wartime_third_class_merit", "- id: wartime_merit"),
    ("clause: 服役期间荣立三等功及以上", "clause: 服役期间荣立三等功以上"),
    (
        "{rule: once_per_cycle, article: A9.2, approvers: [city_officer]}",
        "{rule: once_per_cycle, article: A9.2, approvers: [city_officer, county_officer]}",
    ),
    (
        "contractors:write: {city_officer: all}",
        "contractors:write: {city_officer: all, county_officer: county}",
    ),
    ("guards: [batch_started, checked_in_during_batch]", "guards: [batch_started]"),
    ("{after: 5, unit: working_days,", "{after: 6, unit: working_days,"),
    ("label: 已报名\n", "label: 已报名（待家属同意）\n"),
    ("minimum: 1, maximum: 5}", "minimum: 1, maximum: 10}"),
    ("article: A18.1\n", "article: A18.2\n"),
    (
        "source: [registered, family_consented, agency_approved, agreement_signed, insured]",
        "source: [registered, family_consented, agency_approved, agreement_signed]",
    ),
    (
        "roles: [agency_officer, county_officer, contractor_staff]",
        "roles: [agency_officer, county_officer]",
    ),
    ("auditor: 审计人员（只读）", "auditor: 审计人员"),
]  # fmt: skip

EXPECTED = {
    ("limits", "age_limit", 80, 75),
    ("limits", "batch_max_days", 7, 6),
    ("limits", "staff_ratio", (5, 10), (5, 8)),
    ("limits", "contractor_exit_score", 60, 70),
    ("tiers", "city: wartime_merit", None, "new"),
    ("tiers", "city: wartime_third_class_merit", "old", None),
    ("tiers", "county: merit_third_class_or_higher", "old", "new"),
    ("exceptions", "once_per_cycle", "old", "new"),
    ("permissions", "contractors:write county_officer", None, "county"),
    ("steps", "attend.guards", ("batch_started", "checked_in_during_batch"), ("batch_started",)),
    ("steps", "evaluate.requires.satisfaction", "old", "new"),
    ("steps", "evaluate.article", "A18.1", "A18.2"),
    ("steps", "withdraw: insured →", "withdrawn", None),
    (
        "steps",
        f"{REPORT_UNABLE_LATE}.roles",
        ("agency_officer", "county_officer", "contractor_staff"),
        ("agency_officer", "county_officer"),
    ),
    ("roles", "auditor", "审计人员（只读）", "审计人员"),
    ("states", "registered.label", "已报名", "已报名（待家属同意）"),
    ("states", "registered.timers", "old", "new"),
}


def _frozen(value: object) -> object:
    """Lists as tuples; a mapping as "old"/"new" (its content is checked where it matters)."""
    if isinstance(value, list):
        return tuple(value)
    return value


def edited() -> Definition:
    text = BUNDLED.read_text(encoding="utf-8")
    for old, new in EDITS:
        assert text.count(old) == 1, old  # each edit touches one place
        text = text.replace(old, new)
    return load_definition_text(text, "edited.yaml")


# -- the pure diff ----------------------------------------------------------------------------


def test_each_policy_edit_comes_back_once_in_its_section() -> None:
    changes = diff_definitions(load_definition_file(BUNDLED), edited())
    found = set()
    for change in changes:
        before, after = _frozen(change.before), _frozen(change.after)
        if isinstance(before, dict):
            before = "old"
        if isinstance(after, dict):
            after = "new"
        if change.item == "registered.timers":
            before, after = "old", "new"
        found.add((change.section, change.item, before, after))
    assert found == EXPECTED
    assert len(changes) == len(EXPECTED)
    order = list(SECTIONS)
    assert [order.index(c.section) for c in changes] == sorted(
        order.index(c.section) for c in changes
    )


def test_changed_values_are_shown_whole_and_plain() -> None:
    changes = {c.item: c for c in diff_definitions(load_definition_file(BUNDLED), edited())}
    assert changes["once_per_cycle"].after == {
        "article": "A9.2",
        "approvers": ["city_officer", "county_officer"],
    }
    assert changes["city: wartime_merit"].after == {
        "article": "A4.1",
        "clause": "服役期间荣立战时三等功（视同二等功）",
        "merit": {"max_class": 3, "wartime": True},
    }
    assert changes["evaluate.requires.satisfaction"].after["maximum"] == 10
    assert changes["registered.timers"].before[0] == "5 working_days remind family consent_reminder"
    json.dumps([c.to_json() for c in changes.values()])  # JSON-ready as it stands


def test_the_same_policy_has_no_change_whatever_its_layout() -> None:
    text = BUNDLED.read_text(encoding="utf-8")
    reflowed = text.replace("age_limit: 80 ", "age_limit:    80 ").replace("# A21.1", "# (art. 21)")
    assert (
        diff_definitions(load_definition_file(BUNDLED), load_definition_text(reflowed, "x.yaml"))
        == []
    )


def test_a_successor_draft_shows_its_window_cycles_and_migration_map() -> None:
    current = load_definition_file(BUNDLED)
    terms = SuccessorTerms(2, "聊退役军人发〔2026〕1号", date(2026, 1, 1), date(2027, 12, 31))
    draft = draft_successor(current, terms, today=date(2026, 1, 5)).definition
    items = {(c.section, c.item): (c.before, c.after) for c in diff_definitions(current, draft)}
    assert items[("policy", "version")] == (1, 2)
    assert items[("policy", "policy.effective_until")] == ("2025-12-31", "2027-12-31")
    assert items[("cycles", "2026-2027")] == (None, {"start": "2026-01-01", "end": "2027-12-31"})
    assert items[("cycles", "2024-2025")][1] is None
    assert items[("migration", "migrates_from.version")] == (None, 1)
    assert items[("migration", "migrates_from.states.insured")] == (None, "insured")
    assert {section for section, _item in items} == {"policy", "cycles", "migration"}


def test_steps_of_another_workflow_show_as_added_and_removed() -> None:
    condolence = load_definition_file(bundled_directory() / "condolence_visit.yaml")
    changes = diff_definitions(load_definition_file(BUNDLED), condolence)
    steps = {c.item: c for c in changes if c.section == "steps"}
    assert steps["consent"].after is None
    assert steps["consent"].before["roles"] == ["family", "agency_officer"]
    assert steps["record_visit"].before is None
    assert steps["assign: flagged →"].after == "assigned"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("honor_convalescence@2", ("honor_convalescence", 2)),
        ("honor_convalescence", ("honor_convalescence", None)),
    ],
)
def test_a_reference_is_a_name_and_perhaps_a_version(
    text: str, expected: tuple[str, int | None]
) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize("text", ["honor_convalescence@", "honor_convalescence@x", "@1", "x@0"])
def test_a_malformed_reference_is_bad_input(text: str) -> None:
    with pytest.raises(InputError, match="NAME@VERSION"):
        parse_reference(text)


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def edited_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no default database here: the catalog is the bundled files
    monkeypatch.delenv("CONVALESCENCE_DB", raising=False)
    path = tmp_path / "edited.yaml"
    path.write_text(edited().source_text, encoding="utf-8")
    return path


def test_the_table_groups_changes_by_section(edited_file: Path) -> None:
    result = CliRunner().invoke(
        main, ["definitions", "diff", "honor_convalescence@1", str(edited_file)]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "限额与标准（4）" in out
    assert "步骤（5）" in out
    assert "age_limit" in out
    assert "-checked_in_during_batch" in out.replace("−", "-")  # a guard gone, named
    assert f"共 {len(EXPECTED)} 处差别" in out
    english = CliRunner().invoke(
        main, ["--lang", "en", "definitions", "diff", "honor_convalescence", str(edited_file)]
    )
    assert "Limits and figures (4)" in english.stdout
    assert f"{len(EXPECTED)} differences in all" in english.stdout


def test_json_is_the_report_of_both_sides(edited_file: Path) -> None:
    result = CliRunner().invoke(
        main, ["definitions", "diff", str(BUNDLED), str(edited_file), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    expected = diff_report(load_definition_file(BUNDLED), load_definition_file(edited_file))
    assert report == json.loads(json.dumps(expected))
    assert report["identical"] is False
    assert {"section": "limits", "item": "age_limit", "before": 80, "after": 75} in report[
        "changes"
    ]


def test_the_same_definition_twice_says_so(edited_file: Path) -> None:
    result = CliRunner().invoke(
        main, ["definitions", "diff", "honor_convalescence@1", str(BUNDLED)]
    )
    assert result.exit_code == 0
    assert "没有差别" in result.stdout
    report = json.loads(
        CliRunner()
        .invoke(main, ["definitions", "diff", str(edited_file), str(edited_file), "--json"])
        .stdout
    )
    assert (report["identical"], report["changes"]) == (True, [])


@pytest.mark.parametrize(
    ("a", "code"),
    [
        ("honor_convalescence@9", 4),
        ("nope@1", 4),
        ("honor_convalescence@x", 2),
        ("missing.yaml", 2),
    ],
)
def test_an_unknown_or_malformed_side_is_refused(a: str, code: int, edited_file: Path) -> None:
    result = CliRunner().invoke(main, ["definitions", "diff", a, str(edited_file), "--json"])
    assert result.exit_code == code, result.output
    assert "error" in json.loads(result.stdout)


# -- the REST API -----------------------------------------------------------------------------

TOKENS = {
    "t-city": "city_officer:赵敏",
    "t-auditor": "auditor:周审",
    "t-cadre": "cadre:张建国@LC-DCF-0001",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, TokenRegistry.from_tokens(TOKENS))) as test_client:
        yield test_client


def test_get_compares_a_file_version_with_one_published_into_the_database(
    engine: Engine, client: TestClient
) -> None:
    same = client.get(
        "/definitions/diff",
        params={"a": "honor_convalescence@1", "b": "honor_convalescence@1"},
        headers=auth("t-auditor"),
    )
    assert same.status_code == 200, same.text
    assert (same.json()["identical"], same.json()["changes"]) == (True, [])
    terms = SuccessorTerms(2, "聊退役军人发〔2026〕1号", date(2026, 1, 1), date(2027, 12, 31))
    v2 = draft_successor(load_definition_file(BUNDLED), terms, today=date(2024, 5, 6))
    publish(engine, v2.text, "v2.yaml", actor=Actor.parse("city_officer:赵敏"))
    answer = client.get(
        "/definitions/diff",
        params={"a": "honor_convalescence@1", "b": "honor_convalescence@2"},
        headers=auth("t-city"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["a"]["version"], body["b"]["version"]) == (1, 2)
    assert {
        "section": "policy",
        "item": "policy.document",
        "before": "聊退役军人发〔2023〕2号",
        "after": "聊退役军人发〔2026〕1号",
    } in body["changes"]


@pytest.mark.parametrize(
    ("token", "params", "status", "error"),
    [
        (None, {"a": "honor_convalescence@1", "b": "honor_convalescence@1"}, 401, "unauthorized"),
        ("t-cadre", {"a": "honor_convalescence@1", "b": "honor_convalescence@1"}, 403, "forbidden"),
        ("t-city", {"a": "honor_convalescence@9", "b": "honor_convalescence@1"}, 404, "not_found"),
        ("t-city", {"a": "honor_convalescence@x", "b": "honor_convalescence@1"}, 422, "bad_input"),
        ("t-city", {"a": "honor_convalescence@1"}, 422, "bad_input"),
    ],
    ids=["no-token", "cadre", "unknown-version", "malformed", "missing-b"],
)
def test_get_refusals_name_the_problem(
    client: TestClient, token: str | None, params: dict[str, str], status: int, error: str
) -> None:
    answer = client.get("/definitions/diff", params=params, headers=auth(token) if token else {})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    if status == 403:
        assert answer.json()["permission"] == "definitions:read"
    if error == "bad_input":
        assert answer.json()["field"] in {"a", "query.b"}


def test_post_compares_a_draft_with_the_latest_or_a_named_version(client: TestClient) -> None:
    text = edited().source_text.replace("version: 1", "version: 2", 1)
    answer = client.post(
        "/definitions/diff",
        content=text.encode("utf-8"),
        headers={**auth("t-city"), "Content-Type": "application/yaml"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["a"]["version"], body["b"]["version"], body["b"]["source"]) == (1, 2, "draft")
    assert {"section": "limits", "item": "age_limit", "before": 80, "after": 75} in body["changes"]
    as_json = client.post(
        "/definitions/diff",
        params={"a": "condolence_visit@2"},
        json={"text": text},
        headers=auth("t-auditor"),
    )
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["a"]["name"] == "condolence_visit"


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        ("name: x\nversion: [\n", {"Content-Type": "application/yaml"}, 422, "draft:"),
        ("name: x\n", {"Content-Type": "application/yaml"}, 422, "draft:1:1"),
        ("", {"Content-Type": "application/yaml"}, 422, "YAML"),
        ('{"txt": "x"}', {"Content-Type": "application/json"}, 422, "text"),
        ("{not json", {"Content-Type": "application/json"}, 422, "JSON"),
    ],
    ids=["syntax", "schema", "empty", "json-without-text", "bad-json"],
)
def test_post_refuses_a_bad_draft_naming_where(
    client: TestClient, body: str, headers: dict[str, str], status: int, words: str
) -> None:
    answer = client.post(
        "/definitions/diff", content=body.encode(), headers={**auth("t-city"), **headers}
    )
    assert answer.status_code == status, answer.text
    assert words in answer.text


def test_post_refuses_bytes_that_are_not_utf8_and_a_caller_without_the_permission(
    client: TestClient,
) -> None:
    answer = client.post(
        "/definitions/diff",
        content=b"name: \xff\xfe\n",
        headers={**auth("t-city"), "Content-Type": "application/yaml"},
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "body"
    cadre = client.post(
        "/definitions/diff",
        content=BUNDLED.read_bytes(),
        headers={**auth("t-cadre"), "Content-Type": "application/yaml"},
    )
    assert cadre.status_code == 403
    assert cadre.json()["permission"] == "definitions:read"
