"""The console in a real headless Chromium: sign in with a TOTP code and register a patient with
the keyboard alone; axe-core finds no serious violation on any page, on a desktop and a phone."""

import threading

import pytest
from werkzeug.serving import make_server

from registry import clock
from registry.auth import totp
from registry.extensions import db
from tests.access.test_browser import (
    ARTIFACTS,
    _axe,
    _leaves_page,
    _mark_page,
    _wait_for,
    browser,  # noqa: F401  (the Chromium fixture)
)
from tests.console.conftest import PASSWORD, make_staff_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP, PHONE = (1280, 900), (390, 844)


@pytest.fixture()
def console_site(fresh_app):
    """Serve the app on a free localhost port with a clinician (TOTP) and a protocol admin."""
    from registry.access.models import Clinic

    with fresh_app.app_context():
        clinic = Clinic(name="Browser clinic", region_code="750000000", centre_type="outpatient")
        db.session.add(clinic)
        db.session.flush()
        clinician = make_staff_user(db.session, ["clinician"], clinic.id, second_factor=True)
        admin = make_staff_user(db.session, ["protocol_admin"])
        db.session.commit()
    server = make_server("127.0.0.1", 0, fresh_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", clinician, admin
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _size(driver, width_height) -> None:
    width, height = width_height
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def _check(driver, name: str) -> None:
    """Check the page at both widths: no serious axe violation, nothing wider than the screen."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        _size(driver, size)
        driver.save_screenshot(str(ARTIFACTS / f"console-{name}-{label}.png"))
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= size[0], f"{name}: {width}px wide on a {size[0]}px screen"
        serious = _axe(driver)
        assert not serious, f"{name} ({label}): {serious}"
    _size(driver, DESKTOP)


def _tab_to(driver, css: str, limit: int = 60):
    """Press Tab until the element matching css has the focus; return it."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    target = driver.find_element("css selector", css)
    for _ in range(limit):
        if driver.switch_to.active_element == target:
            return target
        ActionChains(driver).send_keys(Keys.TAB).perform()
    raise AssertionError(f"{css} is not reachable with Tab")


def _type_and_submit(driver, fields: dict[str, str], submit_css: str) -> None:
    from selenium.webdriver.common.keys import Keys

    for css, value in fields.items():
        _tab_to(driver, css).send_keys(value)
    _mark_page(driver)
    _tab_to(driver, submit_css).send_keys(Keys.ENTER)
    _leaves_page(driver)


def test_sign_in_with_totp_and_register_a_patient_by_keyboard(browser, console_site):  # noqa: F811
    base, clinician, admin = console_site
    driver = browser
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.delete_all_cookies()
    _size(driver, DESKTOP)
    driver.get(f"{base}/console/?lang=en")  # signed out: sent to sign-in
    _wait_for(driver, "#name")
    assert "/console/sign-in" in driver.current_url
    _check(driver, "sign-in")
    _type_and_submit(driver, {"#name": clinician.name, "#password": PASSWORD}, "form.narrow button")

    _wait_for(driver, "#code")
    _check(driver, "code")
    code = totp.code_for(clinician.secret, clock.now())
    _type_and_submit(driver, {"#code": code}, "form.narrow button")

    _wait_for(driver, "#clinician-title")
    _check(driver, "home")
    _mark_page(driver)
    from selenium.webdriver.common.keys import Keys

    _tab_to(driver, ".task-list a[href*='/console/patients/new']").send_keys(Keys.ENTER)
    _leaves_page(driver)

    _wait_for(driver, "#register-anonymous")
    _check(driver, "register")
    _mark_page(driver)
    _tab_to(driver, "#register-anonymous").send_keys(Keys.ENTER)
    _leaves_page(driver)
    card = _wait_for(driver, "#care-card-code").text
    assert len(card.replace("-", "")) == 22
    assert driver.find_element("css selector", "button[data-print]").is_displayed()
    _check(driver, "registered")

    pseudonym = driver.find_element("id", "pseudonym").text
    driver.get(f"{base}/console/patients/{pseudonym}?lang=en")
    _wait_for(driver, "#episodes-title")
    _check(driver, "patient")
    driver.get(f"{base}/console/patients?lang=en")
    _wait_for(driver, "table.list")
    assert pseudonym in driver.page_source
    _check(driver, "patients")
    driver.get(f"{base}/console/patients/resolve?lang=en")
    _type_and_submit(driver, {"#care_card": card.lower()}, "form.narrow button")
    assert driver.find_element("id", "pseudonym").text == pseudonym
    driver.get(f"{base}/console/patients/new?lang=en")
    _type_and_submit(driver, {"#iin": "123"}, "#register-iin")
    _wait_for(driver, "#error-summary")
    assert driver.switch_to.active_element.get_attribute("id") == "error-summary"
    _check(driver, "register-refused")

    _mark_page(driver)
    _tab_to(driver, ".who button").send_keys(Keys.ENTER)  # sign out
    _leaves_page(driver)
    _wait_for(driver, "#name")
    _type_and_submit(driver, {"#name": admin.name, "#password": PASSWORD}, "form.narrow button")
    _wait_for(driver, "#totp-secret")
    _check(driver, "enrol")
