"""``convalescence cadres list | search | show`` (issue 19 item 5) and the cadre's name on cases.

The roster is read in the reader's scope (A5.2): a county officer sees its county's cadres, an
agency officer its agency's, and a cadre outside the scope is answered like a missing one (exit
4, the same words). Pages go by id and print the next page's ``--after``; following them reads
every cadre once. Paging, search (LIKE on both databases) and scope run on SQLite and
PostgreSQL; the rest on the SQLite file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from factories import AS_AGENCY, AS_COUNTY, CONSENT, REGISTRATION, cadre

from workflow import Engine
from workflow.cadre_views import list_cadres
from workflow.cli.main import main
from workflow.machine import Actor
from workflow.scheduler import sweep_condolence
from workflow.unable import record_unable

NOW = "2024-05-06T09:30"  # the engine fixture's clock
CITY = "city_officer:赵敏"
CHIPING = "county_officer:孙科长@茌平区"
DONGCHANGFU = [f"LC-DCF-{n:04d}" for n in range(1, 8)]
CHIPING_IDS = ["LC-CP-0001", "LC-CP-0002"]


@pytest.fixture(autouse=True)
def notices_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVALESCENCE_NOTICES_DIR", str(tmp_path / "notices"))


def cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", db_url, "--now", NOW, *args], catch_exceptions=False)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def roster(engine: Engine) -> None:
    """Seven cadres of 东昌府区 (city tier: a class-2 merit), two of 茌平区, one of whom has
    no merit or honour (no tier, art. 4) and a name holding LIKE's wildcards."""
    engine.put_cadres(
        [cadre(i, name=f"张{i[-1]}") for i in DONGCHANGFU]
        + [
            cadre("LC-CP-0001", name="李%_振", county="茌平区", agency="茌平区军休所", merits=[]),
            cadre("LC-CP-0002", name="王大", county="茌平区", agency="茌平区军休所"),
        ]
    )


def pages(db_url: str, *args: str) -> list[list[str]]:
    """Follow the printed ``--after`` from the first page to the last."""
    found: list[list[str]] = []
    after: list[str] = []
    while True:
        page = as_json(cli(db_url, *args, *after, "--json"))
        found.append([item["id"] for item in page["items"]])
        if page["next"] is None:
            return found
        after = ["--after", page["next"]]
        assert len(found) < 20, "paging does not end"


def flat(found: list[list[str]]) -> list[str]:
    return [cadre_id for page in found for cadre_id in page]


def test_pages_by_id_read_every_cadre_in_scope_once(engine: Engine, db_url: str) -> None:
    roster(engine)
    everyone = pages(db_url, "cadres", "list", "--limit", "3", "--as", CITY)
    assert [len(page) for page in everyone] == [3, 3, 3]
    assert flat(everyone) == sorted(DONGCHANGFU + CHIPING_IDS)
    # the text form prints the next page's option and says when the last page is reached
    first = cli(db_url, "cadres", "list", "--limit", "3", "--as", CITY)
    assert "下一页：加上 --after LC-DCF-0001" in first.stdout
    assert "张1" in first.stdout
    last = cli(db_url, "cadres", "list", "--after", "LC-DCF-0004", "--as", CITY)
    assert "已是最后一页" in last.stdout
    assert "LC-DCF-0004" not in last.stdout
    assert "LC-DCF-0007" in last.stdout


def test_a_county_officer_reads_only_its_county(engine: Engine, db_url: str) -> None:
    roster(engine)
    assert pages(db_url, "cadres", "list", "--as", CHIPING) == [CHIPING_IDS]
    agency = pages(db_url, "cadres", "list", "--limit", "4", "--as", AS_AGENCY)
    assert flat(agency) == DONGCHANGFU
    # asking for another county than its own shows nothing, as a case listing does
    assert pages(db_url, "cadres", "list", "--county", "东昌府区", "--as", CHIPING) == [[]]
    assert pages(db_url, "cadres", "search", "张", "--as", CHIPING) == [[]]
    # a cadre of another county reads exactly like a missing one (A5.2)
    hidden = cli(db_url, "cadres", "show", "LC-DCF-0001", "--as", CHIPING)
    missing = cli(db_url, "cadres", "show", "LC-DCF-9999", "--as", CHIPING)
    assert (hidden.exit_code, missing.exit_code) == (4, 4)
    assert hidden.stderr.replace("0001", "9999") == missing.stderr
    # an unscoped county officer would read every county: refused citing A5.2
    unscoped = cli(db_url, "cadres", "list", "--as", "county_officer:孙科长")
    assert unscoped.exit_code == 1
    assert "A5.2" in unscoped.stderr


def test_search_by_a_part_of_the_name_or_id_takes_wildcards_literally(
    engine: Engine, db_url: str
) -> None:
    roster(engine)
    assert pages(db_url, "cadres", "search", "lc-cp", "--as", CITY) == [CHIPING_IDS]
    assert pages(db_url, "cadres", "search", "大", "--as", CITY) == [["LC-CP-0002"]]
    assert pages(db_url, "cadres", "search", "%_", "--as", CITY) == [["LC-CP-0001"]]
    assert pages(db_url, "cadres", "search", "_", "--as", CITY) == [["LC-CP-0001"]]
    paged = pages(db_url, "cadres", "search", "张", "--limit", "5", "--as", CITY)
    assert paged == [DONGCHANGFU[:5], DONGCHANGFU[5:]]


