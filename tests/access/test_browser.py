"""The public pages in a real headless Chromium: search, book, look up and cancel in every
language, with and without JavaScript, on a 320 px phone and a desktop, keyboard first, checked
by axe-core; screenshots are kept."""

import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from registry.extensions import db
from tests.access.conftest import seed_slots

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("REGISTRY_CHROMEDRIVER", "/usr/bin/chromedriver")
AXE = Path(os.environ.get("REGISTRY_AXE", ROOT / ".cache/npm/node_modules/axe-core/axe.min.js"))
ARTIFACTS = ROOT / "test-artifacts" / "browser"
REQUIRED = os.environ.get("REGISTRY_REQUIRE_BROWSER") == "1"
WIDTH, HEIGHT = 360, 800
PHONE, SMALL_PHONE, DESKTOP = (390, 844), (320, 640), (1280, 900)
SHOTS = Path(os.environ.get("REGISTRY_SHOTS", ARTIFACTS))
CODE_SHAPE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}-[0-9A-HJKMNP-TV-Z]{2}")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEXT = {
    "ru": {
        "search": "Искать",
        "book": "Записаться на",
        "booked": "Записаны",
        "cancelled": "Отменена вами",
    },
    "kk": {
        "search": "Іздеу",
        "book": "уақытына жазылу",
        "booked": "Жазылдыңыз",
        "cancelled": "Өзіңіз бас тарттыңыз",
    },
    "en": {
        "search": "Search",
        "book": "Book ",
        "booked": "Booked",
        "cancelled": "Cancelled by you",
    },
}


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is missing; run scripts/install-browser.sh"
    if not AXE.exists():
        return f"{AXE} is missing; run scripts/install-browser.sh"
    return None


def _start_browser(javascript: bool):
    """Start headless Chromium from Debian's package, never a downloaded build."""
    reason = _missing()
    if reason:
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="registry-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(flag)
    if not javascript:
        # The pages' own scripts stay off; WebDriver's injected scripts (axe) still run.
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # Headless windows are at least 500 px wide; emulate the phone's viewport instead.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": True},
    )
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return driver, profile


@pytest.fixture(scope="module")
def browser():
    """Yield a phone-sized headless Chromium with JavaScript on."""
    driver, profile = _start_browser(javascript=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_without_script():
    """Yield a phone-sized headless Chromium with JavaScript turned off."""
    driver, profile = _start_browser(javascript=False)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture()
def site(fresh_app):
    """Serve the real app on a free localhost port; return its base URL and slot ids."""
    fresh_app.config.update(ALTCHA_MAX_NUMBER=5000, BOOKINGS_PER_CLIENT=100)
    slots = seed_slots(fresh_app, 3, capacity=3)
    server = make_server("127.0.0.1", 0, fresh_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", fresh_app, slots
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _size(driver, width_height) -> None:
    """Emulate a screen of this size: a phone below 600 px, a desktop above."""
    width, height = width_height
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def _axe(driver, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core in the page and return its violations of these impacts."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    violations = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ["violations"]})
          .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,
                                                  targets: v.nodes.map(n => n.target)}))))
          .catch(e => done([{id: "axe-error", impact: "critical", targets: [String(e)]}]));
        """
    )
    return [v for v in violations if v["impact"] in impacts]


ANY_IMPACT = ("minor", "moderate", "serious", "critical")


def _check_page(driver, lang: str, name: str, axe: bool = True) -> None:
    """Screenshot the page, then check language, screen width and accessibility (every impact)."""
    screen = driver.execute_script("return window.innerWidth")
    driver.save_screenshot(str(ARTIFACTS / f"{lang}-{name}-{screen}.png"))
    assert driver.find_element("tag name", "html").get_attribute("lang") == lang
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= screen, f"{name}: page is {width}px wide on a {screen}px screen"
    if not axe:
        return
    found = _axe(driver, ANY_IMPACT)
    assert not found, f"{lang} {name}: " + json.dumps(found, ensure_ascii=False)


def _wait_for(driver, css: str, timeout: float = 60):
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        expected_conditions.presence_of_element_located(("css selector", css))
    )


def _mark_page(driver) -> None:
    """Tag the current document, so that its replacement can be recognised."""
    driver.execute_script("window.__leaving = true;")


def _leaves_page(driver, timeout: float = 60) -> None:
    """Wait until the tagged document has been replaced by the next page."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def replaced(d) -> bool:
        try:
            return d.execute_script(
                "return !window.__leaving && document.readyState === 'complete';"
            )
        except WebDriverException:  # mid-navigation
            return False

    WebDriverWait(driver, timeout).until(replaced)


