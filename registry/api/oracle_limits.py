"""Limits on the answers that tell whether a person is in the registry, per user and per clinic.

Linked registration answers `existing`, `treated_before` and `ost_active_elsewhere` for any
identity typed, and care-card resolution for any card held: care needs both, but unlimited they
are an oracle for "is this person treated for addiction?" (docs/registration-oracle.md). Each
answer is counted against the caller's budget and its clinic's, in the project's flask-limiter
store, keyed by user and clinic id (never by address: staff share a clinic's network).
"""

import functools
import logging
import time
from dataclasses import dataclass

from flask import current_app, g
from limits import RateLimitItem, parse_many

from registry.errors import AuditNote, ServiceUnavailable, TooManyRequests
from registry.oversight import LIMIT_REFUSAL

log = logging.getLogger("registry.ratelimit")


@dataclass(frozen=True)
class OracleLimit:
    """A budget of one kind of answer: its store scope, audit action, settings and wording."""

    scope: str
    action: str
    per_user: str
    per_clinic: str
    what: str


LINKED_REGISTRATION = OracleLimit(
    "linked-registration",
    "patient.register",
    "LINKED_REGISTRATION_USER_LIMIT",
    "LINKED_REGISTRATION_CLINIC_LIMIT",
    "linked registrations",
)
CARE_CARD_RESOLUTION = OracleLimit(
    "care-card-resolution",
    "patient.resolve",
    "CARE_CARD_RESOLUTION_USER_LIMIT",
    "CARE_CARD_RESOLUTION_CLINIC_LIMIT",
    "care-card resolutions",
)


def count_oracle_answer(limit: OracleLimit) -> None:
    """Count one answer for the caller and its clinic; 429 (audited) when either is spent."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    # The user first: a user over its own budget then spends none of its clinic's.
    budgets = [("user", limit.per_user, g.user.id, "your limit")]
    if g.user.clinic_id is not None:
        budgets.append(("clinic", limit.per_clinic, g.user.clinic_id, "your clinic's limit"))
    for holder, setting, holder_id, whose in budgets:
        text = current_app.config[setting]
        for item in _parsed(text):
            retry_after = _spend(item, limit.scope, holder, str(holder_id))
            if retry_after is not None:
                raise TooManyRequests(
                    f"you have reached {whose} of {limit.what} ({text}); try again in "
                    f"{retry_after} s. If ordinary work needs more, ask an operator.",
                    headers={"Retry-After": str(retry_after)},
                    audit=AuditNote(limit.action, LIMIT_REFUSAL, holder),
                )


@functools.lru_cache(maxsize=32)
def _parsed(text: str) -> tuple[RateLimitItem, ...]:
    """Parse a limit setting once: parsing cost more than counting."""
    return tuple(parse_many(text))


def _spend(item: RateLimitItem, *identifiers: str) -> int | None:
    """Take one from a budget; return the seconds until it refills when it is spent."""
    from registry.extensions import limiter

    try:
        if limiter.limiter.hit(item, *identifiers):
            return None
        reset_at = limiter.limiter.get_window_stats(item, *identifiers).reset_time
    except Exception as exc:  # the limit store is down
        if current_app.config["RATELIMIT_FAIL_OPEN"]:
            log.warning("oracle limit not checked", extra={"error": type(exc).__name__})
            return None
        raise ServiceUnavailable(
            "the service cannot check its request limits; try again",
            headers={"Retry-After": "5"},
        ) from None
    return max(1, int(reset_at - time.time()) + 1)
