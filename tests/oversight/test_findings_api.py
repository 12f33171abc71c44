"""Findings are listed to operators and key custodians only, a page at a time."""

from datetime import timedelta

import pytest

from tests.conftest import bearer
from tests.oversight.conftest import CHECKED_AT

FINDINGS = "/api/v1/oversight/findings"


@pytest.fixture()
def findings(session, make_user):
    """Store three findings as the check would: a prober's two and an enumerator's one."""
    from registry.oversight.models import OversightFinding

    prober, enumerator = make_user("clinician")[0], make_user("clinician")[0]
    period = {"period_start": CHECKED_AT - timedelta(days=7), "period_end": CHECKED_AT}
    rows = [
        OversightFinding(
            kind="found_existing", user_id=prober.id, count=10, total=10, pool_count=9,
            pool_total=40, clinic_id=prober.clinic_id, created_at=CHECKED_AT, **period,
        ),
        OversightFinding(
            kind="no_episodes", user_id=prober.id, count=10, total=10, pool_count=10,
            pool_total=40, clinic_id=prober.clinic_id, created_at=CHECKED_AT, **period,
        ),
        OversightFinding(
            kind="no_episodes", user_id=enumerator.id, count=10, total=10, pool_count=10,
            pool_total=40, clinic_id=enumerator.clinic_id, created_at=CHECKED_AT, **period,
        ),
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return rows


@pytest.mark.parametrize("role", ["admin", "key_custodian"])
def test_admins_and_custodians_read_every_finding(client, make_user, findings, role):
    answer = client.get(FINDINGS, headers=bearer(make_user(role)[1]))
    assert answer.status_code == 200
    listed = answer.json["findings"]
    assert [f["id"] for f in listed] == sorted(f.id for f in findings)
    prober = next(f for f in listed if f["kind"] == "found_existing")
    assert prober == {
        "id": prober["id"],
        "kind": "found_existing",
        "user_id": findings[0].user_id,
        "clinic_id": findings[0].clinic_id,
        "period_start": "2026-02-26T05:00:00+00:00",
        "period_end": CHECKED_AT.isoformat(),
        "count": 10,
        "total": 10,
        "share": 1.0,
        "pool_count": 9,
        "pool_total": 40,
        "pool_share": 0.225,
        "created_at": CHECKED_AT.isoformat(),
    }
    assert answer.json["next_after"] is None


@pytest.mark.parametrize("role", ["clinician", "clinic_admin", "analyst", "protocol_admin"])
def test_other_roles_are_refused(client, make_user, findings, role):
    answer = client.get(FINDINGS, headers=bearer(make_user(role)[1]))
    assert answer.status_code == 403
    assert answer.mimetype == "application/problem+json"


def test_findings_come_a_page_at_a_time_and_by_kind(client, make_user, findings):
    headers = bearer(make_user("key_custodian")[1])
    first = client.get(FINDINGS, headers=headers, query_string={"limit": 2}).json
    assert len(first["findings"]) == 2 and first["next_after"] == first["findings"][1]["id"]
    rest = client.get(FINDINGS, headers=headers, query_string={"after": first["next_after"]})
    assert len(rest.json["findings"]) == 1
    idle = client.get(FINDINGS, headers=headers, query_string={"kind": "no_episodes"}).json
    assert {f["kind"] for f in idle["findings"]} == {"no_episodes"}
    assert len(idle["findings"]) == 2


def test_a_bad_page_request_is_refused_naming_the_field(client, make_user):
    headers = bearer(make_user("admin")[1])
    answer = client.get(FINDINGS, headers=headers, query_string={"kind": "nosy", "limit": 0})
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == {"kind", "limit"}
