"""The bare Flask app plus the irreducible work of one anonymous booking, on the raw driver.

No schemas, no SQLAlchemy and no service layer: the client's rate-limit key (HMAC of the
day's key and its address) counted against the booking limits in the same memory store the
registry uses, the proof of work checked with the registry's own verifier, the slot looked up
before the write, and in one write transaction the client cap, the challenge spent, the place
taken, the booking inserted and the audit entry appended; the answer shows the slot.
"""

import hashlib
import hmac
import os
from datetime import UTC, datetime

from flask import Flask, request
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from bench.raw_driver import POSTGRES, audit, run, stored, write_transaction
from registry import load_config
from registry.access import pow
from registry.access.bookings import BOOKING_CODE, code_hash
from registry.api.ratelimit import daily_key
from registry.crypto.codes import new_code
from registry.crypto.keyring import load_keyring

app = Flask(__name__)
_config = load_config()
_ring = load_keyring(_config["KEYRING"], os.environ["REGISTRY_INSTANCE_PATH"])
_LIMITS = parse_many(_config["BOOKING_LIMIT"])
_limiter = FixedWindowRateLimiter(MemoryStorage())
_SLOT = """
SELECT s.id, s.starts_at, s.ends_at, s.capacity, s.booked, v.id, v.name, v.care_type,
       v.address, v.phone, c.id, c.name, c.timezone, r.code, r.name_en
FROM slots s JOIN services v ON v.id = s.service_id JOIN clinics c ON c.id = v.clinic_id
JOIN regions r ON r.code = c.region_code
WHERE s.id = %s AND v.published
"""
_CLIENT_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"
_ACTIVE_OF_CLIENT = "SELECT count(*) FROM bookings WHERE client_key = %s AND status = 'active'"
_SPEND = (
    "INSERT INTO spent_challenges (challenge, expires_at) VALUES (%s, %s)"
    " ON CONFLICT (challenge) DO NOTHING RETURNING challenge"
)
_TAKE_PLACE = (
    "UPDATE slots SET booked = booked + 1 WHERE id = %s AND booked < capacity"
    " AND cancelled_at IS NULL AND starts_at > %s RETURNING booked"
)
_INSERT_BOOKING = (
    "INSERT INTO bookings (slot_id, code_hash, key_version, status, client_key, created_at)"
    " VALUES (%s, %s, %s, 'active', %s, %s) RETURNING id"
)


def _client() -> str:
    """Return the client's rate-limit key from the address the trusted proxy gave."""
    address = request.headers["X-Forwarded-For"].split(",")[-1].strip().encode()
    secret = daily_key(_ring.primary("rate_limit").material, datetime.now(UTC).date())
    return hmac.new(secret, address, hashlib.sha256).hexdigest()[:32]


def take_booking(body: dict, client: str, now: datetime, slot_sql: str = _SLOT):
    """Do a booking's work; return its code, the slot's row and the places now booked."""
    solved = pow.verify(_ring.primary("altcha").material, body["altcha"], now)
    slot = run(slot_sql, (body["slot_id"],))[0]
    key = _ring.primary("booking_code")
    with write_transaction():
        if POSTGRES:
            run(_CLIENT_LOCK, (client,))
        if run(_ACTIVE_OF_CLIENT, (client,))[0][0] >= _config["BOOKINGS_PER_CLIENT"]:
            raise RuntimeError("the bench's clients hold one booking each")
        if not run(_SPEND, (solved.challenge, stored(solved.expires_at))):
            raise RuntimeError("the bench's challenges are spent once")
        booked = run(_TAKE_PLACE, (slot[0], stored(now)))[0][0]
        code = new_code(BOOKING_CODE)
        values = (slot[0], code_hash(key.material, code), key.version, client, stored(now))
        booking = run(_INSERT_BOOKING, values)[0][0]
        audit("booking.create", "booking", str(booking), (None, None), now)
    return code, slot, booked


@app.post("/api/v1/public/bookings")
def book():
    """Book a place with nothing but the limits store, the verifier and the driver."""
    body, client, now = request.get_json(), _client(), datetime.now(UTC)
    if not all(_limiter.hit(limit, "booking", client) for limit in _LIMITS):
        return {"title": "Too many requests"}, 429
    code, slot, booked = take_booking(body, client, now)
    return {
        "code": code,
        "status": "active",
        "slot": {
            "id": slot[0], "starts_at": str(slot[1]), "ends_at": str(slot[2]),
            "capacity": slot[3], "booked": booked,
            "service": {
                "id": slot[5], "name": slot[6], "care_type": slot[7], "address": slot[8],
                "phone": slot[9],
                "clinic": {"id": slot[10], "name": slot[11], "timezone": slot[12],
                           "region": {"code": slot[13], "name": slot[14]}},
            },
        },
    }, 201  # fmt: skip
