"""The signed-in user's own account: a new password; and the console's page for unknown URLs."""

from flask import g, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from registry.api.policy import CONSOLE_PREFIX
from registry.api.problems import handle_http_exception
from registry.audit.log import record
from registry.auth import credentials, passwords
from registry.auth.models import Role, User
from registry.auth.passwords import MAX_LENGTH
from registry.console.blueprint import console, page_context
from registry.console.forms import refused
from registry.console.guard import console_roles, signed_in_user
from registry.console.limits import count_failed_sign_in, sign_in_wait
from registry.errors import TooManyRequests, ValidationFailed
from registry.extensions import db


def _typed(name: str) -> str:
    return request.form.get(name, "")[: MAX_LENGTH + 1]


@console.route("/console/account/password", methods=["GET", "POST"])
@console_roles(*Role)
def change_password():
    """Change one's password: the current one first, counted against sign-in limits when wrong."""
    if request.method == "GET":
        return render_template("console/password.html", errors={})
    user = db.session.get(User, g.user.id)
    wait = sign_in_wait(user.name)
    if wait is not None:
        raise TooManyRequests(headers={"Retry-After": str(wait)})
    stored = credentials.credential_of(user.id).password_hash
    try:
        if not passwords.password_matches(stored, _typed("current_password")):
            count_failed_sign_in(user.name)
            record("user.password_change", "user", user.id, outcome=credentials.WRONG_PASSWORD)
            db.session.commit()  # the failure's audit entry stays
            raise ValidationFailed(errors={"current_password": ["wrong"]})
        if _typed("password") != _typed("password_again"):
            raise ValidationFailed(errors={"password_again": ["differs"]})
        credentials.set_password(user, _typed("password"))
        db.session.commit()
    except ValidationFailed as exc:
        return render_template("console/password.html", errors=refused(exc)), 422
    record("user.password_change", "user", user.id)
    db.session.commit()
    return render_template("console/password.html", errors={}, changed=True)


def not_found(error: NotFound):
    """Answer an unknown console URL with a console page; every other URL as before."""
    if not request.path.startswith(CONSOLE_PREFIX + "/"):
        return handle_http_exception(error)
    db.session.rollback()
    # No console view ran: the page gets the console's context (and its menu) here.
    context = {**page_context(), "user": signed_in_user()}
    message = _("This page does not exist. Check the address, or start again from the menu.")
    return render_template("console/error.html", message=message, status=404, **context), 404
