"""Sign-in: user name and password, then a TOTP code (or its enrolment); sign-out; activation."""

import base64
import io

import segno
from flask import g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from registry.audit.log import record
from registry.auth import credentials, totp
from registry.auth.models import Role, User
from registry.auth.passwords import MAX_LENGTH
from registry.console.blueprint import console
from registry.console.forms import messages, refused, text
from registry.console.guard import console_roles, open_page, safe_next, signed_in_user
from registry.console.limits import count_failed_sign_in, sign_in_wait
from registry.errors import TooManyRequests, ValidationFailed
from registry.extensions import db
from registry.site.i18n import current_language

# The sign-in step a half-signed-in session is at: a code to type, or a second factor to set up.
CODE, ENROL = "code", "enrol"


def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, lang=current_language(), **values)


def _done(user_id: int, target: str | None = None):
    """Finish signing in: a new session id bound to the user, then on to the page asked for."""
    credentials.record_sign_in(user_id)
    db.session.commit()
    session.begin(user_id)
    return redirect(safe_next(target) or _url("console.home"))


class NoSignInUnderWay(Exception):
    """The session is at no such sign-in step (timed out, or never began)."""


def _pending(step: str) -> tuple[User, str | None]:
    """Return the user half-way through sign-in at this step."""
    pending = session.get("pending") or {}
    user = db.session.get(User, pending.get("user_id") or 0)
    if pending.get("step") != step or user is None or user.disabled_at is not None:
        raise NoSignInUnderWay()
    return user, pending.get("next")


@console.errorhandler(NoSignInUnderWay)
def start_again(_error):
    """Send a browser with no sign-in under way back to its first step."""
    return redirect(_url("console.sign_in"))


def _refuse_when_limited(name: str, user_id: int | None) -> None:
    """Answer 429 (audited) before any check when the client or the name failed too often."""
    wait = sign_in_wait(name)
    if wait is not None:
        credentials.record_sign_in(user_id, credentials.LIMITED)
        db.session.commit()
        raise TooManyRequests(headers={"Retry-After": str(wait)})


def _user_id_named(name: str) -> int | None:
    return db.session.execute(select(User.id).where(User.name == name)).scalar()


@console.route("/console/sign-in", methods=["GET"])
@open_page
def sign_in():
    """Ask for a user name and a password."""
    if signed_in_user() is not None:
        return redirect(_url("console.home"))
    return render_template(
        "console/sign_in.html",
        errors={},
        next=safe_next(request.args.get("next")),
        timed_out=getattr(session, "timed_out", False),
    )


@console.route("/console/sign-in", methods=["POST"])
@open_page
def sign_in_submit():
    """Check the password; go on to the second factor, or in."""
    name, target = text("name", 120), safe_next(request.form.get("next"))
    password = request.form.get("password", "")[: MAX_LENGTH + 1]
    _refuse_when_limited(name, _user_id_named(name))
    check = credentials.check_password(name, password)
    if check.user is None:
        count_failed_sign_in(name)
        db.session.commit()  # the audit entry of the failure
        return render_template(
            "console/sign_in.html",
            errors=messages({"credentials": [""]}),
            next=target,
            name=name,
            timed_out=False,
        ), 200
    user_id = check.user.id
    if not (check.needs_code or check.needs_enrolment):
        return _done(user_id, target)
    db.session.commit()  # a rehashed password
    session.begin(None)  # a new id for the half-signed-in session too
    step = CODE if check.needs_code else ENROL
    session["pending"] = {"user_id": user_id, "step": step, "next": target}
    return redirect(_url("console.sign_in_code" if step == CODE else "console.sign_in_enrol"))


@console.route("/console/sign-in/code", methods=["GET", "POST"])
@open_page
def sign_in_code():
    """Ask for the six-digit code of the user's authenticator app."""
    user, target = _pending(CODE)
    if request.method == "GET":
        return render_template("console/code.html", errors={})
    _refuse_when_limited(user.name, user.id)
    if credentials.check_code(user.id, text("code", 20)):
        session.pop("pending", None)
        return _done(user.id, target)
    count_failed_sign_in(user.name)
    credentials.record_sign_in(user.id, credentials.WRONG_CODE)
    db.session.commit()
    return render_template("console/code.html", errors=messages({"code": [""]})), 200


