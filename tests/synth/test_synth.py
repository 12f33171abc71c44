"""`registry synth`: calibration, determinism, service validation, audit, bad input."""

from datetime import date

import numpy as np
import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.synth import generate

REGIONS = ["750000000", "610000000", "620000000", "710000000"]


def _clinics() -> generate.Clinics:
    return generate.Clinics(
        np.arange(1, 7),
        np.array(["750000000", "750000000", "610000000", "620000000", "710000000", "710000000"]),
        np.array(["outpatient", "inpatient", "outpatient", "gp", "inpatient", "low_threshold"]),
    )


def test_the_population_is_calibrated_as_the_issue_asks():
    people = generate.persons(np.random.default_rng(1), 40_000, REGIONS)
    drugs = people["drug"] != "alcohol"
    assert abs(1 - drugs.mean() - 0.83) < 0.01
    kind = people["kind"][drugs]
    opioids, stimulants = kind == "opioids", kind == "stimulants"
    assert abs(opioids.mean() - 1 / 3) < 0.03
    cannabis = np.isin(people["drug"][drugs], ("cannabis", "synthetic_cannabinoids"))
    assert (cannabis | stimulants)[~opioids].mean() > 0.75
    assert 0.85 <= (people["sex"][drugs] == "male").mean() <= 0.90
    ages = people["age"][drugs]
    assert ((ages[opioids] >= 35) & (ages[opioids] <= 54)).mean() > 0.7
    assert ((ages[stimulants] >= 18) & (ages[stimulants] <= 29)).mean() > 0.7
    counts = {r: (people["region"] == r).sum() for r in REGIONS}
    assert counts["750000000"] > counts["710000000"] > 5 * counts["620000000"]


def test_episodes_follow_each_other_in_several_clinics():
    rng = np.random.default_rng(2)
    people = generate.persons(rng, 3000, REGIONS)
    eps = generate.episodes(rng, people, _clinics(), 2025, date(2026, 6, 1))
    assert len(eps["person"]) > 1.5 * 3000
    for i in np.flatnonzero(np.diff(eps["person"]) == 0)[:500]:
        assert eps["discharged_on"][i] and eps["admitted_on"][i + 1] > eps["discharged_on"][i]
    pairs = {(p, c) for p, c in zip(eps["person"], eps["clinic"], strict=True)}
    assert len(pairs) > len(set(eps["person"].tolist())) * 1.1  # some persons, several clinics


def test_a_seed_gives_the_same_population():
    def draw(seed):
        rng = np.random.default_rng([seed, 0])
        people = generate.persons(rng, 500, REGIONS)
        return people, generate.episodes(rng, people, _clinics(), 2025, date(2026, 6, 1))

    (a, ea), (b, eb), (c, _) = draw(5), draw(5), draw(6)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert all(np.array_equal(ea[k], eb[k]) for k in ea)
    assert not np.array_equal(a["record_key"], c["record_key"])


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["synth", *args])


def _count(model, *where):
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def test_synth_writes_through_the_services_checks_with_one_audit_entry_per_batch(
    fresh_app, keyring
):
    from registry.api.episodes.schemas import AdmissionSchema
    from registry.audit.models import AuditEntry
    from registry.audit.verify import verify_log
    from registry.episodes.models import Episode, EpisodeEvent
    from registry.patients.models import CareCard, OstEnrolment, Person, Pseudonym
    from registry.protocols.lifecycle import install_shipped_protocols

    with fresh_app.app_context():
        install_shipped_protocols()
        db.session.commit()
    result = _run(fresh_app, "--persons", "250", "--seed", "4", "--batch", "100", "--year", "2025")
    assert result.exit_code == 0, result.output
    assert "250 persons" in result.output
    with fresh_app.app_context():
        assert _count(Person) == _count(CareCard) == 250
        episodes = db.session.scalars(select(Episode)).all()
        assert len(episodes) > 400
        schema = AdmissionSchema()
        for episode in episodes[:200]:
            record = {name: getattr(episode, name) for name in schema.fields}
            assert schema.validate(record) == {}
        visited = {(e.person_id, f"clinic:{e.clinic_id}") for e in episodes}
        assert {(p.person_id, p.domain) for p in db.session.scalars(select(Pseudonym))} == visited
        closed = [e for e in episodes if e.discharged_on is not None]
        assert _count(EpisodeEvent, EpisodeEvent.type == "discharge") == len(closed)
        oat = [e for e in episodes if e.oat]
        assert _count(OstEnrolment) == len(oat)
        open_oat = sum(1 for e in oat if e.discharged_on is None)
        assert _count(OstEnrolment, OstEnrolment.closed_at.is_(None)) == open_oat
        batches = db.session.scalars(
            select(AuditEntry.object_id).where(AuditEntry.action == "synth.batch")
        ).all()
        assert sorted(batches) == ["4:0", "4:1", "4:2"]
        assert verify_log(keyring).ok


