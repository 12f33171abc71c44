"""Slots: single and weekly creation, edits and cancellation with bookings handled explicitly."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from registry import clock
from registry.access.models import Booking, Clinic
from registry.access.slots import pattern_starts
from registry.extensions import db
from tests.access.conftest import book, new_service, new_slot
from tests.conftest import bearer


@pytest.fixture()
def manager(make_user, session):
    """A clinic manager, their token and a service of their clinic."""
    user, token = make_user("clinic_admin")
    service = new_service(session, session.get(Clinic, user.clinic_id))
    return user.clinic_id, bearer(token), service


def _in_days(days: int) -> str:
    return (clock.now() + timedelta(days=days)).replace(microsecond=0).isoformat()


def test_manager_creates_one_slot(client, manager):
    clinic_id, headers, service = manager
    # One start for both: two calls of _in_days may fall either side of a second.
    body = {"service_id": service.id, "starts_at": _in_days(2), "capacity": 4}
    answer = client.post(f"/api/v1/clinics/{clinic_id}/slots", headers=headers, json=body)
    assert answer.status_code == 201, answer.json
    [slot] = answer.json
    assert slot["capacity"] == 4 and slot["booked"] == 0
    again = client.post(f"/api/v1/clinics/{clinic_id}/slots", headers=headers, json=body)
    assert again.status_code == 409


def test_manager_creates_a_weekly_pattern_in_local_time(client, manager):
    clinic_id, headers, service = manager
    first = clock.now().date() + timedelta(days=1)
    answer = client.post(
        f"/api/v1/clinics/{clinic_id}/slots",
        headers=headers,
        json={
            "service_id": service.id,
            "capacity": 2,
            "duration_minutes": 45,
            "weekly": {
                "weekdays": ["mon", "wed", "fri"],
                "times": ["09:00", "14:30"],
                "from_date": first.isoformat(),
                "to_date": (first + timedelta(days=13)).isoformat(),
            },
        },
    )
    assert answer.status_code == 201, answer.json
    assert len(answer.json) == 12
    assert {s["local_start"][11:] for s in answer.json} == {"09:00:00+05:00", "14:30:00+05:00"}


def test_pattern_follows_the_clinic_zone():
    from zoneinfo import ZoneInfo

    starts = pattern_starts(
        ["mon"],
        [__import__("datetime").time(9)],
        date(2030, 1, 7),
        date(2030, 1, 7),
        ZoneInfo("Asia/Aqtau"),
    )
    assert [s.hour for s in starts] == [4]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"capacity": 2}, "starts_at"),
        ({"capacity": 0, "starts_at": "2030-01-01T09:00:00+05:00"}, "capacity"),
        ({"capacity": 2, "starts_at": "2030-01-01T09:00:00"}, "starts_at"),
        ({"capacity": 2, "starts_at": "2020-01-01T09:00:00+05:00"}, "starts_at"),
        (
            {
                "capacity": 2,
                "weekly": {
                    "weekdays": ["moon"],
                    "times": ["09:00"],
                    "from_date": "2030-01-01",
                    "to_date": "2030-01-02",
                },
            },
            "weekly.weekdays.0",
        ),
        (
            {
                "capacity": 2,
                "weekly": {
                    "weekdays": ["mon"],
                    "times": ["09:00"],
                    "from_date": "2030-01-09",
                    "to_date": "2030-01-02",
                },
            },
            "weekly.to_date",
        ),
        (
            {
                "capacity": 2,
                "duration_minutes": 5,
                "weekly": {
                    "weekdays": ["mon", "tue", "wed", "thu", "fri"],
                    "times": [f"{h:02}:{m:02}" for h in range(8, 20) for m in (0, 30)],
                    "from_date": "2030-01-01",
                    "to_date": "2030-12-31",
                },
            },
            "weekly",
        ),
    ],
)
def test_bad_slot_is_422(client, manager, body, field):
    clinic_id, headers, service = manager
    answer = client.post(
        f"/api/v1/clinics/{clinic_id}/slots",
        headers=headers,
        json={"service_id": service.id} | body,
    )
    assert answer.status_code == 422, answer.json
    assert field in answer.json["errors"], answer.json["errors"]


def test_slots_of_another_clinic_are_404(client, manager, make_service):
    clinic_id, headers, _ = manager
    foreign = make_service()
    answer = client.post(
        f"/api/v1/clinics/{clinic_id}/slots",
        headers=headers,
        json={"service_id": foreign.id, "starts_at": _in_days(1), "capacity": 1},
    )
    assert answer.status_code == 404
    answer = client.post(
        f"/api/v1/clinics/{foreign.clinic_id}/slots",
        headers=headers,
        json={"service_id": foreign.id, "starts_at": _in_days(1), "capacity": 1},
    )
    assert answer.status_code == 404


def test_clinician_cannot_create_slots(client, make_user, session):
    user, token = make_user("clinician")
    service = new_service(session, session.get(Clinic, user.clinic_id))
    answer = client.post(
        f"/api/v1/clinics/{user.clinic_id}/slots",
        headers=bearer(token),
        json={"service_id": service.id, "starts_at": _in_days(1), "capacity": 1},
    )
    assert answer.status_code == 403
    listed = client.get(f"/api/v1/clinics/{user.clinic_id}/slots", headers=bearer(token))
    assert listed.status_code == 200


def test_capacity_cannot_go_below_bookings_and_time_cannot_move(client, session, manager):
    clinic_id, headers, service = manager
    slot = new_slot(session, service, capacity=3)
    assert book(client, slot.id).status_code == 201
    url = f"/api/v1/clinics/{clinic_id}/slots/{slot.id}"
    assert client.patch(url, headers=headers, json={"capacity": 5}).json["capacity"] == 5
    assert book(client, slot.id).status_code == 201
    below = client.patch(url, headers=headers, json={"capacity": 1})
    assert below.status_code == 409 and below.json["booked"] == 2
    assert client.patch(url, headers=headers, json={"capacity": 2}).status_code == 200
    assert book(client, slot.id).status_code == 409
    moved = client.patch(url, headers=headers, json={"starts_at": _in_days(3)})
    assert moved.status_code == 409


def test_time_moves_while_nobody_booked(client, session, manager):
    clinic_id, headers, service = manager
    slot = new_slot(session, service)
    starts_at = _in_days(3)
    answer = client.patch(
        f"/api/v1/clinics/{clinic_id}/slots/{slot.id}",
        headers=headers,
        json={"starts_at": starts_at, "duration_minutes": 60},
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["starts_at"].startswith(starts_at[:19])


def test_cancelling_a_slot_with_bookings_is_explicit(client, session, manager):
    clinic_id, headers, service = manager
    slot = new_slot(session, service, capacity=3)
    code = book(client, slot.id).json["code"]
    url = f"/api/v1/clinics/{clinic_id}/slots/{slot.id}/cancel"
    refused = client.post(url, headers=headers, json={})
    assert refused.status_code == 409 and refused.json["booked"] == 1
    done = client.post(url, headers=headers, json={"cancel_bookings": True})
    assert done.status_code == 200 and done.json["cancelled_bookings"] == 1
    assert done.json["slot"]["cancelled_at"]
    looked = client.post("/api/v1/public/bookings/lookup", json={"code": code})
    assert looked.json["status"] == "cancelled_by_clinic"
    assert client.post(url, headers=headers, json={}).status_code == 409
    assert book(client, slot.id).status_code == 409


def test_an_empty_slot_cancels_without_ceremony(client, session, manager):
    clinic_id, headers, service = manager
    slot = new_slot(session, service)
    url = f"/api/v1/clinics/{clinic_id}/slots/{slot.id}/cancel"
    assert client.post(url, headers=headers, json={}).status_code == 200
    assert client.get(f"/api/v1/public/services/{service.id}/slots").json == []


def test_no_show_job_expires_past_bookings(app, client, session, make_slot):
    from registry.access.jobs import expire_bookings
    from registry.access.models import SpentChallenge

    slot = make_slot()
    code = book(client, slot.id).json["code"]
    assert db.session.execute(select(SpentChallenge)).scalars().all()
    clock.freeze(clock.now() + timedelta(days=3))
    try:
        outcome = expire_bookings(app)
    finally:
        clock.freeze(None)
    assert outcome == "1 no-shows, 1 spent challenges forgotten"
    assert not db.session.execute(select(SpentChallenge)).scalars().all()
    booking = db.session.execute(select(Booking)).scalars().one()
    assert booking.status == "no_show" and booking.client_key is None
    looked = client.post("/api/v1/public/bookings/lookup", json={"code": code})
    assert looked.json["status"] == "no_show"


def test_access_job_is_scheduled(app):
    from registry.jobs import scheduled_jobs

    assert "access-expiry" in [job.name for job in scheduled_jobs(app)]


FAR = "9999-12-31T23:50:00+00:00"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"starts_at": FAR}, "starts_at"),
        ({"starts_at": "9999-12-31T23:00:00-05:00"}, "starts_at"),
        (
            {
                "weekly": {
                    "weekdays": ["fri"],
                    "times": ["23:50"],
                    "from_date": "9999-12-25",
                    "to_date": "9999-12-31",
                }
            },
            "weekly.from_date",
        ),
    ],
)
def test_slots_past_the_calendar_are_refused(client, manager, body, field):
    clinic_id, headers, service = manager
    body = {"service_id": service.id, "capacity": 1, **body}
    answer = client.post(f"/api/v1/clinics/{clinic_id}/slots", headers=headers, json=body)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["errors"]


def test_a_slot_cannot_move_past_the_calendar(client, manager, session):
    clinic_id, headers, service = manager
    slot = new_slot(session, service)
    url = f"/api/v1/clinics/{clinic_id}/slots/{slot.id}"
    answer = client.patch(url, headers=headers, json={"starts_at": FAR})
    assert answer.status_code == 422 and "starts_at" in answer.json["errors"]


@pytest.mark.parametrize("listing", ["slots", "bookings"])
@pytest.mark.parametrize(
    "window",
    ["from=0001-01-01T00:00:00%2B05:00", "from=9999-12-31T00:00:00Z&to=9999-12-31T23:59:00-05:00"],
)
def test_listing_windows_past_the_calendar_are_refused(client, manager, listing, window):
    clinic_id, headers, _ = manager
    answer = client.get(f"/api/v1/clinics/{clinic_id}/{listing}?{window}", headers=headers)
    assert answer.status_code == 422, answer.json
    assert {"from", "to"} & set(answer.json["errors"])