def test_the_tier_filter_lists_the_tier_computed_from_the_record(
    engine: Engine, db_url: str
) -> None:
    roster(engine)
    nothing = as_json(cli(db_url, "cadres", "list", "--tier", "none", "--json", "--as", CITY))
    assert [item["id"] for item in nothing["items"]] == ["LC-CP-0001"]
    assert (nothing["next"], nothing["examined"]) == (None, 9)
    city = pages(db_url, "cadres", "list", "--tier", "city", "--limit", "4", "--as", CITY)
    assert flat(city) == sorted([*DONGCHANGFU, "LC-CP-0002"])
    wrong = cli(db_url, "cadres", "list", "--tier", "province", "--as", CITY)
    assert wrong.exit_code == 2
    assert "city, county, none" in wrong.stderr


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_show_gives_tier_and_why_age_cases_cycles_visits_and_changes(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    file = tmp_path / "roster.json"
    record = cadre("LC-DCF-0001", id_card="371502195003120014", phone="13800001234")
    file.write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
    assert cli(db_url, "cadres", "import", str(file)).exit_code == 0
    file.write_text(
        json.dumps([{**record, "phone": "13900005678"}], ensure_ascii=False), encoding="utf-8"
    )
    assert cli(db_url, "cadres", "import", str(file)).exit_code == 0
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    engine.fire(case.id, "consent", actor="family:张丽@LC-DCF-0001", data=CONSENT)
    engine.fire(case.id, "withdraw", actor=AS_AGENCY, data={"for_health": False}, reason="另有安排")
    record_unable(
        engine,
        "LC-DCF-0001",
        cycle="2024-2025",
        reason="因脑梗住院治疗",
        actor=Actor.parse(AS_AGENCY),
    )
    sweep_condolence(engine)

    shown = as_json(cli(db_url, "cadres", "show", "LC-DCF-0001", "--json", "--as", AS_COUNTY))
    assert (shown["name"], shown["age"], shown["tier"]) == ("张建国", 74, "city")
    assert shown["eligibility"]["decided_by"] == "merit_second_class_or_higher"
    assert "二等功" in shown["eligibility"]["why"]
    assert shown["record"]["id_card"] == "371502********0014"
    assert shown["record"]["phone"] == "139****5678"
    assert "13900005678" not in json.dumps(shown)
    convalescence, visit = shown["cases"]
    assert (convalescence["id"], convalescence["state"]) == (case.id, "withdrawn")
    assert visit["definition"] == "condolence_visit"
    assert shown["visits"] == [
        {
            "cycle": "2024-2025",
            "case_id": visit["id"],
            "state": visit["state"],
            "state_label": visit["state_label"],
            "terminal": False,
            "late": False,
            "source_case_id": shown["visits"][0]["source_case_id"],
            "unable_report_id": shown["visits"][0]["unable_report_id"],
            "opened_at": shown["visits"][0]["opened_at"],
        }
    ]
    assert shown["cycles"] == [
        {
            "cycle": "2024-2025",
            "cases": [case.id],
            "taking_part": [],
            "unable_reported": True,
            "visit_case": visit["id"],
        }
    ]
    assert [r["reason"] for r in shown["unable_reports"]] == ["因脑梗住院治疗"]
    assert shown["changes_total"] == 2
    assert shown["changes"][0]["kind"] == "updated"
    assert shown["changes"][0]["changes"]["phone"] == ["138****1234", "139****5678"]

    text = cli(db_url, "cadres", "show", "LC-DCF-0001", "--as", AS_COUNTY).stdout
    assert "今天 74 周岁 · 层级（第四条）：市级" in text
    assert "决定层级的途径：1979年荣立二等功" in text
    assert "名册变更（最近 2 条，共 2 条，A19.1）" in text
    english = cli(db_url, "--lang", "en", "cadres", "show", "LC-DCF-0001", "--as", AS_COUNTY)
    assert "74 years old today · tier (art. 4): city" in english.stdout


@SQLITE_ONLY
def test_cases_list_and_show_name_the_cadre(engine: Engine, db_url: str) -> None:
    engine.put_cadres([cadre("LC-DCF-0001", name="张建国")])
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    listed = cli(db_url, "cases", "list")
    assert "张建国" in listed.stdout
    shown = cli(db_url, "cases", "show", str(case.id))
    assert f"案件 {case.id} · honor_convalescence v1 · 军休干部 LC-DCF-0001 张建国" in shown.stdout
    assert as_json(cli(db_url, "cases", "show", str(case.id), "--json"))["cadre_name"] == "张建国"
    assert case.cadre_name == "张建国"  # a step's answer names him too: one shape everywhere


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("scope", "index"),
    [
        (CITY, "sqlite_autoindex_cadres_1"),  # the primary key
        (CHIPING, "ix_cadres_county_id"),
        (AS_AGENCY, "ix_cadres_agency_id"),
    ],
)
def test_a_page_is_one_range_of_an_index(engine: Engine, scope: str, index: str) -> None:
    """Keyset paging (revision 0019): a page from ``--after`` on reads one index range, in
    scope and in id order, and sorts nothing, however deep the page."""
    roster(engine)
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM cadres" in statement and not statement.startswith("EXPLAIN"):
            statements.append((statement, parameters))

    sa.event.listen(engine.db, "before_cursor_execute", seen)
    try:
        list_cadres(engine, Actor.parse(scope), after="LC-CP-0002", limit=2)
    finally:
        sa.event.remove(engine.db, "before_cursor_execute", seen)
    ((statement, parameters),) = statements
    with engine.db.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    assert f"INDEX {index} (" in plan, plan
    assert "id>?" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