def _book_look_up_and_cancel(driver, base: str, lang: str) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver.get(f"{base}/?lang={lang}")
    # Keyboard first: the first Tab reaches the skip link, which moves focus to the content.
    driver.find_element("tag name", "body").send_keys(Keys.TAB)
    active = driver.switch_to.active_element
    assert active.get_attribute("class") == "skip"
    active.send_keys(Keys.ENTER)
    _check_page(driver, lang, "1-search")

    Select(driver.find_element("id", "care_type")).select_by_value("oat")
    driver.find_element("id", "anonymous").click()
    search = driver.find_element("css selector", "form.search button")
    _mark_page(driver)
    search.click()
    _leaves_page(driver)
    result = _wait_for(driver, ".results a")
    assert "care_type=oat" in driver.current_url
    _check_page(driver, lang, "2-results")
    _mark_page(driver)
    result.click()
    _leaves_page(driver)

    button = _wait_for(driver, "form.book button")
    assert TEXT[lang]["book"] in button.text
    _check_page(driver, lang, "3-service")
    _mark_page(driver)
    button.send_keys(Keys.ENTER)  # keyboard booking; the proof of work runs in the page
    _leaves_page(driver)
    code = _wait_for(driver, "#booking-code").text
    assert CODE_SHAPE.fullmatch(code), code
    _check_page(driver, lang, "4-booked")

    _mark_page(driver)
    driver.find_element("css selector", ".menu li:nth-child(2) a").click()
    _leaves_page(driver)
    field = _wait_for(driver, "#code")
    _check_page(driver, lang, "5-lookup")
    # One wrong character: the form comes back with the typo kept and a "check the code" note.
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    field.send_keys(wrong)
    _mark_page(driver)
    field.send_keys(Keys.ENTER)
    _leaves_page(driver)
    _wait_for(driver, "#code-error")
    field = driver.find_element("id", "code")
    assert field.get_attribute("value") == wrong
    _check_page(driver, lang, "5-mistyped")
    field.clear()
    field.send_keys(code.lower().replace("-", ""))  # sloppy typing is accepted
    _mark_page(driver)
    field.send_keys(Keys.ENTER)
    _leaves_page(driver)
    status = _wait_for(driver, "#booking-status")
    assert status.text == TEXT[lang]["booked"]
    _check_page(driver, lang, "6-booking")

    cancel = driver.find_element("css selector", "form.cancel button")
    _mark_page(driver)
    cancel.click()
    _leaves_page(driver)
    _wait_for(driver, "#booking-status")
    assert driver.find_element("id", "booking-status").text == TEXT[lang]["cancelled"]
    _check_page(driver, lang, "7-cancelled")


@pytest.mark.parametrize("size", [SMALL_PHONE, DESKTOP], ids=["320px", "desktop"])
def test_search_book_look_up_and_cancel_in_every_language(browser, site, size):
    from registry.access.models import Booking

    base, app, _ = site
    _size(browser, size)
    for lang in ("ru", "kk", "en"):
        _book_look_up_and_cancel(browser, base, lang)
    with app.app_context():
        statuses = [b.status for b in db.session.query(Booking).all()]
    assert statuses == ["cancelled"] * 3


def test_error_pages_are_accessible(browser, site):
    base, _, _ = site
    browser.get(f"{base}/services/999999?lang=kk")
    _check_page(browser, "kk", "8-not-found")


NO_SCRIPT_NOTE = {
    "ru": "JavaScript выключен",
    "kk": "JavaScript өшірулі",
    "en": "JavaScript is off",
}
NEXT_LANG = {"ru": "kk", "kk": "en", "en": "ru"}


@pytest.mark.parametrize("size", [SMALL_PHONE, DESKTOP], ids=["320px", "desktop"])
def test_book_without_javascript_keep_the_code_across_languages_and_cancel(
    browser_without_script, site, size
):
    from selenium.webdriver.common.keys import Keys

    from registry.access.models import Booking

    driver = browser_without_script
    _size(driver, size)
    # axe-core cannot run where scripts are off (its callbacks never fire); the same pages
    # with the script on pass it in the test above, and the <noscript> note is a plain <p>.
    base, app, _ = site
    for lang in ("ru", "kk", "en"):
        driver.get(f"{base}/?lang={lang}")
        result = _wait_for(driver, ".results a")
        _mark_page(driver)
        result.click()
        _leaves_page(driver)
        # The page's script did not run: nothing rewrote the form, and the note is shown.
        assert NO_SCRIPT_NOTE[lang] in driver.find_element("tag name", "main").text
        _check_page(driver, lang, "nojs-1-service", axe=False)
        button = _wait_for(driver, "form.book button")
        _mark_page(driver)
        button.send_keys(Keys.ENTER)
        _leaves_page(driver)
        code = _wait_for(driver, "#booking-code").text
        assert CODE_SHAPE.fullmatch(code), code
        # Without the script the copy and print buttons stay hidden; the QR code is there.
        assert not driver.find_element("css selector", "button[data-copy]").is_displayed()
        assert driver.execute_script("return document.querySelector('.qr img').naturalWidth") > 0
        _check_page(driver, lang, "nojs-2-booked", axe=False)

        # The language switch posts the code back: the page changes language, the code stays.
        other = NEXT_LANG[lang]
        _mark_page(driver)
        driver.find_element("css selector", f'.langs button[lang="{other}"]').click()
        _leaves_page(driver)
        assert _wait_for(driver, "#booking-code").text == code
        assert code not in driver.current_url
        assert driver.find_element("tag name", "html").get_attribute("lang") == other

        driver.get(f"{base}/booking?lang={lang}")
        field = _wait_for(driver, "#code")
        field.send_keys(code.lower().replace("-", " ").replace("1", "l").replace("0", "o"))
        _mark_page(driver)
        field.send_keys(Keys.ENTER)
        _leaves_page(driver)
        assert _wait_for(driver, "#booking-status").text == TEXT[lang]["booked"]
        _mark_page(driver)
        driver.find_element("css selector", "form.cancel button").click()
        _leaves_page(driver)
        assert driver.find_element("id", "booking-status").text == TEXT[lang]["cancelled"]
        _check_page(driver, lang, "nojs-4-cancelled", axe=False)
    with app.app_context():
        statuses = [b.status for b in db.session.query(Booking).all()]
    assert statuses == ["cancelled"] * 3


