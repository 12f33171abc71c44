"""Validate Kazakh individual identification numbers (IIN) per DESIGN.md §5."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from registry.crypto.errors import InvalidIdentity

IIN_LENGTH = 12
_WEIGHTS_FIRST = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_WEIGHTS_SECOND = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
# The 7th digit encodes century and sex: odd is male, even is female.
_CENTURY_BY_DIGIT = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}


class Sex(StrEnum):
    """Administrative sex as carried by the IIN and the fallback identity."""

    MALE = "M"
    FEMALE = "F"


@dataclass(frozen=True, slots=True)
class IinInfo:
    """Birth date and sex encoded in a valid IIN (quasi-identifiers: hidden from repr)."""

    birth_date: dt.date = field(repr=False)
    sex: Sex = field(repr=False)


def canonical_iin(text: str) -> str:
    """Return the IIN as 12 ASCII digits after validating it fully."""
    digits = text.strip()
    validate_iin(digits)
    return digits


def validate_iin(text: str) -> IinInfo:
    """Validate an IIN and return its birth date and sex, or raise InvalidIdentity."""
    digits = text.strip()
    if len(digits) != IIN_LENGTH:
        raise InvalidIdentity("iin", "length")
    # isdigit() alone accepts non-ASCII digits such as Arabic-Indic ones.
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidIdentity("iin", "digits")
    values = [int(ch) for ch in digits]
    info = IinInfo(birth_date=_birth_date(values), sex=_sex(values[6]))
    if _check_digit(values) != values[11]:
        raise InvalidIdentity("iin", "checksum")
    return info


def check_consistent(info: IinInfo, birth_date: dt.date, sex: Sex | str) -> None:
    """Raise InvalidIdentity unless the stated birth date and sex agree with the IIN."""
    if birth_date != info.birth_date:
        raise InvalidIdentity("birth_date", "iin_mismatch")
    try:
        stated = Sex(sex)
    except ValueError:
        raise InvalidIdentity("sex", "unknown") from None
    if stated is not info.sex:
        raise InvalidIdentity("sex", "iin_mismatch")


def _birth_date(values: list[int]) -> dt.date:
    """Decode YYMMDD with the century from the 7th digit."""
    century = _CENTURY_BY_DIGIT.get(values[6])
    if century is None:
        raise InvalidIdentity("iin", "century")
    year = century + values[0] * 10 + values[1]
    month = values[2] * 10 + values[3]
    day = values[4] * 10 + values[5]
    try:
        return dt.date(year, month, day)
    except ValueError:
        # Suppress the context: the date error would reveal parts of the IIN.
        raise InvalidIdentity("iin", "date") from None


def _sex(century_digit: int) -> Sex:
    """Odd century digits are male, even ones female."""
    return Sex.MALE if century_digit % 2 == 1 else Sex.FEMALE


def _check_digit(values: list[int]) -> int:
    """Compute the check digit with the two weight sets; r == 10 twice is invalid."""
    for weights in (_WEIGHTS_FIRST, _WEIGHTS_SECOND):
        r = sum(d * w for d, w in zip(values[:11], weights, strict=True)) % 11
        if r != 10:
            return r
    raise InvalidIdentity("iin", "checksum")
