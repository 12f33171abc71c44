"""Key custodians' pages: requests listed with where each stands, approved or denied through the
service's rules (two approvals, never the requester's), and the offline reveal explained."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import clock
from registry.patients.models import Pseudonym, ReidentificationRequest
from registry.patients.reidentification import approval_count
from registry.patients.services import register_anonymous
from tests.console.conftest import signed_in


@pytest.fixture()
def custodians(staff):
    return [staff("key_custodian", second_factor=True) for _ in range(3)]


@pytest.fixture()
def pending(session, make_clinic, custodians) -> int:
    """Return a request by the first custodian (made directly: escrow is not this test's)."""
    pseudonym = register_anonymous(make_clinic().id).pseudonym
    person_id = session.execute(
        select(Pseudonym.person_id).where(Pseudonym.value == pseudonym)
    ).scalar_one()
    row = ReidentificationRequest(
        person_id=person_id,
        requester_id=custodians[0].id,
        purpose="court_proceedings",
        legal_basis="court_decision",
        expires_at=clock.now() + timedelta(hours=72),
    )
    session.add(row)
    session.flush()
    return row.id


def test_two_custodians_approve_and_the_request_awaits_the_offline_reveal(
    client, app, session, custodians, pending
):
    token = signed_in(client, custodians[1])
    page = client.get("/console/reidentifications?lang=en").get_data(as_text=True)
    assert "court proceedings" in page and "court decision or ruling" in page
    assert f'id="approve-{pending}"' in page and "waiting for approvals" in page
    answer = client.post(
        f"/console/reidentifications/{pending}/approve", data={"csrf_token": token}
    )
    assert answer.status_code == 302 and approval_count(pending) == 1
    again = client.get(answer.location).get_data(as_text=True)
    assert f'id="approve-{pending}"' not in again and "yours among them" in again
    twice = client.post(f"/console/reidentifications/{pending}/approve", data={"csrf_token": token})
    assert twice.status_code == 409 and approval_count(pending) == 1
    second = app.test_client()
    second_token = signed_in(second, custodians[2])
    second.post(f"/console/reidentifications/{pending}/approve", data={"csrf_token": second_token})
    page = second.get("/console/reidentifications?lang=en").get_data(as_text=True)
    assert "approved: may be revealed offline" in page and "2 of 2" in page
    assert "private_key" not in page and '/reveal"' not in page  # no reveal in a browser


def test_the_requester_has_no_buttons_and_is_refused(client, session, custodians, pending):
    token = signed_in(client, custodians[0])
    page = client.get("/console/reidentifications?lang=en").get_data(as_text=True)
    assert "You made this request" in page and f'id="deny-{pending}"' not in page
    answer = client.post(
        f"/console/reidentifications/{pending}/approve", data={"csrf_token": token}
    )
    assert answer.status_code == 403 and approval_count(pending) == 0


def test_a_denied_request_is_closed(client, session, custodians, pending):
    token = signed_in(client, custodians[1])
    answer = client.post(f"/console/reidentifications/{pending}/deny", data={"csrf_token": token})
    assert answer.status_code == 302
    assert session.get(ReidentificationRequest, pending).denied_by == custodians[1].id
    page = client.get(answer.location).get_data(as_text=True)
    assert "is denied" in page and f'id="approve-{pending}"' not in page
    late = client.post(f"/console/reidentifications/{pending}/approve", data={"csrf_token": token})
    assert late.status_code == 409


def test_a_decision_needs_the_csrf_token(client, session, custodians, pending):
    signed_in(client, custodians[1])
    assert client.post(f"/console/reidentifications/{pending}/deny").status_code == 400
    assert session.get(ReidentificationRequest, pending).denied_at is None


def test_the_reveal_page_explains_the_offline_command_and_asks_for_no_key(client, custodians):
    signed_in(client, custodians[1])
    page = client.get("/console/reidentifications/reveal?lang=en").get_data(as_text=True)
    assert "registry reidentify REQUEST_ID" in page
    assert "<form" not in page.split("<main", 1)[1]  # no key is ever typed into a browser
