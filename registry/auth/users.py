"""Create users with roles and a clinic binding; list a clinic's staff with their tokens."""

from dataclasses import dataclass

from sqlalchemy import select

from registry import clock
from registry.access.models import Clinic
from registry.auth.models import CLINIC_ROLES, ApiToken, Role, User, UserRole
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


@dataclass(frozen=True)
class StaffMember:
    """A clinic user as its administrator sees them: roles and tokens still in force."""

    user: User
    tokens: list[ApiToken]


def clinic_staff(clinic_id: int, limit: int = 500) -> list[StaffMember]:
    """Return the clinic's users by name, each with their unrevoked, unexpired tokens."""
    users = list(
        db.session.execute(
            select(User).where(User.clinic_id == clinic_id).order_by(User.name).limit(limit)
        ).scalars()
    )
    tokens: dict[int, list[ApiToken]] = {user.id: [] for user in users}
    if users:
        live = select(ApiToken).where(
            ApiToken.user_id.in_(list(tokens)),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > clock.now(),
        )
        for token in db.session.execute(live.order_by(ApiToken.id)).scalars():
            tokens[token.user_id].append(token)
    return [StaffMember(user, tokens[user.id]) for user in users]