@pytest.fixture()
def long_service(site):
    """Add a service with 27 free times, so that the last ones sit far down a phone's page."""
    from registry.access.models import Slot

    base, app, _ = site
    [first, *_] = seed_slots(app, 27, capacity=2)
    with app.app_context():
        service_id = db.session.get(Slot, first).service_id
    return f"{base}/services/{service_id}"


def _in_view(driver, css: str) -> dict:
    return driver.execute_script(
        """
        const r = document.querySelector(arguments[0]).getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, height: window.innerHeight};
        """,
        css,
    )


@pytest.mark.parametrize("size", [PHONE, SMALL_PHONE], ids=["390px", "320px"])
def test_progress_message_shows_beside_a_low_button_on_a_phone(browser, long_service, size):
    _size(browser, size)
    # Hold the challenge request, so that the page stays in its "please wait" state.
    browser.execute_cdp_cmd("Fetch.enable", {"patterns": [{"urlPattern": "*/public/challenge*"}]})
    try:
        browser.get(f"{long_service}?lang=ru")
        buttons = browser.find_elements("css selector", "form.book button")
        assert len(buttons) == 27
        low = buttons[-2]
        browser.execute_script("arguments[0].scrollIntoView({block: 'end'});", low)
        low.click()
        status = _wait_for(browser, "li.pressed #pow-status")
        assert "Подождите" in status.text or "подождите" in status.text
        place = _in_view(browser, "#pow-status")
        # Fully in view, give or take the rounding of a fractional layout.
        assert place["top"] >= 0 and place["bottom"] <= place["height"] + 1, place
        # The pressed button says it is working; the others wait, greyed.
        assert "working" in low.get_attribute("class")
        assert all(not b.is_enabled() for b in buttons)
        width = browser.execute_script("return window.innerWidth")
        browser.save_screenshot(str(ARTIFACTS / f"ru-progress-{width}.png"))
        assert not _axe(browser, ANY_IMPACT)
    finally:
        browser.execute_cdp_cmd("Fetch.disable", {})


def test_code_page_copies_the_code_and_shows_its_qr_code(browser, site):
    from selenium.webdriver.common.keys import Keys

    from registry.access.models import Slot

    base, app, [slot_id, *_] = site
    with app.app_context():
        service_id = db.session.get(Slot, slot_id).service_id
    _size(browser, PHONE)
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    browser.get(f"{base}/services/{service_id}?lang=kk")
    button = _wait_for(browser, "form.book button")
    _mark_page(browser)
    button.send_keys(Keys.ENTER)
    _leaves_page(browser)
    code = _wait_for(browser, "#booking-code").text
    assert browser.execute_script("return document.querySelector('.qr img').naturalWidth") > 0
    copy = browser.find_element("css selector", "button[data-copy]")
    assert copy.is_displayed() and copy.text == "Кодты көшіру"
    assert browser.find_element("css selector", "button[data-print]").is_displayed()
    copy.click()
    status = _wait_for(browser, "#keep-status:not(:empty)")
    assert status.text == "Көшірілді. Кодты телефондағы жазбаға қойыңыз."
    pasted = browser.execute_async_script(
        "const done = arguments[0];navigator.clipboard.readText().then(done, e => done(String(e)));"
    )
    assert pasted == code
    _check_page(browser, "kk", "4-booked-copied")


def test_anonymity_page_is_accessible(browser, site):
    base, _, _ = site
    for lang in ("ru", "kk", "en"):
        browser.get(f"{base}/anonymity?lang={lang}")
        _check_page(browser, lang, "9-anonymity")