@pytest.mark.postgres  # SQLite has one writer: --jobs is refused there (below)
def test_batches_written_by_several_processes_are_the_batches_one_writes(fresh_app, keyring):
    from registry.audit.models import AuditEntry
    from registry.audit.verify import verify_log
    from registry.episodes.models import Episode
    from registry.patients.models import CareCard, Person
    from registry.protocols.lifecycle import install_shipped_protocols

    with fresh_app.app_context():
        install_shipped_protocols()
        db.session.commit()
    args = ["--persons", "350", "--seed", "4", "--batch", "100", "--year", "2025"]
    result = _run(fresh_app, *args, "--jobs", "3")
    assert result.exit_code == 0, result.output
    with fresh_app.app_context():
        assert _count(Person) == _count(CareCard) == 350
        keys = sorted(db.session.scalars(select(Person.record_key)))
        episodes = _count(Episode)
        batches = db.session.scalars(
            select(AuditEntry.object_id).where(AuditEntry.action == "synth.batch")
        ).all()
        assert sorted(batches) == ["4:0", "4:1", "4:2", "4:3"]
        assert verify_log(keyring).ok
    # The same seed written by one process: the same persons (record keys) and episode count.
    assert _run(fresh_app, *args).exit_code == 0
    with fresh_app.app_context():
        assert sorted(db.session.scalars(select(Person.record_key))) == sorted(keys + keys)
        assert _count(Episode) == 2 * episodes


def test_synth_without_protocols_fails_and_writes_nothing(fresh_app):
    from registry.patients.models import Person

    result = _run(fresh_app, "--persons", "50", "--seed", "1", "--year", "2025")
    assert result.exit_code == 1
    assert "protocol" in result.output
    with fresh_app.app_context():
        assert _count(Person) == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--persons", "0"],
        ["--persons", "ten"],
        ["--persons", "10", "--year", "1980"],
        ["--persons", "10", "--batch", "5"],
        ["--persons", "10", "--jobs", "0"],
        [],
    ],
)
def test_bad_options_are_refused(app, args):
    result = _run(app, *args)
    assert result.exit_code == 2, result.output


def test_several_writers_are_refused_on_sqlite(app):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("PostgreSQL takes several writers")
    result = _run(app, "--persons", "10", "--jobs", "2")
    assert result.exit_code == 2 and "--jobs" in result.output


def test_an_invalid_admission_record_is_refused_with_its_path(app, session):
    from registry.errors import ValidationFailed
    from registry.protocols.lifecycle import install_shipped_protocols
    from registry.synth.bulk import active_versions, episode_dicts, validated

    install_shipped_protocols()
    rng = np.random.default_rng(3)
    people = generate.persons(rng, 20, REGIONS)
    columns = generate.episodes(rng, people, _clinics(), 2025, date(2026, 6, 1))
    episode = episode_dicts(columns)[0]
    episode["age"] = 30
    versions = active_versions()
    assert validated(episode, versions, "episodes.0")[0]["sex"] in ("male", "female")
    bad = {**episode, "admission": {**episode["admission"], "route": "teleport"}}
    with pytest.raises(ValidationFailed) as caught:
        validated(bad, versions, "episodes.0")
    assert "episodes.0.admission.route" in caught.value.errors
    both = {"hiv_tested": "never", "hiv_result": "positive"}
    bad = {**episode, "admission": {**episode["admission"], **both}}
    with pytest.raises(ValidationFailed) as caught:
        validated(bad, versions, "episodes.3")
    assert "episodes.3.admission.hiv_result" in caught.value.errors
    older = {**episode, "admission": {**episode["admission"], "age_first_use": 31}}  # age 30
    with pytest.raises(ValidationFailed) as caught:
        validated(older, versions, "episodes.2")
    assert list(caught.value.errors) == ["episodes.2.admission.age_first_use"]
    with pytest.raises(ValidationFailed) as caught:
        validated({**episode, "age": 12}, versions, "episodes.1")
    assert "episodes.1.protocol" in caught.value.errors
