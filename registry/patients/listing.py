"""A clinic's own patients, a page at a time: newest first, or by the start of a pseudonym."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, or_, select

from registry.access.models import Clinic
from registry.audit.log import record
from registry.crypto.codes import PSEUDONYM, display_prefixes
from registry.episodes.history import local_day, zone
from registry.errors import ValidationFailed
from registry.extensions import db
from registry.patients.models import Pseudonym
from registry.patients.services import clinic_domain

# Fewer characters than this would match a large share of a clinic's patients.
MIN_SEARCH_CHARS = 4


@dataclass(frozen=True)
class PatientRow:
    """One line of the list: this clinic's pseudonym and the day the clinic first saw them."""

    pseudonym: str
    created_on: date


@dataclass(frozen=True)
class PatientPage:
    """A page of rows and the pseudonym to continue after, if there are more."""

    rows: list[PatientRow]
    next_after: str | None


def _upper_bound(prefix: str) -> str:
    """Return the smallest text after every text that starts with `prefix` (ASCII codes)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def clinic_patients(
    clinic_id: int, search: str = "", after: str = "", limit: int = 25
) -> PatientPage:
    """Return a page of a clinic's patients; with `search`, those whose pseudonym starts so.

    Paging is by key, never by offset: the newest-first list walks the (domain, id) index, a
    search walks the unique pseudonym index, and neither counts or skips rows. `after` is the
    last pseudonym of the previous page: the clinic's own, never a shared row id.
    """
    domain = clinic_domain(clinic_id)
    query = select(Pseudonym.value, Pseudonym.created_at).where(Pseudonym.domain == domain)
    if search:
        prefixes = display_prefixes(search, PSEUDONYM)
        if len(search.replace("-", "").replace(" ", "")) < MIN_SEARCH_CHARS or not prefixes:
            raise ValidationFailed(errors={"q": [f"at least {MIN_SEARCH_CHARS} code characters"]})
        query = query.where(
            or_(*(and_(Pseudonym.value >= p, Pseudonym.value < _upper_bound(p)) for p in prefixes))
        )
        if after:
            query = query.where(Pseudonym.value > after[:32])
        query = query.order_by(Pseudonym.value)
    else:
        if after:
            anchor = select(Pseudonym.id).where(
                Pseudonym.domain == domain, Pseudonym.value == after[:32]
            )
            query = query.where(Pseudonym.id < anchor.scalar_subquery())
        query = query.order_by(Pseudonym.id.desc())
    rows = db.session.execute(query.limit(limit + 1)).all()
    tz = zone(db.session.get(Clinic, clinic_id).timezone)
    page = [PatientRow(value, local_day(made, tz)) for value, made in rows[:limit]]
    record("patient.list", "clinic", clinic_id)
    return PatientPage(page, page[-1].pseudonym if len(rows) > limit else None)
