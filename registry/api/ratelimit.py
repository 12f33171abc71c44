"""Rate-limit keys: HMAC(daily key, client IP), so no raw address is ever stored."""

import hashlib
import hmac
from datetime import date

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from registry import clock


def daily_key(secret: bytes, day: date) -> bytes:
    """Derive the day's key; yesterday's keys cannot link today's clients."""
    return hmac.new(secret, f"rate-limit:{day.isoformat()}".encode(), hashlib.sha256).digest()


def client_key() -> str:
    """Return the pseudonymous rate-limit key of the requesting client."""
    ring = current_app.extensions.get("keyring")
    secret = ring.primary("rate_limit").material if ring else b"no-keyring"
    address = (request.remote_addr or "unknown").encode()
    key = daily_key(secret, clock.now().date())
    return hmac.new(key, address, hashlib.sha256).hexdigest()[:32]


def counts_failed_auth(response) -> bool:
    """Count only answers of 401 against the default limit (token brute-forcing)."""
    return response.status_code == 401


def configure_rate_limits(app: Flask) -> None:
    """Bind flask-limiter with our key, storage and fail-open choice."""
    from registry.extensions import limiter

    if app.config["TRUSTED_PROXIES"]:
        # Take the client address from X-Forwarded-For only as far as our own proxies reach.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", app.config["RATELIMIT_FAIL_OPEN"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_DEFAULT", app.config["AUTH_FAILURE_LIMIT"])
    limiter.init_app(app)


def _configured(name: str):
    """Return a callable reading a limit from the config, so tests and deployments can tune it."""
    return lambda: current_app.config[name]


def public_limit(setting: str, scope: str):
    """Limit a public endpoint per client key; routes sharing a scope share one budget."""
    from registry.extensions import limiter

    return limiter.shared_limit(_configured(setting), scope=scope)
