"""The officer console in a real browser (issue 19): Debian's Chromium, headless, against a real
uvicorn server on 127.0.0.1, on SQLite and PostgreSQL where the database matters.

One browser for the module (a second one only where two officers must hold pages at once);
each role logs in with its own session. Screenshots of the inbox, a case page and a refusal go
to the test's folder, and to docs/console/ when $CONVALESCENCE_CONSOLE_SCREENSHOTS names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from console_browser import Browser, require_browser, start
from factories import APPROVAL, CONSENT, REGISTRATION, cadre
from plans_setup import seed_batch, start_batch
from selenium import webdriver

from workflow import Engine, SimulatedClock
from workflow.api import TokenRegistry, create_app
from workflow.api.server import serve_in_thread
from workflow.clock import SHANGHAI
from workflow.store.tasks import insert_tasks

SEED_PLANS = False  # `server` seeds the batch and, with it, the year's plans

TOKENS = {
    "agency-token": "agency_officer:王芳@东昌府区军休所",
    "agency-2-token": "agency_officer:李明@东昌府区军休所",
    "family-token": "family:张丽@LC-DCF-0001",
    "contractor-token": "contractor_staff:李强@1",
    "cadre-token": "cadre:张建国@LC-DCF-0001",
    "other-county-token": "county_officer:陈静@茌平区",
    "county-token": "county_officer:刘伟@东昌府区",
}
SCRIPT = "<script>alert(1)</script>"
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    require_browser()
    chromium = start()
    yield chromium
    chromium.quit()


@pytest.fixture
def server(engine: Engine) -> Iterator[str]:
    engine.put_cadres(
        [
            cadre(),
            cadre("LC-DCF-0002", name="李老", birth_date="1943-06-03"),
            cadre("LC-DCF-0003", name=SCRIPT),
        ]
    )
    seed_batch(engine)
    with serve_in_thread(create_app(engine, TokenRegistry.from_tokens(TOKENS))) as base_url:
        yield base_url


@pytest.fixture
def browser(driver: webdriver.Chrome, server: str) -> Browser:
    driver.set_window_size(1280, 900)
    return Browser(driver, server)


def register(engine: Engine, cadre_id: str = "LC-DCF-0001") -> int:
    return engine.open_case(cadre_id, actor=TOKENS["agency-token"], data=REGISTRATION).id


def step(browser: Browser, case_id: int, token: str, trigger: str, values: dict[str, str]) -> None:
    """``token``'s own session opens the case and takes the step from its form."""
    browser.log_in(token)
    browser.open(f"/console/cases/{case_id}")
    browser.fill(f"step-{trigger}", values)
    browser.submit(f"step-{trigger}")
    browser.wait_text("#done", "已办理")


