"""What a clinic sees of a person, or of the system, carries nothing of another clinic's activity.

DESIGN.md §2.5: beyond the two care flags, no timestamp, id, counter or ordering is shared
between two clinics' views of one person, and no id a clinic sees counts other clinics' work.
"""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from registry import clock
from tests.access.conftest import book, new_service, new_slot
from tests.conftest import bearer
from tests.episodes.conftest import admission
from tests.patients.conftest import new_iin

FLAGS = ("ost_active_elsewhere", "treated_before")
# Headers that every answer carries with values of the moment, never of a person.
_TRANSPORT_HEADERS = {"date", "content-length"}
FIRST_DAY = date(2026, 1, 5)


def leaves(value, path: str = ""):
    """Yield (path, scalar) for every leaf of a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def freeze(day: date, hour: int, zone: str) -> None:
    """Freeze the clock at a local hour of a day in a time zone."""
    clock.freeze(datetime.combine(day, time(hour), ZoneInfo(zone)).astimezone(UTC))


class Staff:
    """A clinic, its staff, and every answer they were given, by the person it was about."""

    def __init__(self, client, session, make_clinic, make_user, timezone="Asia/Almaty"):
        self.client, self.timezone = client, timezone
        self.clinic = make_clinic()
        self.clinic.timezone = timezone
        session.flush()
        self.make_user = make_user
        self.clinician = bearer(make_user("clinician", clinic=self.clinic)[1])
        self.admin = bearer(make_user("clinic_admin", clinic=self.clinic)[1])
        self.seen: dict[str, list] = defaultdict(list)

    def new_clinician(self) -> None:
        """Act from now on as a clinician whose account was just made."""
        self.clinician = bearer(self.make_user("clinician", clinic=self.clinic)[1])

    def call(self, about: str, method: str, path: str, body=None, status=(200, 201), admin=False):
        """Send a request as this clinic's staff; keep the answer and its headers."""
        headers = self.admin if admin else self.clinician
        answer = self.client.open(path, method=method, headers=headers, json=body)
        assert answer.status_code in status, (path, answer.status_code, answer.json)
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _TRANSPORT_HEADERS}
        self.seen[about] += [answer.json, kept]
        return answer.json

    def register(self, about: str, identity: dict | None) -> dict:
        """Register a person, anonymously without an identity."""
        body = {"mode": "linked", "identity": identity} if identity else {"mode": "anonymous"}
        return self.call(about, "POST", "/api/v1/patients", body)

    def open(self, about: str, pseudonym: str, protocol: str, day: date, status=(201,)):
        """Open an episode admitted on a day (or expect it refused)."""
        body = {
            "pseudonym": pseudonym,
            "protocol": protocol,
            "diagnosis": "F11.2",
            "admitted_on": day.isoformat(),
            "admission": admission(),
        }
        return self.call(about, "POST", "/api/v1/episodes", body, status=status)

    def event(self, about: str, ref: str, body: dict):
        """Record an event of an episode."""
        return self.call(about, "POST", f"/api/v1/episodes/{ref}/events", body, status=(201,))

    def read_all(self, about: str, pseudonym: str, refs: list[str]) -> None:
        """Read everything this clinic can read about a person."""
        self.call(about, "GET", f"/api/v1/patients/{pseudonym}")
        self.call(about, "GET", f"/api/v1/episodes?pseudonym={pseudonym}")
        for ref in refs:
            self.call(about, "GET", f"/api/v1/episodes/{ref}")
            self.call(about, "GET", f"/api/v1/episodes/{ref}/compliance")

    def merge_and_split(self, about: str, pseudonym: str) -> None:
        """Merge a new anonymous record into the person, then undo it."""
        extra = self.register(about, None)["pseudonym"]
        body = {"survivor": pseudonym, "merged": extra}
        merged = self.call(about, "POST", "/api/v1/patients/merges", body)
        self.call(about, "POST", f"/api/v1/patients/merges/{merged['id']}/split")


def _values(answers: list) -> set:
    """Return the leaf values of answers but booleans and nulls.

    One bit pairs no one; the one bit besides the two flags that could tell of another clinic's
    work, registration's `existing`, has a test of its own below.
    """
    return {
        value
        for answer in answers
        for _, value in leaves(answer)
        if value is not None and not isinstance(value, bool)
    }


@pytest.fixture()
def shipped_protocols(session):
    """Install the shipped protocols in this test's transaction."""
    from registry.protocols.lifecycle import install_shipped_protocols

    install_shipped_protocols()
    session.flush()


@pytest.fixture()
def released_clock():
    """Release the clock the test froze."""
    yield
    clock.freeze(None)


