"""AES-256-GCM for data-encryption keys, with the key version inside each ciphertext.

Blob layout: format byte 0x01 ‖ key version (uint32, big-endian) ‖ 96-bit random nonce ‖
ciphertext ‖ 16-byte tag.  The 5-byte header is authenticated with the caller's AAD, so a
version byte cannot be swapped.  Random nonces are safe for well under 2**32 messages per key;
rotate data keys long before that.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.crypto.errors import DecryptionError

FORMAT = 0x01
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = 5
MAX_VERSION = 2**32 - 1


def generate_key() -> bytes:
    """Return a fresh random 256-bit data-encryption key."""
    return AESGCM.generate_key(bit_length=256)


def encrypt(key_version: int, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt under the given key version and return a self-describing blob."""
    _check_version(key_version)
    _check_key(key)
    header = bytes([FORMAT]) + key_version.to_bytes(4, "big")
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def decrypt(keys_by_version: Mapping[int, bytes], blob: bytes, aad: bytes) -> bytes:
    """Decrypt a blob with the key of the version it names, or raise DecryptionError."""
    version = key_version_of(blob)
    key = keys_by_version.get(version)
    if key is None:
        raise DecryptionError("unknown_key_version")
    _check_key(key)
    header, nonce = blob[:HEADER_BYTES], blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    body = blob[HEADER_BYTES + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, header + aad)
    except InvalidTag:
        raise DecryptionError("authentication") from None


def key_version_of(blob: bytes) -> int:
    """Return the key version a blob was encrypted with, so rotation can find old ones."""
    if len(blob) < HEADER_BYTES + NONCE_BYTES + TAG_BYTES or blob[0] != FORMAT:
        raise DecryptionError("malformed")
    return int.from_bytes(blob[1:HEADER_BYTES], "big")


def reencrypt(
    keys_by_version: Mapping[int, bytes], new_version: int, blob: bytes, aad: bytes
) -> bytes:
    """Re-encrypt a blob under new_version; blobs already there are returned unchanged."""
    if key_version_of(blob) == new_version:
        return blob
    plaintext = decrypt(keys_by_version, blob, aad)
    return encrypt(new_version, keys_by_version[new_version], plaintext, aad)


def _check_version(version: int) -> None:
    """Refuse versions that do not fit the 4-byte header field."""
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_VERSION:
        raise ValueError("key version must be in 1..2**32-1")


def _check_key(key: bytes) -> None:
    """Refuse anything but a 256-bit key."""
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError("data-encryption keys must be 32 bytes")
