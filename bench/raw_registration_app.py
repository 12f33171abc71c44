"""The bare Flask app plus the irreducible work of one anonymous registration, on the raw driver.

No authentication, no schemas, no SQLAlchemy and no service layer: only what a registration
must do whatever code does it. It makes two codes from the OS generator, keys a hash of the
care card, wraps a fresh data key with AES-GCM, and in one write transaction inserts the
person, care card and pseudonym and appends the audit entry to the hash chain.
bench/ceiling.py adds its cost to the floor's.
"""

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, request

from bench.raw_driver import audit, run, stored, write_transaction

app = Flask(__name__)
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_KEK, _CARD_KEY = os.urandom(32), os.urandom(32)
_HEADER = b"\x01\x00\x00\x00\x01"  # format and key version, authenticated with the AAD
_INSERT_PERSON = (
    "INSERT INTO persons (person_key, record_key, created_at, treated_before, wrapped_key,"
    " wrapped_key_version, erased) VALUES (%s, %s, %s, false, %s, 1, false) RETURNING id"
)
_INSERT_CARD = (
    "INSERT INTO care_cards (person_id, key_version, digest, superseded, created_at)"
    " VALUES (%s, 1, %s, false, %s)"
)
_INSERT_PSEUDONYM = (
    "INSERT INTO pseudonyms (domain, value, person_id, created_at) VALUES (%s, %s, %s, %s)"
)


def _code() -> str:
    number = int.from_bytes(secrets.token_bytes(13), "big")
    return "".join(_ALPHABET[(number >> (5 * i)) & 31] for i in range(20))


@app.post("/api/v1/patients")
def register():
    """Register an anonymous patient with nothing but the driver and the crypto."""
    request.get_json()
    card, pseudonym, person_key = _code(), _code(), secrets.token_bytes(16)
    digest = hmac.new(_CARD_KEY, b"CARE_CARD\x00" + card.encode(), hashlib.sha256).digest()
    nonce = os.urandom(12)
    data_key = AESGCM.generate_key(bit_length=256)
    wrapped = _HEADER + nonce + AESGCM(_KEK).encrypt(nonce, data_key, _HEADER + person_key)
    now = datetime.now(UTC)
    with write_transaction():
        person_values = (person_key, secrets.randbits(53) / (1 << 53), stored(now), wrapped)
        person = run(_INSERT_PERSON, person_values)[0][0]
        run(_INSERT_CARD, (person, digest, stored(now)))
        run(_INSERT_PSEUDONYM, ("clinic:1", pseudonym, person, stored(now)))
        audit("patient.register", "pseudonym", pseudonym, (3, "clinician"), now)
    body = {"pseudonym": pseudonym, "existing": False, "ost_active_elsewhere": False}
    return {**body, "treated_before": False, "care_card": card}, 201
