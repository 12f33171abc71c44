"""Failed console sign-ins: limited per client (shared with bad bearer tokens) and per name."""

import contextlib
import hashlib
import hmac
import time

from flask import current_app
from limits import parse

from registry.api.ratelimit import client_key, failed_authentication_retry_after

_ACCOUNT_SCOPE = "console-account"


def _account_key(name: str) -> str:
    """Return the limit key of a user name: an HMAC, so the store never holds the name."""
    ring = current_app.extensions.get("keyring")
    secret = ring.primary("rate_limit").material if ring else b"no-keyring"
    digest = hmac.new(secret, f"console-account:{name.casefold()}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def _budgets(name: str) -> list[tuple[str, str, str]]:
    return [
        (current_app.config["AUTH_FAILURE_LIMIT"], "auth-failure", client_key()),
        (current_app.config["CONSOLE_ACCOUNT_FAILURE_LIMIT"], _ACCOUNT_SCOPE, _account_key(name)),
    ]


def sign_in_wait(name: str) -> int | None:
    """Return the seconds to wait when this client or this user name failed too often."""
    from registry.extensions import limiter

    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    try:
        for setting, scope, key in _budgets(name):
            item = parse(setting)
            if not limiter.limiter.test(item, scope, key):
                reset_at = limiter.limiter.get_window_stats(item, scope, key).reset_time
                return max(1, int(reset_at - time.time()) + 1)
    except Exception:  # the limit store is down
        return None if current_app.config["RATELIMIT_FAIL_OPEN"] else 60
    return None


def count_failed_sign_in(name: str) -> None:
    """Count a failed password or code against the client and the user name."""
    from registry.extensions import limiter

    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    failed_authentication_retry_after()  # the client's budget, as a bad bearer token spends it
    # A lost store is not fatal here: sign_in_wait decides what it means for the next try.
    with contextlib.suppress(Exception):
        limiter.limiter.hit(
            parse(current_app.config["CONSOLE_ACCOUNT_FAILURE_LIMIT"]),
            _ACCOUNT_SCOPE,
            _account_key(name),
        )
