"""Create users with roles and a clinic binding."""

from sqlalchemy import select

from registry.access.models import Clinic
from registry.auth.models import CLINIC_ROLES, Role, User, UserRole
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.extensions import db


def create_user(name: str, roles: list[str], clinic_id: int | None = None) -> User:
    """Create a user; clinic roles need a clinic and other roles must not have one."""
    unknown = sorted(set(roles) - {r.value for r in Role})
    if not roles or unknown:
        raise ValidationFailed(errors={"roles": [f"unknown or missing roles: {unknown}"]})
    wants_clinic = bool(CLINIC_ROLES & set(roles))
    if wants_clinic and clinic_id is None:
        raise ValidationFailed(errors={"clinic": ["clinic roles need a clinic"]})
    if not wants_clinic and clinic_id is not None:
        raise ValidationFailed(errors={"clinic": ["only clinic roles are bound to a clinic"]})
    if clinic_id is not None and db.session.get(Clinic, clinic_id) is None:
        raise NotFound("no such clinic")
    if db.session.execute(select(User.id).where(User.name == name)).first():
        raise Conflict("a user with this name exists")
    user = User(
        name=name,
        clinic_id=clinic_id,
        role_rows=[UserRole(role=role) for role in sorted(set(roles))],
    )
    db.session.add(user)
    db.session.flush()
    return user
