"""Concurrent lifecycle changes leave one active version and answer 409, never 500."""

import copy
import threading

import pytest
from sqlalchemy import select

from registry.auth.tokens import issue_token
from registry.auth.users import create_user
from registry.extensions import db
from registry.protocols.models import ProtocolVersion
from registry.protocols.shipped import shipped_documents
from tests.conftest import bearer

BASE = "/api/v1/protocols"
KEY = "methadone_race"


def _admins(app, count: int) -> list[dict]:
    with app.app_context():
        headers = []
        for i in range(count):
            user = create_user(f"protocol.admin{i}", ["protocol_admin"], None)
            headers.append(bearer(issue_token(user, 1)[1]))
        db.session.commit()
    return headers


def _together(calls) -> list[int]:
    """Run the calls at once in threads and return their status codes."""
    barrier = threading.Barrier(len(calls))
    codes: list[int] = [0] * len(calls)

    def run(i, call):
        barrier.wait()
        codes[i] = call().status_code

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return codes


def _ok(answer, status=200):
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.json


@pytest.fixture
def doc():
    return {**copy.deepcopy(shipped_documents()["methadone_oat"]), "key": KEY}


def test_concurrent_publishes_leave_one_active_version(fresh_app, doc):
    author, reviewer = _admins(fresh_app, 2)
    client = fresh_app.test_client()
    for _ in range(3):
        _ok(client.post(BASE, headers=author, json={"document": doc}), 201)
    for n in (1, 2, 3):
        _ok(client.post(f"{BASE}/{KEY}/versions/{n}/approve", headers=reviewer))
    _ok(client.post(f"{BASE}/{KEY}/versions/1/publish", headers=author))

    codes = _together(
        [
            lambda n=n: fresh_app.test_client().post(
                f"{BASE}/{KEY}/versions/{n}/publish", headers=author
            )
            for n in (2, 3)
        ]
    )
    assert set(codes) <= {200, 409} and 200 in codes
    with fresh_app.app_context():
        statuses = dict(db.session.execute(select(ProtocolVersion.n, ProtocolVersion.status)).all())
    # v2 first: both succeed and v3 retires v2; v3 first: v2 is refused as older and stays.
    second = "retired" if codes == [200, 200] else "approved"
    assert statuses == {1: "retired", 2: second, 3: "active"}


def test_concurrent_drafts_get_distinct_numbers_or_409(fresh_app, doc):
    (author,) = _admins(fresh_app, 1)
    calls = [
        lambda: fresh_app.test_client().post(BASE, headers=author, json={"document": doc})
        for _ in range(4)
    ]
    codes = _together(calls)
    assert set(codes) <= {201, 409} and 201 in codes
    with fresh_app.app_context():
        numbers = sorted(db.session.execute(select(ProtocolVersion.n)).scalars())
    assert numbers == list(range(1, codes.count(201) + 1))
