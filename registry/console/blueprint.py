"""The console blueprint: its page context, and errors answered as pages."""

from flask import Blueprint, Response, g, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import HTTPException

from registry.audit.log import record_refusal
from registry.console.guard import CsrfRefused
from registry.errors import RegistryError, TooManyRequests
from registry.extensions import db
from registry.site import labels
from registry.site.i18n import current_language, languages

console = Blueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/console",
)


def switch_url(code: str) -> str:
    """Link to this page in another language; after a form, to the console's home."""
    if request.method != "GET" or not request.endpoint:
        return url_for("console.home", lang=code)
    args = {k: v for k, v in request.args.items() if k != "lang"}
    return url_for(request.endpoint, **(request.view_args or {}), **args, lang=code)


@console.context_processor
def page_context() -> dict:
    """Give every page its language, the switch, the signed-in user and the CSRF token."""
    return {
        "lang": current_language(),
        "languages": languages(),
        "labels": labels,
        "switch_url": switch_url,
        "user": g.get("user"),
        "csrf_token": generate_csrf,
    }


@console.teardown_request
def forget_request_state(_exc) -> None:
    """Forget who signed in, the CSRF token and the language: g outlives a request in a shared
    app context (the CLI, tests)."""
    for name in ("user", "acting_role", "csrf_token"):
        g.pop(name, None)
    refresh()


def _explain(error: Exception) -> tuple[int, str]:
    """Return the status and a plain, translated explanation of what went wrong."""
    status = getattr(error, "status", None) or getattr(error, "code", None) or 400
    if isinstance(error, CsrfRefused):
        return 400, _("This form has expired. Go back, reload the page and try again.")
    if isinstance(error, TooManyRequests) or status == 429:
        return 429, _("Too many attempts. Please wait a few minutes and try again.")
    if status == 403:
        return 403, _("Your role does not allow this page.")
    if status == 404:
        return 404, _("This page or record does not exist, or is not one of your clinic's.")
    if status == 409:
        return 409, _("This is not possible in the record's present state.")
    if status == 413:
        return 413, _("What you sent is too large.")
    return status, _("Something in the request was not understood. Please try again.")


@console.errorhandler(RegistryError)
@console.errorhandler(HTTPException)
def error_page(error: Exception) -> Response:
    """Answer console errors with a page, auditing refusals as the API does."""
    db.session.rollback()
    audit = getattr(error, "audit", None)
    status, message = _explain(error)
    if audit is not None:
        record_refusal(audit, status=status)
    response = Response(
        render_template("console/error.html", message=message, status=status), status=status
    )
    headers = getattr(error, "headers", None) or {}
    if isinstance(error, HTTPException):
        headers = dict(error.get_headers())
    if status == 429:
        response.headers["Retry-After"] = str(headers.get("Retry-After", "60"))
    return response
