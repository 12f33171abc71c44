"""Concurrent registrations of one identity, and key rotation under a stream of registrations."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import distinct, func, select

from registry.extensions import db
from registry.patients import keys
from registry.patients.models import CareCard, LinkageToken, Person
from registry.patients.rotation import prune_all, rekey_all, remaining, rotate_keyring
from tests.patients.conftest import new_iin, seed_clinicians


def _post(app, headers, body):
    answer = app.test_client().post("/api/v1/patients", headers=headers, json=body)
    return answer.status_code, answer.json


def _register_all_at_once(app, headers_list, body):
    barrier = threading.Barrier(len(headers_list))

    def go(headers):
        barrier.wait()
        return _post(app, headers, body)

    with ThreadPoolExecutor(len(headers_list)) as pool:
        return list(pool.map(go, headers_list))


def test_concurrent_registrations_of_one_iin_make_one_person(own_app):
    clinicians = seed_clinicians(own_app, 6)
    body = {"mode": "linked", "identity": {"iin": new_iin()}}
    results = _register_all_at_once(own_app, clinicians, body)
    # Each clinic is answered as for a person new to it; the registry made one person.
    assert [(status, answer["existing"]) for status, answer in results] == [(201, False)] * 6
    assert len({answer["pseudonym"] for _, answer in results}) == 6
    with own_app.app_context():
        persons = db.session.execute(select(func.count()).select_from(Person)).scalar()
        assert persons == 1


def test_concurrent_registrations_at_one_clinic_share_one_pseudonym(own_app):
    (headers,) = seed_clinicians(own_app, 1)
    body = {
        "mode": "linked",
        "identity": {
            "family_name": "Омаров",
            "given_name": "Ерлан",
            "birth_date": "1975-02-03",
            "sex": "M",
        },
    }
    results = _register_all_at_once(own_app, [headers] * 5, body)
    assert {status for status, _ in results} <= {200, 201}
    assert len({answer["pseudonym"] for _, answer in results}) == 1


def _rekey_everything(app):
    for purpose in ("linkage", "care_card", "data"):
        rekey_all(purpose, 7)


def test_rotation_in_the_middle_of_a_stream_of_registrations(own_app):
    clinicians = seed_clinicians(own_app, 2)
    before = [new_iin() for _ in range(15)]
    during = [new_iin() for _ in range(15)]
    first = {iin: _post(own_app, clinicians[0], _linked(iin))[1]["pseudonym"] for iin in before}
    cards = [_post(own_app, clinicians[0], {"mode": "anonymous"})[1] for _ in range(5)]

    stream_results = []
    stop = threading.Event()

    def stream():
        index = 0
        while not stop.is_set() or index < len(during):
            iin = during[index % len(during)]
            stream_results.append((iin, _post(own_app, clinicians[index % 2], _linked(iin))))
            stream_results.append(("", _post(own_app, clinicians[1], {"mode": "anonymous"})))
            index += 1

    worker = threading.Thread(target=stream)
    worker.start()
    with own_app.app_context():
        for purpose in ("linkage", "care_card", "data"):
            rotate_keyring(purpose)
            _rekey_everything(own_app)
    stop.set()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert all(status in (200, 201) for _, (status, _) in stream_results)

    with own_app.app_context():
        _rekey_everything(own_app)
        for purpose in ("linkage", "care_card"):
            prune_all(purpose, 7)
        assert remaining("linkage") == {2: remaining("linkage")[2]}
        assert set(remaining("care_card")) == {2}
        assert set(remaining("data")) == {2}
        # Nothing fails to decrypt: every person's data key unwraps under the rotated ring.
        for person in db.session.execute(select(Person)).scalars():
            assert len(keys.person_data_key(person)) == 32
        persons_with_tokens = db.session.execute(
            select(func.count(distinct(LinkageToken.person_id)))
        ).scalar()
        assert persons_with_tokens == len(before) + len(during)
        assert db.session.execute(select(func.count()).select_from(CareCard)).scalar() >= 5

    for iin in before:
        status, answer = _post(own_app, clinicians[0], _linked(iin))
        assert (status, answer["pseudonym"]) == (200, first[iin])
    for index, iin in enumerate(during):  # the clinic that registered it during the rotation
        assert _post(own_app, clinicians[index % 2], _linked(iin))[1]["existing"] is True
    client = own_app.test_client()
    for card in cards:
        resolved = client.post(
            "/api/v1/patients/resolve", headers=clinicians[0], json={"care_card": card["care_card"]}
        )
        assert resolved.json["pseudonym"] == card["pseudonym"]


def test_lookups_match_old_rows_before_they_are_re_keyed(own_app):
    (headers,) = seed_clinicians(own_app, 1)
    iin = new_iin()
    pseudonym = _post(own_app, headers, _linked(iin))[1]["pseudonym"]
    with own_app.app_context():
        rotate_keyring("linkage")  # no re-keying yet: the stored token is still version 1
        assert remaining("linkage") == {1: 1}
    status, answer = _post(own_app, headers, _linked(iin))
    assert (status, answer["pseudonym"]) == (200, pseudonym)


def test_a_stale_duplicate_is_merged_when_re_keyed(own_app):
    """A worker on the old key registering a known person is healed by the re-key step."""
    (headers,) = seed_clinicians(own_app, 1)
    iin = new_iin()
    pseudonym = _post(own_app, headers, _linked(iin))[1]["pseudonym"]
    with own_app.app_context():
        ring = own_app.extensions["keyring"]
        rotate_keyring("linkage")
        _rekey_everything(own_app)
        prune_all("linkage", 10)
        # Simulate the stale worker: store the version-1 token of the same IIN for a new person.
        old = {1: ring.version("linkage", 1).material}
        from registry.crypto.linkage import iin_token
        from registry.patients.services import _unsaved_person

        person = Person(**_unsaved_person().row())
        db.session.add(person)
        db.session.flush()
        token = iin_token(old, iin)
        db.session.add(
            LinkageToken(person_id=person.id, kind="iin", key_version=1, digest=token.digest)
        )
        db.session.commit()
        _rekey_everything(own_app)
        assert db.session.get(Person, person.id).merged_into_id is not None
    status, answer = _post(own_app, headers, _linked(iin))
    assert (status, answer["pseudonym"]) == (200, pseudonym)


def _linked(iin: str) -> dict:
    return {"mode": "linked", "identity": {"iin": iin}}


def test_a_registration_that_clashes_at_the_write_finds_the_winner(own_app, monkeypatch):
    first, second = seed_clinicians(own_app, 2)
    body = {"mode": "linked", "identity": {"iin": new_iin()}}
    assert _post(own_app, first, body)[0] == 201
    # The lookup before the write lock misses the person, as when a concurrent registration
    # commits between the lookup and the write; the clash then undoes this one's rows.
    real, calls = keys.find_token_holder, []

    def missing_once(kind, candidates):
        calls.append(kind)
        return None if len(calls) == 1 else real(kind, candidates)

    monkeypatch.setattr(keys, "find_token_holder", missing_once)
    status, answer = _post(own_app, second, body)
    assert (status, answer["existing"]) == (201, False)  # new to this clinic, not to the registry
    assert len(calls) == 2
    with own_app.app_context():
        assert db.session.execute(select(func.count()).select_from(Person)).scalar() == 1
        tokens = db.session.execute(select(func.count()).select_from(LinkageToken)).scalar()
        assert tokens == 1