def test_two_clinics_views_of_one_person_share_nothing_but_the_flags(
    client, session, make_clinic, make_user, shipped_protocols, released_clock
):
    a = Staff(client, session, make_clinic, make_user, "Asia/Almaty")
    b = Staff(client, session, make_clinic, make_user, "Europe/Moscow")
    persons = [{"iin": new_iin()}, {"iin": new_iin()}, None]  # the last one: a care card
    for i, identity in enumerate(persons):
        about, first = f"person {i}", FIRST_DAY + timedelta(days=4 * i)
        # Clinic A: registration, a methadone episode with doses, a correction, reads, a merge.
        freeze(first, 10, a.timezone)
        registered = a.register(about, identity)
        at_a = registered["pseudonym"]
        methadone = a.open(about, at_a, "methadone_oat", first)["id"]
        dose = {"medication": "methadone", "amount": 30, "unit": "mg"}
        wrong = a.event(about, methadone, {"type": "dose", "payload": dose})
        a.event(about, methadone, {"type": "review"})
        fixed = {"type": "dose", "payload": {**dose, "amount": 25}, "supersedes": wrong["id"]}
        a.event(about, methadone, fixed)
        a.read_all(about, at_a, [methadone])
        a.merge_and_split(about, at_a)
        # Clinic B, the next day: the same person, refused OAT, then psychosocial care.
        freeze(first + timedelta(days=1), 15, b.timezone)
        if identity is None:
            card = {"care_card": registered["care_card"]}
            at_b = b.call(about, "POST", "/api/v1/patients/resolve", card)["pseudonym"]
        else:
            at_b = b.register(about, identity)["pseudonym"]
        b.open(about, at_b, "methadone_oat", first + timedelta(days=1), status=(409,))
        talk = b.open(about, at_b, "psychosocial_outpatient", first + timedelta(days=1))["id"]
        b.event(about, talk, {"type": "visit"})
        b.read_all(about, at_b, [talk])
        b.merge_and_split(about, at_b)
        # Clinic A discharges; then clinic B may start OAT.
        freeze(first + timedelta(days=2), 11, a.timezone)
        a.call(about, "POST", f"/api/v1/episodes/{methadone}/discharge", {"reason": "dropped_out"})
        a.read_all(about, at_a, [methadone])
        freeze(first + timedelta(days=3), 9, b.timezone)
        oat = b.open(about, at_b, "buprenorphine_oat", first + timedelta(days=3))["id"]
        b.event(about, oat, {"type": "visit"})
        b.read_all(about, at_b, [talk, oat])

    views = [a.seen[f"person {i}"] for i in range(3)] + [b.seen[f"person {i}"] for i in range(3)]
    # Values in every view of every person at both clinics name no one: reference data (codes,
    # protocol keys, rule ids and messages), what both clinics typed alike (doses, TDI items) and
    # what the same work gives every person (event numbers, lengths of stay). Each person's days
    # differ, and the two clinics never act on the same day, so no date is shared by chance.
    everywhere = set.intersection(*(_values(view) for view in views))
    for i in range(3):
        shared = _values(a.seen[f"person {i}"]) & _values(b.seen[f"person {i}"])
        assert shared - everywhere == set(), f"person {i}"


def _integers(answer) -> dict[str, int]:
    """Return the integer leaves of an answer by path."""
    return {
        path: value
        for path, value in leaves(answer)
        if isinstance(value, int) and not isinstance(value, bool)
    }


class Activity:
    """A clinic's everyday work: patients, an episode's events, a merge, a booking checked in."""

    def __init__(self, staff: Staff, client, session):
        self.staff, self.client = staff, client
        patient = staff.register("setup", None)["pseudonym"]
        self.ref = staff.open("setup", patient, "psychosocial_outpatient", clock.now().date())["id"]
        self.slot = new_slot(session, new_service(session, staff.clinic), capacity=50).id

    def once(self) -> dict[str, dict]:
        """Do each kind of work once, by a clinician whose account is new; return the answers."""
        staff = self.staff
        staff.new_clinician()
        answers = {"event": staff.event("work", self.ref, {"type": "visit"})}
        survivor = staff.register("work", None)["pseudonym"]
        opened = staff.open("work", survivor, "psychosocial_outpatient", clock.now().date())
        answers["first event"] = staff.event("work", opened["id"], {"type": "visit"})
        merged = staff.register("work", None)["pseudonym"]
        body = {"survivor": survivor, "merged": merged}
        answers["merge"] = staff.call("work", "POST", "/api/v1/patients/merges", body)
        code = book(self.client, self.slot).json["code"]
        clinic = f"/api/v1/clinics/{staff.clinic.id}"
        answers["check-in"] = staff.call(
            "work", "POST", f"{clinic}/bookings/check-in", {"code": code}, admin=True
        )
        answers["bookings"] = staff.call("work", "GET", f"{clinic}/bookings", admin=True)
        answers["episode"] = staff.call("work", "GET", f"/api/v1/episodes/{self.ref}")
        return answers


@pytest.fixture()
def cheap_bookings(app, monkeypatch):
    """Keep the proof of work cheap and the public limits out of the way."""
    monkeypatch.setitem(app.config, "ALTCHA_MAX_NUMBER", 50)
    for name in ("PUBLIC_READ_LIMIT", "CHALLENGE_LIMIT", "BOOKING_LIMIT", "BOOKING_LOOKUP_LIMIT"):
        monkeypatch.setitem(app.config, name, "100000 per second")
    monkeypatch.setitem(app.config, "BOOKINGS_PER_CLIENT", 1000)


