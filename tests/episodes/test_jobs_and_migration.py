"""The daily compliance job, and migrating open episodes to a newer protocol version."""

import copy
from datetime import timedelta

from sqlalchemy import select

from registry.audit.models import AuditEntry
from registry.episodes.jobs import compute_compliance_flags
from registry.episodes.models import ComplianceFlag, Episode, EpisodeMigration
from registry.jobs import scheduled_jobs
from registry.protocols import lifecycle
from tests.conftest import bearer
from tests.episodes.conftest import TODAY, moment

DOSE = {"medication": "methadone", "amount": 30, "unit": "mg"}


def test_the_daily_job_stores_flags_once_per_day(
    app, client, session, clinician, patient, open_episode
):
    assert "episode-compliance" in [job.name for job in scheduled_jobs(app)]
    headers = clinician()
    admitted = TODAY - timedelta(days=5)
    ref = open_episode(headers, patient(headers), admitted_on=admitted.isoformat()).json["id"]
    outcome = compute_compliance_flags(app)
    assert outcome.startswith("1 open episodes")
    compute_compliance_flags(app)  # a rerun on the same day replaces, never duplicates
    episode = session.execute(select(Episode).where(Episode.ref == ref)).scalar_one()
    flags = session.execute(
        select(ComplianceFlag.rule_id, ComplianceFlag.status).where(
            ComplianceFlag.episode_id == episode.id
        )
    ).all()
    overdue = sorted(rule for rule, status in flags if status == "overdue")
    assert overdue == ["methadone.screen.early"]  # due on admission, 2 days' grace
    assert len(flags) == len(set(flags))


def test_the_daily_job_writes_each_batch_in_its_own_transaction(
    app, client, session, clinician, patient, open_episode, monkeypatch
):
    """Clinics' writes wait for one batch of the job at most, never for the whole run."""
    from sqlalchemy import event

    from registry.episodes import jobs
    from registry.extensions import db

    headers = clinician()
    for _ in range(3):
        open_episode(headers, patient(headers))
    commits = []

    def count(_session):
        commits.append(1)

    monkeypatch.setattr(jobs, "BATCH", 1)
    event.listen(db.session, "after_commit", count)
    try:
        outcome = compute_compliance_flags(app)
    finally:
        event.remove(db.session, "after_commit", count)
    assert outcome.startswith("3 open episodes")
    assert len(commits) >= 3


def test_the_daily_job_writes_only_what_changed_and_keeps_earlier_days(
    app, client, session, clinician, patient, open_episode
):
    """A rerun writes nothing; a new event drops the day's stale flags; yesterday's stay."""
    from sqlalchemy import event

    from registry import clock
    from registry.extensions import db

    headers = clinician()
    admitted = TODAY - timedelta(days=5)
    ref = open_episode(headers, patient(headers), admitted_on=admitted.isoformat()).json["id"]
    episode = session.execute(select(Episode).where(Episode.ref == ref)).scalar_one()

    def flags():
        return set(
            session.execute(
                select(
                    ComplianceFlag.computed_on, ComplianceFlag.rule_id, ComplianceFlag.status
                ).where(ComplianceFlag.episode_id == episode.id)
            ).all()
        )

    compute_compliance_flags(app)
    first = flags()
    assert (TODAY, "methadone.screen.early", "overdue") in first
    writes = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith(("INSERT", "DELETE")):
            writes.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        compute_compliance_flags(app)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert writes == [] and flags() == first

    results = {"results": {"opioids": "negative"}}
    screen = {"type": "screen", "occurred_at": moment(TODAY), "payload": results}
    answer = client.post(f"/api/v1/episodes/{ref}/events", json=screen, headers=headers)
    assert answer.status_code == 201, answer.json
    compute_compliance_flags(app)
    assert (TODAY, "methadone.screen.early", "overdue") not in flags()

    today = flags()
    clock.freeze(clock.now() + timedelta(days=1))
    compute_compliance_flags(app)
    assert today <= flags()  # yesterday's flags are history, kept for the statistics
    assert {day for day, _, _ in flags()} == {TODAY, TODAY + timedelta(days=1)}


def _second_version(session, make_user, first_dose_max: int) -> None:
    """Publish methadone_oat version 2 with a lower first-dose maximum."""
    author, _ = make_user("protocol_admin")
    reviewer, _ = make_user("protocol_admin")
    doc = copy.deepcopy(lifecycle.get_version("methadone_oat", 1).document)
    doc["stages"][0]["medications"][0]["first_dose_max"]["value"] = first_dose_max
    lifecycle.create_draft(author.id, doc, key="methadone_oat")
    lifecycle.approve("methadone_oat", 2, reviewer.id)
    lifecycle.publish("methadone_oat", 2)
    session.flush()


