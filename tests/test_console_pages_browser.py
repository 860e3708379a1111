"""The console's page areas in a real browser (issue 19 items 5-9): Debian's Chromium, headless,
against a real uvicorn server (tests/console_browser.py).

A family member's consent and a cadre's evaluation through their personal links, each in its
own session; the batch page readable at 1280 and 390 px (its screenshot goes to docs/console/
when $CONVALESCENCE_CONSOLE_SCREENSHOTS names that folder); a roster upload's per-row error
report; a cadre named like a script inert on the roster pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from console_browser import Browser, require_browser, start
from factories import AS_AGENCY, CONSENT, REGISTRATION, cadre
from plans_setup import seed_batch, walk
from selenium import webdriver
from selenium.webdriver.common.by import By

from workflow import Engine, SimulatedClock
from workflow.api import TokenRegistry, create_app
from workflow.api.server import serve_in_thread
from workflow.clock import SHANGHAI
from workflow.roster import write_csv

SEED_PLANS = False  # `server` seeds the batch and, with it, the year's plans
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

TOKENS = {
    "agency-token": "agency_officer:王芳@东昌府区军休所",
    "city-token": "city_officer:赵敏",
    "family-token": "family:张丽@LC-DCF-0001",
    "cadre-token": "cadre:张建国@LC-DCF-0001",
}
SCRIPT = "<script>alert(1)</script>"


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
            cadre("LC-DCF-0002", name="李老"),
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


def enter(browser: Browser, key: str) -> None:
    """Open the personal link in a fresh session and press its one button."""
    browser.open("/console/login")
    browser.driver.delete_all_cookies()
    browser.open(f"/console/self/enter?key={key}")
    browser.find("#enter").click()
    browser.wait_for("#actor")


def test_a_family_member_consents_and_the_cadre_evaluates_through_personal_links(
    browser: Browser, engine: Engine, clock: SimulatedClock
) -> None:
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION).id
    enter(browser, "family-token")
    assert "需要您表示是否同意" in browser.text(f"#case-{case}-status")
    assert not browser.all("nav.nav")  # their own simple page: no officer navigation
    relation = browser.find(f'#answer-{case} [name="relation"]')
    relation.send_keys("女儿")
    browser.find(f"#consent-{case}").click()
    browser.wait_text("#done", "您同意参加")
    assert engine.case(case).state == "family_consented"
    walk(
        engine,
        case,
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
        ],
    )
    clock.set(datetime(2024, 6, 3, 9, 0, tzinfo=SHANGHAI))
    walk(engine, case, [("attend", AS_AGENCY, {"checked_in_on": "2024-06-03"})])
    enter(browser, "cadre-token")
    assert "是否满意" in browser.text(f"#case-{case}-status")
    browser.find(f'#answer-{case} input[name="satisfaction"][value="4"]').click()
    browser.find(f'#answer-{case} textarea[name="comment"]').send_keys("饭菜可口")
    browser.find(f"#evaluate-{case}").click()
    browser.wait_text("#done", "已收到您的评价")
    view = engine.case(case)
    assert view.state == "evaluated"
    assert view.evidence["satisfaction"] == 4
    assert "全部办完" in browser.text(f"#case-{case}-status")


def test_the_batch_page_reads_at_1280_and_390_pixels(
    browser: Browser, engine: Engine, tmp_path: Path
) -> None:
    for cadre_id in ("LC-DCF-0001", "LC-DCF-0002"):
        case = engine.open_case(cadre_id, actor=AS_AGENCY, data=REGISTRATION).id
        walk(
            engine, case, [("consent", AS_AGENCY, CONSENT), ("approve", AS_AGENCY, {"batch_id": 1})]
        )
    browser.log_in("city-token")
    browser.open("/console/batches/1")
    browser.wait_for("#start-conditions")
    assert browser.text("#seats") == "2 / 50"
    assert "李老" in browser.text("#seated")
    assert browser.fits_width()
    browser.screenshot(tmp_path, "batch.png")
    try:
        browser.driver.set_window_size(390, 844)
        browser.open("/console/batches/1")
        browser.wait_for("#start-conditions")
        assert browser.fits_width()
        assert browser.find("#start-form button").is_displayed()
        assert browser.find("#batch-title").size["width"] <= 390
    finally:
        browser.driver.set_window_size(1280, 900)


def test_a_roster_upload_shows_each_bad_row_and_writes_nothing(
    browser: Browser, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "名册.csv"
    write_csv(path, [cadre("LC-DCF-0100", name="新来的"), cadre("LC-DCF-0101", gender="X")])
    browser.log_in("agency-token")
    browser.open("/console/roster")
    browser.find("#upload-link").click()
    browser.find("#roster-file").send_keys(str(path))
    browser.find('#upload-form button[type="submit"]').click()
    browser.wait_for("#upload-problems")
    rows = [r.text for r in browser.all("#problem-list tbody tr")]
    assert any("row 3" in r and "gender" in r for r in rows), rows
    assert "名册.csv" in browser.text("#problems-title")
    browser.open("/console/roster?q=LC-DCF-01")
    assert "新来的" not in browser.text()


def test_a_cadre_named_like_a_script_is_inert_on_the_roster_pages(browser: Browser) -> None:
    browser.log_in("agency-token")
    for path in ("/console/roster", "/console/roster?q=script", "/console/roster/LC-DCF-0003"):
        browser.open(path)
        assert not browser.alert_shown(), path
        assert SCRIPT in browser.text(), path  # shown as the text it is
        scripts = browser.driver.find_elements(By.TAG_NAME, "script")
        assert scripts == [], path
