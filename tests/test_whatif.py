"""``policy what-if`` (issue 13 item 3): the roster and the open cases under the version in force
and a draft, on SQLite and PostgreSQL; the command line (summary, --json, --html, --xlsx, a bad
draft) and ``POST /policy/what-if`` on SQLite.

The draft is the bundled file with a new version, window and cycle, an A8.2 age limit of 78
instead of 80, and no "wartime third-class merit counts as second class" route into the city
tier (A4.1). Four cadres show each effect: one untouched, one who falls from the city to the
county tier, one over the new age limit, one with no merit at all.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factories import CONSENT, cadre
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from definitions import bundled_directory
from workflow import Engine
from workflow.api import TokenRegistry, create_app
from workflow.cli.main import main
from workflow.whatif import WhatIfReport, load_draft_text, what_if

ON = date(2026, 3, 1)  # in the draft's window, after the bundled version's
UNTOUCHED, WARTIME, OLD, NO_MERIT = "LC-DCF-0001", "LC-DCF-0002", "LC-DCF-0003", "LC-DCF-0004"
FAMILY = "family:张丽@{id}"  # factories.cadre's family contact


def draft_text(*extra: tuple[str, str]) -> str:
    """The bundled definition turned into a 2026–2027 successor (see the module docstring)."""
    text = (bundled_directory() / "honor_convalescence.yaml").read_text(encoding="utf-8")
    swaps = [
        ("version: 1\n", "version: 2\n"),
        ("document: 聊退役军人发〔2023〕2号", "document: 聊退役军人发〔2026〕1号"),
        ("issued_on: 2023-03-23", "issued_on: 2025-12-01"),
        ("effective_from: 2023-03-23", "effective_from: 2026-01-01"),
        ("effective_until: 2025-12-31", "effective_until: 2027-12-31"),
        (
            '    - {id: "2023", start: 2023-03-23, end: 2023-12-31}\n'
            "    - {id: 2024-2025, start: 2024-01-01, end: 2025-12-31}",
            "    - {id: 2026-2027, start: 2026-01-01, end: 2027-12-31}",
        ),
        ("age_limit: 80 ", "age_limit: 78 "),
        (
            "        - id: wartime_third_class_merit\n"
            "          article: A4.1\n"
            "          clause: 服役期间荣立战时三等功（视同二等功）\n"
            "          merit: {max_class: 3, wartime: true}\n",
            "",
        ),
        *extra,
    ]
    for old, new in swaps:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def seed(engine: Engine) -> dict[str, int]:
    """Four cadres; the wartime one and the untouched one registered in 2024 (the clock's
    year), the wartime one's family consented. Returns their case ids."""
    engine.put_cadres(
        [
            cadre(UNTOUCHED),
            cadre(WARTIME, merits=[{"class": 3, "wartime": True, "year": 1979}]),
            cadre(OLD, birth_date="1946-06-01"),  # 79 on ON: over 78, not over 80
            cadre(NO_MERIT, merits=[]),
        ]
    )
    cases = {}
    for cadre_id in (UNTOUCHED, WARTIME):
        opened = engine.open_case(
            cadre_id, actor=f"cadre:张建国@{cadre_id}", data={"plan_level": "city"}
        )
        cases[cadre_id] = opened.id
    engine.fire(cases[WARTIME], "consent", actor=FAMILY.format(id=WARTIME), data=CONSENT)
    return cases


def by_rule(report: WhatIfReport, cadre_id: str) -> dict[str, Any]:
    change = next(c for c in report.changes if c.cadre_id == cadre_id)
    return {r.rule: r for r in change.why} | {"_change": change}


def test_roster_and_open_cases_under_a_draft(engine: Engine) -> None:
    cases = seed(engine)
    report = what_if(engine, load_draft_text(draft_text(), "draft.yaml"), on=ON)

    assert (report.current.version, report.current.in_force) == (1, False)
    assert (report.draft.version, report.draft.in_force) == (2, True)
    assert len(report.notices) == 1
    assert "A21.1" in report.notices[0]
    assert report.roster == 4
    assert {t.tier: (t.before, t.after) for t in report.tiers} == {
        "city": (3, 2),
        "county": (0, 1),
        "none": (1, 1),
    }
    assert report.tier_moves == (("city", "county", 1),)
    assert {c.cadre_id for c in report.changes} == {WARTIME, OLD}

    wartime = by_rule(report, WARTIME)
    assert wartime["_change"].kind == "tier"  # still eligible for county plans, not city ones
    assert set(wartime) == {"_change", "wartime_third_class_merit"}
    assert wartime["wartime_third_class_merit"].direction == "removed"
    old = by_rule(report, OLD)
    assert old["_change"].kind == "loses"
    assert set(old) == {"_change", "under_age_limit_on_first_day"}
    assert "78" in (old["under_age_limit_on_first_day"].message_after or "")
    assert report.eligibility.to_json() == {
        "level_before": "county",
        "level_after": "county",
        "eligible_before": 3,
        "eligible_after": 2,
        "gained": 0,
        "lost": 1,
        "tier_moved": 1,
    }
    articles = {(a.clause, a.rule): a for a in report.articles}
    assert articles[("A8.2", "under_age_limit_on_first_day")].now_fails == 1
    assert articles[("A4.1", "wartime_third_class_merit")].removed == 1
    assert ("A21.1", "policy_in_force") not in articles  # stated once, in the notices

    assert report.open_cases == 2
    assert [c.case_id for c in report.cases] == [cases[WARTIME]]
    approve = next(s for s in report.cases[0].steps if s.trigger == "approve")
    refused = {g.rule: g for g in approve.refusals}
    assert set(refused) == {"eligible_for_plan_level"}
    assert refused["eligible_for_plan_level"].article == "A4.4"
    assert refused["eligible_for_plan_level"].new  # v1 admits a wartime third-class merit
    assert report.newly_refused == 1
    unjudged = {g.rule: g.needs for g in approve.unjudged}
    assert "batch_start" in unjudged["under_age_limit_on_first_day"]
    assert "province" in unjudged["within_shandong"]
    rules = {(r.trigger, r.rule): r for r in report.case_rules}
    assert rules[("consent", "paper_form_when_on_behalf")].needs == ("on_behalf_of",)
    assert report.unjudged_cases == 2


