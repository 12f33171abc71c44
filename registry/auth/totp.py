"""The second factor: TOTP codes (RFC 6238, pyotp), secrets sealed under the 'totp' key."""

import hmac
from datetime import datetime

import pyotp

from registry import keyring
from registry.crypto import aead

ISSUER = "Registry"
# Codes of the step before and after are accepted too: phone clocks drift by some seconds.
DRIFT_STEPS = 1


def new_secret() -> str:
    """Return a new random TOTP secret (160 bits, base32, as authenticator apps expect)."""
    return pyotp.random_base32()


def _aad(user_id: int) -> bytes:
    # Bound to its user: a sealed secret copied to another user's row does not open.
    return f"totp:user:{int(user_id)}".encode()


def seal(user_id: int, secret: str) -> bytes:
    """Encrypt a secret under the newest 'totp' key."""
    key = keyring().primary("totp")
    return aead.encrypt(key.version, key.material, secret.encode("ascii"), _aad(user_id))


def unseal(user_id: int, blob: bytes) -> str:
    """Decrypt a sealed secret with the key version it names."""
    keys = {key.version: key.material for key in keyring().history("totp")}
    return aead.decrypt(keys, blob, _aad(user_id)).decode("ascii")


def provisioning_uri(secret: str, user_name: str) -> str:
    """Return the otpauth:// URI an authenticator app reads from the enrolment QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user_name, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """Return the time step a six-digit code is valid for around `now`, or None."""
    code = code.replace(" ", "").strip()
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step + offset), code):
            return step + offset
    return None


def code_for(secret: str, now: datetime) -> str:
    """Return the code of a secret at a moment (the demo and the tests type it)."""
    return pyotp.TOTP(secret).at(now)
