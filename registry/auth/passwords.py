"""Staff passwords: argon2id hashes (argon2-cffi), the rules a new password must meet."""

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from registry.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes any length; a bound keeps a huge body from costing a hash


def hasher() -> PasswordHasher:
    """Return an argon2id hasher with the configured cost (tests make it cheap)."""
    config = current_app.config
    return PasswordHasher(
        time_cost=config["PASSWORD_HASH_TIME_COST"],
        memory_cost=config["PASSWORD_HASH_MEMORY_KIB"],
        parallelism=config["PASSWORD_HASH_PARALLELISM"],
        type=Type.ID,
    )


def check_new_password(password: str, user_name: str, field: str = "password") -> None:
    """Refuse a password that is too short, too long, or the user's own name."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(errors={field: [f"at least {MIN_LENGTH} characters"]})
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(errors={field: [f"at most {MAX_LENGTH} characters"]})
    if user_name.casefold() in password.casefold():
        raise ValidationFailed(errors={field: ["must not contain the user name"]})


def hash_password(password: str) -> str:
    """Return the argon2id hash of a password (salted; parameters inside the hash)."""
    return hasher().hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    """Tell whether a password matches its hash; a missing hash costs a hash all the same."""
    if len(password) > MAX_LENGTH:
        return False
    if stored is None:
        # Verify against a hash of a random password, so that an unknown user answers as
        # slowly as a known one and the timing tells no one which user names exist.
        _verifies(_decoy(), password)
        return False
    return _verifies(stored, password)


def _verifies(stored: str, password: str) -> bool:
    try:
        return hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Tell whether a hash was made with other parameters than today's."""
    return hasher().check_needs_rehash(stored)


_DECOY: dict[str, str] = {}


def _decoy() -> str:
    """Return a hash of a random password made with today's parameters (made once)."""
    params = (
        current_app.config["PASSWORD_HASH_TIME_COST"],
        current_app.config["PASSWORD_HASH_MEMORY_KIB"],
        current_app.config["PASSWORD_HASH_PARALLELISM"],
    )
    if _DECOY.get("params") != params:
        _DECOY.update(params=params, hash=hasher().hash(secrets.token_urlsafe(32)))
    return _DECOY["hash"]
