import itertools
import re
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.crypto import codes
from registry.crypto.codes import (
    ALPHABET,
    CARE_CARD,
    MAX_DATA_CHARS,
    PSEUDONYM,
    CodeFormat,
    check_symbols,
    format_code,
    is_codeword,
    is_valid,
    new_code,
    new_codes,
    parse_code,
)
from registry.crypto.errors import InvalidCode

FORMATS = [CARE_CARD, PSEUDONYM]
CARE_RE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{4}-){5}[0-9A-HJKMNP-TV-Z]{2}$")
PSEUDONYM_RE = re.compile(r"^P-([0-9A-HJKMNP-TV-Z]{4}-){4}[0-9A-HJKMNP-TV-Z]{2}$")


def body(code: str, fmt: CodeFormat) -> str:
    return code.replace("-", "")[len(fmt.prefix) :]


def symbols(code_body: str) -> list[int]:
    return [ALPHABET.index(c) for c in code_body]


def test_alphabet_is_crockford():
    assert len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


def test_care_card_shape_and_entropy():
    assert CARE_CARD.bits >= 100
    code = new_code(CARE_CARD)
    assert CARE_RE.match(code)
    assert parse_code(code) == code


def test_pseudonym_shape():
    assert 60 <= PSEUDONYM.bits <= 80
    code = new_code(PSEUDONYM)
    assert PSEUDONYM_RE.match(code)
    assert parse_code(code, PSEUDONYM) == code


def test_codes_are_distinct():
    assert len({new_code() for _ in range(2000)}) == 2000


@pytest.mark.parametrize("fmt", FORMATS)
def test_codes_made_in_bulk_are_codes_as_new_code_makes_them(fmt):
    made = new_codes(3000, fmt)
    shape = CARE_RE if fmt is CARE_CARD else PSEUDONYM_RE
    assert len(set(made)) == 3000
    for code in made:
        assert shape.match(code) and parse_code(code, fmt) == code
        data = symbols(body(code, fmt))[: fmt.data_chars]
        assert body(code, fmt)[fmt.data_chars :] == "".join(
            ALPHABET[v] for v in check_symbols(data, fmt.tag)
        )
    seen = [{body(code, fmt)[i] for code in made} for i in range(fmt.data_chars)]
    assert all(len(s) == 32 for s in seen)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_symbol_appears_in_every_data_position(fmt):
    seen = [set() for _ in range(fmt.data_chars)]
    for _ in range(800):
        for i, ch in enumerate(body(new_code(fmt), fmt)[: fmt.data_chars]):
            seen[i].add(ch)
    assert all(len(s) == 32 for s in seen)


