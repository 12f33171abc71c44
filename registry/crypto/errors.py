"""Errors of the pure crypto layer; messages never carry the offending value."""

from __future__ import annotations


class CryptoError(Exception):
    """Base class for errors raised by registry.crypto."""


class InvalidIdentity(CryptoError, ValueError):
    """An identifier failed validation; names the field and rule, never the value."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"invalid {field}: {rule}")


class InvalidCode(CryptoError, ValueError):
    """A typed code failed to parse; names the rule, never the code."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        super().__init__(f"invalid code: {rule}")


class DecryptionError(CryptoError):
    """A ciphertext could not be opened (malformed, unknown key, or not authentic)."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        super().__init__(f"cannot decrypt: {rule}")
