"""The oversight check: users who probe the registry through linked registration are found."""

import math
from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import clock
from registry.audit.models import AuditEntry
from tests.oversight.conftest import CHECKED_AT, REGISTERED_AT


def _check():
    from registry.oversight.check import check_registrations

    clock.freeze(CHECKED_AT)
    return check_registrations()


def _summary(findings) -> set[tuple]:
    return {(f.user_id, f.kind) for f in findings}


def test_a_prober_and_an_enumerator_are_found_and_ordinary_clinicians_are_not(week):
    findings = _check()
    prober, enumerator = week["prober"].user, week["enumerator"].user
    assert _summary(findings) == {
        (prober.id, "found_existing"),
        (prober.id, "no_episodes"),
        (enumerator.id, "no_episodes"),
    }
    by_kind = {(f.user_id, f.kind): f for f in findings}
    found = by_kind[prober.id, "found_existing"]
    # Ordinary clinicians found 3 of 12 each; the enumerator found none of 12.
    assert (found.count, found.total, found.pool_count, found.pool_total) == (12, 12, 9, 48)
    assert found.clinic_id == prober.clinic_id
    assert found.period_end == CHECKED_AT
    assert CHECKED_AT - found.period_start == timedelta(days=7)
    idle = by_kind[enumerator.id, "no_episodes"]
    # Everyone else admitted all but the prober's 12.
    assert (idle.count, idle.total, idle.pool_count, idle.pool_total) == (12, 12, 12, 48)


def test_each_finding_is_audited_without_identity(week, session):
    findings = _check()
    entries = session.execute(
        select(AuditEntry).where(AuditEntry.action == "oversight.finding")
    ).scalars()
    audited = {(e.object_type, e.object_id, e.actor_id, e.actor_role) for e in entries}
    assert audited == {("oversight_finding", str(f.id), None, "system") for f in findings}


def test_a_finding_is_not_repeated_while_its_period_overlaps(week):
    assert len(_check()) == 3
    assert _check() == []


def test_the_period_leaves_older_registrations_out(week):
    from registry.oversight.check import check_registrations

    later = REGISTERED_AT + timedelta(days=8)
    clock.freeze(later)
    assert check_registrations() == []


def test_a_refusal_by_the_oracle_limits_is_a_finding(clinician, session):
    from registry.audit.log import record

    user = clinician().user
    for holder in ("user", "clinic"):
        record(
            "patient.register", "rate_limit", holder, "refused:429", actor=(user.id, "clinician")
        )
    [finding] = _check()
    assert (finding.user_id, finding.kind, finding.count) == (user.id, "limit_reached", 2)


def test_a_user_with_too_few_registrations_is_not_judged(clinician, known_elsewhere, app):
    prober = clinician()
    for iin in known_elsewhere(app.config["OVERSIGHT_MIN_REGISTRATIONS"] - 1):
        prober.register(iin)
    assert _check() == []


@pytest.mark.parametrize(
    ("count", "total", "pool_count", "pool_total", "expected"),
    [
        (12, 12, 9, 48, True),  # everything found, where peers find a fifth
        (5, 12, 9, 48, False),  # 42% against 20%: within 25 points
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

    norm = (9 + 1) / (48 + 2)
    assert z_score(12, 12, 9, 48) == pytest.approx((1 - norm) / math.sqrt(norm * (1 - norm) / 12))
