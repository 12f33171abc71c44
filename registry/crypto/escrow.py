"""Identity escrow sealed to the custodians' public key with hybrid post-quantum HPKE.

Suite: RFC 9180 base mode, KEM ML-KEM-768 + X25519, HKDF-SHA256, AES-256-GCM.  The server
holds only the public key.  Blob layout: format byte ‖ 16-byte key id (SHA-256 prefix of
the public key) ‖ HPKE enc ‖ ciphertext.  Format 0x02 seals the plaintext padded to one fixed
size (2-byte length ‖ plaintext ‖ zeros), so a blob's length tells nothing of a name's length;
format 0x01 (unpadded, written before padding) still opens.  The caller's AAD (e.g. the person
id) and the header go into the HPKE `info`, which feeds the key schedule: `cryptography`
exposes single-shot HPKE with `info` only, and a different `info` yields a different key, so a
blob moved to another person, or a tampered header, fails to open just as with AAD.

Key bytes: public = 0x01 ‖ ML-KEM-768 public key (1184) ‖ X25519 public key (32);
private = 0x01 ‖ ML-KEM-768 seed (64) ‖ X25519 private key (32).  Private key bytes belong
with the custodians (offline or wrapped); nothing in the service stores them.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from registry.crypto.errors import DecryptionError

SUITE_ID = 0x01  # the key format byte
PADDED_FORMAT = 0x02  # the blob format byte of padded plaintexts
UNPADDED_FORMAT = 0x01
# Every identity pads to this: the longest name form the API accepts (three 100-character names
# of 4-byte UTF-8 characters, a date and a sex, as JSON) fits with room to spare.
PADDED_PLAINTEXT_BYTES = 2048
_LENGTH_BYTES = 2
KEY_ID_BYTES = 16
_MLKEM_PUBLIC_BYTES = 1184
_MLKEM_SEED_BYTES = 64
_X25519_BYTES = 32
PUBLIC_KEY_BYTES = 1 + _MLKEM_PUBLIC_BYTES + _X25519_BYTES
PRIVATE_KEY_BYTES = 1 + _MLKEM_SEED_BYTES + _X25519_BYTES
_HEADER_BYTES = 1 + KEY_ID_BYTES
_INFO_LABEL = b"registry/escrow/v1\x00"
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
# enc, plus the AES-GCM tag on an empty plaintext (an unpadded blob can be that short).
_MIN_BLOB_BYTES = _HEADER_BYTES + hpke.KEM.MLKEM768_X25519.enc_length() + 16


def generate_custodian_keypair() -> tuple[bytes, bytes]:
    """Return (private key bytes, public key bytes) for a new custodian key."""
    pq = mlkem.MLKEM768PrivateKey.generate()
    classic = x25519.X25519PrivateKey.generate()
    private = bytes([SUITE_ID]) + pq.private_bytes_raw() + classic.private_bytes_raw()
    return private, public_key_from_private(private)


def public_key_from_private(private_key: bytes) -> bytes:
    """Return the public key bytes matching private key bytes."""
    pq, classic = _load_private_parts(private_key)
    return (
        bytes([SUITE_ID])
        + pq.public_key().public_bytes_raw()
        + classic.public_key().public_bytes_raw()
    )


def key_id(public_key: bytes) -> str:
    """Return a short fingerprint naming which custodian key sealed a blob."""
    _load_public(public_key)
    return hashlib.sha256(public_key).digest()[:KEY_ID_BYTES].hex()


def blob_key_id(blob: bytes) -> str:
    """Return the key id recorded in a sealed blob."""
    _check_blob(blob)
    return blob[1:_HEADER_BYTES].hex()


def seal(public_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt plaintext, padded to the fixed size, to the custodian public key, bound to aad."""
    header = bytes([PADDED_FORMAT]) + bytes.fromhex(key_id(public_key))
    padded = _pad(plaintext)
    sealed = _SUITE.encrypt(padded, _load_public(public_key), info=_info(header, aad))
    return header + sealed


def open_(private_key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a sealed blob with the custodian private key, or raise DecryptionError."""
    _check_blob(blob)
    header = blob[:_HEADER_BYTES]
    expected = key_id(public_key_from_private(private_key))
    if not hmac.compare_digest(blob_key_id(blob), expected):
        raise DecryptionError("wrong_key")
    private = hpke.MLKEM768X25519PrivateKey(*_load_private_parts(private_key))
    try:
        opened = _SUITE.decrypt(blob[_HEADER_BYTES:], private, info=_info(header, aad))
    except InvalidTag:
        raise DecryptionError("authentication") from None
    return _unpad(opened) if blob[0] == PADDED_FORMAT else opened


def _pad(plaintext: bytes) -> bytes:
    """Prefix the length and fill with zeros to PADDED_PLAINTEXT_BYTES."""
    room = PADDED_PLAINTEXT_BYTES - _LENGTH_BYTES
    if len(plaintext) > room:
        raise ValueError(f"escrow plaintext over {room} bytes")
    prefix = len(plaintext).to_bytes(_LENGTH_BYTES, "big")
    return prefix + plaintext + bytes(room - len(plaintext))


def _unpad(padded: bytes) -> bytes:
    """Return the plaintext that _pad padded; the AEAD has already vouched for the bytes."""
    length = int.from_bytes(padded[:_LENGTH_BYTES], "big")
    if len(padded) != PADDED_PLAINTEXT_BYTES or length > len(padded) - _LENGTH_BYTES:
        raise DecryptionError("malformed")
    return padded[_LENGTH_BYTES : _LENGTH_BYTES + length]


def _info(header: bytes, aad: bytes) -> bytes:
    """Bind the label, the header and the caller's AAD into the HPKE key schedule."""
    return _INFO_LABEL + header + aad


def _check_blob(blob: bytes) -> None:
    """Refuse blobs of another format or too short to hold an encapsulation."""
    if len(blob) < _MIN_BLOB_BYTES or blob[0] not in (PADDED_FORMAT, UNPADDED_FORMAT):
        raise DecryptionError("malformed")


def _load_public(public_key: bytes) -> hpke.MLKEM768X25519PublicKey:
    """Parse public key bytes into the hybrid HPKE public key."""
    if len(public_key) != PUBLIC_KEY_BYTES or public_key[0] != SUITE_ID:
        raise ValueError("not an escrow public key")
    split = 1 + _MLKEM_PUBLIC_BYTES
    try:
        pq = mlkem.MLKEM768PublicKey.from_public_bytes(public_key[1:split])
        classic = x25519.X25519PublicKey.from_public_bytes(public_key[split:])
    except ValueError:
        raise ValueError("not an escrow public key") from None
    return hpke.MLKEM768X25519PublicKey(pq, classic)


def _load_private_parts(
    private_key: bytes,
) -> tuple[mlkem.MLKEM768PrivateKey, x25519.X25519PrivateKey]:
    """Parse private key bytes into the ML-KEM and X25519 halves."""
    if len(private_key) != PRIVATE_KEY_BYTES or private_key[0] != SUITE_ID:
        raise ValueError("not an escrow private key")
    split = 1 + _MLKEM_SEED_BYTES
    pq = mlkem.MLKEM768PrivateKey.from_seed_bytes(private_key[1:split])
    classic = x25519.X25519PrivateKey.from_private_bytes(private_key[split:])
    return pq, classic