def test_a_state_the_migration_map_leaves_out(engine: Engine) -> None:
    """A case whose state the draft's migrates_from does not map cannot move (A21.1)."""
    cases = seed(engine)
    mapped = draft_text(
        ("initial: registered\n", "initial: registered\nmigrates_from:\n"
         "  version: 1\n  states: {registered: registered}\n"),
    )  # fmt: skip
    report = what_if(engine, load_draft_text(mapped, "draft.yaml"), on=ON)
    stuck = next(c for c in report.cases if c.case_id == cases[WARTIME])
    assert stuck.draft_state is None
    assert stuck.steps == ()
    assert stuck.problem is not None
    assert "A21.1" in stuck.problem
    assert cases[UNTOUCHED] not in {c.case_id for c in report.cases}


# -- the command line and the API (SQLite) -------------------------------------------------


@pytest.fixture
def seeded(engine: Engine, tmp_path: Path) -> tuple[str, Path]:
    if engine.db.dialect.name != "sqlite":
        pytest.skip("the command line's output does not depend on the database")
    seed(engine)
    draft = tmp_path / "successor.yaml"
    draft.write_text(draft_text(), encoding="utf-8")
    return str(engine.db.url), draft


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, "--now", "2026-03-01T09:00", *args])


def test_cli_summary_json_and_files(seeded: tuple[str, Path], tmp_path: Path) -> None:
    url, draft = seeded
    html, xlsx = tmp_path / "w.html", tmp_path / "w.xlsx"
    shown = cli(url, "policy", "what-if", str(draft), "--html", str(html), "--xlsx", str(xlsx))
    assert shown.exit_code == 0, shown.output
    assert "资格变化的干部（共 2 人" in shown.stdout
    assert WARTIME in shown.stdout
    assert "eligible_for_plan_level" in shown.stdout

    root = ET.fromstring(html.read_text(encoding="utf-8"))  # strict: well-formed
    text = "".join(root.itertext())
    assert OLD in text
    assert "已超过78周岁" in text
    assert root.find(".//*[@id='refused']") is not None
    book = load_workbook(xlsx)
    cadres = book["干部 Cadres"]
    assert sorted(row[0].value for row in cadres.iter_rows(min_row=2)) == [WARTIME, OLD]

    as_json = cli(url, "policy", "what-if", str(draft), "--json")
    body = json.loads(as_json.stdout)
    assert body["on"] == "2026-03-01"  # from --now
    assert body["open_cases"]["refused"] == 1
    assert {c["cadre_id"] for c in body["changes"]} == {WARTIME, OLD}


def test_cli_in_english(seeded: tuple[str, Path]) -> None:
    url, draft = seeded
    result = cli(url, "--lang", "en", "policy", "what-if", str(draft), "--on", "2026-03-01")
    assert result.exit_code == 0, result.output
    assert "Cadres per tier" in result.stdout
    assert "资格变化" not in result.stdout


def test_a_bad_draft_lists_every_problem_and_exits_2(
    seeded: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = seeded
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        draft_text(
            ("initial: registered", "initial: nowhere"), ("age_limit: 78 ", "age_limit: x ")
        ),
        encoding="utf-8",
    )
    result = cli(url, "policy", "what-if", str(bad))
    assert result.exit_code == 2
    located = [line for line in result.stderr.splitlines() if line.startswith(f"{bad}:")]
    assert len(located) >= 2, result.stderr  # each problem as file:line:col
    lines = draft_text().splitlines()
    assert any(f":{lines.index('initial: registered') + 1}:" in line for line in located)


def test_api_city_officer_only(seeded: tuple[str, Path], engine: Engine) -> None:
    tokens = {"t-city": "city_officer:赵敏", "t-agency": "agency_officer:王芳@东昌府区军休所"}
    app = create_app(engine, TokenRegistry.from_tokens(tokens))
    body = draft_text().encode("utf-8")
    headers = {"Content-Type": "application/yaml"}
    with TestClient(app) as client:
        answered = client.post(
            "/policy/what-if?on=2026-03-01",
            content=body,
            headers={**headers, "Authorization": "Bearer t-city"},
        )
        assert answered.status_code == 200, answered.text
        assert {c["cadre_id"] for c in answered.json()["changes"]} == {WARTIME, OLD}
        refused = client.post(
            "/policy/what-if", content=body, headers={**headers, "Authorization": "Bearer t-agency"}
        )
        assert refused.status_code == 403
        bad = client.post(
            "/policy/what-if",
            content=draft_text(("initial: registered", "initial: nowhere")).encode(),
            headers={**headers, "Authorization": "Bearer t-city"},
        )
        assert bad.status_code == 422
        problems = bad.json()["problems"]
        assert problems
        assert all(p["file"] == "draft.yaml" and p["line"] > 1 for p in problems)
