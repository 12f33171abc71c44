"""Authentication and authorisation: one role decorator and one object-level check."""

from functools import wraps

from flask import g, request

from registry.api.ratelimit import failed_authentication_retry_after
from registry.auth.tokens import Principal, principal_for_token
from registry.errors import Forbidden, NotFound, TooManyRequests, Unauthorized

# Marks a view as open to everyone; the authorisation matrix test reads it.
PUBLIC = "public"

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="registry"'}


def authenticate() -> Principal:
    """Return the principal behind the request's bearer token, or raise 401 (429 when abused)."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    found = principal_for_token(secret.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        retry_after = failed_authentication_retry_after()
        if retry_after is not None:
            raise TooManyRequests(headers={"Retry-After": str(retry_after)})
        # One answer for missing, malformed, unknown, expired and revoked tokens,
        # so that the response never tells which tokens or users exist.
        raise Unauthorized("a valid bearer token is required", headers=_CHALLENGE)
    g.user = found
    return found


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


def current_user() -> Principal | None:
    """Return the authenticated principal of this request, if any."""
    return g.get("user")


def require_own_clinic(clinic_id: int | None) -> None:
    """Refuse, as not found, an object that belongs to another clinic than the caller's."""
    user = current_user()
    # 404 rather than 403 so that a clinic cannot probe which ids other clinics hold.
    if user is None or clinic_id is None or user.clinic_id != clinic_id:
        raise NotFound("no such object")
