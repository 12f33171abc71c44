"""Keyed linkage tokens and code hashes that re-key without the identities.

A token at key version n is HMAC(k_n, … HMAC(k_2, HMAC(k_1, prefix ‖ identifier))) over the
whole key history in ascending version order.  Rotating to k_{n+1} therefore needs only the
stored digest: rekey(d, k_{n+1}) = HMAC(k_{n+1}, d), and a freshly derived token equals the
re-keyed stored one.  The price: every key version ever used must stay in the keyring, and a
database dump can only be brute-forced with all of them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from registry.crypto.codes import CARE_CARD, CodeFormat, parse_code
from registry.crypto.iin import canonical_iin
from registry.crypto.names import NameKeyMaterial

MIN_KEY_BYTES = 32
DIGEST_BYTES = 32
_PREFIX = b"registry/linkage/v1\x00"


class Domain(StrEnum):
    """What kind of identifier a token was made from; keeps the kinds from colliding."""

    IIN = "iin"
    NAME = "name"
    NAME_PATRONYMIC = "name+patronymic"
    CODE = "code"


@dataclass(frozen=True, slots=True, eq=False)
class LinkageToken:
    """A keyed token and the key version that produced it; compare with matches()."""

    version: int
    digest: bytes = field(repr=False)

    def matches(self, other: LinkageToken) -> bool:
        """Return True for the same version and digest, comparing in constant time."""
        return self.version == other.version and hmac.compare_digest(self.digest, other.digest)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """Return HMAC-SHA-256 of message under key."""
    return hmac.new(key, message, hashlib.sha256).digest()


def domain_message(domain: Domain, material: bytes) -> bytes:
    """Prefix identifier material with its domain so IIN and name inputs never collide."""
    label = Domain(domain).value.encode("ascii")
    return _PREFIX + label + b"\x00" + material


def rekey(old_digest: bytes, new_key: bytes) -> bytes:
    """Re-key one stored digest to a new key version: HMAC(new_key, old_digest)."""
    _check_key(new_key)
    if len(old_digest) != DIGEST_BYTES:
        raise ValueError("digest must be 32 bytes")
    return hmac_sha256(new_key, old_digest)


def rekey_token(token: LinkageToken, keys_by_version: Mapping[int, bytes]) -> LinkageToken:
    """Bring a stored token up to the newest version by applying every newer key in order."""
    versions = _sorted_versions(keys_by_version)
    if token.version not in keys_by_version:
        raise ValueError("token version is not in the key history")
    digest = token.digest
    for version in versions:
        if version > token.version:
            digest = rekey(digest, keys_by_version[version])
    return LinkageToken(version=versions[-1], digest=digest)


def derive_token(
    keys_by_version: Mapping[int, bytes], domain: Domain, material: bytes
) -> LinkageToken:
    """Derive the newest-version token for identifier material from the full key history."""
    versions = _sorted_versions(keys_by_version)
    first = keys_by_version[versions[0]]
    _check_key(first)
    digest = hmac_sha256(first, domain_message(domain, material))
    for version in versions[1:]:
        digest = rekey(digest, keys_by_version[version])
    return LinkageToken(version=versions[-1], digest=digest)


def iin_token(keys_by_version: Mapping[int, bytes], iin: str) -> LinkageToken:
    """Validate an IIN and derive its linkage token."""
    return derive_token(keys_by_version, Domain.IIN, canonical_iin(iin).encode("ascii"))


def name_tokens(
    keys_by_version: Mapping[int, bytes], material: NameKeyMaterial
) -> tuple[LinkageToken, LinkageToken | None]:
    """Derive the fallback token and, when a patronymic was given, the patronymic token."""
    primary = derive_token(keys_by_version, Domain.NAME, material.primary)
    if material.patronymic is None:
        return primary, None
    return primary, derive_token(keys_by_version, Domain.NAME_PATRONYMIC, material.patronymic)


def keyed_code_hash(
    keys_by_version: Mapping[int, bytes], code: str, fmt: CodeFormat = CARE_CARD
) -> LinkageToken:
    """Parse a typed code and return its keyed hash, so any spelling hashes the same."""
    return canonical_code_hash(keys_by_version, parse_code(code, fmt), fmt)


def canonical_code_hash(
    keys_by_version: Mapping[int, bytes], canonical: str, fmt: CodeFormat = CARE_CARD
) -> LinkageToken:
    """Return the keyed hash of a code already in canonical form (as `parse_code` returns)."""
    material = fmt.name.encode("ascii") + b"\x00" + canonical.encode("ascii")
    return derive_token(keys_by_version, Domain.CODE, material)


def _sorted_versions(keys_by_version: Mapping[int, bytes]) -> list[int]:
    """Return key versions in ascending order, refusing an empty or malformed history."""
    if not keys_by_version:
        raise ValueError("key history is empty")
    versions = sorted(keys_by_version)
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in versions):
        raise ValueError("key versions must be positive integers")
    return versions


def _check_key(key: bytes) -> None:
    """Refuse keys too short to make the low-entropy IIN space unsearchable."""
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise ValueError("linkage keys must be at least 32 bytes")