@pytest.mark.parametrize("fmt", FORMATS)
def test_check_is_linear_in_gf32(fmt):
    # Adding (XOR) an error to a codeword passes iff the error alone passes with tag 0;
    # this licenses the exhaustive error-pattern test below for every code of the format.
    for _ in range(50):
        code = symbols(body(new_code(fmt), fmt))
        err = [secrets.randbelow(32) for _ in range(fmt.length)]
        summed = [c ^ e for c, e in zip(code, err, strict=True)]
        assert is_codeword(summed, fmt.tag) == is_codeword(err, 0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_any_error_of_weight_two_or_less_is_detected(fmt):
    # Substitutions have weight 1 and transpositions weight 2, so this covers both claims.
    zero = [0] * fmt.length
    assert is_codeword(zero, 0)
    for i in range(fmt.length):
        for x in range(1, 32):
            err = zero.copy()
            err[i] = x
            assert not is_codeword(err, 0)
    for i, j in itertools.combinations(range(fmt.length), 2):
        for x in range(1, 32):
            for y in range(1, 32):
                err = zero.copy()
                err[i], err[j] = x, y
                assert not is_codeword(err, 0), (i, j, x, y)


@settings(max_examples=300)
@given(fmt=st.sampled_from(FORMATS), data=st.data())
def test_single_substitution_is_rejected(fmt, data):
    code = new_code(fmt)
    chars = list(body(code, fmt))
    pos = data.draw(st.integers(0, len(chars) - 1))
    chars[pos] = data.draw(st.sampled_from([c for c in ALPHABET if c != chars[pos]]))
    with pytest.raises(InvalidCode) as err:
        parse_code("".join(chars), fmt)
    assert err.value.rule == "check"


@settings(max_examples=300)
@given(fmt=st.sampled_from(FORMATS), data=st.data())
def test_adjacent_transposition_is_rejected(fmt, data):
    code = new_code(fmt)
    chars = list(body(code, fmt))
    pos = data.draw(st.integers(0, len(chars) - 2))
    if chars[pos] == chars[pos + 1]:
        return
    chars[pos], chars[pos + 1] = chars[pos + 1], chars[pos]
    with pytest.raises(InvalidCode) as err:
        parse_code("".join(chars), fmt)
    assert err.value.rule == "check"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_substitution_and_transposition_of_fixed_codes(fmt):
    for _ in range(30):
        chars = list(body(new_code(fmt), fmt))
        for pos, ch in itertools.product(range(len(chars)), ALPHABET):
            if ch != chars[pos]:
                changed = chars.copy()
                changed[pos] = ch
                assert not is_valid("".join(changed), fmt)
        for pos in range(len(chars) - 1):
            if chars[pos] != chars[pos + 1]:
                swapped = chars.copy()
                swapped[pos], swapped[pos + 1] = swapped[pos + 1], swapped[pos]
                assert not is_valid("".join(swapped), fmt)


def test_lenient_spellings_parse_to_canonical():
    code = new_code()
    compact = code.replace("-", "")
    variants = [
        compact,
        compact.lower(),
        " ".join(compact),
        "--" + code.replace("-", "--") + " ",
        code.replace("-", "\u2013"),
        compact.replace("1", "l").replace("0", "o"),
        compact.replace("1", "I").replace("0", "O"),
    ]
    for variant in variants:
        assert parse_code(variant) == code


def test_cyrillic_lookalikes_are_read_as_latin():
    data = "K7QF3M9XT2HD8WCAN4PZ"
    check = "".join(ALPHABET[v] for v in check_symbols(symbols(data), CARE_CARD.tag))
    code = format_code(data + check)
    typed = code.replace("K", "К").replace("M", "м").replace("T", "Т").replace("C", "с")
    assert typed != code
    assert parse_code(typed) == code


def test_pseudonym_prefix_is_optional():
    code = new_code(PSEUDONYM)
    bare = code[2:]
    assert parse_code(bare, PSEUDONYM) == code
    assert parse_code(code.replace("-", "").lower(), PSEUDONYM) == code


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "empty"),
        (" - - ", "empty"),
        ("K7QF-3M9X-T2HD-8WCA-N4PZ-7U", "alphabet"),
        ("K7QF-3M9X-T2HD-8WCA-N4PZ-7!", "alphabet"),
        ("K7QF-3M9X-T2HD-8WCA-N4PZ", "length"),
        ("K7QF-3M9X-T2HD-8WCA-N4PZ-7Q0", "length"),
        ("K" * 500, "length"),
    ],
)
def test_malformed_codes_name_the_rule(text, rule):
    with pytest.raises(InvalidCode) as err:
        parse_code(text)
    assert err.value.rule == rule


def test_formats_do_not_cross_validate():
    # Same length, different tag: a valid code of one format never checks out as the other.
    a = CodeFormat("a", 16, 4, "", 1)
    b = CodeFormat("b", 16, 4, "", 2)
    for _ in range(200):
        code = new_code(a)
        assert not is_valid(code, b)
    assert not is_valid(new_code(CARE_CARD), PSEUDONYM)
    assert not is_valid(new_code(PSEUDONYM), CARE_CARD)


def test_error_message_does_not_echo_code():
    code = new_code()
    broken = code[:-1] + ("0" if code[-1] != "0" else "1")
    with pytest.raises(InvalidCode) as err:
        parse_code(broken)
    text = str(err.value) + repr(err.value)
    assert code[:4] not in text and broken.replace("-", "")[:8] not in text


def test_format_rejects_wrong_length_and_bad_parameters():
    with pytest.raises(InvalidCode):
        format_code("ABC")
    with pytest.raises(ValueError):
        CodeFormat("x", MAX_DATA_CHARS + 1, 4, "", 1)
    with pytest.raises(ValueError):
        CodeFormat("x", 10, 4, "", 0)


def test_longest_format_still_detects_double_errors():
    fmt = CodeFormat("long", MAX_DATA_CHARS, 5, "", 3)
    code = new_code(fmt)
    chars = list(body(code, fmt))
    for i, j in itertools.combinations(range(len(chars)), 2):
        changed = chars.copy()
        changed[i] = ALPHABET[(ALPHABET.index(changed[i]) + 1) % 32]
        changed[j] = ALPHABET[(ALPHABET.index(changed[j]) + 7) % 32]
        assert not is_valid("".join(changed), fmt)


def test_aliases_match_design_names():
    assert codes.format is format_code and codes.parse is parse_code


@pytest.mark.parametrize("fmt", [codes.CARE_CARD, codes.PSEUDONYM])
def test_codes_made_in_bulk_are_valid_distinct_codes_of_their_format(fmt):
    made = codes.new_codes(200, fmt)
    assert len(set(made)) == 200
    assert all(codes.parse_code(code, fmt) == code for code in made)
    assert codes.new_codes(0, fmt) == []
