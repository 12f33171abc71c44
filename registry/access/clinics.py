"""Create and read clinics."""

from zoneinfo import available_timezones

from sqlalchemy import select

from registry.access.models import Clinic, Region
from registry.audit.log import record
from registry.auth.guard import require_own_clinic
from registry.auth.models import Role
from registry.auth.tokens import Principal
from registry.errors import NotFound, ValidationFailed
from registry.extensions import db


def create_clinic(name: str, region_code: str, centre_type: str, timezone: str) -> Clinic:
    """Create a clinic in a known region and time zone; audit it."""
    if db.session.get(Region, region_code) is None:
        raise ValidationFailed(errors={"region_code": ["unknown region"]})
    if timezone not in available_timezones():
        raise ValidationFailed(errors={"timezone": ["unknown IANA time zone"]})
    clinic = Clinic(name=name, region_code=region_code, centre_type=centre_type, timezone=timezone)
    db.session.add(clinic)
    db.session.flush()
    record("clinic.create", "clinic", clinic.id)
    return clinic


def visible_clinics(user: Principal) -> list[Clinic]:
    """Return every clinic for operators, and only their own for clinic staff."""
    query = select(Clinic).order_by(Clinic.id)
    if Role.ADMIN not in user.roles:
        query = query.where(Clinic.id == user.clinic_id)
    return list(db.session.execute(query).scalars())


def get_clinic(user: Principal, clinic_id: int) -> Clinic:
    """Return a clinic the user may see; another clinic's is reported as not found."""
    if Role.ADMIN not in user.roles:
        require_own_clinic(clinic_id)
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound("no such object")
    return clinic
