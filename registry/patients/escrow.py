"""Seal identities to the custodians' public key when the deployment configures one."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from flask import current_app

from registry.crypto import escrow as hpke_escrow
from registry.patients.models import Escrow, NewPerson, Person


class EscrowConfigError(Exception):
    """ESCROW_PUBLIC_KEY is set but is not a custodian public key."""


def decode_public_key(setting: str) -> bytes:
    """Return public key bytes from base64 text or from a file holding that text."""
    text = setting.strip()
    if not text.startswith(("/", ".")) and len(text) < 200:
        raise EscrowConfigError("ESCROW_PUBLIC_KEY is neither base64 nor a file path")
    if text.startswith(("/", ".")):
        try:
            text = Path(text).read_text().strip()
        except OSError as exc:
            raise EscrowConfigError(f"cannot read ESCROW_PUBLIC_KEY file: {exc.strerror}") from None
    try:
        public = base64.b64decode(text, validate=True)
        hpke_escrow.key_id(public)
    except (binascii.Error, ValueError):
        raise EscrowConfigError("ESCROW_PUBLIC_KEY is not a custodian public key") from None
    return public


def escrow_public_key() -> bytes | None:
    """Return the configured custodian public key, or None when escrow is off."""
    setting = current_app.config.get("ESCROW_PUBLIC_KEY") or ""
    if not setting:
        return None
    cache = current_app.extensions.setdefault("escrow_public_key", {})
    if setting not in cache:
        cache[setting] = decode_public_key(setting)
    return cache[setting]


def escrow_aad(person: Person | NewPerson) -> bytes:
    """Bind a blob to its person: a blob copied to another person's row will not open."""
    return b"person:" + person.person_key.encode("ascii")


def seal_identity(person: Person | NewPerson, plaintext: bytes) -> Escrow | None:
    """Create the person's escrow blob when escrow is configured and none exists yet."""
    public = escrow_public_key()
    if public is None:
        return None
    row = Escrow(
        person_id=person.id,
        custodian_key_id=hpke_escrow.key_id(public),
        blob=hpke_escrow.seal(public, plaintext, escrow_aad(person)),
    )
    return row
