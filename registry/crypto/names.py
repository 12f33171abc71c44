"""Normalise names into key material for the fallback linkage token (DESIGN.md §5)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from registry.crypto.errors import InvalidIdentity
from registry.crypto.iin import Sex

MAX_INPUT_CHARS = 100
MAX_NAME_LETTERS = 64
MIN_STEM_LETTERS = 2
MATERIAL_VERSION = b"name-v1"

# Spaces, hyphens, dashes and apostrophe variants all fold away: clinics type them
# inconsistently ("Абу-Бакир", "Абу Бакир", "Абубакир"; "Д'Артаньян", "Д’Артаньян").
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212_'`\u00b4\u02bb\u02bc\u2018\u2019]+")
# Latin letters that render like Cyrillic ones; case matters (b looks like ь, B like В).
_LATIN_LOOKALIKES = str.maketrans(
    {
        "A": "А",
        "B": "В",
        "C": "С",
        "E": "Е",
        "H": "Н",
        "I": "І",
        "K": "К",
        "M": "М",
        "O": "О",
        "P": "Р",
        "T": "Т",
        "X": "Х",
        "Y": "У",
        "Ë": "Ё",
        "a": "а",
        "b": "ь",
        "c": "с",
        "e": "е",
        "h": "һ",
        "i": "і",
        "k": "к",
        "o": "о",
        "p": "р",
        "x": "х",
        "y": "у",
        "ë": "ё",
    }
)
_KAZAKH_TO_RUSSIAN = str.maketrans(
    {
        "ә": "а",
        "ғ": "г",
        "қ": "к",
        "ң": "н",
        "ө": "о",
        "ұ": "у",
        "ү": "у",
        "һ": "х",
        "і": "и",
        "ё": "е",
        "ь": None,
        "ъ": None,
    }
)
# Longest first so that "-ова" wins over "-ов"; endings are in normalised (mapped) spelling.
FAMILY_ENDINGS = ("ова", "ева", "ина", "ов", "ев", "ин")
# -ич/-ична and -оглы are additions beyond DESIGN.md (Никитич/Никитична, Azerbaijani -оглы).
PATRONYMIC_ENDINGS = ("ович", "евич", "овна", "евна", "ична", "кызы", "оглы", "улы", "ич")


@dataclass(frozen=True, slots=True)
class NameKeyMaterial:
    """Canonical bytes for the fallback token, and for the patronymic token when known."""

    primary: bytes = field(repr=False)
    patronymic: bytes | None = field(repr=False, default=None)


def normalise_name(text: str, field_name: str = "name") -> str:
    """Return the folded, script-unified, Kazakh-to-Russian mapped form of a name."""
    if not isinstance(text, str):
        raise InvalidIdentity(field_name, "type")
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidIdentity(field_name, "too_long")
    words = [w for w in _SEPARATORS.split(_strip_marks(text)) if w]
    folded = "".join(_unify_script(w, field_name) for w in words)
    result = folded.casefold().translate(_KAZAKH_TO_RUSSIAN)
    if not result:
        raise InvalidIdentity(field_name, "empty")
    if len(result) > MAX_NAME_LETTERS:
        raise InvalidIdentity(field_name, "too_long")
    return result


def normalise_family_name(text: str) -> str:
    """Normalise a family name and strip the gendered ending (-ов/-ова, -ин/-ина, …)."""
    return _strip_ending(normalise_name(text, "family_name"), FAMILY_ENDINGS)


def normalise_given_name(text: str) -> str:
    """Normalise a given name (no ending is stripped)."""
    return normalise_name(text, "given_name")


def normalise_patronymic(text: str) -> str:
    """Normalise a patronymic down to the father's name stem (-ович, -кызы, …)."""
    return _strip_ending(normalise_name(text, "patronymic"), PATRONYMIC_ENDINGS)


def name_key_material(
    family_name: str,
    given_name: str,
    birth_date: dt.date,
    sex: Sex | str,
    patronymic: str | None = None,
) -> NameKeyMaterial:
    """Build the canonical key material from name parts, birth date and sex."""
    family = normalise_family_name(family_name)
    given = normalise_given_name(given_name)
    born = _birth_date_text(birth_date)
    sex_code = _sex_code(sex)
    primary = _encode(MATERIAL_VERSION, family, given, born, sex_code)
    if patronymic is None or not patronymic.strip():
        return NameKeyMaterial(primary=primary)
    father = normalise_patronymic(patronymic)
    with_patronymic = _encode(MATERIAL_VERSION, family, given, father, born, sex_code)
    return NameKeyMaterial(primary=primary, patronymic=with_patronymic)


def _strip_marks(text: str) -> str:
    """Compose to NFC and drop combining marks that did not compose (e.g. stress accents)."""
    composed = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in composed if unicodedata.category(ch) != "Mn")


def _script(ch: str) -> str | None:
    """Return 'cyrillic' or 'latin' for letters of those scripts, else None."""
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    if name.startswith("CYRILLIC"):
        return "cyrillic"
    if name.startswith("LATIN"):
        return "latin"
    return None


def _unify_script(word: str, field_name: str) -> str:
    """Replace Latin look-alikes in a Cyrillic word; reject other scripts and mixtures."""
    scripts = {_script(ch) for ch in word}
    if None in scripts:
        raise InvalidIdentity(field_name, "characters")
    if "cyrillic" not in scripts:
        # A purely Latin word is a Latin name: converting it would depend on letter case.
        return word
    word = word.translate(_LATIN_LOOKALIKES)
    if any(_script(ch) == "latin" for ch in word):
        raise InvalidIdentity(field_name, "mixed_script")
    return word


def _strip_ending(name: str, endings: tuple[str, ...]) -> str:
    """Remove the first matching ending when a stem of useful length remains."""
    for ending in endings:
        if name.endswith(ending) and len(name) - len(ending) >= MIN_STEM_LETTERS:
            return name[: -len(ending)]
    return name


def _birth_date_text(birth_date: dt.date) -> str:
    """Return the ISO date; datetimes are refused so a time part cannot split keys."""
    if not isinstance(birth_date, dt.date) or isinstance(birth_date, dt.datetime):
        raise InvalidIdentity("birth_date", "type")
    return birth_date.isoformat()


def _sex_code(sex: Sex | str) -> str:
    """Return the one-letter sex code."""
    try:
        return Sex(sex).value
    except ValueError:
        raise InvalidIdentity("sex", "unknown") from None


def _encode(*parts: bytes | str) -> bytes:
    """Length-prefix each part so that no two field tuples share an encoding."""
    out = bytearray()
    for part in parts:
        raw = part.encode("utf-8") if isinstance(part, str) else part
        out += len(raw).to_bytes(2, "big") + raw
    return bytes(out)
