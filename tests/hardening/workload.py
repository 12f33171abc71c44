"""A realistic write mix against a running stack, and the checks that no acknowledged write is lost.

Every request carries its own X-Request-ID; the audit log stores it, so an acknowledged (2xx)
write can be traced to its audit entry and from there to its row.
"""

import http.client
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text

from registry.episodes.examples import ADMISSION_EXAMPLE

# Settings that let a load test book and fetch challenges without tripping the abuse limits.
LOAD_SETTINGS = {
    "REGISTRY_ALTCHA_MAX_NUMBER": "10",
    "REGISTRY_BOOKINGS_PER_CLIENT": "100000000",
    "REGISTRY_CHALLENGE_LIMIT": "100000000 per minute",
    "REGISTRY_BOOKING_LIMIT": "100000000 per minute",
    "REGISTRY_PUBLIC_READ_LIMIT": "100000000 per minute",
}
# The audit action each kind of acknowledged write must have left.
AUDITED_AS = {
    "register": "patient.register",
    "event": "episode.event",
    "book": "booking.create",
    "open": "episode.open",
}


class Cut(Exception):
    """The connection broke before an answer: the write is not acknowledged."""


@dataclass
class Answer:
    """One HTTP answer."""

    status: int
    body: dict | list | None
    content_type: str
    request_id: str
    seconds: float


def call(base: str, method: str, path: str, token: str = "", body=None, timeout=15) -> Answer:
    """Send one JSON request with a fresh request id; raise Cut when no answer came."""
    parts = urlsplit(base)
    request_id = uuid.uuid4().hex
    headers = {"X-Request-ID": request_id, "Connection": "close"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    start = time.perf_counter()
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise Cut(type(exc).__name__) from exc
    finally:
        connection.close()
    content_type = response.getheader("Content-Type", "")
    parsed = json.loads(raw) if raw and "json" in content_type else None
    return Answer(response.status, parsed, content_type, request_id, time.perf_counter() - start)


@dataclass(frozen=True)
class Ack:
    """An acknowledged write: its kind, request id and the id its answer named."""

    kind: str
    request_id: str
    ref: str


@dataclass
class Tally:
    """What a load run saw, shared by its threads."""

    acks: list[Ack] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    cut: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, kind: str, answer: Answer, ref: str | None) -> None:
        """Count an answer; remember it as acknowledged when it was a 2xx write."""
        with self.lock:
            self.statuses[kind, answer.status] += 1
            self.latencies.setdefault(kind, []).append(answer.seconds)
            if 200 <= answer.status < 300 and ref is not None:
                self.acks.append(Ack(kind, answer.request_id, ref))

    def note_cut(self) -> None:
        """Count a request whose connection broke."""
        with self.lock:
            self.cut += 1

    def server_errors(self) -> int:
        """Return the number of 5xx answers."""
        return sum(n for (_, status), n in self.statuses.items() if status >= 500)


def users_of(seeded: dict) -> dict[str, dict]:
    """Return the demo's clinician, clinic admin (same clinic) and analyst."""
    clinician = next(u for u in seeded["users"] if u["roles"] == ["clinician"])
    manager = next(
        u
        for u in seeded["users"]
        if u["roles"] == ["clinic_admin"] and u["clinic_id"] == clinician["clinic_id"]
    )
    analyst = next(u for u in seeded["users"] if u["roles"] == ["analyst"])
    return {"clinician": clinician, "manager": manager, "analyst": analyst}


def make_slots(
    base: str, manager: dict, count: int, capacity: int, start_in_days: int = 15
) -> list[int]:
    """Create `count` hourly slots of `capacity` places at the manager's clinic, days ahead.

    Past the demo's two weeks of slots (09:00, 11:00 and 14:30 at the clinic): on hours that
    reach them, a new slot would clash (409) depending on the time of day the test runs.
    """
    clinic = manager["clinic_id"]
    services = call(base, "GET", f"/api/v1/clinics/{clinic}/services", manager["token"]).body
    start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0)
    start += timedelta(days=start_in_days)
    ids = []
    for i in range(count):
        answer = call(
            base,
            "POST",
            f"/api/v1/clinics/{clinic}/slots",
            manager["token"],
            {
                "service_id": services[0]["id"],
                "capacity": capacity,
                "starts_at": (start + timedelta(hours=i)).isoformat(),
            },
        )
        assert answer.status == 201, answer.body
        ids.append(answer.body[0]["id"])
    return ids


