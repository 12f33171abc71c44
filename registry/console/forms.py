"""Read console forms into the API's own input shapes, and say what was wrong in words."""

from flask import request
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from registry.api.patients.schemas import RegistrationSchema
from registry.api.problems import flatten_messages
from registry.errors import ValidationFailed
from registry.extensions import db

# Every message names the field and the fix, never the value typed.
FIELD_MESSAGES = {
    "mode": _l("Choose how to register the patient."),
    "identity.iin": _l("Check the IIN: 12 digits, the last one a check digit."),
    "identity.family_name": _l("Enter the family name."),
    "identity.given_name": _l("Enter the given name."),
    "identity.patronymic": _l("Check the patronymic."),
    "identity.birth_date": _l("Enter a real date of birth, not in the future."),
    "identity.sex": _l("Choose the sex."),
    "care_card": _l("This care card code has a typo. Check every character and try again."),
    "q": _l("Type at least 4 characters of the pseudonym."),
    "password": _l(
        "Choose a password of at least 12 characters that does not contain your user name."
    ),
    "password_again": _l("The two passwords differ. Type the same password twice."),
    "code": _l("This code is not right. Type the six digits your app shows now."),
    "enrolment_code": _l("Type the one-time code you were given with this page's address."),
    "current_password": _l("This is not your current password. Type it again."),
    "credentials": _l("The user name or the password is not right."),
}
_OTHER = _l("This value is not accepted.")

_REGISTRATION = RegistrationSchema()
_REQUIRED = {"iin": ("iin",), "name": ("family_name", "given_name", "birth_date", "sex")}
_IDENTITY_FIELDS = {
    "iin": ("iin",),
    "name": ("family_name", "given_name", "patronymic", "birth_date", "sex"),
}


def messages(errors: dict | None) -> dict[str, str]:
    """Return one plain message per field that a domain error or a schema named."""
    return {field: str(FIELD_MESSAGES.get(field, _OTHER)) for field in errors or {}}


def refused(exc: ValidationFailed) -> dict[str, str]:
    """Undo the request's writes after a refused form; return its messages."""
    db.session.rollback()
    return messages(exc.errors)


def text(name: str, limit: int = 200) -> str:
    """Return a form field's text, trimmed and bounded."""
    return request.form.get(name, "")[:limit].strip()


def registration_payload(form: MultiDict) -> dict:
    """Turn the registration form into the API's registration body, validated by its schema."""
    mode = form.get("mode", "")
    body: dict = {"mode": "anonymous" if mode == "anonymous" else "linked"}
    if mode in _IDENTITY_FIELDS:
        identity = {name: form.get(name, "")[:200].strip() for name in _IDENTITY_FIELDS[mode]}
        body["identity"] = {name: value for name, value in identity.items() if value}
        if not body["identity"]:
            raise ValidationFailed(errors={f"identity.{n}": ["required"] for n in _REQUIRED[mode]})
    elif mode != "anonymous":
        raise ValidationFailed(errors={"mode": ["unknown"]})
    try:
        return _REGISTRATION.load(body)
    except ValidationError as exc:
        raise ValidationFailed(errors=flatten_messages(exc.messages)) from None
