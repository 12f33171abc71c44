"""Clinic staff and custodians in a real headless Chromium, by keyboard: check a booking in by
its code, add and cancel a slot on the week grid, revoke a colleague's token, approve a
re-identification request; axe-core finds no violation on any of these pages, desktop or phone."""

import threading
from datetime import timedelta

import pytest
from selenium.webdriver.common.keys import Keys
from werkzeug.serving import make_server

from registry import clock
from registry.auth import totp
from registry.extensions import db
from tests.access.test_browser import (
    ARTIFACTS,
    _leaves_page,
    _mark_page,
    _wait_for,
    browser,  # noqa: F401  (the Chromium fixture)
)
from tests.console.conftest import PASSWORD, make_staff_user
from tests.console.test_browser import DESKTOP, _size, _tab_to, _type_and_submit
from tests.console.test_browser_episodes import _check

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def clinic_site(fresh_app):
    """Serve the app with a clinic (a service, a booked slot), its staff and two custodians."""
    from registry.access.bookings import book_slot_without_proof
    from registry.access.directory import create_service
    from registry.access.models import Clinic
    from registry.access.slots import create_slot
    from registry.auth.models import User
    from registry.auth.tokens import issue_token
    from registry.patients.models import Pseudonym, ReidentificationRequest
    from registry.patients.services import register_anonymous

    with fresh_app.app_context():
        clinic = Clinic(name="Slot clinic", region_code="750000000", centre_type="outpatient")
        db.session.add(clinic)
        db.session.flush()
        admin = make_staff_user(db.session, ["clinic_admin"], clinic.id, second_factor=True)
        colleague = make_staff_user(db.session, ["clinician"], clinic.id)
        token_id = issue_token(db.session.get(User, colleague.id), 30)[0].id
        service = create_service(
            clinic.id, name="Methadone", care_type="oat", languages=["ru"], address="Main 1"
        )
        slot = create_slot(service, clock.now() + timedelta(minutes=30), 30, 3)[0]
        _, code = book_slot_without_proof(slot.id, "browser-client")
        requester = make_staff_user(db.session, ["key_custodian"], second_factor=True)
        custodian = make_staff_user(db.session, ["key_custodian"], second_factor=True)
        pseudonym = register_anonymous(clinic.id).pseudonym
        person_id = db.session.query(Pseudonym.person_id).filter_by(value=pseudonym).scalar()
        request = ReidentificationRequest(
            person_id=person_id,
            requester_id=requester.id,
            purpose="court_proceedings",
            legal_basis="court_decision",
            expires_at=clock.now() + timedelta(hours=72),
        )
        db.session.add(request)
        db.session.commit()
        ids = {"service": service.id, "token": token_id, "request": request.id}
    server = make_server("127.0.0.1", 0, fresh_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", admin, custodian, code, ids
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _press(driver, css: str) -> None:
    """Tab to a control and press Enter on it, waiting for the next page."""
    _mark_page(driver)
    _tab_to(driver, css, limit=200).send_keys(Keys.ENTER)
    _leaves_page(driver)


def _sign_in(driver, who) -> None:
    _wait_for(driver, "#name")
    _type_and_submit(driver, {"#name": who.name, "#password": PASSWORD}, "form.narrow button")
    _wait_for(driver, "#code")
    code = totp.code_for(who.secret, clock.now())
    _type_and_submit(driver, {"#code": code}, "form.narrow button")


def test_check_in_slots_tokens_and_an_approval_by_keyboard(browser, clinic_site):  # noqa: F811
    base, admin, custodian, booking_code, ids = clinic_site
    driver = browser
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.delete_all_cookies()
    _size(driver, DESKTOP)
    driver.get(f"{base}/console/clinic/bookings?lang=en")
    _sign_in(driver, admin)

    _wait_for(driver, "#booking_code")
    _check(driver, "bookings")
    _type_and_submit(driver, {"#booking_code": booking_code}, "#check-in")
    _wait_for(driver, "#checked-in")
    assert booking_code not in driver.page_source
    _check(driver, "checked-in")

    _press(driver, "nav .menu a[href*='/console/clinic/services']")
    _wait_for(driver, "#service-list")
    _check(driver, "services")
    _press(driver, f"#service-{ids['service']}")
    _wait_for(driver, "#week-title")
    _check(driver, "slots")
    _press(driver, "#next-week")  # its Monday, 09:00, is in the future whatever the hour now
    _wait_for(driver, "#add-slot")
    _press(driver, "#add-slot")
    _wait_for(driver, "#slot-added")
    added = driver.find_elements("css selector", "button[id^='cancel-slot-']")
    assert len(added) == 1
    _check(driver, "slot-added")
    _press(driver, f"#{added[0].get_attribute('id')}")
    _wait_for(driver, "#slot-cancelled")
    assert not driver.find_elements("css selector", "button[id^='cancel-slot-']")

    _press(driver, "nav .menu a[href*='/console/clinic/staff']")
    _wait_for(driver, "#staff-list")
    _check(driver, "staff")
    _press(driver, f"#revoke-{ids['token']}")
    _wait_for(driver, "#token-revoked")
    assert not driver.find_elements("id", f"revoke-{ids['token']}")
    _check(driver, "token-revoked")

    _press(driver, ".who button")  # sign out
    driver.get(f"{base}/console/reidentifications?lang=en")
    _sign_in(driver, custodian)
    _wait_for(driver, f"#approve-{ids['request']}")
    _check(driver, "reidentifications")
    _press(driver, f"#approve-{ids['request']}")
    _wait_for(driver, "#decided")
    assert "1 of 2" in driver.find_element("id", f"request-{ids['request']}").text
    _check(driver, "reidentification-approved")
    _press(driver, "#reveal-help")
    _wait_for(driver, "ol.steps")
    _check(driver, "reveal-offline")
