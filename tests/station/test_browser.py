"""The station screen in a real headless Chromium: red with the reason on a bad frame, green on a good one.

Needs Debian's `chromium` and `chromium-driver`; skipped without them unless
SPECIMEN_EDGE_REQUIRE_BROWSER=1. Screenshots are saved in the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.frames import write_atomically
from tests.station.conftest import GOOD, NO_CHART, NO_CHART_REASON, Served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
RED, GREEN = "rgb(196, 0, 27)", "rgb(6, 125, 42)"  # --retake and --ready in page.html

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("SPECIMEN_EDGE_REQUIRE_BROWSER") == "1":
        pytest.fail("SPECIMEN_EDGE_REQUIRE_BROWSER=1 but chromium or chromedriver is missing "
                    "(apt-get install -y chromium chromium-driver)", pytrace=False)
    pytest.skip("needs chromium and chromedriver (apt-get install -y chromium chromium-driver)",
                allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402 (only once the skip above has passed)
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1920,1080", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    # the driver path is given, so Selenium never tries to download one
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def wait_until(driver: Any, condition: Callable[[Any], Any], what: str, timeout: float = 15) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message=what)


def screen(driver: Any) -> dict[str, Any]:
    return dict(driver.execute_script("""
        const s = window.stationScreen;
        return {status: document.body.dataset.status, word: document.getElementById('status-word').textContent,
                reasons: [...document.querySelectorAll('#reasons li')].map((li) => li.textContent),
                history: [...document.querySelectorAll('#history-list li')].map((li) => li.className),
                thumb: document.getElementById('thumb').hidden ? 0 : document.getElementById('thumb').naturalWidth,
                background: getComputedStyle(document.getElementById('status')).backgroundColor,
                wordPx: parseFloat(getComputedStyle(document.getElementById('status-word')).fontSize),
                sound: document.getElementById('sound-toggle').textContent,
                beeps: s.beeps, verdicts: s.verdicts};"""))


def test_screen_turns_red_with_the_reason_then_green(served: Served, browser: Any, tmp_path: Path) -> None:
    browser.get(served.url + "/")
    wait_until(browser, lambda d: screen(d)["status"] == "ready", "the screen never showed READY")
    first = screen(browser)
    assert first["word"] == "READY" and first["history"] == []
    assert first["wordPx"] >= 150, "status must be readable from two metres"
    browser.save_screenshot(str(tmp_path / "0-ready.png"))

    write_atomically(served.hot / "nochart.jpg", NO_CHART)
    wait_until(browser, lambda d: screen(d)["status"] == "retake", "the screen did not turn red")
    # the colour fades in over a fraction of a second
    wait_until(browser, lambda d: screen(d)["background"] == RED, "the status band is not red", timeout=3)
    wait_until(browser, lambda d: screen(d)["thumb"] > 0, "no thumbnail of the retake")
    red = screen(browser)
    assert red["word"] == "RETAKE"
    assert len(red["reasons"]) == 1 and red["reasons"][0].startswith(NO_CHART_REASON)
    assert red["history"] == ["retake"] and red["beeps"] == 1
    browser.save_screenshot(str(tmp_path / "1-retake.png"))

    write_atomically(served.hot / "good.jpg", GOOD)
    wait_until(browser, lambda d: screen(d)["verdicts"] == 2, "the good frame never reached the screen")
    wait_until(browser, lambda d: screen(d)["background"] == GREEN, "the status band is not green", timeout=3)
    green = screen(browser)
    assert green["status"] == "ready" and green["word"] == "READY" and green["reasons"] == []
    assert green["history"] == ["accept", "retake"] and green["beeps"] == 1, "no cue for an accepted frame"
    browser.save_screenshot(str(tmp_path / "2-ready-again.png"))

    # muted: the next retake is silent, and the choice survives a reload
    browser.find_element("id", "sound-toggle").click()
    assert screen(browser)["sound"] == "Sound: muted"
    write_atomically(served.hot / "nochart-2.jpg", NO_CHART)
    wait_until(browser, lambda d: screen(d)["verdicts"] == 3, "the second retake never reached the screen")
    assert screen(browser)["status"] == "retake" and screen(browser)["beeps"] == 1
    browser.refresh()
    wait_until(browser, lambda d: len(screen(d)["history"]) == 3, "history not restored after a reload")
    after_reload = screen(browser)
    assert after_reload["sound"] == "Sound: muted" and after_reload["status"] == "retake"

    # the daemon going away must not leave a stale verdict on screen
    served.stop()
    wait_until(browser, lambda d: screen(d)["status"] == "offline", "a lost connection was not shown")
    assert screen(browser)["word"] == "OFFLINE" and "cannot reach" in screen(browser)["reasons"][0]
    browser.save_screenshot(str(tmp_path / "3-no-connection.png"))


def test_screen_says_not_working_when_the_file_watcher_stops(served: Served, browser: Any, tmp_path: Path) -> None:
    browser.get(served.url + "/")
    wait_until(browser, lambda d: screen(d)["status"] == "ready", "the screen never showed READY")
    observer = served.daemon.intake.observer  # type: ignore[union-attr]
    assert observer is not None
    for emitter in list(observer.emitters):  # frames landing now would not be seen
        emitter.stop()
        emitter.join(5)
    wait_until(browser, lambda d: screen(d)["status"] == "fault", "the screen still says READY")
    fault = screen(browser)
    assert fault["word"] == "NOT WORKING" and any("file watcher has stopped" in r for r in fault["reasons"])
    assert browser.find_element("id", "connection").text == "connected, not working"
    browser.save_screenshot(str(tmp_path / "not-working.png"))
