"""The station screen in a real headless Chromium: red with the reason on a bad frame, green on a good one.

Needs Debian's `chromium` and `chromium-driver`; skipped without them unless
SPECIMEN_EDGE_REQUIRE_BROWSER=1. Screenshots are saved in the test's temporary folder.
"""

from __future__ import annotations

import copy
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.verdict import utc_now_iso
from tests.frames import draw_sheet, jpeg_bytes, write_atomically
from tests.station.conftest import GOOD, NO_CHART, NO_CHART_REASON, Served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
RED, GREEN = "rgb(196, 0, 27)", "rgb(6, 125, 42)"  # --retake and --ready in page.html
BLURRED_NO_CHART = jpeg_bytes(draw_sheet(chart=False, blur_sigma=4.0))

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("SPECIMEN_EDGE_REQUIRE_BROWSER") == "1":
        pytest.fail("SPECIMEN_EDGE_REQUIRE_BROWSER=1 but chromium or chromedriver is missing "
                    "(apt-get install -y chromium chromium-driver)", pytrace=False)
    pytest.skip("needs chromium and chromedriver (apt-get install -y chromium chromium-driver)",
                allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402 (only once the skip above has passed)
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def start_browser(profile: Path, *flags: str) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1920,1080", f"--user-data-dir={profile}", *flags):
        options.add_argument(flag)
    # the driver path is given, so Selenium never tries to download one
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    # the page itself 1920 x 1080, as on the station's monitor (the window's frame is not part of it)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    return driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = start_browser(tmp_path / "chromium")
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


def _long_verdict(served: Served, name: str) -> dict[str, Any]:
    """The real verdict of a frame with two long failing reasons, three warnings and a long barcode."""
    verdict = copy.deepcopy(served.server._verdicts[served.server.history[0]["id"]])
    verdict.update(id=str(uuid.uuid4()), processed_at=utc_now_iso(), file=str(served.hot / name), verdict="retake")
    verdict["reasons"] = [
        {"check": "blur", "status": "fail", "regions": [r["id"] for r in verdict["regions"] if r["class"] == "label"],
         "message": "Label text is blurred (edges 4.4 px wide, 1.62 times this camera's usual 2.1 px; the label in "
                    "the lower right corner and the type label above it are both soft): refocus on the label and "
                    "retake"},
        {"check": "colour_chart", "status": "fail", "regions": [],
         "message": "Colour chart in shot but its patches cannot be read (only 9 of 24 patches found, the rest in "
                    "glare from the left lamp): move the lamp or tilt the chart away from it, check focus and retake"}]
    warnings = (("required_elements", "Scale bar not found: place the scale bar in shot"),
                ("framing", "Label cut off at the right edge of the frame: move the sheet into the frame"),
                ("colour_accuracy", "White balance is off by 5.2 (limit 4.0): set white balance on the grey patch"))
    verdict["checks"] = [*verdict["reasons"],
                         *({"check": c, "status": "warn", "message": m, "regions": []} for c, m in warnings)]
    verdict["barcodes"] = [{"text": "BM000100004-HERBARIUM-SHEET-CAPTURE-SESSION-2026-12-05-STATION-A-LONG-TEXT",
                            "format": "Code128"}]
    return verdict


FITS = """
    const inside = (el, box) => { const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
                                  return r.top >= b.top - 1 && r.bottom <= b.bottom + 1 && r.left >= b.left - 1
                                         && r.right <= b.right + 1 && r.height > 0; };
    const status = document.getElementById('status'), body = document.getElementById('details-body');
    const latest = document.querySelector('#history-list li');
    const tail = latest.querySelector('.tail'), head = latest.querySelector('.head');
    const evidence = document.getElementById('evidence');
    return {reasons: [...document.querySelectorAll('#reasons li')].map((li) => inside(li, status)),
            reasonPx: parseFloat(getComputedStyle(document.getElementById('reasons')).fontSize),
            word: inside(document.getElementById('status-word'), status),
            warnings: [...document.querySelectorAll('#warnings li')].map((li) => inside(li, body)),
            barcode: inside(document.getElementById('barcode'), body),
            operator: inside(document.getElementById('operator'), document.getElementById('details')),
            tail: tail.textContent, tailShown: inside(tail, latest) && tail.scrollWidth <= tail.clientWidth,
            headCut: head.scrollWidth > head.clientWidth, title: latest.querySelector('.name').title,
            evidence: document.getElementById('evidence-box').hidden ? null
                      : [evidence.naturalWidth, evidence.naturalHeight, getComputedStyle(evidence).objectFit]};"""


def test_long_reasons_warnings_and_names_fit_at_1920x1080(served: Served, browser: Any, tmp_path: Path) -> None:
    browser.get(served.url + "/")
    wait_until(browser, lambda d: screen(d)["status"] == "ready", "the screen never showed READY")
    name = "BM000100004_herbarium_sheet_capture_session_2026-12-05_station_A_BM000100004.jpg"
    write_atomically(served.hot / name, BLURRED_NO_CHART)
    wait_until(browser, lambda d: screen(d)["verdicts"] == 1, "the frame never reached the screen")
    served.server.record(_long_verdict(served, name))  # as every verdict reaches the screen
    wait_until(browser, lambda d: screen(d)["verdicts"] == 2, "the long verdict never reached the screen")
    wait_until(browser, lambda d: (d.execute_script(FITS)["evidence"] or [0])[0] > 0, "no evidence crop")
    fit = browser.execute_script(FITS)
    browser.save_screenshot(str(tmp_path / "long-reasons.png"))
    assert fit["reasons"] == [True, True], "a reason is cut off"
    assert fit["word"] and fit["reasonPx"] >= 24, "still legible from two metres"
    assert fit["warnings"] == [True, True, True] and fit["barcode"] and fit["operator"]
    # the list cuts a long name in the middle: its end, where sheets differ, stays in view
    assert fit["title"] == name and name.endswith(fit["tail"]) and "100004.jpg" in fit["tail"]
    assert fit["tailShown"] and fit["headCut"]
    # the blurred label, pixel for pixel: the crop is no larger than CROP_MAX_SIDE and never scaled
    width, height, object_fit = fit["evidence"]
    assert 0 < width <= 640 and 0 < height <= 640 and object_fit == "none"


# Chromium decides by heuristics of its own whether a page may start sound (headless mostly allows
# it); a stand-in AudioContext makes the browser's answer certain, so the page's behaviour is tested.
AUDIO_AS_THE_BROWSER_DECIDES = """
window.AudioContext = class {
  constructor() { this.state = %s; this.onstatechange = null; this.currentTime = 0; this.destination = {}; }
  resume() { this.state = "running"; if (this.onstatechange) this.onstatechange(); return Promise.resolve(); }
};"""


def test_the_sound_hint_shows_before_the_first_retake(served: Served, browser: Any) -> None:
    # a desktop browser: no sound until someone touches the page
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                            {"source": AUDIO_AS_THE_BROWSER_DECIDES % '"suspended"'})
    browser.get(served.url + "/")
    wait_until(browser, lambda d: screen(d)["status"] == "ready", "the screen never showed READY")
    assert browser.find_element("id", "sound-hint").is_displayed(), "the hint must come before any retake"
    assert screen(browser)["verdicts"] == 0
    browser.find_element("id", "history").click()
    wait_until(browser, lambda d: not d.find_element("id", "sound-hint").is_displayed(), "hint still shown")


