"""The oversight check: users who probe the registry through linked registration are found."""

import math
from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import clock
from registry.audit.models import AuditEntry
from tests.oversight.conftest import CHECKED_AT, REGISTERED_AT, refused


def _check(at=CHECKED_AT):
    from registry.oversight.check import check_registrations

    clock.freeze(at)
    return check_registrations()


def test_a_prober_and_an_enumerator_are_found_audited_once(week, session):
    findings = _check()
    prober, enumerator = week["prober"].user, week["enumerator"].user
    by_kind = {(f.user_id, f.kind): f for f in findings}
    # Not the ordinary clinicians: they found 3 of 10 persons known elsewhere and admitted all.
    assert set(by_kind) == {
        (prober.id, "found_existing"),
        (prober.id, "no_episodes"),
        (enumerator.id, "no_episodes"),
    }
    found = by_kind[prober.id, "found_existing"]
    # Everyone else found 9 persons known elsewhere in 40 registrations.
    assert (found.count, found.total, found.pool_count, found.pool_total) == (10, 10, 9, 40)
    assert (found.clinic_id, found.period_end) == (prober.clinic_id, CHECKED_AT)
    assert found.period_end - found.period_start == timedelta(days=7)
    idle = by_kind[enumerator.id, "no_episodes"]
    # Everyone else left the prober's 10 registrations without an episode.
    assert (idle.count, idle.total, idle.pool_count, idle.pool_total) == (10, 10, 10, 40)

    entries = session.execute(
        select(AuditEntry).where(AuditEntry.action == "oversight.finding")
    ).scalars()
    audited = {(e.object_type, e.object_id, e.actor_id, e.actor_role) for e in entries}
    assert audited == {("oversight_finding", str(f.id), None, "system") for f in findings}

    # A finding is not repeated while its period overlaps one already reported.
    assert _check(CHECKED_AT + timedelta(days=6)) == []


def test_a_refusal_by_the_oracle_limits_is_a_finding_within_its_period(clinician):
    user = clinician().user
    refused(user.id, 2)
    assert _check(REGISTERED_AT + timedelta(days=8)) == []  # a period that starts after them
    [finding] = _check()
    assert (finding.user_id, finding.kind, finding.count) == (user.id, "limit_reached", 2)
    assert finding.clinic_id == user.clinic_id


def test_a_user_with_too_few_registrations_is_not_judged(clinician, known_elsewhere, app):
    prober = clinician()
    for iin in known_elsewhere(app.config["OVERSIGHT_MIN_REGISTRATIONS"] - 1):
        prober.register(iin)
    assert _check() == []


@pytest.mark.parametrize(
    ("count", "total", "pool_count", "pool_total", "expected"),
    [
        (10, 10, 9, 40, True),  # everything found, where peers find a fifth
        (5, 10, 9, 40, False),  # 50% against 24%: 26 points, but only 2 standard errors
        (30, 100, 250, 1000, False),  # 30% against 25%: many registrations, a small gap
        (60, 100, 250, 1000, True),  # 60% against 25%: 8 standard errors and 35 points
        (19, 19, 0, 0, False),  # below the minimum count
        (20, 20, 0, 0, True),  # no peers: judged against an even prior
    ],
)
def test_the_statistic(count, total, pool_count, pool_total, expected):
    from registry.oversight.check import Thresholds, far_above

    thresholds = Thresholds(min_total=20 if pool_total == 0 else 10, min_excess=0.25, min_z=4)
    assert far_above(count, total, pool_count, pool_total, thresholds) is expected


def test_the_statistic_is_a_z_score_against_the_smoothed_pool():
    from registry.oversight.check import z_score

    norm = (9 + 1) / (40 + 2)
    assert z_score(10, 10, 9, 40) == pytest.approx((1 - norm) / math.sqrt(norm * (1 - norm) / 10))
