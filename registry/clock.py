"""The service's notion of now, replaceable in tests."""

from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    """Return the current time in UTC."""
    return _frozen or datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    """Fix now() at a time (tests only); None releases it."""
    global _frozen
    _frozen = at