def test_ids_a_clinic_sees_do_not_count_other_clinics_activity(
    client, session, make_clinic, make_user, shipped_protocols, cheap_bookings, released_clock
):
    freeze(FIRST_DAY, 10, "Asia/Almaty")
    steps = {}
    for others in (0, 3):
        own = Activity(Staff(client, session, make_clinic, make_user), client, session)
        other = Activity(Staff(client, session, make_clinic, make_user), client, session)
        before = own.once()
        for _ in range(others):
            other.once()
        after = own.once()
        # How each number moved between two rounds of the same work at this clinic.
        steps[others] = {
            (kind, path): value - _integers(before[kind]).get(path, value)
            for kind in after
            for path, value in _integers(after[kind]).items()
        }
    moved = {
        key: (steps[0][key], steps[3][key]) for key in steps[0] if steps[0][key] != steps[3][key]
    }
    assert moved == {}


def test_events_are_numbered_within_their_episode(
    client, session, make_clinic, make_user, shipped_protocols, released_clock
):
    freeze(FIRST_DAY, 10, "Asia/Almaty")
    own = Activity(Staff(client, session, make_clinic, make_user), client, session)
    other = Activity(Staff(client, session, make_clinic, make_user), client, session)
    visit = {"type": "visit"}
    first = own.staff.event("a", own.ref, visit)
    before = own.staff.call("a", "GET", f"/api/v1/episodes/{own.ref}")
    for _ in range(3):
        other.staff.event("b", other.ref, visit)
    assert own.staff.call("a", "GET", f"/api/v1/episodes/{own.ref}") == before
    second = own.staff.event("a", own.ref, visit)
    fixed = own.staff.event("a", own.ref, {**visit, "supersedes": second["id"]})
    assert [first["id"], second["id"], fixed["id"]] == [1, 2, 3]
    assert fixed["supersedes"] == 2
    timeline = own.staff.call("a", "GET", f"/api/v1/episodes/{own.ref}")["timeline"]
    assert [(e["id"], e["superseded_by"]) for e in timeline] == [(1, None), (2, 3), (3, None)]


def test_a_patients_created_date_is_the_clinics_own_day(
    client, session, make_clinic, make_user, released_clock
):
    almaty = Staff(client, session, make_clinic, make_user, "Asia/Almaty")
    moscow = Staff(client, session, make_clinic, make_user, "Europe/Moscow")
    iin = {"iin": new_iin()}
    # 20:00 UTC on 4 March: already 5 March in Almaty (UTC+5), still 4 March in Moscow (UTC+3).
    clock.freeze(datetime(2026, 3, 4, 20, tzinfo=UTC))
    at_almaty = almaty.register("p", iin)["pseudonym"]
    at_moscow = moscow.register("p", iin)["pseudonym"]
    clock.freeze(datetime(2026, 3, 9, 12, tzinfo=UTC))
    at_moscow_later = moscow.register("q", {"iin": new_iin()})["pseudonym"]
    seen = {
        "almaty": almaty.call("p", "GET", f"/api/v1/patients/{at_almaty}"),
        "moscow": moscow.call("p", "GET", f"/api/v1/patients/{at_moscow}"),
        "later": moscow.call("q", "GET", f"/api/v1/patients/{at_moscow_later}"),
    }
    assert {name: answer.get("created_on") for name, answer in seen.items()} == {
        "almaty": "2026-03-05",
        "moscow": "2026-03-04",
        "later": "2026-03-09",
    }
    assert all("created_at" not in answer for answer in seen.values())


def test_a_person_known_only_elsewhere_is_new_to_this_clinic(
    client, session, make_clinic, make_user
):
    elsewhere = Staff(client, session, make_clinic, make_user)
    here = Staff(client, session, make_clinic, make_user)
    known, card = {"iin": new_iin()}, elsewhere.register("p", None)["care_card"]
    elsewhere.register("p", known)

    def answer(path: str, body: dict) -> tuple:
        reply = client.post(path, headers=here.clinician, json=body)
        return reply.status_code, {k: v for k, v in reply.json.items() if k != "pseudonym"}

    linked = "/api/v1/patients", {"mode": "linked", "identity": known}
    never_seen = "/api/v1/patients", {"mode": "linked", "identity": {"iin": new_iin()}}
    # Registered elsewhere or nowhere: the same answer (without episodes, both flags are false).
    assert (
        answer(*linked)
        == answer(*never_seen)
        == (201, {**dict.fromkeys(FLAGS, False), "existing": False})
    )
    assert answer(*linked) == (200, {**dict.fromkeys(FLAGS, False), "existing": True})
    resolve = "/api/v1/patients/resolve", {"care_card": card}
    assert [answer(*resolve)[1]["existing"] for _ in range(2)] == [False, True]
