"""Anonymous booking: proof of work, code shown once, look up, cancel, check in."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text

from registry import clock
from registry.access import pow
from registry.access.bookings import BOOKING_CODE
from registry.access.models import Booking, Slot
from registry.audit.models import AuditEntry
from registry.crypto.codes import new_code
from registry.extensions import db
from tests.access.conftest import as_public, book, solved
from tests.conftest import PG_URL, bearer


def test_booking_returns_a_code_once_and_stores_only_its_hash(client, make_slot):
    slot = make_slot(capacity=2)
    answer = book(client, slot.id)
    assert answer.status_code == 201, answer.json
    code = answer.json["code"]
    assert BOOKING_CODE.bits >= 80
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}-[0-9A-Z]{2}", code)
    assert answer.json["slot"]["id"] == slot.id and answer.json["slot"]["free"] == 1
    assert answer.json["service"]["name"]
    assert answer.headers["Cache-Control"] == "no-store"
    booking = db.session.execute(select(Booking)).scalars().one()
    assert code.encode() not in booking.code_hash and len(booking.code_hash) == 32
    actions = db.session.execute(select(AuditEntry.action)).scalars().all()
    assert "booking.create" in actions


def test_lookup_and_cancel_with_the_code_in_the_body(client, make_slot):
    slot = make_slot(capacity=1)
    code = book(client, slot.id).json["code"]
    looked = client.post("/api/v1/public/bookings/lookup", json={"code": code.lower()})
    assert looked.status_code == 200
    assert looked.json["status"] == "active" and "code" not in looked.json
    cancelled = client.post("/api/v1/public/bookings/cancel", json={"code": code})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert db.session.get(Slot, slot.id).booked == 0
    again = client.post("/api/v1/public/bookings/cancel", json={"code": code})
    assert again.status_code == 409
    # The freed place can be booked again.
    assert book(client, slot.id).status_code == 201


def test_a_full_slot_is_409_and_a_missing_one_404(client, make_slot):
    slot = make_slot(capacity=1)
    assert book(client, slot.id).status_code == 201
    full = book(client, slot.id)
    assert full.status_code == 409 and full.mimetype == "application/problem+json"
    assert full.json["detail"] == "the slot is full"
    assert book(client, 987654).status_code == 404


def test_past_or_cancelled_slot_is_409(client, session, make_slot):
    past = make_slot(in_hours=-1)
    answer = book(client, past.id)
    assert answer.status_code == 409
    assert answer.json["detail"] == "the slot is no longer open for booking"
    cancelled = make_slot()
    cancelled.cancelled_at = clock.now()
    session.flush()
    answer = book(client, cancelled.id)
    assert answer.status_code == 409
    assert answer.json["detail"] == "the slot is no longer open for booking"


def test_reused_challenge_is_422(client, make_slot):
    slot = make_slot(capacity=5)
    payload = solved(client)
    first = client.post("/api/v1/public/bookings", json={"slot_id": slot.id, "altcha": payload})
    second = client.post("/api/v1/public/bookings", json={"slot_id": slot.id, "altcha": payload})
    assert first.status_code == 201
    assert second.status_code == 422 and "altcha" in second.json["errors"]


def test_challenge_survives_a_refused_booking(client, make_slot):
    full, free = make_slot(capacity=1, booked=1), make_slot()
    payload = solved(client)
    assert (
        client.post(
            "/api/v1/public/bookings", json={"slot_id": full.id, "altcha": payload}
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/api/v1/public/bookings", json={"slot_id": free.id, "altcha": payload}
        ).status_code
        == 201
    )


def test_expired_challenge_is_422(client, make_slot):
    slot = make_slot()
    payload = solved(client)
    clock.freeze(clock.now() + timedelta(hours=1))
    try:
        answer = client.post(
            "/api/v1/public/bookings", json={"slot_id": slot.id, "altcha": payload}
        )
    finally:
        clock.freeze(None)
    assert answer.status_code == 422
    assert "expired" in answer.json["errors"]["altcha"][0]


def test_wrong_or_forged_proof_is_422(client, make_slot):
    slot = make_slot()
    forged = pow.solve(pow.create_challenge(b"not our key" * 3, 10, clock.now() + timedelta(60)))
    for payload in (forged, "garbage", ""):
        answer = client.post(
            "/api/v1/public/bookings", json={"slot_id": slot.id, "altcha": payload}
        )
        assert answer.status_code == 422, payload
        assert "altcha" in answer.json["errors"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"slot_id": "1", "altcha": "x"}, "slot_id"),
        ({"altcha": "x"}, "slot_id"),
        ({"slot_id": 1}, "altcha"),
        ({"slot_id": 1, "altcha": "x" * 2000}, "altcha"),
        ({"slot_id": 1, "altcha": "x", "code": "y"}, "code"),
    ],
)
def test_malformed_booking_is_422(client, body, field):
    answer = client.post("/api/v1/public/bookings", json=body)
    assert answer.status_code == 422
    assert field in answer.json["errors"]


def test_oversized_and_unreadable_bodies(client):
    big = client.post("/api/v1/public/bookings", json={"slot_id": 1, "altcha": "x" * 70_000})
    assert big.status_code == 413
    broken = client.post(
        "/api/v1/public/bookings/lookup", data='{"code": ', content_type="application/json"
    )
    assert broken.status_code == 400
    form = client.post("/api/v1/public/bookings/lookup", data={"code": "x"})
    assert form.status_code == 415


def test_wrong_code_is_404_and_mistyped_code_422(client, make_slot):
    make_slot()
    wrong = client.post("/api/v1/public/bookings/lookup", json={"code": new_code(BOOKING_CODE)})
    assert wrong.status_code == 404
    assert (
        client.post(
            "/api/v1/public/bookings/cancel", json={"code": new_code(BOOKING_CODE)}
        ).status_code
        == 404
    )
    typo = client.post("/api/v1/public/bookings/lookup", json={"code": "1234"})
    assert typo.status_code == 422 and "code" in typo.json["errors"]


def _statements(app, call) -> list[str]:
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement.split()[0])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen


def test_a_wrong_code_costs_the_same_work_as_a_right_one(app, client, make_slot, monkeypatch):
    import registry.access.bookings as bookings

    code = book(client, make_slot().id).json["code"]
    hashed = []
    real = bookings.code_hash
    monkeypatch.setattr(bookings, "code_hash", lambda *a: hashed.append(1) or real(*a))

    def lookup(value):
        return lambda: client.post("/api/v1/public/bookings/lookup", json={"code": value})

    right = _statements(app, lookup(code))
    right_hashes, hashed[:] = len(hashed), []
    wrong = _statements(app, lookup(new_code(BOOKING_CODE)))
    # One HMAC per key version and one SELECT, whether or not the code exists.
    assert right == wrong
    assert right_hashes == len(hashed) >= 1


def test_clinic_checks_in_a_booking_and_hands_over_to_registration(
    client, make_user, make_service, session
):
    from registry.access.models import Clinic

    user, token = make_user("clinician")
    service = make_service(clinic=session.get(Clinic, user.clinic_id))
    from tests.access.conftest import new_slot

    slot = new_slot(session, service)
    code = book(client, slot.id).json["code"]
    listed = client.get(f"/api/v1/clinics/{user.clinic_id}/bookings", headers=bearer(token))
    assert listed.status_code == 200 and [b["status"] for b in listed.json] == ["active"]
    assert "code" not in listed.json[0]
    url = f"/api/v1/clinics/{user.clinic_id}/bookings/check-in"
    answer = client.post(url, headers=bearer(token), json={"code": code})
    assert answer.status_code == 200, answer.json
    assert answer.json["booking"]["status"] == "checked_in"
    assert answer.json["registration"] == {
        "mode": "anonymous",
        "method": "POST",
        "href": "/api/v1/patients",
    }
    assert client.post(url, headers=bearer(token), json={"code": code}).status_code == 409
    looked = client.post("/api/v1/public/bookings/lookup", json={"code": code})
    assert looked.json["status"] == "checked_in"


def test_another_clinic_cannot_check_in_or_list(client, make_user, make_slot):
    code = book(client, make_slot().id).json["code"]
    user, token = make_user("clinician")
    url = f"/api/v1/clinics/{user.clinic_id}/bookings/check-in"
    assert client.post(url, headers=bearer(token), json={"code": code}).status_code == 404
    slot = make_slot()
    other = slot.service.clinic_id
    assert client.get(f"/api/v1/clinics/{other}/bookings", headers=bearer(token)).status_code == 404
    assert (
        client.post(
            f"/api/v1/clinics/{other}/bookings/check-in", headers=bearer(token), json={"code": code}
        ).status_code
        == 404
    )


@pytest.mark.parametrize("role, status", [("analyst", 403), ("admin", 403), (None, 401)])
def test_check_in_needs_clinic_staff(client, make_user, make_clinic, role, status):
    clinic = make_clinic()
    headers = bearer(make_user(role)[1]) if role else {}
    answer = client.post(
        f"/api/v1/clinics/{clinic.id}/bookings/check-in",
        headers=headers,
        json={"code": new_code(BOOKING_CODE)},
    )
    assert answer.status_code == status


def test_codes_never_reach_the_audit_log(client, make_slot):
    code = book(client, make_slot().id).json["code"]
    client.post("/api/v1/public/bookings/cancel", json={"code": code})
    rows = db.session.execute(select(AuditEntry)).scalars().all()
    compact = code.replace("-", "")
    for row in rows:
        assert compact not in str(row.object_id) and code not in str(row.object_id)


def test_a_booking_reads_its_slot_once_and_answers_from_what_it_wrote(app, client, make_slot):
    slot_id = make_slot().id
    payload = solved(client)  # the challenge is fetched outside the counted request
    as_public()
    answer = []
    counted = _statements(
        app,
        lambda: answer.append(
            client.post("/api/v1/public/bookings", json={"slot_id": slot_id, "altcha": payload})
        ),
    )
    assert answer[0].status_code == 201, answer[0].json
    assert answer[0].json["slot"]["id"] == slot_id
    seen = [kind for kind in counted if kind not in ("SAVEPOINT", "RELEASE")]  # the test's commit
    # One SELECT of the slot with its service, the client cap, then the writes and the audit
    # entry; nothing is read back after the commit to build the answer.
    on_postgresql = db.engine.dialect.name == "postgresql"
    client_lock = 1 if on_postgresql else 0  # pg_advisory_xact_lock
    assert seen.count("SELECT") == 3 + client_lock, seen  # slot, client cap, audit head
    # The audit entry is the last statement; PostgreSQL carries the head's update in its WITH.
    assert seen[-1] == ("WITH" if on_postgresql else "INSERT"), seen


def test_the_client_cap_finds_one_clients_bookings_by_index(app, session):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans from statistics; the pair index serves it the same way")
    plan = session.execute(
        text(
            "EXPLAIN QUERY PLAN SELECT count(id) FROM bookings "
            "WHERE client_key = :key AND status = 'active'"
        ),
        {"key": "k"},
    ).all()
    # Not the status index, which would read every active booking in the country.
    assert "ix_bookings_client_key_status" in plan[0][-1], plan


def test_the_slot_lookup_does_not_wait_for_the_write_lock(fresh_app):
    if PG_URL:
        pytest.skip("SQLite's writer queue")
    from concurrent.futures import ThreadPoolExecutor

    from registry.sqlite_writers import writer_queue

    client = fresh_app.test_client()
    payload = solved(client)
    with fresh_app.app_context():
        queue = writer_queue(db.engine.url.database)
    queue.acquire(5)  # another writer holds the lock for as long as this test likes
    try:
        with ThreadPoolExecutor(1) as pool:
            body = {"slot_id": 999_999, "altcha": payload}
            answer = pool.submit(client.post, "/api/v1/public/bookings", json=body)
            # No such slot: the answer comes from the lookup alone, without queueing behind
            # the writer (before, it waited for the lock, up to 30 s).
            assert answer.result(timeout=5).status_code == 404
    finally:
        queue.release()
