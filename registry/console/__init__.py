"""The staff console: server-rendered pages under /console on the same services as the API."""

import hashlib
import hmac
import secrets

from flask import Flask

from registry.console.sessions import ConsoleSessionInterface


def _csrf_secret(app: Flask) -> bytes:
    """Derive the CSRF signing key from the keyring, the same in every worker."""
    ring = app.extensions.get("keyring")
    if ring is None:  # the CLI without a keyring serves no forms
        return secrets.token_bytes(32)
    material = ring.primary("console").material
    return hmac.new(material, b"console:csrf", hashlib.sha256).digest()


def register_console(app: Flask) -> None:
    """Keep /console sessions on the server, sign CSRF tokens, and register the pages."""
    from registry.console import (  # noqa: F401
        account,
        clinic,
        custodian,
        episodes,
        home,
        patients,
        signin,
    )
    from registry.console.blueprint import console

    app.session_interface = ConsoleSessionInterface()
    app.config.setdefault("WTF_CSRF_SECRET_KEY", _csrf_secret(app))
    # A token lives as long as its session may; the session's own timeouts end it sooner.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", app.config["CONSOLE_SESSION_HOURS"] * 3600)
    app.register_blueprint(console)
    app.register_error_handler(404, account.not_found)
