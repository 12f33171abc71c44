"""A clinician's episode in a real headless Chromium, by keyboard: open it with the admission
form, check then record a dose, see a refusal before anything is saved, discharge; axe-core
finds no violation at all on any of these pages, on a desktop and on a 390 px phone."""

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from registry import clock
from registry.auth import totp
from registry.episodes.examples import ADMISSION_EXAMPLE
from registry.extensions import db
from tests.access.test_browser import (
    ARTIFACTS,
    AXE,
    _leaves_page,
    _mark_page,
    _wait_for,
    browser,  # noqa: F401  (the Chromium fixture)
)
from tests.console.conftest import PASSWORD, make_staff_user
from tests.console.test_browser import DESKTOP, PHONE, _size, _tab_to, _type_and_submit

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def episode_site(fresh_app):
    """Serve the app with the shipped protocols, a clinician (TOTP) and one patient."""
    import threading

    from werkzeug.serving import make_server

    from registry.access.models import Clinic
    from registry.patients.services import register_anonymous
    from registry.protocols.lifecycle import install_shipped_protocols

    with fresh_app.app_context():
        install_shipped_protocols()
        clinic = Clinic(name="Episode clinic", region_code="750000000", centre_type="outpatient")
        db.session.add(clinic)
        db.session.flush()
        clinician = make_staff_user(db.session, ["clinician"], clinic.id, second_factor=True)
        pseudonym = register_anonymous(clinic.id).pseudonym
        db.session.commit()
    server = make_server("127.0.0.1", 0, fresh_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", clinician, pseudonym
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _all_axe(driver) -> list[dict]:
    """Run axe-core in the page and return every violation, whatever its impact."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ["violations"]})
          .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,
                                                  targets: v.nodes.map(n => n.target)}))))
          .catch(e => done([{id: "axe-error", impact: "critical", targets: [String(e)]}]));
        """
    )


def _check(driver, name: str) -> None:
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        _size(driver, size)
        driver.save_screenshot(str(ARTIFACTS / f"console-{name}-{label}.png"))
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= size[0], f"{name}: {width}px wide on a {size[0]}px screen"
        found = _all_axe(driver)
        assert not found, f"{name} ({label}): {found}"
    _size(driver, DESKTOP)


def _press(driver, css: str) -> None:
    """Tab to a control and press Enter on it, waiting for the next page."""
    _mark_page(driver)
    _tab_to(driver, css, limit=200).send_keys(Keys.ENTER)
    _leaves_page(driver)


def _choose(driver, css: str, value: str) -> None:
    """Tab to a select and pick a value (a native select: arrow keys work the same)."""
    Select(_tab_to(driver, css, limit=200)).select_by_value(value)


def test_open_check_record_refuse_and_discharge_by_keyboard(browser, episode_site):  # noqa: F811
    base, clinician, pseudonym = episode_site
    driver = browser
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.delete_all_cookies()
    _size(driver, DESKTOP)
    driver.get(f"{base}/console/patients/{pseudonym}?lang=en")
    _wait_for(driver, "#name")
    _type_and_submit(driver, {"#name": clinician.name, "#password": PASSWORD}, "form.narrow button")
    _wait_for(driver, "#code")
    code = totp.code_for(clinician.secret, clock.now())
    _type_and_submit(driver, {"#code": code}, "form.narrow button")
    _wait_for(driver, "#open-episode-link")
    _press(driver, "#open-episode-link")

    _wait_for(driver, "#open-episode")
    _check(driver, "episode-new")
    _choose(driver, "#protocol", "methadone_oat")
    _choose(driver, "#diagnosis", "F11.2")
    for name, value in ADMISSION_EXAMPLE.items():
        css = f"#admission-{name}"
        if isinstance(value, int):
            _tab_to(driver, css, limit=200).send_keys(str(value))
        else:
            _choose(driver, css, value)
    _press(driver, "#open-episode")

    _wait_for(driver, "#check-dose")
    assert "The episode is open." in driver.page_source
    _check(driver, "episode")
    _choose(driver, "#dose-medication", "methadone")
    _tab_to(driver, "#dose-amount").send_keys("30")
    _press(driver, "#check-dose")
    _wait_for(driver, "#check-answer")
    assert "Allowed: no rule is broken" in driver.page_source
    _check(driver, "event-check")
    _press(driver, "#record-event")
    _wait_for(driver, "#recorded")

    _choose(driver, "#dose-medication", "methadone")
    _tab_to(driver, "#dose-amount").send_keys("15")
    _press(driver, "#check-dose")
    _wait_for(driver, "#check-answer")
    answer = driver.find_element("id", "check-answer").text
    assert "The protocol refuses this event" in answer  # shown before anything is saved
    assert driver.switch_to.active_element.get_attribute("id") == "check-answer"  # read first
    _check(driver, "event-refused")
    _press(driver, "#back-to-episode")
    _wait_for(driver, "#timeline-title")
    assert len(driver.find_elements("css selector", "#timeline-title + div tbody tr")) == 1

    _press(driver, "#discharge-link")
    _wait_for(driver, "#discharge-submit")
    _check(driver, "discharge")
    _choose(driver, "#reason", "completed")
    _tab_to(driver, "#exit\\.days-opiates", limit=200).send_keys("0")
    _press(driver, "#discharge-submit")
    _wait_for(driver, "#episode-status")
    assert driver.find_element("id", "episode-status").text.startswith("discharged")
    _check(driver, "episode-discharged")

    driver.get(f"{base}/console/compliance?lang=en")
    _wait_for(driver, "h1")
    _check(driver, "compliance")
    driver.get(f"{base}/console/no-such-page?lang=en")
    _wait_for(driver, "h1")
    _check(driver, "not-found")
    driver.get(f"{base}/console/account/password?lang=en")
    _wait_for(driver, "#current_password")
    _check(driver, "password")
