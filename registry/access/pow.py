"""ALTCHA v1 proof of work: HMAC-signed SHA-256 challenges (pure: no Flask, no database).

A challenge is SHA-256(salt ‖ secret number) with the number below `maxnumber`; the client
finds the number by trying them all. The salt carries `?expires=<unix time>` as ALTCHA does, and
the server signs the challenge with HMAC-SHA-256 so it needs to store nothing until one is used.
The solution is the base64 of the JSON {algorithm, challenge, number, salt, signature}, as the
ALTCHA widget sends it.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

ALGORITHM = "SHA-256"
# Bounds what we parse: a real payload is about 300 bytes.
MAX_PAYLOAD_CHARS = 1024


class PowError(Exception):
    """A proof of work that cannot be accepted; `reason` is invalid, expired or malformed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Solved:
    """A verified solution: the challenge to mark as spent and when it expires."""

    challenge: str
    expires_at: datetime


def _sign(key: bytes, challenge: str) -> str:
    return hmac.new(key, challenge.encode(), hashlib.sha256).hexdigest()


def _hash(salt: str, number: int) -> str:
    return hashlib.sha256(f"{salt}{number}".encode()).hexdigest()


def create_challenge(key: bytes, max_number: int, expires_at: datetime) -> dict:
    """Return a new signed challenge in the ALTCHA v1 JSON shape."""
    salt = f"{secrets.token_hex(12)}?expires={int(expires_at.timestamp())}"
    number = secrets.randbelow(max_number + 1)
    challenge = _hash(salt, number)
    return {
        "algorithm": ALGORITHM,
        "challenge": challenge,
        "maxnumber": max_number,
        "salt": salt,
        "signature": _sign(key, challenge),
    }


def solve(challenge: dict) -> str:
    """Find the number by brute force and return the payload (tests and benchmarks)."""
    for number in range(challenge["maxnumber"] + 1):
        if _hash(challenge["salt"], number) == challenge["challenge"]:
            fields = ("algorithm", "challenge", "salt", "signature")
            solution = {name: challenge[name] for name in fields} | {"number": number}
            return base64.b64encode(json.dumps(solution).encode()).decode()
    raise PowError("invalid")


def _decode(payload: str) -> dict:
    """Parse the base64 JSON payload or raise PowError('malformed')."""
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_CHARS:
        raise PowError("malformed")
    try:
        data = json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise PowError("malformed") from None
    if not isinstance(data, dict):
        raise PowError("malformed")
    expected = {"algorithm": str, "challenge": str, "salt": str, "signature": str, "number": int}
    for name, kind in expected.items():
        if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
            raise PowError("malformed")
    return data


def _expiry(salt: str) -> datetime:
    """Read the expiry the salt carries (signed, since the challenge hashes the salt)."""
    _, _, query = salt.partition("?")
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "expires" and value.isdigit() and len(value) <= 12:
            return datetime.fromtimestamp(int(value), UTC)
    raise PowError("malformed")


def verify(key: bytes, payload: str, now: datetime) -> Solved:
    """Check a solution's signature, work and expiry; single use is the caller's job."""
    data = _decode(payload)
    if data["algorithm"] != ALGORITHM:
        raise PowError("invalid")
    # Constant-time compare: the signature is the one secret-derived value here.
    if not hmac.compare_digest(_sign(key, data["challenge"]), data["signature"]):
        raise PowError("invalid")
    if data["number"] < 0 or _hash(data["salt"], data["number"]) != data["challenge"]:
        raise PowError("invalid")
    expires_at = _expiry(data["salt"])
    if expires_at <= now:
        raise PowError("expired")
    return Solved(data["challenge"], expires_at)
