"""Random Crockford base32 codes with two check characters over GF(32).

Check scheme (a shortened Reed-Solomon-style parity check): every symbol position p gets a
distinct exponent e(p) in 0..30 and the two check symbols are chosen so that

    S1 = sum v_p * a^e(p) = 0   and   S2 = sum v_p * a^(2 e(p)) = 0   over GF(32),

with a a primitive element.  An error pattern changing at most two positions is undetected
only if x*(a^e, a^2e) + y*(a^f, a^2f) = 0, which forces a^e = a^f, i.e. e = f.  So every
single substitution and every swap of two symbols (adjacent or not) is detected.  A fixed
per-format tag symbol sits at its own exponent, so a code valid for one format never checks
out for another.  Up to 28 data symbols fit (exponents 0..2 are the checks and the tag).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from registry.crypto.errors import InvalidCode

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
CHECK_CHARS = 2
MAX_DATA_CHARS = 28
_SEPARATORS = str.maketrans("", "", " -\u2010\u2011\u2012\u2013\u2014\u2212\t\n\r")
# Crockford's own confusables plus Cyrillic capitals that render like Latin ones, because
# codes are typed on Kazakh and Russian keyboards.
_CONFUSABLES = str.maketrans(
    {
        "I": "1",
        "L": "1",
        "O": "0",
        "А": "A",
        "В": "B",
        "Е": "E",
        "З": "3",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "0",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "Х": "X",
    }
)


@dataclass(frozen=True, slots=True)
class CodeFormat:
    """Shape of one kind of code: data length, grouping, display prefix and check tag."""

    name: str
    data_chars: int
    group: int
    prefix: str
    tag: int
    # Read a typed U as V: U is not in the alphabet and is the likeliest slip for V.
    u_is_v: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.data_chars <= MAX_DATA_CHARS:
            raise ValueError("data_chars must be in 1..28")
        if not 0 < self.tag < 32:
            raise ValueError("tag must be a non-zero GF(32) symbol")

    @property
    def bits(self) -> int:
        """Return the number of random bits carried by the data characters."""
        return 5 * self.data_chars

    @property
    def length(self) -> int:
        """Return the number of symbols including check characters, without prefix."""
        return self.data_chars + CHECK_CHARS


# Care card: 20 data chars = 100 random bits, e.g. K7QF-3M9X-T2HD-8WCA-N4PZ-7Q.
CARE_CARD = CodeFormat(name="care_card", data_chars=20, group=4, prefix="", tag=1)
# Pseudonym: 16 data chars = 80 random bits, e.g. P-7K3M-QF9X-T2HD-8WCA-N4.
PSEUDONYM = CodeFormat(name="pseudonym", data_chars=16, group=4, prefix="P", tag=2)


def _build_tables() -> tuple[list[int], list[int]]:
    """Build exp/log tables for GF(32) with the primitive polynomial x^5 + x^2 + 1."""
    exp = [0] * 62
    log = [0] * 32
    value = 1
    for power in range(31):
        exp[power] = exp[power + 31] = value
        log[value] = power
        value <<= 1
        if value & 0x20:
            value ^= 0x25
    return exp, log


_EXP, _LOG = _build_tables()


def _mul(a: int, b: int) -> int:
    """Multiply in GF(32)."""
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    """Divide in GF(32); b must be non-zero."""
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 31]


def _build_terms() -> list[list[int]]:
    """Tabulate each symbol's share of both syndromes at each exponent, S1 | S2 << 5."""
    return [
        [_mul(v, _EXP[e]) | _mul(v, _EXP[(2 * e) % 31]) << 5 for v in range(32)] for e in range(31)
    ]


# A code is made or checked at every registration: a table lookup per symbol, not two
# multiplications.
_TERMS = _build_terms()


def _syndromes(terms: list[tuple[int, int]]) -> tuple[int, int]:
    """Return (S1, S2) for (symbol, exponent) pairs; addition in GF(2^5) is XOR."""
    both = 0
    for value, exponent in terms:
        both ^= _TERMS[exponent][value]
    return both & 31, both >> 5


def _data_terms(data: list[int], tag: int) -> list[tuple[int, int]]:
    """Pair the tag and each data symbol with its exponent (tag 2, data from 3)."""
    return [(tag, 2), *zip(data, range(3, 3 + len(data)), strict=True)]


def check_symbols(data: list[int], tag: int) -> tuple[int, int]:
    """Return the two check symbols (exponents 0 and 1) that zero both syndromes."""
    a, b = _syndromes(_data_terms(data, tag))
    # Solve p + q*x = a and p + q*x^2 = b where x is the primitive element (x = 2).
    q = _div(a ^ b, _EXP[1] ^ _EXP[2])
    p = a ^ _mul(q, _EXP[1])
    return p, q


def is_codeword(symbols: list[int], tag: int) -> bool:
    """Return True when data plus the two trailing check symbols satisfy both checks."""
    *data, p, q = symbols
    terms = [(p, 0), (q, 1), *_data_terms(data, tag)]
    return _syndromes(terms) == (0, 0)