def test_migration_reports_then_moves_open_episodes(
    client, session, make_user, clinician, patient, open_episode
):
    headers = clinician()
    refs = []
    for amount in (30, 20):  # only the first breaks a 25 mg first-dose maximum
        ref = open_episode(headers, patient(headers)).json["id"]
        body = {"type": "dose", "occurred_at": moment(TODAY), "payload": {**DOSE, "amount": amount}}
        assert (
            client.post(f"/api/v1/episodes/{ref}/events", headers=headers, json=body).status_code
            == 201
        )
        refs.append(ref)
    _second_version(session, make_user, first_dose_max=25)
    admin = bearer(make_user("protocol_admin")[1])
    url = "/api/v1/protocols/methadone_oat/migrations"

    dry = client.post(url, headers=admin, json={"from": 1, "to": 2})
    assert dry.status_code == 200, dry.json
    assert dry.json["dry_run"] is True and dry.json["episodes"] == 2 and dry.json["migrated"] == 0
    assert [e["episode"] for e in dry.json["in_violation"]] == [refs[0]]
    assert dry.json["in_violation"][0]["violations"] == ["methadone.induction.first_dose_max"]
    pinned = session.execute(select(Episode.protocol_version_id)).scalars().all()
    assert len(set(pinned)) == 1  # nothing moved

    # New episodes start on version 2 meanwhile, and the old one keeps version 1.
    ref_new = open_episode(headers, patient(headers)).json["id"]
    assert client.get(f"/api/v1/episodes/{ref_new}", headers=headers).json["protocol_version"] == 2
    assert client.get(f"/api/v1/episodes/{refs[0]}", headers=headers).json["protocol_version"] == 1

    applied = client.post(url, headers=admin, json={"from": 1, "to": 2, "dry_run": False})
    assert applied.status_code == 200, applied.json
    assert applied.json["migrated"] == 2
    for ref in refs:
        assert client.get(f"/api/v1/episodes/{ref}", headers=headers).json["protocol_version"] == 2
    records = client.get(url, headers=admin).json
    assert sorted(r["episode"] for r in records) == sorted(refs)
    assert {r["from"] for r in records} == {1} and {r["to"] for r in records} == {2}
    assert session.execute(select(EpisodeMigration)).scalars().all().__len__() == 2
    actions = session.execute(select(AuditEntry.action)).scalars().all()
    assert "protocol.migrate_dry_run" in actions and "protocol.migrate" in actions
    assert actions.count("episode.migrate") == 2

    again = client.post(url, headers=admin, json={"from": 1, "to": 2, "dry_run": False})
    assert again.json["episodes"] == 0
    # Events now run under version 2: a 30 mg first dose is refused there.
    ref3 = open_episode(headers, patient(headers), protocol="methadone_oat").json["id"]
    body = {"type": "dose", "payload": DOSE}
    refused = client.post(f"/api/v1/episodes/{ref3}/events", headers=headers, json=body)
    assert refused.status_code == 422


def test_migration_only_moves_to_the_active_later_version(client, make_user, shipped):
    admin = bearer(make_user("protocol_admin")[1])
    url = "/api/v1/protocols/methadone_oat/migrations"
    assert client.post(url, headers=admin, json={"from": 2, "to": 1}).status_code == 422
    assert client.post(url, headers=admin, json={"from": 1, "to": 7}).status_code == 404
    assert (
        client.post(
            "/api/v1/protocols/nope/migrations", headers=admin, json={"from": 1, "to": 2}
        ).status_code
        == 404
    )
    assert client.post(url, headers=admin, json={"from": "1", "to": 2}).status_code == 422


def test_migration_refuses_a_version_that_is_not_active(client, session, make_user, shipped):
    author, _ = make_user("protocol_admin")
    doc = copy.deepcopy(lifecycle.get_version("methadone_oat", 1).document)
    lifecycle.create_draft(author.id, doc, key="methadone_oat")
    session.flush()
    admin = bearer(make_user("protocol_admin")[1])
    answer = client.post(
        "/api/v1/protocols/methadone_oat/migrations", headers=admin, json={"from": 1, "to": 2}
    )
    assert answer.status_code == 409
