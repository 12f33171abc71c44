"""Concurrent writes to one episode, and concurrent OAT openings for one person."""

import threading

import pytest
from sqlalchemy import select

from registry.access.models import Clinic
from registry.auth.tokens import issue_token
from registry.auth.users import create_user
from registry.episodes.models import Episode, EpisodeEvent
from registry.extensions import db
from registry.patients.models import OstEnrolment
from registry.protocols.lifecycle import install_shipped_protocols
from tests.conftest import bearer
from tests.crypto.iin_helpers import make_iin
from tests.episodes.conftest import TODAY, admission

THREADS = 10


def _together(calls) -> list:
    """Run the calls at once in threads and return their responses."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        answers[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


def _clinicians(app, count: int) -> list[dict]:
    with app.app_context():
        install_shipped_protocols()
        headers = []
        for n in range(count):
            clinic = Clinic(name=f"Clinic {n}", region_code="750000000", centre_type="outpatient")
            db.session.add(clinic)
            db.session.flush()
            user = create_user(f"clinician-{n}", ["clinician"], clinic.id)
            headers.append(bearer(issue_token(user, 1)[1]))
        db.session.commit()
    return headers


def _open(client, headers, pseudonym, protocol="methadone_oat"):
    body = {
        "pseudonym": pseudonym,
        "protocol": protocol,
        "diagnosis": "F11.2",
        "admitted_on": TODAY.isoformat(),
        "admission": admission(),
    }
    return client.post("/api/v1/episodes", headers=headers, json=body)


def test_concurrent_doses_on_one_episode_stay_within_the_daily_maximum(fresh_app):
    (headers,) = _clinicians(fresh_app, 1)
    client = fresh_app.test_client()
    pseudonym = client.post("/api/v1/patients", headers=headers, json={"mode": "anonymous"}).json[
        "pseudonym"
    ]
    opened = _open(client, headers, pseudonym)
    assert opened.status_code == 201, opened.json
    url = f"/api/v1/episodes/{opened.json['id']}/events"
    body = {"type": "dose", "payload": {"medication": "methadone", "amount": 10, "unit": "mg"}}
    answers = _together(
        [lambda: fresh_app.test_client().post(url, headers=headers, json=body)] * THREADS
    )
    statuses = sorted(a.status_code for a in answers)
    # Induction allows 40 mg on the first day: exactly four 10 mg doses pass, the rest break
    # first_day_max.
    assert statuses == [201] * 4 + [422] * (THREADS - 4), [a.json for a in answers]
    refused = [a.json for a in answers if a.status_code == 422]
    assert {v["rule_id"] for r in refused for v in r["violations"]} == {
        "methadone.induction.first_day_max"
    }
    with fresh_app.app_context():
        amounts = db.session.execute(select(EpisodeEvent.payload)).scalars().all()
    assert sum(p["amount"] for p in amounts) == 40


def test_concurrent_oat_openings_at_two_clinics_admit_one(fresh_app):
    first, second = _clinicians(fresh_app, 2)
    client = fresh_app.test_client()
    iin = make_iin(TODAY.replace(year=1979), False, 77)
    pseudonyms = [
        client.post(
            "/api/v1/patients", headers=h, json={"mode": "linked", "identity": {"iin": iin}}
        ).json["pseudonym"]
        for h in (first, second)
    ]
    answers = _together(
        [
            lambda h=h, p=p: _open(fresh_app.test_client(), h, p)
            for h, p in zip((first, second), pseudonyms, strict=True)
        ]
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.json for a in answers]
    with fresh_app.app_context():
        assert db.session.execute(select(Episode.id)).all().__len__() == 1
        assert len(db.session.execute(select(OstEnrolment.id)).all()) == 1


def test_an_event_stored_between_the_check_and_the_write_is_checked_against(fresh_app, monkeypatch):
    from registry.episodes import services

    (headers,) = _clinicians(fresh_app, 1)
    client = fresh_app.test_client()
    pseudonym = client.post("/api/v1/patients", headers=headers, json={"mode": "anonymous"}).json[
        "pseudonym"
    ]
    url = f"/api/v1/episodes/{_open(client, headers, pseudonym).json['id']}/events"
    body = {"type": "dose", "payload": {"medication": "methadone", "amount": 10, "unit": "mg"}}
    for _ in range(3):  # 30 mg today; induction allows 40 on the first day
        assert client.post(url, headers=headers, json=body).status_code == 201
    unchanged_since = services._unchanged_since

    def another_dose_lands_first(plan):
        # The request checked its dose against 30 mg; another one is stored before it writes.
        monkeypatch.setattr(services, "_unchanged_since", unchanged_since)
        assert fresh_app.test_client().post(url, headers=headers, json=body).status_code == 201
        return unchanged_since(plan)

    monkeypatch.setattr(services, "_unchanged_since", another_dose_lands_first)
    late = client.post(url, headers=headers, json=body)
    assert late.status_code == 422, late.json
    assert {v["rule_id"] for v in late.json["violations"]} == {"methadone.induction.first_day_max"}
    with fresh_app.app_context():
        amounts = db.session.execute(select(EpisodeEvent.payload)).scalars().all()
    assert sum(p["amount"] for p in amounts) == 40


@pytest.mark.postgres  # SQLite runs one writing request at a time: no interleaving to test
def test_an_erasure_between_lookup_and_lock_opens_no_oat_episode(fresh_app, monkeypatch):
    from registry.episodes import services

    (headers,) = _clinicians(fresh_app, 1)
    with fresh_app.app_context():
        operator = bearer(issue_token(create_user("operator", ["admin"], None), 1)[1])
        db.session.commit()
    client = fresh_app.test_client()
    clinic_id = client.get("/api/v1/me", headers=headers).json["clinic_id"]
    body = {"mode": "anonymous"}
    pseudonym = client.post("/api/v1/patients", headers=headers, json=body).json["pseudonym"]
    lookup = services.person_for_clinic_pseudonym

    def erased_meanwhile(*args, **kwargs):
        # The opening found the person; the erasure commits before it takes the person's lock
        # (in a thread of its own: a request inside this one would share its session).
        person = lookup(*args, **kwargs)
        url = f"/api/v1/patients/{pseudonym}?clinic_id={clinic_id}"
        [erased] = _together([lambda: fresh_app.test_client().delete(url, headers=operator)])
        assert erased.status_code == 204
        return person

    monkeypatch.setattr(services, "person_for_clinic_pseudonym", erased_meanwhile)
    opened = _open(client, headers, pseudonym)
    assert opened.status_code == 404, opened.json
    with fresh_app.app_context():
        assert db.session.execute(select(Episode.id)).all() == []
        assert db.session.execute(select(OstEnrolment.id)).all() == []
