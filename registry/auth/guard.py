"""Authentication and authorisation: one role decorator and one object-level check."""

from functools import wraps

from flask import g, request

from registry.auth.models import User
from registry.auth.tokens import user_for_token
from registry.errors import Forbidden, NotFound, Unauthorized

# Marks a view as open to everyone; the authorisation matrix test reads it.
PUBLIC = "public"

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="registry"'}


def authenticate() -> User:
    """Return the user behind the request's bearer token, or raise 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    found = user_for_token(secret.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        # One answer for missing, malformed, unknown, expired and revoked tokens,
        # so that the response never tells which tokens or users exist.
        raise Unauthorized("a valid bearer token is required", headers=_CHALLENGE)
    g.user, g.token = found
    return g.user


def roles_required(*roles: str):
    """Let a view run only for a user holding at least one of the roles (401, then 403)."""
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            user = authenticate()
            acting = allowed & user.roles
            if not acting:
                raise Forbidden("your role does not allow this")
            g.acting_role = min(acting)  # the role the audit log names for this request
            return view(*args, **kwargs)

        guarded.policy = allowed
        return guarded

    return decorator


def public(view):
    """Mark a view as needing no token."""
    view.policy = PUBLIC
    return view


def current_user() -> User | None:
    """Return the authenticated user of this request, if any."""
    return g.get("user")


def require_own_clinic(clinic_id: int | None) -> None:
    """Refuse, as not found, an object that belongs to another clinic than the caller's."""
    user = current_user()
    # 404 rather than 403 so that a clinic cannot probe which ids other clinics hold.
    if user is None or clinic_id is None or user.clinic_id != clinic_id:
        raise NotFound("no such object")
