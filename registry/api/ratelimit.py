"""Rate-limit keys: HMAC(daily key, client IP), so no raw address is ever stored."""

import hashlib
import hmac
import time
from datetime import date

from flask import Flask, current_app, g, request
from limits import parse
from werkzeug.middleware.proxy_fix import ProxyFix

from registry import clock


def daily_key(secret: bytes, day: date) -> bytes:
    """Derive the day's key; yesterday's keys cannot link today's clients."""
    return hmac.new(secret, f"rate-limit:{day.isoformat()}".encode(), hashlib.sha256).digest()


# Asked for by each limit and by the booking caps: derived once per request, kept in its environ.
_CLIENT_KEY = "registry.client_key"


def client_key() -> str:
    """Return the pseudonymous rate-limit key of the requesting client."""
    found = request.environ.get(_CLIENT_KEY)
    if found is None:
        found = request.environ[_CLIENT_KEY] = _derive_client_key()
    return found


def _derive_client_key() -> str:
    """Derive the client's key from today's rate-limit key and its address."""
    ring = current_app.extensions.get("keyring")
    secret = ring.primary("rate_limit").material if ring else b"no-keyring"
    address = (request.remote_addr or "unknown").encode()
    key = daily_key(secret, clock.now().date())
    return hmac.new(key, address, hashlib.sha256).hexdigest()[:32]


def failed_authentication_retry_after() -> int | None:
    """Count a failed authentication; return seconds to wait when the client is over the limit."""
    from registry.extensions import limiter

    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    # Counted only on failure, so valid requests pay nothing for brute-force protection.
    item = parse(current_app.config["AUTH_FAILURE_LIMIT"])
    key = client_key()
    try:
        if limiter.limiter.hit(item, "auth-failure", key):
            return None
        reset_at = limiter.limiter.get_window_stats(item, "auth-failure", key).reset_time
    except Exception:  # the limit store is down
        if current_app.config["RATELIMIT_FAIL_OPEN"]:
            return None
        return 60
    return max(1, int(reset_at - time.time()) + 1)


def has_no_limits() -> bool:
    """Tell flask-limiter to skip views that declare no limit (most of the API)."""
    view = current_app.view_functions.get(request.endpoint or "")
    return not getattr(view, "rate_limited", False)


def configure_rate_limits(app: Flask) -> None:
    """Bind flask-limiter with our key, storage and fail-open choice."""
    from registry.extensions import limiter

    if app.config["TRUSTED_PROXIES"]:
        # Take the client address from X-Forwarded-For only as far as our own proxies reach.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", app.config["RATELIMIT_FAIL_OPEN"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    _keep_retry_after_for_refusals(app, limiter)


def _keep_retry_after_for_refusals(app: Flask, limiter) -> None:
    """Keep Retry-After on 429 (the limit's wait) and on answers that set their own (503).

    flask-limiter's header hook sets it on every answer of a limited view, to the end of the
    limit's window: a 200 would tell clients to wait, and a 503 would lose its documented 5 s.
    Flask runs after-request hooks in reverse order of registration, so the hook registered
    before the limiter's restores what the one registered after it saw.
    """

    @app.after_request
    def restore(response):
        ours = g.pop("own_retry_after", None)  # g can outlive the request: never leave it
        if response.status_code != 429:
            if ours is None:
                response.headers.pop("Retry-After", None)
            else:
                response.headers["Retry-After"] = ours
        return response

    limiter.init_app(app)

    @app.after_request
    def remember(response):
        g.own_retry_after = response.headers.get("Retry-After")
        return response


def _configured(name: str):
    """Return a callable reading a limit from the config, so tests and deployments can tune it."""
    return lambda: current_app.config[name]


def public_limit(setting: str, scope: str):
    """Limit a public endpoint per client key; routes sharing a scope share one budget."""
    from registry.extensions import limiter

    shared = limiter.shared_limit(_configured(setting), scope=scope)

    def decorator(view):
        limited = shared(view)
        limited.rate_limited = True  # see has_no_limits: only marked views are checked
        return limited

    return decorator
