"""Rate-limit keys: HMAC(daily key, client IP), so no raw address is ever stored."""

import hashlib
import hmac
import threading
import time
from datetime import date
from functools import partial

from flask import Flask, current_app, g, request
from limits import parse
from limits.storage import MemoryStorage
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


class SweptMemoryStorage(MemoryStorage):
    """limits' memory store, swept of expired counters every few seconds instead of 10 ms.

    The library starts a sweep of every key 10 ms after any hit. Per-client day limits keep a
    key per client all day, so the sweep grows with the day's clients: in the booking
    benchmark it took 8% of each worker's CPU. Reads already ignore an expired counter, so a
    slower sweep only frees memory later.
    """

    STORAGE_SCHEME = "registry-memory"
    SWEEP_SECONDS = 5.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's private hook; pinned
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.SWEEP_SECONDS, self._MemoryStorage__expire_events)
            self.timer.daemon = True
            self.timer.start()


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
    if app.config["RATELIMIT_STORAGE_URI"] == "memory://":
        app.config["RATELIMIT_STORAGE_URI"] = "registry-memory://"  # see SweptMemoryStorage
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", app.config["RATELIMIT_FAIL_OPEN"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    _check_only_limited_views(app, limiter)


def _check_only_limited_views(app: Flask, limiter) -> None:
    """Run flask-limiter's per-request hooks only for views that declare a limit.

    Its request filter (has_no_limits) runs late in its check, and its after-request and
    teardown hooks run for every view; together they cost more than the rest of an
    authenticated GET's hooks. For a view without limits they have nothing to do.
    """
    check = limiter._check_request_limit  # registered by init_app; flask-limiter is pinned
    before = app.before_request_funcs.get(None, [])
    if check not in before:
        return  # rate limits are off

    def check_if_limited() -> None:
        g.rate_limited = not has_no_limits()  # decided once, read by the two hooks below
        # Before a limited view, flask-limiter's hook checks only application-wide and meta
        # limits (the view's own run in its decorator); without either it has nothing to do.
        if g.rate_limited and _has_global_limits(limiter):
            check()

    before[before.index(check)] = check_if_limited
    after = app.after_request_funcs.get(None, [])
    for i, hook in enumerate(after):
        if isinstance(hook, partial) and hook.args == (limiter,):  # its header injection
            after[i] = _after_if_limited(hook)
    teardown = app.teardown_request_funcs.get(None, [])
    for i, hook in enumerate(teardown):
        if getattr(hook, "__self__", None) is limiter:  # its context release
            teardown[i] = _teardown_if_limited(hook)


def _has_global_limits(limiter) -> bool:
    """Tell whether RATELIMIT_APPLICATION or RATELIMIT_META configured any limit."""
    return bool(limiter.limit_manager._application_limits or limiter._meta_limits)


def _after_if_limited(hook):
    def inject_if_limited(response):
        if not g.get("rate_limited"):
            return response
        ours = response.headers.get("Retry-After")
        return _retry_after_only_on_refusals(hook(response), ours)

    return inject_if_limited


def _retry_after_only_on_refusals(response, ours: str | None):
    """Keep Retry-After on 429 (the limit's wait) and 503 (our own value) only.

    flask-limiter's header hook sets it on every answer of a limited view, to the end of the
    limit's window: a 200 would tell clients to wait, and a 503 would lose its documented 5 s.
    """
    if response.status_code == 429:
        return response
    if response.status_code == 503 and ours is not None:
        response.headers["Retry-After"] = ours
    else:
        response.headers.pop("Retry-After", None)
    return response


def _teardown_if_limited(hook):
    def release_if_limited(exc):
        # g can outlive the request (a shared app context): forget the decision here.
        if g.pop("rate_limited", False):
            hook(exc)

    return release_if_limited


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