def test_one_case_from_registration_to_evaluation_each_step_by_its_role(
    browser: Browser, engine: Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    browser.log_in("agency-token")
    browser.open("/console/cases")
    browser.find("a.button").click()  # 登记报名
    browser.fill("step-open", {"cadre_id": "LC-DCF-0001", "plan_level": "city"})
    browser.submit("step-open")
    browser.wait_text("#done", "已办理：个人报名")
    case_id = int(browser.driver.current_url.split("/cases/")[1].split("?")[0])
    step(browser, case_id, "family-token", "consent", {"family_member": "张丽", "relation": "女儿"})
    step(browser, case_id, "agency-token", "approve", {"batch_id": "1"})
    step(
        browser,
        case_id,
        "agency-token",
        "sign_agreement",
        {"agreement_no": "LC-2024-001", "signed_on": "2024-05-20"},
    )
    browser.screenshot(tmp_path, "case.png")  # the agency's view, the insurance form next
    step(
        browser,
        case_id,
        "agency-token",
        "insure",
        {
            "insurer": "中国人寿聊城分公司",
            "policy_no": "P-2024-0001",
            "covered_from": "2024-06-03",
            "covered_until": "2024-06-09",
        },
    )
    clock.set(datetime(2024, 6, 3, 9, 0, tzinfo=SHANGHAI))  # the batch's first morning
    start_batch(engine)
    step(browser, case_id, "contractor-token", "attend", {"checked_in_on": "2024-06-03"})
    step(browser, case_id, "cadre-token", "evaluate", {"satisfaction": "5"})
    assert browser.text("#case-state") == "已完成满意度评价"
    assert len(browser.all("#progress li.done")) == 7
    assert "审计链完整：7 条记录" in browser.text("#chain")
    assert [e.role for e in engine.history(case_id)] == [
        "agency_officer",
        "family",
        "agency_officer",
        "agency_officer",
        "agency_officer",
        "contractor_staff",
        "cadre",
    ]


def test_a_refusal_shows_its_article_and_the_inbox_its_work(
    browser: Browser, engine: Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    old = register(engine, "LC-DCF-0002")
    engine.fire(old, "consent", actor=TOKENS["agency-token"], data=CONSENT)
    waiting = register(engine)
    with engine.transaction(write=True) as connection:
        insert_tasks(
            connection,
            [
                {
                    "key": f"escalate:{waiting}",
                    "kind": "escalation",
                    "case_id": waiting,
                    "state": "registered",
                    "assignee_role": "agency_officer",
                    "county": "东昌府区",
                    "agency": "东昌府区军休所",
                    "title": "家属十个工作日未表态：请联系家属（A7.1）",
                    "article": "A7.1",
                    "due_on": date(2024, 5, 1),
                    "created_at": clock.now() - timedelta(days=10),
                }
            ],
        )
    browser.log_in("agency-token")
    assert "1 件逾期" in browser.text(".counts")
    browser.screenshot(tmp_path, "inbox.png")
    browser.open(f"/console/cases/{old}")
    browser.fill("step-approve", {"batch_id": str(APPROVAL["batch_id"])})
    browser.submit("step-approve")
    panel = browser.wait_text(".refusal", "依据 A8.2")
    assert "80周岁" in panel.text
    browser.driver.execute_script("arguments[0].scrollIntoView()", panel)
    browser.screenshot(tmp_path, "refusal.png")
    assert engine.case(old).state == "family_consented"


def test_two_officers_on_one_case_one_wins_the_other_sees_the_conflict(
    browser: Browser, engine: Engine, server: str
) -> None:
    case_id = register(engine)
    second = Browser(start(), server)
    try:
        browser.log_in("agency-token")
        browser.open(f"/console/cases/{case_id}")
        second.log_in("agency-2-token")
        second.open(f"/console/cases/{case_id}")
        browser.fill("step-consent", {"family_member": "张丽", "relation": "女儿"})
        second.fill("step-consent", {"family_member": "张丽", "relation": "之女"})
        browser.submit("step-consent")
        browser.wait_for("#done")
        second.submit("step-consent")
        second.wait_text("h1", "案件已被他人修改")
        assert "本次操作未写入任何内容" in second.text()
        assert "王芳" in second.text()  # who changed it
    finally:
        second.driver.quit()
    assert [e.data.get("relation") for e in engine.history(case_id)][1:] == ["女儿"]


def test_an_officer_of_another_county_sees_nothing_of_the_case(
    browser: Browser, engine: Engine
) -> None:
    case_id = register(engine)
    browser.log_in("other-county-token")
    browser.open(f"/console/cases/{case_id}")
    shown = browser.text()
    assert "找不到案件" in shown
    assert "张建国" not in shown
    assert "LC-DCF" not in shown
    browser.open("/console/cases")
    assert "LC-DCF-0001" not in browser.text()
    assert "没有符合条件的案件" in browser.text()


@SQLITE_ONLY
def test_a_form_posted_without_its_csrf_token_is_refused(browser: Browser, engine: Engine) -> None:
    case_id = register(engine)
    browser.log_in("agency-token")
    browser.open(f"/console/cases/{case_id}")
    browser.fill("step-consent", dict(CONSENT))
    browser.driver.execute_script("document.querySelector('#step-consent [name=csrf]').remove()")
    browser.submit("step-consent")
    browser.wait_text("main p.error", "CSRF")
    assert engine.case(case_id).version == 1


@SQLITE_ONLY
def test_a_cadre_named_like_a_script_stays_text_on_every_page(
    browser: Browser, engine: Engine
) -> None:
    case_id = register(engine, "LC-DCF-0003")
    browser.log_in("agency-token")
    for path in ("/console/inbox", "/console/cases", f"/console/cases/{case_id}"):
        browser.open(path)
        assert not browser.alert_shown(), path
        assert SCRIPT in browser.text(), path


@SQLITE_ONLY
def test_one_step_done_with_the_keyboard_alone(browser: Browser, engine: Engine) -> None:
    case_id = register(engine)
    browser.open("/console/login")
    browser.driver.delete_all_cookies()
    browser.open(f"/console/cases/{case_id}")  # sent to the log-in page, then back
    browser.type("agency-token\n")  # the token field has the focus
    browser.wait_for("#step-consent")
    browser.tab_to("#step-consent-family_member")
    browser.type("张丽")
    browser.type("\t女儿")
    browser.tab_to('#step-consent button[type="submit"]')
    browser.type("\n")
    browser.wait_text("#done", "已办理：家属同意")
    assert engine.case(case_id).state == "family_consented"


@SQLITE_ONLY
@pytest.mark.parametrize("width", [1280, 390])
def test_pages_are_readable_without_sideways_scrolling(
    browser: Browser, engine: Engine, width: int
) -> None:
    case_id = register(engine, "LC-DCF-0003")
    browser.log_in("county-token")
    browser.driver.set_window_size(width, 844)
    for path in ("/console/inbox", "/console/cases", f"/console/cases/{case_id}"):
        browser.open(path)
        assert browser.fits_width(), (path, width)
        assert browser.find("#actor").is_displayed()
