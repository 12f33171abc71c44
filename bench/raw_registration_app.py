"""The bare Flask app plus the irreducible work of one anonymous registration, on the raw driver.

No authentication, no schemas, no SQLAlchemy and no service layer: only what a registration
must do whatever code does it, with the registry's own crypto functions. It makes a care card
and a pseudonym (new_code), keys a hash of the care card (canonical_code_hash), wraps a fresh
data key with AES-GCM (aead), and in one write transaction inserts the person, care card and
pseudonym and appends the audit entry to the hash chain.
bench/ceiling.py adds its cost to the floor's.
"""

import os
import secrets
from datetime import UTC, datetime

from flask import Flask, request

from bench.raw_driver import audit, run, stored, write_transaction
from registry.crypto import aead
from registry.crypto.codes import CARE_CARD, PSEUDONYM, new_code
from registry.crypto.linkage import canonical_code_hash
from registry.patients.keys import new_person_key

app = Flask(__name__)
_KEK, _CARD_KEYS = os.urandom(32), {1: os.urandom(32)}
_PERSON_AAD = b"registry/person-key/v1\x00"  # as registry.patients.keys binds a wrapped key
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


@app.post("/api/v1/patients")
def register():
    """Register an anonymous patient with nothing but the driver and the crypto."""
    request.get_json()
    card, pseudonym, person_key = new_code(CARE_CARD), new_code(PSEUDONYM), new_person_key()
    digest = canonical_code_hash(_CARD_KEYS, card).digest
    aad = _PERSON_AAD + person_key.encode("ascii")
    wrapped = aead.encrypt(1, _KEK, aead.generate_key(), aad)
    now = datetime.now(UTC)
    with write_transaction():
        person_values = (person_key, secrets.randbits(53) / (1 << 53), stored(now), wrapped)
        person = run(_INSERT_PERSON, person_values)[0][0]
        run(_INSERT_CARD, (person, digest, stored(now)))
        run(_INSERT_PSEUDONYM, ("clinic:1", pseudonym, person, stored(now)))
        audit("patient.register", "pseudonym", pseudonym, (3, "clinician"), now)
    body = {"pseudonym": pseudonym, "existing": False, "ost_active_elsewhere": False}
    return {**body, "treated_before": False, "care_card": card}, 201
