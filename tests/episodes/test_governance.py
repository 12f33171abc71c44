"""Issue 21, protocol governance: two-person retirement, use counts, selective migration."""

import copy

from sqlalchemy import select

from registry.audit.models import AuditEntry
from registry.episodes.models import Episode
from registry.protocols import lifecycle
from tests.conftest import bearer
from tests.episodes.conftest import TODAY, moment

VERSIONS = "/api/v1/protocols/methadone_oat/versions"
MIGRATIONS = "/api/v1/protocols/methadone_oat/migrations"


def _admins(make_user, count=2):
    return [bearer(make_user("protocol_admin")[1]) for _ in range(count)]


def _dose(client, headers, ref, amount):
    body = {
        "type": "dose",
        "occurred_at": moment(TODAY),
        "payload": {"medication": "methadone", "amount": amount, "unit": "mg"},
    }
    return client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body)


def test_one_administrator_cannot_retire_the_only_active_version(
    client, session, make_user, methadone_episode, clinician, patient, open_episode
):
    first, second = _admins(make_user)
    alone = client.post(f"{VERSIONS}/1/retire", headers=first)
    assert alone.status_code == 409, alone.json
    assert "request" in alone.json["detail"]

    requested = client.post(f"{VERSIONS}/1/retirement-request", headers=first)
    assert requested.status_code == 200, requested.json
    assert requested.json["status"] == "active" and requested.json["retire_requested_by_id"]
    # The requester cannot confirm their own request.
    assert client.post(f"{VERSIONS}/1/retire", headers=first).status_code == 403
    # The protocol is in use (an open episode) and this is its last active version.
    unconfirmed = client.post(f"{VERSIONS}/1/retire", headers=second)
    assert unconfirmed.status_code == 409, unconfirmed.json
    assert unconfirmed.json["open_episodes"] == 1
    assert client.get(f"{VERSIONS}/1", headers=second).json["status"] == "active"

    # New episodes still open meanwhile.
    headers = clinician()
    assert open_episode(headers, patient(headers)).status_code == 201

    retired = client.post(
        f"{VERSIONS}/1/retire", headers=second, json={"confirm_no_active_version": True}
    )
    assert retired.status_code == 200, retired.json
    assert retired.json["status"] == "retired" and retired.json["retired_by_id"]
    actions = session.execute(
        select(AuditEntry.action, AuditEntry.outcome).where(
            AuditEntry.object_id == "methadone_oat/1"
        )
    ).all()
    assert ("protocol.retire_request", "ok") in actions
    assert ("protocol.retire", "refused:403") in actions
    assert ("protocol.retire", "ok") in actions


def test_the_version_list_shows_open_episodes_per_version_to_administrators(
    client, session, make_user, clinician, patient, open_episode
):
    headers = clinician()
    refs = [open_episode(headers, patient(headers)).json["id"] for _ in range(3)]
    discharged = client.post(
        f"/api/v1/episodes/{refs[2]}/discharge",
        headers=headers,
        json={"reason": "dropped_out"},
    )
    assert discharged.status_code == 200, discharged.json
    [admin] = _admins(make_user, 1)
    listed = client.get("/api/v1/protocols", headers=admin).json
    uses = {p["key"]: [v["open_episodes"] for v in p["versions"]] for p in listed}
    assert uses["methadone_oat"] == [2] and uses["buprenorphine_oat"] == [0]
    # Clinicians see no counter shared across clinics (DESIGN §2.5).
    seen = client.get("/api/v1/protocols", headers=headers).json
    assert all("open_episodes" not in v for p in seen for v in p["versions"])


def _second_version(session, make_user) -> None:
    """Publish methadone_oat version 2 with a first-dose maximum of 25 mg."""
    author, _ = make_user("protocol_admin")
    reviewer, _ = make_user("protocol_admin")
    doc = copy.deepcopy(lifecycle.get_version("methadone_oat", 1).document)
    doc["stages"][0]["medications"][0]["first_dose_max"]["value"] = 25
    lifecycle.create_draft(author.id, doc, key="methadone_oat")
    lifecycle.approve("methadone_oat", 2, reviewer.id)
    lifecycle.publish("methadone_oat", 2)
    session.flush()


def _three_episodes(client, clinician, patient, open_episode) -> list[str]:
    """Open three methadone episodes; only the first breaks a 25 mg first-dose maximum."""
    headers = clinician()
    refs = []
    for amount in (30, 20, 20):
        ref = open_episode(headers, patient(headers)).json["id"]
        assert _dose(client, headers, ref, amount).status_code == 201
        refs.append(ref)
    return refs


def _versions(session, refs):
    pinned = dict(session.execute(select(Episode.ref, Episode.protocol_version_id)).all())
    return [pinned[ref] for ref in refs]


def test_migration_can_leave_out_episodes_in_violation_and_named_ones(
    client, session, make_user, clinician, patient, open_episode
):
    refs = _three_episodes(client, clinician, patient, open_episode)
    _second_version(session, make_user)
    [admin] = _admins(make_user, 1)
    body = {"from": 1, "to": 2, "dry_run": False, "skip_in_violation": True, "exclude": [refs[2]]}
    applied = client.post(MIGRATIONS, headers=admin, json=body)
    assert applied.status_code == 200, applied.json
    assert applied.json["episodes"] == 3 and applied.json["migrated"] == 1
    assert sorted(applied.json["skipped"], key=lambda s: s["episode"]) == sorted(
        [
            {"episode": refs[0], "reason": "in_violation"},
            {"episode": refs[2], "reason": "excluded"},
        ],
        key=lambda s: s["episode"],
    )
    old, new = _versions(session, refs[:2])
    assert old != new and _versions(session, refs[2:]) == [old]
    # The left-out episodes can follow later, all together.
    rest = client.post(MIGRATIONS, headers=admin, json={"from": 1, "to": 2, "dry_run": False})
    assert rest.json["migrated"] == 2 and rest.json["skipped"] == []


def test_migration_refuses_to_exclude_an_episode_it_would_not_move(
    client, session, make_user, clinician, patient, open_episode
):
    _three_episodes(client, clinician, patient, open_episode)
    _second_version(session, make_user)
    [admin] = _admins(make_user, 1)
    body = {"from": 1, "to": 2, "exclude": ["0" * 32]}
    answer = client.post(MIGRATIONS, headers=admin, json=body)
    assert answer.status_code == 422
    assert "0" * 32 not in answer.get_data(as_text=True)
    assert list(answer.json["errors"]) == ["exclude"]
