"""A clinic's compliance worklist: its open episodes, overdue first, one page at a time."""

from datetime import date
from typing import Any

from sqlalchemy import and_, case, select

from registry.audit.log import record
from registry.episodes.history import today, zone
from registry.episodes.models import Episode, EpisodeStatus
from registry.extensions import db
from registry.patients.models import Pseudonym
from registry.patients.services import clinic_domain


def compliance_worklist(clinic_id: int, tz_name: str, page: int, per_page: int) -> dict[str, Any]:
    """Return a page of the clinic's open episodes: overdue first (longest overdue on top),
    then those with a duty ahead, then the rest; the read is audited."""
    on = today(zone(tz_name))
    overdue = and_(Episode.overdue_after.is_not(None), Episode.overdue_after < on)
    rank = case((overdue, 0), (Episode.overdue_after.is_not(None), 1), else_=2)
    rows = db.session.execute(
        select(
            Episode.ref,
            Episode.protocol_key,
            Episode.stage,
            Episode.admitted_on,
            Episode.overdue_after,
            Pseudonym.value,
        )
        .outerjoin(
            Pseudonym,
            and_(
                Pseudonym.person_id == Episode.person_id,
                Pseudonym.domain == clinic_domain(clinic_id),
            ),
        )
        .where(Episode.clinic_id == clinic_id, Episode.status == EpisodeStatus.OPEN)
        .order_by(rank, Episode.overdue_after, Episode.id)
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()
    record("episode.list", "clinic", clinic_id)
    return {
        "on": on,
        "page": page,
        "more": len(rows) > per_page,
        "rows": [_row(row, on) for row in rows[:per_page]],
    }


def _row(row, on: date) -> dict[str, Any]:
    ref, protocol, stage, admitted_on, overdue_after, pseudonym = row
    late = overdue_after is not None and overdue_after < on
    return {
        "ref": ref,
        "protocol": protocol,
        "stage": stage,
        "admitted_on": admitted_on,
        "pseudonym": pseudonym,
        "overdue": late,
        "days_overdue": (on - overdue_after).days if late else 0,
        "due_after": overdue_after,
    }
