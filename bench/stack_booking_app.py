"""The raw booking plus only the libraries a booking endpoint must use, each at its leanest.

bench/raw_booking_app.py does a booking's work with no framework. This app does the same work
(its statements, the registry's verifier, hash chain and limits store) through the three
libraries that no booking endpoint of ours may do without, each used the cheapest way it
allows, and nothing else: no flask-smorest or webargs, no session, no services, no hooks.
- flask-limiter (the issue names it): one shared limit on the view, bound as the registry
  binds it (the swept memory store, its hooks only for limited views), on the same key;
- marshmallow (the stack): the registry's own request and answer schemas, loaded and dumped;
- SQLAlchemy (the stack): a pooled connection per request, whose transaction begins and
  commits through SQLAlchemy (so the registry's SQLite writer queue runs), with statements
  sent to its driver directly, as registry.driver_sql does.

STACK_LAYERS (comma-separated; default all three; "none" for none) picks the layers, so that
each one's cost shows by switching it alone on or off (bench/ceiling.py booking --stack).
"""

import os
from datetime import UTC, datetime
from types import SimpleNamespace

import orjson
from flask import request

from bench import raw_driver
from bench.raw_booking_app import _LIMITS, _client, _config, _limiter, take_booking
from registry import RegistryFlask
from registry.api.public.schemas import BookingCreatedSchema, BookingRequestSchema

LAYERS = set(os.environ.get("STACK_LAYERS", "limiter,schemas,sqlalchemy").split(","))
app = RegistryFlask(__name__)  # the registry's own Flask: orjson answers
app.json.sort_keys = False
_request_schema, _answer_schema = BookingRequestSchema(), BookingCreatedSchema()
# The raw app's lookup, but of every column the answer's schema shows.
_SLOT = """
SELECT s.id, s.service_id, s.starts_at, s.ends_at, s.capacity, s.booked,
       v.id, v.name, v.care_type, v.medications, v.languages, v.opening_hours, v.anonymous,
       v.address, v.phone, c.id, c.name, c.timezone, r.code, r.name_en, r.name_ru, r.name_kk
FROM slots s JOIN services v ON v.id = s.service_id JOIN clinics c ON c.id = v.clinic_id
JOIN regions r ON r.code = c.region_code
WHERE s.id = %s AND v.published
"""

if "sqlalchemy" in LAYERS:
    raw_driver.use_sqlalchemy(app)

if "limiter" in LAYERS:
    from flask_limiter import Limiter

    # As the registry binds it: the memory store, with its headers.
    _flask_limiter = Limiter(_client, app=app, storage_uri="memory://", headers_enabled=True)
    _shared = _flask_limiter.shared_limit(_config["BOOKING_LIMIT"], scope="booking")

    def _limit(view):
        limited = _shared(view)
        limited.rate_limited = True  # see registry.api.ratelimit.has_no_limits
        return limited

else:

    def _limit(view):
        def limited():
            if not all(_limiter.hit(limit, "booking", _client()) for limit in _LIMITS):
                return {"title": "Too many requests"}, 429
            return view()

        return limited


def _moment(value) -> datetime:
    """Return a stored time as an aware UTC datetime (SQLite gives text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _json(value):
    return orjson.loads(value) if isinstance(value, str) else value


def _tags(value: str) -> list[str]:
    return [part for part in (value or "").split(",") if part]  # as TagList stores them


def _slot(row, booked: int) -> SimpleNamespace:
    """Return the slot, service, clinic and region as the answer's schema reads them."""
    region = SimpleNamespace(code=row[18], name_en=row[19], name_ru=row[20], name_kk=row[21])
    clinic = SimpleNamespace(id=row[15], name=row[16], timezone=row[17], region=region)
    service = SimpleNamespace(
        id=row[6], name=row[7], care_type=row[8], medications=_tags(row[9]),
        languages=_tags(row[10]), opening_hours=_json(row[11]), anonymous=bool(row[12]),
        address=row[13], phone=row[14], clinic=clinic,
    )  # fmt: skip
    return SimpleNamespace(
        id=row[0], service_id=row[1], starts_at=_moment(row[2]), ends_at=_moment(row[3]),
        capacity=row[4], booked=booked, service=service,
    )  # fmt: skip


@app.post("/api/v1/public/bookings")
@_limit
def book():
    """Book a place through the chosen libraries and nothing more."""
    body = request.get_json()
    if "schemas" in LAYERS:
        body = _request_schema.load(body)
    code, row, booked = take_booking(body, _client(), datetime.now(UTC), _SLOT)
    answer = SimpleNamespace(code=code, status="active", slot=_slot(row, booked))
    if "schemas" in LAYERS:
        return _answer_schema.dump(answer), 201
    return {"code": code, "status": "active", "slot": {"id": row[0], "booked": booked}}, 201