def test_no_sound_hint_where_the_kiosk_allows_sound(served: Served, browser: Any) -> None:
    # the kiosk command line of the README allows sound from the start
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                            {"source": AUDIO_AS_THE_BROWSER_DECIDES % '"running"'})
    browser.get(served.url + "/")
    wait_until(browser, lambda d: screen(d)["status"] == "ready", "the screen never showed READY")
    assert browser.execute_script("return window.stationScreen.soundBlocked") is False
    assert not browser.find_element("id", "sound-hint").is_displayed()


def test_the_photographer_accepts_a_retake_anyway(served: Served, browser: Any, tmp_path: Path) -> None:
    browser.get(served.url + "/")
    wait_until(browser, lambda d: screen(d)["status"] == "ready", "the screen never showed READY")
    write_atomically(served.hot / "nochart.jpg", NO_CHART)
    wait_until(browser, lambda d: screen(d)["status"] == "retake", "the screen did not turn red")
    assert not browser.find_element("id", "accept-anyway").get_attribute("hidden")
    browser.find_element("id", "override-note").send_keys("chart is under the label; fine for us")
    browser.find_element("id", "accept-anyway").click()
    wait_until(browser, lambda d: screen(d)["word"] == "ACCEPTED", "the override did not reach the screen")
    wait_until(browser, lambda d: screen(d)["background"] == GREEN, "the status band is not green", timeout=3)
    accepted = screen(browser)
    assert accepted["status"] == "ready" and accepted["history"] == ["accept"]
    assert accepted["reasons"] == ["Accepted anyway by the operator: chart is under the label; fine for us"]
    assert browser.find_element("id", "accept-anyway").get_attribute("hidden")
    assert "recorded" in browser.find_element("id", "override-result").text
    browser.save_screenshot(str(tmp_path / "accepted-anyway.png"))
    journal = served.daemon.journal
    assert journal is not None and journal.override_counts() == {"colour_chart": {"accept": 1}}
    assert served.daemon.state()["retake_needed"] is False