class Mix:
    """Registrations, episode events, bookings and statistics queries, as a clinic day has."""

    def __init__(self, bases: list[str], users: dict, slots: list[int], tally: Tally):
        self.bases, self.users, self.slots, self.tally = bases, users, slots, tally
        self.episodes: list[str] = []
        self._lock = threading.Lock()

    def base(self) -> str:
        """Pick an instance, as a load balancer would."""
        return random.choice(self.bases)

    def register(self) -> None:
        """Register an anonymous patient and, every other time, open an episode for them."""
        token = self.users["clinician"]["token"]
        answer = call(self.base(), "POST", "/api/v1/patients", token, {"mode": "anonymous"})
        pseudonym = answer.body.get("pseudonym") if answer.status == 201 else None
        self.tally.note("register", answer, pseudonym)
        if pseudonym and (len(self.episodes) < 5 or random.random() < 0.5):
            self.open(pseudonym)

    def open(self, pseudonym: str) -> None:
        """Open a psychosocial episode."""
        body = {
            "pseudonym": pseudonym,
            "protocol": "psychosocial_outpatient",
            "diagnosis": "F11.2",
            "admitted_on": date.today().isoformat(),
            "admission": ADMISSION_EXAMPLE,
        }
        token = self.users["clinician"]["token"]
        answer = call(self.base(), "POST", "/api/v1/episodes", token, body)
        ref = answer.body.get("id") if answer.status == 201 else None
        self.tally.note("open", answer, ref)
        if ref:
            with self._lock:
                self.episodes.append(ref)

    def event(self) -> None:
        """Record a visit in an open episode."""
        if not self.episodes:
            return self.register()
        ref = random.choice(self.episodes)
        token = self.users["clinician"]["token"]
        answer = call(
            self.base(), "POST", f"/api/v1/episodes/{ref}/events", token, {"type": "visit"}
        )
        self.tally.note("event", answer, str(answer.body["id"]) if answer.status == 201 else None)

    def book(self) -> None:
        """Fetch and solve a challenge, then book a place."""
        from registry.access.pow import solve

        base = self.base()
        challenge = call(base, "GET", "/api/v1/public/challenge")
        self.tally.note("challenge", challenge, None)
        if challenge.status != 200:
            return None
        body = {"slot_id": random.choice(self.slots), "altcha": solve(challenge.body)}
        answer = call(base, "POST", "/api/v1/public/bookings", body=body)
        # The answer names no booking id; the audit entry of its request id does.
        self.tally.note("book", answer, answer.request_id if answer.status == 201 else None)

    def stats(self) -> None:
        """Ask for a protected table."""
        body = {"year": date.today().year, "dimensions": ["sex", "drug_group"]}
        answer = call(
            self.base(), "POST", "/api/v1/stats/query", self.users["analyst"]["token"], body
        )
        self.tally.note("stats", answer, None)

    def one(self, weights: dict[str, int]) -> None:
        """Run one request of the mix; a cut connection is counted, never retried."""
        kind = random.choices(list(weights), list(weights.values()))[0]
        try:
            getattr(self, kind)()
        except Cut:
            self.tally.note_cut()


WRITE_MIX = {"register": 3, "event": 4, "book": 3}
SOAK_MIX = {"register": 3, "event": 4, "book": 2, "stats": 1}


def hammer(mix: Mix, weights: dict[str, int], stop: threading.Event, threads: int) -> None:
    """Run the mix from several threads as fast as they go until `stop` is set."""

    def loop() -> None:
        while not stop.is_set():
            mix.one(weights)

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    stop.wait()
    for worker in workers:
        worker.join(timeout=60)


def _count(connection, sql: str, **params) -> int:
    return connection.execute(text(sql), params).scalar_one()


def check_consistency(database_url: str, acks: list[Ack]) -> list[str]:
    """Return every way the database disagrees with the acknowledged writes (empty: none)."""
    problems: list[str] = []
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            problems += _acks_present(connection, acks)
            problems += _nothing_half_written(connection)
    finally:
        engine.dispose()
    return problems


def _acks_present(connection, acks: list[Ack]) -> list[str]:
    """Check each acknowledged write left its audit entry and its row."""
    problems = []
    for ack in acks:
        entry = connection.execute(
            text(
                "SELECT action, object_id FROM audit_entries"
                " WHERE request_id = :r AND outcome = 'ok'"
            ),
            {"r": ack.request_id},
        ).all()
        actions = {row.action: row.object_id for row in entry}
        if AUDITED_AS[ack.kind] not in actions:
            problems.append(f"{ack.kind} {ack.request_id}: acknowledged but not audited")
            continue
        object_id = actions[AUDITED_AS[ack.kind]]
        sql, values = _row_of(ack, object_id)
        if _count(connection, sql, **values) != 1:
            problems.append(f"{ack.kind} {ack.request_id}: acknowledged but its row is missing")
    return problems


def _row_of(ack: Ack, object_id: str) -> tuple[str, dict]:
    """Return the query counting the row an acknowledged write made, and its parameters."""
    if ack.kind == "register":
        return "SELECT count(*) FROM pseudonyms WHERE value = :v", {"v": ack.ref}
    if ack.kind == "open":
        return "SELECT count(*) FROM episodes WHERE ref = :v", {"v": ack.ref}
    if ack.kind == "event":  # the audit names the episode; the answer, the event's number in it
        return (
            "SELECT count(*) FROM episode_events JOIN episodes ON episodes.id = episode_id"
            " WHERE episodes.ref = :episode AND episode_events.n = :v",
            {"episode": object_id, "v": int(ack.ref)},
        )
    return "SELECT count(*) FROM bookings WHERE id = :v", {"v": int(object_id)}


def _nothing_half_written(connection) -> list[str]:
    """Check rows and audit entries match one to one, and no slot is overbooked."""
    audited = dict(
        connection.execute(
            text("SELECT action, count(*) FROM audit_entries WHERE outcome = 'ok' GROUP BY action")
        ).all()
    )
    pairs = {
        "persons": (
            _count(connection, "SELECT count(*) FROM persons"),
            audited.get("patient.register", 0),
        ),
        "episodes": (
            _count(connection, "SELECT count(*) FROM episodes"),
            audited.get("episode.open", 0),
        ),
        "episode events": (
            _count(connection, "SELECT count(*) FROM episode_events"),
            audited.get("episode.event", 0) + audited.get("episode.correct", 0),
        ),
        "bookings": (
            _count(connection, "SELECT count(*) FROM bookings"),
            audited.get("booking.create", 0),
        ),
    }
    problems = [
        f"{name}: {rows} rows but {entries} audit entries"
        for name, (rows, entries) in pairs.items()
        if rows != entries
    ]
    over = _count(
        connection,
        "SELECT count(*) FROM slots s WHERE s.booked > s.capacity OR s.booked != "
        "(SELECT count(*) FROM bookings b WHERE b.slot_id = s.id AND b.status = 'active')",
    )
    if over:
        problems.append(f"{over} slots overbooked or with a wrong booked count")
    return problems
