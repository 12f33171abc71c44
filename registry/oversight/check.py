"""The oversight check: users whose linked registrations look like probing the registry.

Counted from the audit log, which already holds every registration's user, time, pseudonym and
outcome (registry/patients/services.py: new, found, existing); no identity is read or stored.
Over a period (the last OVERSIGHT_PERIOD_DAYS), each user with at least
OVERSIGHT_MIN_REGISTRATIONS linked registrations is compared with everyone else on two shares:

- found_existing: registrations that found a person known only at other clinics. A clinician
  registers mostly new persons and some known elsewhere; someone testing whether given people
  are in the registry finds far more.
- no_episodes: registrations of persons for whom the user's clinic has no episode, then or
  since. Care follows registration; probing, or typing IINs from a list, does not.

A share is "far above" when it is at least OVERSIGHT_MIN_EXCESS_PERCENT points above everyone
else's and at least OVERSIGHT_MIN_Z standard errors above it (a one-sided binomial z-score).
Everyone else's share is taken with one pseudo-count each way, (c + 1) / (n + 2), so that an
empty or one-sided pool still gives a usable norm; the user is left out of its own norm. The
points guard keeps a busy user's small, significant difference from being reported; the z-score
keeps a few unlucky registrations from it. Every answer refused by the oracle limits is also a
finding (limit_reached): by design a busy clinic never reaches them.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, case, exists, func, select

from registry import clock
from registry.audit.log import first_index_since, record
from registry.audit.models import AuditEntry
from registry.auth.models import User
from registry.episodes.models import Episode
from registry.extensions import db
from registry.oversight import LIMIT_REFUSAL
from registry.oversight.models import FindingKind, OversightFinding
from registry.patients.models import Pseudonym
from registry.patients.services import FOUND, LINKED_OUTCOMES


@dataclass(frozen=True)
class Thresholds:
    """When a share is far above the norm: enough registrations, points and standard errors."""

    min_total: int
    min_excess: float
    min_z: float

    @classmethod
    def from_config(cls, config) -> "Thresholds":
        """Read the OVERSIGHT_* settings."""
        return cls(
            min_total=int(config["OVERSIGHT_MIN_REGISTRATIONS"]),
            min_excess=int(config["OVERSIGHT_MIN_EXCESS_PERCENT"]) / 100,
            min_z=float(config["OVERSIGHT_MIN_Z"]),
        )


@dataclass(frozen=True)
class UserCounts:
    """One user's linked registrations in a period, and how many of them stood out."""

    user_id: int
    clinic_id: int | None
    total: int
    found: int
    without_episode: int


def smoothed_share(count: int, total: int) -> float:
    """Return a pool's share with one pseudo-count each way, never exactly 0 or 1."""
    return (count + 1) / (total + 2)


def z_score(count: int, total: int, pool_count: int, pool_total: int) -> float:
    """Return how many standard errors a user's share lies above the pool's."""
    norm = smoothed_share(pool_count, pool_total)
    return (count / total - norm) / math.sqrt(norm * (1 - norm) / total)


def far_above(count: int, total: int, pool_count: int, pool_total: int, at: Thresholds) -> bool:
    """Tell whether a user's share is far above everyone else's (see the module docstring)."""
    if total < at.min_total:
        return False
    excess = count / total - smoothed_share(pool_count, pool_total)
    return excess >= at.min_excess and z_score(count, total, pool_count, pool_total) >= at.min_z


def check_registrations(until: datetime | None = None) -> list[OversightFinding]:
    """Record and audit the findings of the period ending now (or `until`); return the new."""
    end = until or clock.now()
    start = end - timedelta(days=int(current_app.config["OVERSIGHT_PERIOD_DAYS"]))
    thresholds = Thresholds.from_config(current_app.config)
    period = _in_period(start, end)
    users = _linked_registrations(period)
    found = _outliers(users, "found", FindingKind.FOUND_EXISTING, thresholds)
    found += _outliers(users, "without_episode", FindingKind.NO_EPISODES, thresholds)
    found += _refused(period, {user.user_id: user.total for user in users})
    new = []
    for finding in found:
        finding.period_start, finding.period_end = start, end
        if not _already_reported(finding):
            finding.created_at = clock.now()
            db.session.add(finding)
            db.session.flush()
            record("oversight.finding", "oversight_finding", finding.id)
            new.append(finding)
    return new


