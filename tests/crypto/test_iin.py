import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.crypto.errors import InvalidIdentity
from registry.crypto.iin import IinInfo, Sex, canonical_iin, check_consistent, validate_iin
from tests.crypto.iin_helpers import make_iin


@pytest.mark.parametrize(
    ("iin", "birth", "sex"),
    [
        ("850315301235", dt.date(1985, 3, 15), Sex.MALE),
        ("920704456784", dt.date(1992, 7, 4), Sex.FEMALE),
        ("790614300106", dt.date(1979, 6, 14), Sex.MALE),
    ],
)
def test_design_examples_are_valid(iin, birth, sex):
    assert validate_iin(iin) == IinInfo(birth, sex)


def test_second_weight_set_is_used_when_first_gives_ten():
    digits = [int(c) for c in "790614300106"]
    first = sum(d * w for d, w in zip(digits[:11], range(1, 12), strict=True)) % 11
    assert first == 10
    assert validate_iin("790614300106").birth_date == dt.date(1979, 6, 14)


def test_wrong_check_digit_is_rejected():
    with pytest.raises(InvalidIdentity) as err:
        validate_iin("850315301236")
    assert (err.value.field, err.value.rule) == ("iin", "checksum")


@pytest.mark.parametrize(
    ("iin", "rule"),
    [
        ("", "length"),
        ("85031530123", "length"),
        ("8503153012355", "length"),
        ("85031530123a", "digits"),
        ("８５０３１５３０１２３５", "digits"),  # full-width digits are not ASCII
        ("٨٥٠٣١٥٣٠١٢٣٥", "digits"),
        ("850315001235", "century"),
        ("850315701235", "century"),
        ("851315301235", "date"),
        ("850230301235", "date"),
        ("850000301235", "date"),
    ],
)
def test_malformed_iins_name_the_rule(iin, rule):
    with pytest.raises(InvalidIdentity) as err:
        validate_iin(iin)
    assert err.value.rule == rule


def test_leap_day_depends_on_century():
    # 1900 was not a leap year, 2000 was: digit 3 vs 5 decides.
    assert make_iin(dt.date(2000, 2, 29), male=True, serial=1) is not None
    for century in "34":
        with pytest.raises(InvalidIdentity) as err:
            validate_iin(f"000229{century}00011")
        assert err.value.rule == "date"


def test_double_ten_is_invalid():
    # Search a serial whose check digit is undefined under both weight sets.
    for serial in range(10000):
        head = f"8503153{serial:04d}"
        values = [int(c) for c in head]
        r1 = sum(d * w for d, w in zip(values, range(1, 12), strict=True)) % 11
        r2 = (
            sum(d * w for d, w in zip(values, (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2), strict=True))
            % 11
        )
        if r1 == 10 and r2 == 10:
            break
    else:
        pytest.fail("no double-ten serial found")
    for last in "0123456789":
        with pytest.raises(InvalidIdentity) as err:
            validate_iin(head + last)
        assert err.value.rule == "checksum"


@given(
    birth=st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2099, 12, 31)),
    male=st.booleans(),
    serial=st.integers(0, 9999),
)
def test_generated_iins_round_trip(birth, male, serial):
    iin = make_iin(birth, male, serial)
    if iin is None:
        return
    info = validate_iin(iin)
    assert info.birth_date == birth
    assert info.sex is (Sex.MALE if male else Sex.FEMALE)


@given(
    birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
    serial=st.integers(0, 9999),
    delta=st.integers(1, 9),
)
def test_any_other_check_digit_is_rejected(birth, serial, delta):
    # The IIN scheme (mod 11, weight 11 on digit 11, fallback weights) does not detect every
    # single-digit error in the body, so only the check digit itself is a universal claim.
    iin = make_iin(birth, True, serial)
    if iin is None:
        return
    wrong = iin[:11] + str((int(iin[11]) + delta) % 10)
    with pytest.raises(InvalidIdentity) as err:
        validate_iin(wrong)
    assert err.value.rule == "checksum"


def test_canonical_iin_strips_whitespace_only():
    assert canonical_iin(" 850315301235\n") == "850315301235"
    with pytest.raises(InvalidIdentity):
        canonical_iin("850315 301235")


def test_check_consistent_accepts_matching_fields():
    info = validate_iin("920704456784")
    check_consistent(info, dt.date(1992, 7, 4), "F")
    check_consistent(info, dt.date(1992, 7, 4), Sex.FEMALE)


@pytest.mark.parametrize(
    ("birth", "sex", "field", "rule"),
    [
        (dt.date(1992, 7, 5), "F", "birth_date", "iin_mismatch"),
        (dt.date(1992, 7, 4), "M", "sex", "iin_mismatch"),
        (dt.date(1992, 7, 4), "X", "sex", "unknown"),
    ],
)
def test_check_consistent_rejects_mismatch(birth, sex, field, rule):
    with pytest.raises(InvalidIdentity) as err:
        check_consistent(validate_iin("920704456784"), birth, sex)
    assert (err.value.field, err.value.rule) == (field, rule)


@pytest.mark.parametrize("iin", ["850315301236", "851315301235", "85031530123x", "85031530123"])
def test_errors_never_echo_the_value(iin):
    with pytest.raises(InvalidIdentity) as err:
        validate_iin(iin)
    text = str(err.value) + repr(err.value)
    assert iin.strip() not in text
    assert "850315" not in text and "301235" not in text
    # Context would carry e.g. int() or date() messages that quote parts of the value.
    assert err.value.__cause__ is None
    assert err.value.__context__ is None or err.value.__suppress_context__


def test_info_repr_hides_birth_date_and_sex():
    text = repr(validate_iin("850315301235"))
    assert "1985" not in text and "MALE" not in text and "'M'" not in text
