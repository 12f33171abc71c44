import json

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from registry.crypto import escrow
from registry.crypto.errors import DecryptionError

PRIVATE, PUBLIC = escrow.generate_custodian_keypair()
OTHER_PRIVATE, OTHER_PUBLIC = escrow.generate_custodian_keypair()
IDENTITY = json.dumps({"iin": "850315301235"}).encode()
AAD = b"person:7f3c9a"


def test_key_sizes_and_public_key_derivation():
    assert len(PRIVATE) == escrow.PRIVATE_KEY_BYTES
    assert len(PUBLIC) == escrow.PUBLIC_KEY_BYTES
    assert escrow.public_key_from_private(PRIVATE) == PUBLIC
    assert PUBLIC != OTHER_PUBLIC


def test_round_trip():
    blob = escrow.seal(PUBLIC, IDENTITY, AAD)
    assert blob[0] == escrow.PADDED_FORMAT
    assert escrow.blob_key_id(blob) == escrow.key_id(PUBLIC)
    assert IDENTITY not in blob and b"850315301235" not in blob
    assert escrow.open_(PRIVATE, blob, AAD) == IDENTITY


def test_empty_plaintext_round_trips():
    assert escrow.open_(PRIVATE, escrow.seal(PUBLIC, b"", AAD), AAD) == b""


def test_sealing_is_randomised():
    assert escrow.seal(PUBLIC, IDENTITY, AAD) != escrow.seal(PUBLIC, IDENTITY, AAD)


def test_wrong_aad_fails():
    blob = escrow.seal(PUBLIC, IDENTITY, AAD)
    with pytest.raises(DecryptionError) as err:
        escrow.open_(PRIVATE, blob, b"person:other")
    assert err.value.rule == "authentication"


def test_wrong_key_fails():
    blob = escrow.seal(PUBLIC, IDENTITY, AAD)
    with pytest.raises(DecryptionError) as err:
        escrow.open_(OTHER_PRIVATE, blob, AAD)
    assert err.value.rule == "wrong_key"


def test_wrong_key_with_forged_key_id_still_fails():
    blob = escrow.seal(PUBLIC, IDENTITY, AAD)
    forged = blob[:1] + bytes.fromhex(escrow.key_id(OTHER_PUBLIC)) + blob[17:]
    with pytest.raises(DecryptionError) as err:
        escrow.open_(OTHER_PRIVATE, forged, AAD)
    assert err.value.rule == "authentication"


@pytest.mark.parametrize("where", ["key_id", "enc", "ciphertext", "tag"])
def test_tampered_blob_fails(where):
    blob = bytearray(escrow.seal(PUBLIC, IDENTITY, AAD))
    index = {"key_id": 5, "enc": 17 + 600, "ciphertext": len(blob) - 20, "tag": len(blob) - 1}
    blob[index[where]] ^= 0x40
    with pytest.raises(DecryptionError):
        escrow.open_(PRIVATE, bytes(blob), AAD)


def test_truncated_or_foreign_blobs_are_malformed():
    blob = escrow.seal(PUBLIC, IDENTITY, AAD)
    for bad in (b"", blob[:100], b"\x03" + blob[1:]):
        with pytest.raises(DecryptionError) as err:
            escrow.open_(PRIVATE, bad, AAD)
        assert err.value.rule == "malformed"
    with pytest.raises(DecryptionError):
        escrow.open_(PRIVATE, blob[:-1], AAD)


@pytest.mark.parametrize("bad", [b"", b"\x01" * 10, b"\x02" + b"\x00" * 1216])
def test_bad_public_keys_are_refused(bad):
    with pytest.raises(ValueError):
        escrow.seal(bad, IDENTITY, AAD)


def test_bad_private_key_is_refused():
    with pytest.raises(ValueError):
        escrow.open_(PUBLIC, escrow.seal(PUBLIC, IDENTITY, AAD), AAD)


def test_error_does_not_echo_identity():
    blob = escrow.seal(PUBLIC, IDENTITY, AAD)
    with pytest.raises(DecryptionError) as err:
        escrow.open_(PRIVATE, blob, b"person:other")
    assert "850315301235" not in str(err.value) and "person" not in str(err.value)


def test_every_blob_has_one_length_whatever_the_plaintext():
    lengths = {len(escrow.seal(PUBLIC, b"x" * n, AAD)) for n in (0, 1, 17, 300, 2046)}
    assert len(lengths) == 1


def test_a_plaintext_over_the_padded_size_is_refused():
    with pytest.raises(ValueError):
        escrow.seal(PUBLIC, b"x" * escrow.PADDED_PLAINTEXT_BYTES, AAD)


def test_an_unpadded_blob_sealed_before_padding_still_opens():
    header = bytes([escrow.UNPADDED_FORMAT]) + bytes.fromhex(escrow.key_id(PUBLIC))
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    recipient = hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(PUBLIC[1:1185]),
        x25519.X25519PublicKey.from_public_bytes(PUBLIC[1185:]),
    )
    info = b"registry/escrow/v1\x00" + header + AAD
    legacy = header + suite.encrypt(IDENTITY, recipient, info=info)
    assert escrow.open_(PRIVATE, legacy, AAD) == IDENTITY