def _in_period(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Return the condition on audit entries of the period, read from where it starts."""
    first = first_index_since(start)
    return and_(AuditEntry.idx >= first, AuditEntry.at >= start, AuditEntry.at < end)


def _linked_registrations(period: ColumnElement[bool]) -> list[UserCounts]:
    """Count each user's linked registrations in the period, found ones and ones never admitted."""
    admitted = exists().where(
        Episode.person_id == Pseudonym.person_id, Episode.clinic_id == User.clinic_id
    )
    rows = db.session.execute(
        select(
            AuditEntry.actor_id,
            User.clinic_id,
            func.count(),
            func.sum(case((AuditEntry.outcome == FOUND, 1), else_=0)),
            # An erased person's pseudonym is gone: counted as never admitted.
            func.sum(case((admitted, 0), else_=1)),
        )
        .join(User, User.id == AuditEntry.actor_id)
        .outerjoin(Pseudonym, Pseudonym.value == AuditEntry.object_id)
        .where(
            AuditEntry.action == "patient.register",
            AuditEntry.outcome.in_(LINKED_OUTCOMES),
            period,
        )
        .group_by(AuditEntry.actor_id, User.clinic_id)
    ).all()
    return [UserCounts(*row) for row in rows]


def _outliers(
    users: list[UserCounts], field: str, kind: FindingKind, thresholds: Thresholds
) -> list[OversightFinding]:
    """Return a finding for each user whose share of `field` is far above everyone else's."""
    all_count = sum(getattr(user, field) for user in users)
    all_total = sum(user.total for user in users)
    findings = []
    for user in users:
        count = getattr(user, field)
        pool_count, pool_total = all_count - count, all_total - user.total
        if far_above(count, user.total, pool_count, pool_total, thresholds):
            findings.append(
                OversightFinding(
                    kind=kind,
                    user_id=user.user_id,
                    clinic_id=user.clinic_id,
                    count=count,
                    total=user.total,
                    pool_count=pool_count,
                    pool_total=pool_total,
                )
            )
    return findings


def _refused(period: ColumnElement[bool], totals: dict[int, int]) -> list[OversightFinding]:
    """Return a finding for each user refused by an oracle limit in the period."""
    rows = db.session.execute(
        select(AuditEntry.actor_id, User.clinic_id, func.count())
        .join(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.object_type == LIMIT_REFUSAL, period)
        .group_by(AuditEntry.actor_id, User.clinic_id)
    ).all()
    return [
        OversightFinding(
            kind=FindingKind.LIMIT_REACHED,
            user_id=user_id,
            clinic_id=clinic_id,
            count=count,
            total=totals.get(user_id, 0),
        )
        for user_id, clinic_id, count in rows
    ]


def _already_reported(finding: OversightFinding) -> bool:
    """Tell whether this user's finding of this kind already covers part of the period."""
    return db.session.execute(
        select(
            exists().where(
                OversightFinding.user_id == finding.user_id,
                OversightFinding.kind == finding.kind,
                OversightFinding.period_end > finding.period_start,
            )
        )
    ).scalar()


def findings_after(after: int, limit: int, kind: str | None = None) -> list[OversightFinding]:
    """Return up to `limit` findings with ids above `after`, oldest first."""
    query = select(OversightFinding).where(OversightFinding.id > after)
    if kind is not None:
        query = query.where(OversightFinding.kind == kind)
    return list(db.session.execute(query.order_by(OversightFinding.id).limit(limit)).scalars())
