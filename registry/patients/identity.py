"""Turn identity fields from a request into token material and an escrow plaintext."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from dataclasses import dataclass, field

from registry import clock
from registry.crypto.errors import InvalidIdentity
from registry.crypto.iin import check_consistent, validate_iin
from registry.crypto.names import name_key_material
from registry.errors import ValidationFailed

NAME_FIELDS = ("family_name", "given_name", "patronymic")
# Nobody has been recorded older than 122: an older birth date is a typo.
OLDEST_AGE_YEARS = 130
# The first time zone to start a day (UTC+14): a child born there today is not born in the
# future, although the server's UTC date may still be yesterday.
_EARLIEST_ZONE = dt.timedelta(hours=14)


@dataclass(frozen=True, slots=True)
class Identity:
    """Validated identity: token material per kind and the escrow plaintext; no repr."""

    # (kind, material) in lookup order: the most specific first.
    materials: tuple[tuple[str, bytes], ...] = field(repr=False)
    escrow_plaintext: bytes = field(repr=False)
    # The birth date and sex the identity gives (from the IIN, or as stated with a name):
    # an import records them in the TDI items (birth year and month, sex).
    birth_date: dt.date | None = field(default=None, repr=False)
    sex: str | None = field(default=None, repr=False)


def _invalid(exc: InvalidIdentity) -> ValidationFailed:
    """Map a crypto validation error to a 422 naming the field and the rule only."""
    return ValidationFailed(errors={f"identity.{exc.field}": [exc.rule]})


def parse_identity(fields: dict) -> Identity:
    """Validate an IIN or a name identity and build its token material."""
    try:
        if fields.get("iin") is not None:
            return _iin_identity(fields)
        return _name_identity(fields)
    except InvalidIdentity as exc:
        raise _invalid(exc) from None


def check_birth_date(born: dt.date, field: str, prefix: str = "") -> None:
    """Refuse a birth date after today anywhere on Earth, or more than OLDEST_AGE_YEARS ago."""
    now = clock.now()
    if born > (now + _EARLIEST_ZONE).date():
        raise InvalidIdentity(field, f"{prefix}in_future")
    today = now.date()
    try:
        oldest = today.replace(year=today.year - OLDEST_AGE_YEARS)
    except ValueError:  # 29 February, and that year was no leap year
        oldest = today.replace(year=today.year - OLDEST_AGE_YEARS, day=28)
    if born < oldest:
        raise InvalidIdentity(field, f"{prefix}too_old")


def _iin_identity(fields: dict) -> Identity:
    info = validate_iin(fields["iin"])
    check_birth_date(info.birth_date, "iin", prefix="birth_date_")
    birth_date, sex = fields.get("birth_date"), fields.get("sex")
    if birth_date is not None or sex is not None:
        check_consistent(
            info,
            birth_date if birth_date is not None else info.birth_date,
            sex if sex is not None else info.sex,
        )
    iin = fields["iin"].strip()  # canonical: validate_iin checked these 12 ASCII digits
    return Identity(
        materials=(("iin", iin.encode("ascii")),),
        escrow_plaintext=_escrow_json({"iin": iin}),
        birth_date=info.birth_date,
        sex=info.sex.value,
    )


def _name_identity(fields: dict) -> Identity:
    missing = [
        name for name in ("family_name", "given_name", "birth_date", "sex") if not fields.get(name)
    ]
    if missing:
        raise ValidationFailed(
            errors={f"identity.{name}": ["required without iin"] for name in missing}
        )
    material = name_key_material(
        fields["family_name"],
        fields["given_name"],
        fields["birth_date"],
        fields["sex"],
        fields.get("patronymic"),
    )
    check_birth_date(fields["birth_date"], "birth_date")
    materials = [("name", material.primary)]
    if material.patronymic is not None:
        materials.insert(0, ("name_patronymic", material.patronymic))
    clean = {name: _tidy(fields[name]) for name in NAME_FIELDS if fields.get(name)}
    clean["birth_date"] = _date_text(fields["birth_date"])
    clean["sex"] = str(fields["sex"])
    return Identity(
        materials=tuple(materials),
        escrow_plaintext=_escrow_json(clean),
        birth_date=fields["birth_date"],
        sex=clean["sex"],
    )


def _tidy(text: str) -> str:
    """Keep a name as written (NFC, trimmed): custodians need it readable, not folded."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _date_text(value: dt.date) -> str:
    return value.isoformat()


def _escrow_json(values: dict) -> bytes:
    return json.dumps(values, ensure_ascii=False, sort_keys=True).encode("utf-8")