def qr_data_uri(content: str) -> str:
    """Draw a QR code as an SVG data URI: an <img> the page's CSP allows (img-src data:)."""
    out = io.BytesIO()
    segno.make_qr(content, error="m").save(out, kind="svg", scale=5, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _enrolment_page(user: User, action: str, errors: dict, status: int = 200):
    secret = credentials.enrolment_secret(user.id)
    db.session.commit()  # the sealed secret, kept until it is confirmed
    return render_template(
        "console/enrol.html",
        action=action,
        errors=errors,
        qr=qr_data_uri(totp.provisioning_uri(secret, user.name)),
        secret=_grouped(secret),
        required=credentials.second_factor_required(user.roles),
    ), status


def _confirm(user: User) -> bool:
    """Confirm an enrolment with the first code; count a wrong one as a failed sign-in."""
    _refuse_when_limited(user.name, user.id)
    if credentials.confirm_enrolment(user.id, text("code", 20)):
        return True
    count_failed_sign_in(user.name)
    db.session.commit()
    return False


@console.route("/console/sign-in/enrol", methods=["GET", "POST"])
@open_page
def sign_in_enrol():
    """Set up the second factor a role requires before the first sign-in completes."""
    user, target = _pending(ENROL)
    action = _url("console.sign_in_enrol")
    if request.method == "POST":
        if _confirm(user):
            session.pop("pending", None)
            return _done(user.id, target)
        return _enrolment_page(user, action, messages({"code": [""]}))
    return _enrolment_page(user, action, {})


@console.route("/console/account/second-factor", methods=["GET", "POST"])
@console_roles(*Role)
def second_factor():
    """Let a user whose role does not require one add a second factor."""
    user = db.session.get(User, g.user.id)
    if credentials.has_second_factor(user.id):
        return render_template("console/second_factor_done.html")
    action = _url("console.second_factor")
    if request.method == "POST":
        if _confirm(user):
            db.session.commit()
            return render_template("console/second_factor_done.html", just_now=True)
        return _enrolment_page(user, action, messages({"code": [""]}))
    return _enrolment_page(user, action, {})


@console.route("/console/sign-out", methods=["POST"])
@console_roles(*Role)
def sign_out():
    """End the session on the server and in the browser."""
    record("console.sign_out", "user", g.user.id)
    db.session.commit()
    session.end()
    return redirect(_url("console.sign_in", signed_out=1))


@console.route("/console/activate", methods=["GET", "POST"])
@open_page
def activate():
    """Set a first password with an enrolment's one-time code, typed on the page, never in a URL.

    The first form takes the code; the second (the code carried in its body) the password.
    """
    if request.method == "GET":
        return render_template("console/activate_code.html", errors={})
    code = text("code", 100)
    if not code:
        errors = messages({"enrolment_code": [""]})
        return render_template("console/activate_code.html", errors=errors), 422
    user = credentials.user_for_activation(code)
    if "password" not in request.form:
        return render_template("console/activate.html", code=code, name=user.name, errors={})
    password = request.form.get("password", "")[: MAX_LENGTH + 1]
    try:
        if password != request.form.get("password_again", "")[: MAX_LENGTH + 1]:
            raise ValidationFailed(errors={"password_again": ["differs"]})
        credentials.activate(code, password)
    except ValidationFailed as exc:
        return render_template(
            "console/activate.html", code=code, name=user.name, errors=refused(exc)
        ), 422
    return _after_new_password(user)


def _after_new_password(user: User):
    """Go on after a first password: a second factor set up is asked for, one required is set up."""
    step = CODE if credentials.has_second_factor(user.id) else None
    if step is None and credentials.second_factor_required(user.roles):
        step = ENROL
    if step is None:
        return _done(user.id)
    db.session.commit()
    session.begin(None)
    session["pending"] = {"user_id": user.id, "step": step, "next": None}
    return redirect(_url("console.sign_in_code" if step == CODE else "console.sign_in_enrol"))
