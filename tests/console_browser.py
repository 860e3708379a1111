"""A real browser for the console's tests: Debian's Chromium, headless, driven by chromium-driver.

Nothing is downloaded at run time: the browser and its driver are Debian's packages (.ci/run
installs ``chromium``, ``chromium-driver`` and ``fonts-noto-cjk`` when missing), handed to
Selenium by path, with Selenium Manager told to stay offline. Where they are missing the tests
skip, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS_VAR = "CONVALESCENCE_CONSOLE_SCREENSHOTS"  # a folder: keep the screenshots there


def require_browser() -> None:
    """Skip without Debian's Chromium and its driver; under CI their absence fails."""
    missing = [str(p) for p in (CHROMIUM, DRIVER) if not p.exists()]
    if not missing:
        return
    message = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def start(width: int = 1280, height: int = 900) -> webdriver.Chrome:
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--lang=zh-CN",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))
    driver.set_page_load_timeout(30)
    return driver


class Browser:
    """One browser pointed at one server, with the few gestures the tests need."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def log_in(self, token: str) -> None:
        """A session of its own: earlier cookies dropped, the token typed into the form."""
        self.open("/console/login")
        self.driver.delete_all_cookies()
        self.open("/console/login")
        self.find("#token").send_keys(token)
        self.find("#token").send_keys(Keys.ENTER)
        self.wait_for("#actor")

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str = "main") -> str:
        return str(self.find(css).text)

    def wait_for(self, css: str, seconds: float = 10) -> WebElement:
        deadline = time.monotonic() + seconds
        while True:
            found = self.all(css)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{css} not on {self.driver.current_url}: {self.text('body')[:500]}"
                )
            time.sleep(0.05)

    def wait_text(self, css: str, text: str, seconds: float = 10) -> WebElement:
        """The first ``css`` element once it shows ``text`` (after a form's page loaded)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                found = self.all(css)
                if found and text in found[0].text:
                    return found[0]
            except StaleElementReferenceException:
                pass  # the old page went away while it was read
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in {css} on {self.driver.current_url}")
            time.sleep(0.05)

    def fill(self, form: str, values: dict[str, str]) -> None:
        """Type into the form's inputs by name (choices picked by value; dates set as ISO
        text, which a date input takes whatever the browser's locale)."""
        box = self.all(f"#{form}-box")
        if box and box[0].get_attribute("open") is None:
            box[0].find_element(By.TAG_NAME, "summary").click()
        for name, value in values.items():
            element = self.find(f'#{form} [name="{name}"]')
            kind = element.tag_name, element.get_attribute("type")
            if kind[0] == "select":
                element.find_element(By.CSS_SELECTOR, f'option[value="{value}"]').click()
            elif kind[1] == "date":
                self.driver.execute_script("arguments[0].value = arguments[1]", element, value)
            else:
                element.clear()
                element.send_keys(value)

    def submit(self, form: str) -> None:
        self.find(f'#{form} button[type="submit"]').click()

    def tab_to(self, css: str, limit: int = 80) -> None:
        """Press Tab until ``css`` has the focus, as a keyboard user would."""
        target = self.find(css)
        for _ in range(limit):
            if self.driver.switch_to.active_element == target:
                return
            self.driver.switch_to.active_element.send_keys(Keys.TAB)
        raise AssertionError(f"Tab never reached {css}")

    def type(self, text: str) -> None:
        self.driver.switch_to.active_element.send_keys(text)

    def fits_width(self) -> bool:
        """Nothing wider than the window: no sideways scrolling of the page itself."""
        width = self.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        return bool(width[0] <= width[1])

    def alert_shown(self) -> bool:
        try:
            self.driver.switch_to.alert.dismiss()
        except NoAlertPresentException:
            return False
        return True

    def screenshot(self, folder: Path, name: str) -> Path:
        """A full-height screenshot into ``folder`` and, when $CONVALESCENCE_CONSOLE_SCREENSHOTS
        names a folder, there too (docs/console/ is made that way)."""
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        size = self.driver.get_window_size()
        self.driver.set_window_size(size["width"], max(int(height) + 120, 400))
        self.driver.execute_script("window.scrollTo(0, 0)")
        try:
            path = folder / name
            self.driver.save_screenshot(str(path))
            keep = os.environ.get(SCREENSHOTS_VAR)
            if keep:
                self.driver.save_screenshot(str(Path(keep) / name))
        finally:
            self.driver.set_window_size(size["width"], size["height"])
        return path
