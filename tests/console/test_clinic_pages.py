"""Clinic staff pages: a service's week of slots (add, cancel), today's bookings with check-in by
code, and the staff's tokens (revoke), all on the API's own services and rules."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from registry import clock
from registry.access.bookings import book_slot_without_proof
from registry.access.directory import create_service
from registry.access.models import Booking, BookingStatus, Slot
from registry.access.slots import create_slot
from registry.audit.models import AuditEntry
from registry.auth.models import User
from registry.auth.tokens import issue_token, principal_for_token
from tests.console.conftest import signed_in

# 10:00 in Almaty (UTC+5), the clinics' default zone: the whole local day lies ahead.
MORNING = datetime(2030, 3, 4, 5, 0, tzinfo=UTC)


@pytest.fixture()
def morning():
    clock.freeze(MORNING)
    yield MORNING
    clock.freeze(None)


@pytest.fixture()
def clinic_admin(staff, make_clinic):
    return staff("clinic_admin", clinic=make_clinic())


def _service(clinic_id: int):
    return create_service(
        clinic_id, name="Methadone programme", care_type="oat", languages=["ru"], address="Main 1"
    )


def _last(session, action: str):
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.idx.desc())
    return session.execute(query).scalars().first()


def test_a_week_of_slots_and_a_slot_added_in_local_time(client, session, clinic_admin, morning):
    service = _service(clinic_admin.clinic_id)
    create_slot(service, MORNING + timedelta(hours=3), 30, 4)  # 13:00 local
    token = signed_in(client, clinic_admin)
    listing = client.get("/console/clinic/services?lang=en").get_data(as_text=True)
    assert "Methadone programme" in listing
    week = client.get(f"/console/clinic/services/{service.id}/slots?lang=en")
    page = week.get_data(as_text=True)
    assert week.status_code == 200 and "13:00" in page and "0 of 4 booked" in page
    assert "Monday, 4 March" in page
    form = {"csrf_token": token, "slot_date": "2030-03-06", "slot_time": "09:30"}
    added = client.post(
        f"/console/clinic/services/{service.id}/slots",
        data={**form, "capacity": "3", "duration_minutes": "45"},
    )
    assert added.status_code == 302
    slot = session.execute(
        select(Slot).where(Slot.starts_at == MORNING + timedelta(days=2, hours=-0.5))
    ).scalar_one()
    assert (slot.capacity, slot.ends_at - slot.starts_at) == (3, timedelta(minutes=45))
    assert "09:30" in client.get(added.location).get_data(as_text=True)
    again = client.post(
        f"/console/clinic/services/{service.id}/slots",
        data={**form, "capacity": "3", "duration_minutes": "45"},
    )
    assert again.status_code == 409
    assert "already has a slot at this time" in again.get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity": "0"}, "capacity"),
        ({"duration_minutes": "2"}, "duration_minutes"),
        ({"slot_date": "2030-02-30"}, "starts_at"),
        ({"slot_date": "2030-03-01"}, "starts_at"),  # in the past
    ],
)
def test_a_wrong_slot_is_refused_naming_the_field(
    client, session, clinic_admin, morning, change, field
):
    service = _service(clinic_admin.clinic_id)
    token = signed_in(client, clinic_admin)
    form = {"csrf_token": token, "slot_date": "2030-03-06", "slot_time": "09:30"}
    form |= {"capacity": "1", "duration_minutes": "30", **change}
    answer = client.post(f"/console/clinic/services/{service.id}/slots", data=form)
    assert answer.status_code == 422
    assert f'id="{ {"starts_at": "slot_date"}.get(field, field) }-error"' in answer.get_data(
        as_text=True
    )
    assert session.execute(select(Slot).where(Slot.service_id == service.id)).first() is None


def test_a_booked_slot_is_cancelled_only_with_its_bookings(client, session, clinic_admin, morning):
    service = _service(clinic_admin.clinic_id)
    slot = create_slot(service, MORNING + timedelta(days=1), 30, 2)[0]
    book_slot_without_proof(slot.id, "client-a")
    token = signed_in(client, clinic_admin)
    refused = client.post(f"/console/clinic/slots/{slot.id}/cancel", data={"csrf_token": token})
    assert refused.status_code == 409 and "Tick the box" in refused.get_data(as_text=True)
    done = client.post(
        f"/console/clinic/slots/{slot.id}/cancel",
        data={"csrf_token": token, "cancel_bookings": "yes"},
    )
    assert done.status_code == 302
    session.expire_all()
    assert session.get(Slot, slot.id).cancelled_at is not None
    booking = session.execute(select(Booking).where(Booking.slot_id == slot.id)).scalar_one()
    assert booking.status == BookingStatus.CANCELLED_BY_CLINIC
    assert "with 1 booking" in client.get(done.location).get_data(as_text=True)


def test_a_clinician_checks_a_booking_in_once_by_its_code(
    client, session, staff, make_clinic, morning
):
    clinic = make_clinic()
    clinician = staff("clinician", clinic=clinic)
    slot = create_slot(_service(clinic.id), MORNING + timedelta(hours=2), 30, 2)[0]
    _, code = book_slot_without_proof(slot.id, "client-b")
    token = signed_in(client, clinician)
    today = client.get("/console/clinic/bookings?lang=en").get_data(as_text=True)
    assert "12:00" in today and "booked" in today and code not in today
    answer = client.post(
        "/console/clinic/bookings/check-in", data={"csrf_token": token, "booking_code": code}
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Checked in: the booking at 12:00." in page
    assert code not in page  # the code is never shown back
    assert _last(session, "booking.check_in").outcome == "ok"
    twice = client.post(
        "/console/clinic/bookings/check-in", data={"csrf_token": token, "booking_code": code}
    )
    assert twice.status_code == 409
    typo = client.post(
        "/console/clinic/bookings/check-in", data={"csrf_token": token, "booking_code": "B-12"}
    )
    assert typo.status_code == 422 and 'id="booking_code-error"' in typo.get_data(as_text=True)


def test_another_clinics_booking_code_is_not_found(client, session, staff, make_clinic, morning):
    other = create_slot(_service(make_clinic().id), MORNING + timedelta(hours=2), 30, 2)[0]
    _, code = book_slot_without_proof(other.id, "client-c")
    token = signed_in(client, staff("clinic_admin"))
    answer = client.post(
        "/console/clinic/bookings/check-in", data={"csrf_token": token, "booking_code": code}
    )
    assert answer.status_code == 404
    session.expire_all()
    assert session.get(Booking, _booking_of(session, other.id)).status == BookingStatus.ACTIVE


def _booking_of(session, slot_id: int) -> int:
    return session.execute(select(Booking.id).where(Booking.slot_id == slot_id)).scalar_one()


def test_check_in_without_the_csrf_token_is_refused(client, staff):
    signed_in(client, staff("clinician"))
    answer = client.post("/console/clinic/bookings/check-in", data={"booking_code": "x"})
    assert answer.status_code == 400


def test_an_admin_revokes_a_staff_token_of_their_clinic_only(client, session, staff, make_clinic):
    clinic = make_clinic()
    admin = staff("clinic_admin", clinic=clinic)
    colleague = staff("clinician", clinic=clinic)
    row, secret = issue_token(session.get(User, colleague.id), 30)
    outsider = staff("clinician")
    other_row, other_secret = issue_token(session.get(User, outsider.id), 30)
    token = signed_in(client, admin)
    page = client.get("/console/clinic/staff?lang=en").get_data(as_text=True)
    assert colleague.name in page and f"revoke-{row.id}" in page
    assert outsider.name not in page and secret not in page
    answer = client.post(f"/console/clinic/tokens/{row.id}/revoke", data={"csrf_token": token})
    assert answer.status_code == 302
    assert principal_for_token(secret) is None
    assert _last(session, "token.revoke").object_id == str(row.id)
    assert f"revoke-{row.id}" not in client.get(answer.location).get_data(as_text=True)
    foreign = client.post(
        f"/console/clinic/tokens/{other_row.id}/revoke", data={"csrf_token": token}
    )
    assert foreign.status_code == 404
    assert principal_for_token(other_secret) is not None


@pytest.mark.parametrize(
    ("lang", "heading"), [("ru", "Записи на сегодня"), ("kk", "Бүгінгі жазылулар")]
)
def test_the_pages_speak_russian_and_kazakh(client, clinic_admin, lang, heading):
    signed_in(client, clinic_admin)
    page = client.get(f"/console/clinic/bookings?lang={lang}").get_data(as_text=True)
    assert heading in page and "Today's bookings" not in page
    staff_page = client.get(f"/console/clinic/staff?lang={lang}").get_data(as_text=True)
    assert "Staff and their API tokens" not in staff_page