def new_code(fmt: CodeFormat = CARE_CARD) -> str:
    """Return a fresh random code of this format in its canonical display form."""
    # One read of the OS generator; 256 is a multiple of 32, so byte & 31 stays uniform.
    data = [byte & 31 for byte in secrets.token_bytes(fmt.data_chars)]
    body = "".join(ALPHABET[v] for v in (*data, *check_symbols(data, fmt.tag)))
    return format_code(body, fmt)


def new_codes(count: int, fmt: CodeFormat = CARE_CARD) -> list[str]:
    """Return fresh random codes as new_code makes them, computed in bulk (for bulk loads)."""
    import numpy as np

    data = np.frombuffer(secrets.token_bytes(count * fmt.data_chars), dtype=np.uint8) & 31
    data = data.reshape(count, fmt.data_chars).astype(np.intp)
    terms = np.array(_TERMS, dtype=np.intp)
    both = np.full(count, terms[2][fmt.tag], dtype=np.intp)
    for position in range(fmt.data_chars):
        both ^= terms[3 + position][data[:, position]]
    a, b = both & 31, both >> 5
    # check_symbols, with GF(32) division and multiplication as table lookups.
    div = np.array([_div(v, _EXP[1] ^ _EXP[2]) for v in range(32)], dtype=np.intp)
    mul = np.array([_mul(v, _EXP[1]) for v in range(32)], dtype=np.intp)
    q = div[a ^ b]
    p = a ^ mul[q]
    symbols = np.concatenate([data, p[:, None], q[:, None]], axis=1)
    # Lay the characters out as format_code groups them: prefix, data in groups, checks.
    shape = format_code("0" * fmt.length, fmt)
    chars = np.frombuffer((ALPHABET + "-" + fmt.prefix).encode("ascii"), dtype="S1")
    layout = np.empty((count, len(shape)), dtype=np.intp)
    at = iter(range(fmt.length))
    for column, ch in enumerate(shape):
        if ch == "0":
            layout[:, column] = symbols[:, next(at)]
        else:
            layout[:, column] = 32 if ch == "-" else 33 + fmt.prefix.index(ch)
    texts = chars[layout].view(f"S{len(shape)}").ravel()
    return texts.astype(str).tolist()


def format_code(body: str, fmt: CodeFormat = CARE_CARD) -> str:
    """Group a compact body (data + check chars) for display, e.g. K7QF-…-N4PZ-7Q."""
    if len(body) != fmt.length:
        raise InvalidCode("length")
    data = body[: fmt.data_chars]
    groups = [data[i : i + fmt.group] for i in range(0, len(data), fmt.group)]
    groups.append(body[fmt.data_chars :])
    if fmt.prefix:
        groups.insert(0, fmt.prefix)
    return "-".join(groups)


def parse_code(text: str, fmt: CodeFormat = CARE_CARD) -> str:
    """Parse a typed code leniently and return its canonical display form."""
    return format_code(_compact(text, fmt), fmt)


def is_valid(text: str, fmt: CodeFormat = CARE_CARD) -> bool:
    """Return True when the text parses as a code of this format."""
    try:
        parse_code(text, fmt)
    except InvalidCode:
        return False
    return True


def normalise(text: str, fmt: CodeFormat) -> str:
    """Drop separators, fold case and map look-alikes, without checking anything."""
    body = text.translate(_SEPARATORS).upper().translate(_CONFUSABLES)
    return body.replace("U", "V") if fmt.u_is_v else body


def _compact(text: str, fmt: CodeFormat) -> str:
    """Normalise separators, case and confusables, then verify length and checks."""
    # Bound work before normalising: no legitimate spelling is this long.
    if len(text) > 4 * (fmt.length + len(fmt.prefix)) + 8:
        raise InvalidCode("length")
    body = normalise(text, fmt)
    if not body:
        raise InvalidCode("empty")
    if fmt.prefix and len(body) == len(fmt.prefix) + fmt.length and body.startswith(fmt.prefix):
        body = body[len(fmt.prefix) :]
    if any(ch not in _VALUE for ch in body):
        raise InvalidCode("alphabet")
    if len(body) != fmt.length:
        raise InvalidCode("length")
    if not is_codeword([_VALUE[ch] for ch in body], fmt.tag):
        raise InvalidCode("check")
    return body


# Short aliases matching the names used in the design discussion.
format = format_code
parse = parse_code


def display_prefixes(text: str, fmt: CodeFormat) -> list[str]:
    """Return the display forms that a partly typed code may begin with (for prefix search).

    Typing is as lenient as in parse_code. A leading prefix letter may be the format's prefix
    or the first data character (P is both for pseudonyms), so both readings are returned.
    """
    if len(text) > 4 * (fmt.length + len(fmt.prefix)) + 8:
        return []
    body = text.translate(_SEPARATORS).upper().translate(_CONFUSABLES)
    if any(ch not in _VALUE for ch in body):
        return []
    bodies = [body]
    if fmt.prefix and body.startswith(fmt.prefix):
        bodies.append(body[len(fmt.prefix) :])
    found = []
    for candidate in bodies:
        if not candidate or len(candidate) > fmt.length:
            continue
        data = candidate[: fmt.data_chars]
        groups = [data[i : i + fmt.group] for i in range(0, len(data), fmt.group)]
        if len(candidate) > fmt.data_chars:
            groups.append(candidate[fmt.data_chars :])
        found.append("-".join([fmt.prefix, *groups] if fmt.prefix else groups))
    return found
