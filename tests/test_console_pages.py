"""The console's page areas beyond inbox and cases (issue 19 items 5-10), through Starlette's
TestClient: the roster (list, search, scope, a cadre's page, the upload with its per-row report,
all or nothing), plans and batches (seats, start conditions, forms as rules.permissions allow,
refusals citing articles), condolence visits (due in scope, recorded through the engine),
the A18.2 report (in the page, printable, XLSX), cadre and family self-service through a
personal link, and the demo's log-ins. Where the database makes a difference (scope and search
in SQL, writes), on SQLite and PostgreSQL; the rest on SQLite.

The same things in a real browser: tests/test_console_pages_browser.py.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from factories import AS_AGENCY, CONSENT, REGISTRATION, cadre
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from plans_setup import seed_batch, walk

from workflow import Engine, SimulatedClock
from workflow.api import TokenRegistry, create_app
from workflow.cli.demo import console_lines
from workflow.clock import SHANGHAI
from workflow.demo.logins import write_demo_tokens
from workflow.demo.run import DemoSummary
from workflow.roster import write_csv
from workflow.scheduler import sweep_condolence

SEED_PLANS = False  # the fixture seeds the batch and, with it, the year's plans

TOKENS = {
    "t-agency": "agency_officer:王芳@东昌府区军休所",
    "t-other-agency": "agency_officer:孙莉@茌平区军休所",
    "t-county": "county_officer:刘伟@东昌府区",
    "t-other-county": "county_officer:陈静@茌平区",
    "t-city": "city_officer:赵敏",
    "t-auditor": "auditor:周审",
    "t-contractor": "contractor_staff:李强@1",
    "t-other-contractor": "contractor_staff:钱多@2",
    "t-cadre": "cadre:张建国@LC-DCF-0001",
    "t-family": "family:张丽@LC-DCF-0001",
}
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
SCRIPT = "<script>alert(1)</script>"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    engine.put_cadres(
        [
            cadre(),
            cadre("LC-DCF-0002", name="李老"),
            cadre("LC-DCF-0003", name=SCRIPT),
            cadre("LC-CP-0001", name="孙老", county="茌平区", agency="茌平区军休所"),
        ]
    )
    seed_batch(engine)
    return engine


@pytest.fixture
def client(seeded: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(seeded, TokenRegistry.from_tokens(TOKENS))) as made:
        yield made


def csrf_of(page: Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text[:2000]
    return found.group(1)


def log_in(client: TestClient, token: str) -> None:
    client.cookies.clear()
    page = client.get("/console/login")
    client.post("/console/login", data={"csrf": csrf_of(page), "token": token, "next": ""})


def main_of(page: Response) -> str:
    found = re.search(r"<main.*?</main>", page.text, re.S)
    assert found is not None, page.text[:1000]
    return found.group(0)


# -- roster -----------------------------------------------------------------------------------


def test_the_roster_lists_searches_and_pages_within_the_viewers_scope(
    client: TestClient, seeded: Engine
) -> None:
    seeded.put_cadres([cadre(f"LC-DCF-1{n:03d}", name=f"王{n}") for n in range(60)])
    log_in(client, "t-agency")
    first = main_of(client.get("/console/roster"))
    assert first.count('class="cadre-name"') == 50  # a page of 50, by id
    assert "孙老" not in first  # another agency's cadre is not in this officer's scope
    after = re.search(r'href="/console/roster\?after=([^"&]+)"', first)
    assert after is not None
    rest = main_of(client.get(f"/console/roster?after={after.group(1)}"))
    assert rest.count('class="cadre-name"') == 64 - 1 - 50  # the other agency's cadre left out
    assert "回到第一页" in rest
    found = main_of(client.get("/console/roster?q=李"))
    assert "李老" in found
    assert "张建国" not in found
    assert "没有符合条件" in main_of(client.get("/console/roster?county=茌平区"))
    assert "市级" in main_of(client.get("/console/roster?tier=city"))
    bad_tier = client.get("/console/roster?tier=gold")
    assert bad_tier.status_code == 200
    assert 'id="tier-error"' in bad_tier.text
    log_in(client, "t-other-county")
    theirs = main_of(client.get("/console/roster"))
    assert "孙老" in theirs
    assert "张建国" not in theirs


def test_a_cadres_page_says_tier_why_cases_and_changes_and_hides_outside_the_scope(
    client: TestClient, seeded: Engine
) -> None:
    case = seeded.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    log_in(client, "t-agency")
    page = client.get("/console/roster/LC-DCF-0001")
    assert page.status_code == 200
    body = main_of(page)
    assert "张建国" in body
    assert 'id="tier-why"' in body
    assert "二等功" in body  # why the tier: the class-2 merit (A4.1)
    assert f'href="/console/cases/{case.id}"' in body
    assert "138****1234" in body  # the family's telephone masked
    assert "13800001234" not in page.text
    log_in(client, "t-other-agency")
    hidden = client.get("/console/roster/LC-DCF-0001")
    missing = client.get("/console/roster/LC-NONE-9999")
    assert hidden.status_code == missing.status_code == 404
    assert "张建国" not in hidden.text
    log_in(client, "t-family")  # the roster is the office's, not the family's
    assert client.get("/console/roster").status_code == 404


def _upload(client: TestClient, name: str, content: bytes, *, csrf: str | None = None) -> Response:
    page = client.get("/console/roster/upload")
    token = csrf_of(page) if csrf is None else csrf
    answer: Response = client.post(
        "/console/roster/upload", data={"csrf": token}, files={"file": (name, content)}
    )
    return answer


def test_a_roster_upload_with_a_bad_row_writes_nothing_and_lists_every_row_problem(
    client: TestClient, seeded: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "roster.csv"
    rows = [
        cadre("LC-DCF-0100", name="新干部"),
        cadre("LC-DCF-0101", birth_date="1950-13-40"),
        cadre("LC-CP-0100", county="茌平区", agency="茌平区军休所"),
        cadre("LC-DCF-0102", gender="X"),
    ]
    write_csv(path, rows)
    log_in(client, "t-agency")
    answer = _upload(client, "名册.csv", path.read_bytes())
    assert answer.status_code == 422
    report = main_of(answer)
    assert 'id="upload-problems"' in report
    assert "名册.csv" in report
    assert "row 3" in report
    assert "birth_date" in report
    assert "row 5" in report
    assert "gender" in report
    assert "row 4" in report
    assert "A5.2" in report
    assert "未导入任何记录" in report
    log_in(client, "t-city")
    listed = main_of(client.get("/console/roster?q=LC-DCF-01"))
    assert "新干部" not in listed  # all or nothing: the good row was not written either


@pytest.mark.parametrize("name", ["roster.csv", "roster.xlsx", "roster.json"])
def test_a_good_roster_file_of_each_format_is_imported_and_logged_with_its_officer(
    client: TestClient, seeded: Engine, name: str
) -> None:
    log_in(client, "t-city")
    answer = _upload(client, name, (EXAMPLES / name).read_bytes())
    assert answer.status_code == 200, main_of(answer)
    done = re.search(r'id="upload-done">\s*<p>(.*?)</p>', answer.text, re.S)
    assert done is not None
    assert re.search(r"新增 [1-9]", done.group(1))
    first = json.loads((EXAMPLES / "roster.json").read_text(encoding="utf-8"))[0]["id"]
    page = main_of(client.get(f"/console/roster/{first}"))
    assert f"{name} · city_officer:赵敏" in page  # the change log names the file and officer


def test_an_upload_without_its_csrf_token_or_by_a_reader_is_refused(
    client: TestClient, seeded: Engine
) -> None:
    content = json.dumps([cadre("LC-DCF-0200", name="不该写入")]).encode()
    log_in(client, "t-agency")
    assert _upload(client, "r.json", content, csrf="forged").status_code == 403
    log_in(client, "t-auditor")
    assert client.get("/console/roster/upload").status_code == 404
    log_in(client, "t-city")
    assert "不该写入" not in main_of(client.get("/console/roster?q=LC-DCF-02"))
    wrong = _upload(client, "r.txt", b"id,name\n")
    assert wrong.status_code == 422
    assert 'id="upload-error"' in wrong.text


@SQLITE_ONLY
def test_a_cadre_named_like_a_script_is_text_on_the_roster_pages(
    client: TestClient, seeded: Engine
) -> None:
    log_in(client, "t-agency")
    for path in ("/console/roster", "/console/roster/LC-DCF-0003", "/console/roster?q=script"):
        page = client.get(path)
        assert SCRIPT not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path


# -- plans and batches -------------------------------------------------------------------------


def _post(client: TestClient, page: str, action: str, data: dict[str, str]) -> Response:
    answer: Response = client.post(action, data={"csrf": csrf_of(client.get(page)), **data})
    return answer


def test_a_batch_page_shows_seats_staff_and_start_conditions_and_refuses_with_the_article(
    client: TestClient, seeded: Engine
) -> None:
    case = seeded.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    walk(
        seeded, case.id, [("consent", AS_AGENCY, CONSENT), ("approve", AS_AGENCY, {"batch_id": 1})]
    )
    log_in(client, "t-city")
    page = client.get("/console/batches/1")
    body = main_of(page)
    assert re.search(r'id="seats">1 / 50<', body)
    assert "A13.1" in body
    assert "A15.1" in body
    assert "A12.1" in body
    assert '<li class="fail">' in body  # 5 staff for 1 cadre: A12.1 not met
    assert "张建国" in body
    assert 'id="start-form"' in body
    refused = _post(client, "/console/batches/1", "/console/batches/1/start", {})
    assert refused.status_code == 409
    assert "A12.1" in main_of(refused)
    assert "未开始" in main_of(client.get("/console/batches/1"))  # nothing was written
    early = _post(client, "/console/batches/1", "/console/batches/1/evaluation", {"score": "90"})
    assert early.status_code == 409
    assert "A18.3" in main_of(early)  # a batch is judged after it ended
    noted = _post(
        client,
        "/console/batches/1",
        "/console/batches/1/incidents",
        {"description": "张建国 血压偏高，已就医", "case_id": str(case.id)},
    )
    assert noted.status_code == 200
    assert "血压偏高" in main_of(noted)
    assert "city_officer:赵敏" in main_of(noted)  # the incident names its reporter


def test_forms_and_batches_follow_the_definitions_permissions(
    client: TestClient, seeded: Engine
) -> None:
    log_in(client, "t-other-county")  # reads every batch, writes only its own county's
    page = main_of(client.get("/console/batches/1"))
    assert "威海市荣成" in page
    assert 'id="start-form"' not in page
    assert 'id="evaluate-form"' not in page
    forged = client.post(
        "/console/batches/1/start", data={"csrf": csrf_of(client.get("/console/batches/1"))}
    )
    assert forged.status_code == 403
    assert "A5.2" in main_of(forged)
    log_in(client, "t-contractor")  # contractor 1 runs batch 1
    assert client.get("/console/batches/1").status_code == 200
    log_in(client, "t-other-contractor")
    assert client.get("/console/batches/1").status_code == 404
    assert "威海市荣成" not in main_of(client.get("/console/batches"))
    log_in(client, "t-cadre")
    assert client.get("/console/batches/1").status_code == 404


def test_a_batch_is_created_from_its_form_and_a_bad_field_is_named(
    client: TestClient, seeded: Engine
) -> None:
    log_in(client, "t-city")
    fields = {
        "plan_id": "1",
        "contractor_id": "1",
        "province": "山东",
        "place": "青岛市崂山",
        "start_date": "2024-07-01",
        "end_date": "2024-07-20",
        "capacity": "20",
        "staff_count": "3",
        "organiser_name": "王芳",
        "organiser_phone": "0635-1234567",
    }
    too_long = _post(client, "/console/batches/new", "/console/batches/new", fields)
    assert too_long.status_code == 409
    assert "A6.2" in main_of(too_long)  # 20 days: more than seven
    typo = _post(
        client, "/console/batches/new", "/console/batches/new", {**fields, "capacity": "二十"}
    )
    assert typo.status_code == 422
    assert 'id="f-capacity-error"' in typo.text
    made = _post(
        client, "/console/batches/new", "/console/batches/new", {**fields, "end_date": "2024-07-05"}
    )
    assert made.status_code == 200
    assert "批次已建立" in main_of(made)
    assert "青岛市崂山" in main_of(made)


def test_the_printable_roster_and_its_workbook_are_the_report_codes(
    client: TestClient, seeded: Engine
) -> None:
    log_in(client, "t-contractor")
    printable = client.get("/console/batches/1/roster.html")
    assert printable.status_code == 200
    policy = printable.headers["content-security-policy"]
    assert "style-src 'sha256-" in policy
    assert "unsafe-inline" not in policy
    assert "script-src" not in policy
    assert "default-src 'none'" in policy
    assert "疗养批次名单" in printable.text
    workbook = client.get("/console/batches/1/roster.xlsx")
    assert workbook.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "batch-1-roster.xlsx" in workbook.headers["content-disposition"]
    assert load_workbook(io.BytesIO(workbook.content)).sheetnames


# -- condolence visits ------------------------------------------------------------------------


def test_visits_due_in_the_scope_are_listed_and_one_is_recorded_through_the_engine(
    client: TestClient, seeded: Engine
) -> None:
    case = seeded.open_case("LC-DCF-0002", actor=AS_AGENCY, data=REGISTRATION)
    seeded.fire(case.id, "consent", actor="family:张丽@LC-DCF-0002", data=CONSENT)
    seeded.fire(case.id, "report_unable", actor=AS_AGENCY, data={"cause": "健康原因"})
    sweep_condolence(seeded)
    log_in(client, "t-other-agency")
    assert "李老" not in main_of(client.get("/console/visits"))
    log_in(client, "t-agency")
    listed = main_of(client.get("/console/visits"))
    assert "李老" in listed
    assert re.search(r'id="count-due">1<', listed)
    assert re.search(r'id="count-overdue">0<', listed)
    visit = re.search(r'href="/console/visits/(\d+)"', listed)
    assert visit is not None
    page = client.get(f"/console/visits/{visit.group(1)}")
    assert 'id="step-record_visit"' in page.text
    action = f"/console/visits/{visit.group(1)}/steps/record_visit"
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version is not None
    missing = client.post(action, data={"csrf": csrf_of(page), "version": version.group(1)})
    assert missing.status_code == 422
    assert "走访人员" in main_of(missing)  # the field named, nothing written
    done = client.post(
        action,
        data={
            "csrf": csrf_of(page),
            "version": version.group(1),
            "visited_by": "王芳",
            "visited_on": "2024-05-08",
            "items_brought": "慰问金 500 元",
        },
    )
    assert done.status_code == 200
    assert "已记录案件" in main_of(done)
    assert seeded.case(int(visit.group(1))).state == "visited"
    assert "李老" not in main_of(done)  # no longer due


@SQLITE_ONLY
def test_a_visit_left_after_its_cycle_is_overdue(
    client: TestClient, seeded: Engine, clock: SimulatedClock
) -> None:
    case = seeded.open_case("LC-DCF-0002", actor=AS_AGENCY, data=REGISTRATION)
    seeded.fire(case.id, "consent", actor="family:张丽@LC-DCF-0002", data=CONSENT)
    seeded.fire(case.id, "report_unable", actor=AS_AGENCY, data={"cause": "健康原因"})
    sweep_condolence(seeded)
    clock.set(datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI))
    log_in(client, "t-county")
    page = main_of(client.get("/console/visits"))
    assert re.search(r'id="count-overdue">1<', page)
    assert 'id="overdue-visits"' in page


# -- reports ----------------------------------------------------------------------------------


@SQLITE_ONLY
def test_the_performance_report_is_in_the_page_printable_and_a_workbook_for_the_city(
    client: TestClient,
) -> None:
    log_in(client, "t-city")
    page = client.get("/console/reports?year=2024")
    assert page.status_code == 200
    assert 'id="report"' in page.text
    assert 'id="summary"' in page.text  # the report's own sections, in the console's layout
    assert "A18.2" in main_of(page)
    assert "script-src 'self'" in page.headers["content-security-policy"]
    printable = client.get("/console/reports/performance/2024.html")
    assert "style-src 'sha256-" in printable.headers["content-security-policy"]
    workbook = client.get("/console/reports/performance/2024.xlsx")
    assert workbook.status_code == 200
    assert load_workbook(io.BytesIO(workbook.content)).sheetnames
    assert client.get("/console/reports/performance/24.html").status_code == 404
    log_in(client, "t-county")  # the report covers the whole city
    assert client.get("/console/reports").status_code == 404
    assert client.get("/console/reports/performance/2024.xlsx").status_code == 404


# -- self-service -----------------------------------------------------------------------------


def enter(client: TestClient, key: str) -> Response:
    """Open the personal link and press its one button."""
    client.cookies.clear()
    page = client.get(f"/console/self/enter?key={key}")
    assert page.headers["referrer-policy"] == "no-referrer"
    answer: Response = client.post("/console/self/enter", data={"csrf": csrf_of(page), "key": key})
    return answer


def _answer(client: TestClient, case_id: int, data: dict[str, str]) -> Response:
    page = client.get("/console/self")
    version = re.search(rf'id="answer-{case_id}".*?name="version" value="(\d+)"', page.text, re.S)
    assert version is not None, main_of(page)
    answer: Response = client.post(
        f"/console/self/cases/{case_id}",
        data={"csrf": csrf_of(page), "version": version.group(1), **data},
    )
    return answer


def test_a_family_member_consents_and_the_cadre_evaluates_through_their_links(
    client: TestClient, seeded: Engine, clock: SimulatedClock
) -> None:
    case = seeded.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    other = seeded.open_case("LC-DCF-0002", actor=AS_AGENCY, data=REGISTRATION)
    page = enter(client, "t-family")
    body = main_of(page)
    assert "张建国同志报名参加荣誉疗养，需要您表示是否同意" in body
    assert 'class="nav"' not in page.text  # a page of their own, no officer navigation
    assert "李老" not in body  # another cadre's case is not theirs to see
    assert client.get(f"/console/cases/{other.id}").status_code == 404
    refused = _answer(client, case.id, {"trigger": "consent", "family_member": "张丽"})
    assert refused.status_code == 422
    assert "与军休干部关系" in main_of(refused)
    done = _answer(
        client, case.id, {"trigger": "consent", "family_member": "张丽", "relation": "女儿"}
    )
    assert "已记录：您同意参加" in main_of(done)
    assert seeded.case(case.id).state == "family_consented"
    assert seeded.history(case.id)[-1].role == "family"
    walk(
        seeded,
        case.id,
        [
            ("approve", AS_AGENCY, {"batch_id": 1}),
            ("sign_agreement", AS_AGENCY, {"agreement_no": "A-1", "signed_on": "2024-05-20"}),
            (
                "insure",
                AS_AGENCY,
                {
                    "insurer": "人寿",
                    "policy_no": "P-1",
                    "covered_from": "2024-06-03",
                    "covered_until": "2024-06-09",
                },
            ),
            ("attend", AS_AGENCY, {"checked_in_on": "2024-06-03"}),
        ],
    )
    mine = main_of(enter(client, "t-cadre"))
    assert "请告诉我们您对这次疗养是否满意" in mine
    assert 'type="radio" name="satisfaction" value="5"' in mine
    thanked = _answer(client, case.id, {"trigger": "evaluate", "satisfaction": "5"})
    assert "已收到您的评价" in main_of(thanked)
    view = seeded.case(case.id)
    assert (view.state, view.evidence["satisfaction"]) == ("evaluated", 5)


@SQLITE_ONLY
def test_a_personal_link_opens_only_for_a_cadre_or_family_token_and_a_stale_answer_is_kept_out(
    client: TestClient, seeded: Engine
) -> None:
    case = seeded.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    for key in ("t-agency", "nonsense"):
        client.cookies.clear()
        page = client.get(f"/console/self/enter?key={key}")
        assert page.status_code == 404
        assert 'id="invalid"' in page.text
        assert 'name="key"' not in page.text
    enter(client, "t-family")
    page = client.get("/console/self")
    seeded.fire(case.id, "consent", actor=AS_AGENCY, data={**CONSENT, "consent_form_ref": "纸-1"})
    stale = client.post(
        f"/console/self/cases/{case.id}",
        data={
            "csrf": csrf_of(page),
            "version": "1",
            "trigger": "refuse_consent",
            "family_member": "张丽",
            "relation": "女儿",
        },
    )
    assert stale.status_code == 409
    assert 'id="changed"' in stale.text
    assert seeded.case(case.id).state == "family_consented"  # the officer's step stands
    forged = client.post(f"/console/self/cases/{case.id}", data={"csrf": "x", "version": "2"})
    assert forged.status_code == 403


# -- the demo's log-ins ------------------------------------------------------------------------


@SQLITE_ONLY
def test_the_demo_writes_digests_and_prints_the_serve_command_and_tokens_once(
    tmp_path: Path, seeded: Engine
) -> None:
    logins = write_demo_tokens(tmp_path, "东昌府区")
    stored = (tmp_path / "tokens.yaml").read_text(encoding="utf-8")
    registry = TokenRegistry.load(tmp_path / "tokens.yaml")
    assert sorted(str(a) for a in registry.actors.values()) == [
        "city_officer:赵敏",
        "county_officer:赵局长@东昌府区",
    ]
    for login in logins:
        assert login.token not in stored  # only the digest is kept
        assert registry.actor_for(login.token) == login.actor
    assert (tmp_path / "tokens.yaml").stat().st_mode & 0o077 == 0
    database = tmp_path / "convalescence.db"
    summary = DemoSummary(
        directory=tmp_path,
        database=database,
        cadres=1,
        cases=0,
        transitions=0,
        final_states={},
    )
    url = f"sqlite:///{database}"
    lines = console_lines(summary, url, logins)
    assert f"  convalescence --db {url} serve --tokens {tmp_path / 'tokens.yaml'}" in lines
    assert any("http://127.0.0.1:8000/" in line for line in lines)
    printed = "\n".join(lines)
    assert all(printed.count(login.token) == 1 for login in logins)
    assert console_lines(summary, url) == []  # a summary without log-ins offers none
    with TestClient(create_app(seeded, registry)) as client:  # the printed token logs in
        client.cookies.clear()
        page = client.get("/console/login")
        client.post("/console/login", data={"csrf": csrf_of(page), "token": logins[1].token})
        assert "赵局长" in client.get("/console/batches").text
