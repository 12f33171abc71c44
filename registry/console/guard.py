"""Who is signed in to the console, the role check of every page, and the CSRF check."""

from functools import wraps
from urllib.parse import urlsplit

from flask import g, redirect, request, session
from flask_wtf.csrf import validate_csrf
from sqlalchemy import bindparam, select
from werkzeug.exceptions import BadRequest
from wtforms import ValidationError

from registry.auth.guard import public
from registry.auth.models import User, UserRole
from registry.auth.tokens import Principal
from registry.database import reading_bind
from registry.driver_sql import driver_query
from registry.errors import Forbidden
from registry.site.i18n import current_language

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_USER_QUERY = (
    select(User.name, User.clinic_id, UserRole.role)
    .join(UserRole, UserRole.user_id == User.id)
    .where(User.id == bindparam("user_id"), User.disabled_at.is_(None))
)


class CsrfRefused(BadRequest):
    """A form came without this session's CSRF token (expired page, or another site's form)."""


def signed_in_user() -> Principal | None:
    """Return the user this browser's console session is signed in as, if any."""
    user_id = getattr(session, "user_id", None)
    if user_id is None:
        return None
    rows = driver_query(reading_bind(), _USER_QUERY, {"user_id": user_id})
    if not rows:
        return None  # disabled since, or gone
    name, clinic_id, _ = rows[0]
    return Principal(user_id, name, clinic_id, frozenset(row[2] for row in rows))


def check_csrf() -> None:
    """Refuse an unsafe request without this session's CSRF token in its form."""
    if request.method not in UNSAFE_METHODS:
        return
    try:
        validate_csrf(request.form.get("csrf_token", ""))
    except ValidationError:
        raise CsrfRefused() from None


def safe_next(target: str | None) -> str | None:
    """Return a console path to go on to after sign-in, or None for anything else."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return None  # never another site: no open redirect
    if "\\" in target or target.startswith("//"):
        return None
    return target


def _to_sign_in():
    from flask import url_for

    target = request.full_path if request.method == "GET" else None
    values = {"lang": current_language()}
    if safe_next(target) and target.rstrip("?") != "/console/":
        values["next"] = target.rstrip("?")
    return redirect(url_for("console.sign_in", **values))


def console_roles(*roles: str):
    """Let a page be used only by a signed-in user holding one of the roles.

    Signed out (or timed out): a redirect to sign-in. Wrong role: 403. Then the CSRF check of
    unsafe methods, so that a refused caller is told to sign in rather than that a form expired.
    """
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            user = signed_in_user()
            if user is None:
                return _to_sign_in()
            acting = allowed & user.roles
            if not acting:
                raise Forbidden("your role does not allow this")
            g.user = user
            g.acting_role = min(acting)  # the role the audit log names for this request
            check_csrf()
            return view(*args, **kwargs)

        guarded.policy = allowed
        return guarded

    return decorator


def open_page(view):
    """Open a page to everyone (sign-in steps), still with the CSRF check on its forms."""

    @wraps(view)
    def checked(*args, **kwargs):
        check_csrf()
        return view(*args, **kwargs)

    return public(checked)
