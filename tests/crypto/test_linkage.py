import datetime as dt
import hashlib
import hmac
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.crypto.codes import CARE_CARD, PSEUDONYM, new_code
from registry.crypto.errors import InvalidCode, InvalidIdentity
from registry.crypto.linkage import (
    Domain,
    LinkageToken,
    canonical_code_hash,
    derive_token,
    domain_message,
    iin_token,
    keyed_code_hash,
    name_tokens,
    rekey,
    rekey_token,
)
from registry.crypto.names import name_key_material

K1, K2, K3 = (bytes([i]) * 32 for i in (1, 2, 3))
IIN = "850315301235"


def test_single_version_token_is_hmac_of_prefixed_iin():
    token = iin_token({1: K1}, IIN)
    expected = hmac.new(K1, b"registry/linkage/v1\x00iin\x00" + IIN.encode(), hashlib.sha256)
    assert token.version == 1
    assert token.digest == expected.digest()


def test_same_identity_same_token_and_spelling_does_not_matter():
    assert iin_token({1: K1}, IIN).matches(iin_token({1: K1}, f" {IIN} "))


def test_different_keys_or_identities_give_different_tokens():
    assert not iin_token({1: K1}, IIN).matches(iin_token({1: K2}, IIN))
    assert not iin_token({1: K1}, IIN).matches(iin_token({1: K1}, "920704456784"))


def test_invalid_iin_is_refused_before_hashing():
    with pytest.raises(InvalidIdentity):
        iin_token({1: K1}, "850315301236")


def test_domains_separate_iin_from_name_material():
    material = IIN.encode()
    assert domain_message(Domain.IIN, material) != domain_message(Domain.NAME, material)
    a = derive_token({1: K1}, Domain.IIN, material)
    b = derive_token({1: K1}, Domain.NAME, material)
    assert not a.matches(b)


def test_rekeyed_stored_token_equals_freshly_derived_token():
    stored = iin_token({1: K1}, IIN)
    step = LinkageToken(version=2, digest=rekey(stored.digest, K2))
    assert step.matches(iin_token({1: K1, 2: K2}, IIN))
    assert rekey_token(stored, {1: K1, 2: K2, 3: K3}).matches(iin_token({1: K1, 2: K2, 3: K3}, IIN))


@given(
    keys=st.lists(st.binary(min_size=32, max_size=64), min_size=1, max_size=5),
    stored_at=st.integers(0, 4),
    material=st.binary(max_size=64),
)
def test_rekey_from_any_version_matches_derivation(keys, stored_at, material):
    history = {v: k for v, k in enumerate(keys, start=1)}
    stored_at = min(stored_at, len(keys) - 1) + 1
    old = derive_token({v: history[v] for v in range(1, stored_at + 1)}, Domain.NAME, material)
    assert old.version == stored_at
    assert rekey_token(old, history).matches(derive_token(history, Domain.NAME, material))


def test_versions_are_applied_in_numeric_order_not_insertion_order():
    assert iin_token({2: K2, 1: K1}, IIN).matches(iin_token({1: K1, 2: K2}, IIN))
    assert not iin_token({1: K2, 2: K1}, IIN).matches(iin_token({1: K1, 2: K2}, IIN))


def test_token_of_other_version_never_matches():
    token = iin_token({1: K1}, IIN)
    assert not token.matches(LinkageToken(version=2, digest=token.digest))


def test_rekey_token_needs_its_own_version_in_history():
    with pytest.raises(ValueError):
        rekey_token(iin_token({1: K1}, IIN), {2: K2, 3: K3})


@pytest.mark.parametrize(
    "history",
    [{}, {0: K1}, {-1: K1}, {1: b"short"}, {1: K1, 2: b"x" * 31}, {True: K1}],
)
def test_bad_key_histories_are_refused(history):
    with pytest.raises(ValueError):
        derive_token(history, Domain.IIN, b"x")


def test_rekey_refuses_wrong_digest_length():
    with pytest.raises(ValueError):
        rekey(b"x" * 31, K2)


def test_name_tokens_link_spelling_variants():
    born = dt.date(1990, 5, 17)
    a = name_key_material("Сәрсенбаева", "Әсел", born, "F", "Нұрланқызы")
    b = name_key_material("Сарсенбаева", "Асель", born, "F", "Нурлановна")
    (pa, qa), (pb, qb) = name_tokens({1: K1}, a), name_tokens({1: K1}, b)
    assert pa.matches(pb)
    assert qa is not None and qb is not None and qa.matches(qb)
    assert not pa.matches(qa)


def test_name_tokens_without_patronymic():
    material = name_key_material("Иванов", "Петр", dt.date(1990, 5, 17), "M")
    primary, second = name_tokens({1: K1}, material)
    assert second is None and primary.version == 1


def test_code_hash_is_spelling_independent_and_format_bound():
    code = new_code(CARE_CARD)
    h = keyed_code_hash({1: K1}, code)
    assert h.matches(keyed_code_hash({1: K1}, code.replace("-", "").lower()))
    assert not h.matches(keyed_code_hash({1: K2}, code))
    assert not h.matches(keyed_code_hash({1: K1}, new_code(CARE_CARD)))
    pseudonym = new_code(PSEUDONYM)
    assert keyed_code_hash({1: K1}, pseudonym, PSEUDONYM).version == 1


def test_canonical_code_hash_is_the_hash_of_any_spelling():
    code = new_code(CARE_CARD)
    h = canonical_code_hash({1: K1, 2: K2}, code)
    assert h.matches(keyed_code_hash({1: K1, 2: K2}, code.replace("-", "").lower()))
    assert not h.matches(canonical_code_hash({1: K1, 2: K2}, code, PSEUDONYM))


def test_code_hash_rejects_typos_and_rekeys_like_tokens():
    code = new_code()
    with pytest.raises(InvalidCode):
        keyed_code_hash({1: K1}, code[:-1] + ("0" if code[-1] != "0" else "1"))
    old = keyed_code_hash({1: K1}, code)
    assert rekey_token(old, {1: K1, 2: K2}).matches(keyed_code_hash({1: K1, 2: K2}, code))


def test_repr_hides_digest():
    token = iin_token({1: secrets.token_bytes(32)}, IIN)
    assert token.digest.hex()[:8] not in repr(token)
    assert str(token.digest)[:10] not in repr(token)
