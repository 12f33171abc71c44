"""registry: an anonymous addiction-treatment registry and care-access service."""

import os

from flask import Config, Flask

from registry import config as settings
from registry.crypto.keyring import Keyring, KeyringError, load_keyring
from registry.json_provider import OrjsonProvider


class RegistryFlask(Flask):
    """Flask for a service with no async views and a faster JSON provider."""

    json_provider_class = OrjsonProvider

    def ensure_sync(self, func):
        """Return the function as is: Flask's coroutine check ran a dozen times per request."""
        return func


def _unconfigured_app() -> Flask:
    """Return the bare Flask object, its instance folder chosen but nothing configured."""
    return RegistryFlask(
        __name__,
        instance_path=os.environ.get("REGISTRY_INSTANCE_PATH") or None,
        instance_relative_config=True,
    )


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: config → extensions → blueprints → errors → cli."""
    app = _unconfigured_app()
    _configure(app, overrides or {})
    app.json.sort_keys = False  # keep schema order: problem+json reads type, title, status…
    _load_keyring(app)

    from registry import logs
    from registry.api import register_api
    from registry.api.problems import register_error_handlers
    from registry.api.ratelimit import configure_rate_limits
    from registry.cli import register_commands
    from registry.console import register_console
    from registry.database import attach_engine_hooks, engine_options, protect_sqlite_files
    from registry.extensions import db, migrate
    from registry.site import register_site
    from registry.web import register_web_hooks

    logs.configure(app)
    protect_sqlite_files(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    )
    _configure_stats_bind(app)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            attach_engine_hooks(engine)
    import registry.models  # noqa: F401  (every table, for Alembic and the mappers)

    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(__file__), "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    register_web_hooks(app)
    configure_rate_limits(app)
    register_api(app)
    register_site(app)
    register_console(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def _configure_stats_bind(app: Flask) -> None:
    """Add the statistics replica as the "stats" bind when one is set (PostgreSQL only)."""
    from registry.database import engine_options

    url = app.config.get("STATS_DATABASE_URL")
    if not url:
        return
    uri = settings.database_uri(url, app.instance_path)
    primary = app.config["SQLALCHEMY_DATABASE_URI"]
    if not (uri.startswith("postgresql") and primary.startswith("postgresql")):
        raise SystemExit("registry: STATS_DATABASE_URL needs PostgreSQL, as DATABASE_URL does")
    binds = app.config.setdefault("SQLALCHEMY_BINDS", {})
    binds.setdefault("stats", {"url": uri, **engine_options(uri)})


def load_config() -> Config:
    """Return the settings create_app would use, without building the app (gunicorn.conf.py)."""
    app = _unconfigured_app()
    _configure(app, {})
    return app.config


def _configure(app: Flask, overrides: dict) -> None:
    """Apply defaults, environment, instance/config.py, then the caller's overrides."""
    app.config.from_object(settings.Defaults)
    app.config.update(settings.from_environment(os.environ))
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(overrides)
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        settings.database_uri(app.config["DATABASE_URL"], app.instance_path),
    )
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)


def _load_keyring(app: Flask) -> None:
    """Load the keyring; outside testing, refuse to start without one."""
    given = app.config.get("KEYRING_OBJECT")
    if isinstance(given, Keyring):
        app.extensions["keyring"] = given
        return
    try:
        app.extensions["keyring"] = load_keyring(app.config["KEYRING"], app.instance_path)
    except KeyringError as exc:
        if app.testing or app.config.get("ALLOW_MISSING_KEYRING"):
            app.extensions["keyring"] = None
            app.logger.warning("starting without a keyring: %s", exc)
            return
        raise SystemExit(f"registry: {exc}") from None


def keyring() -> Keyring:
    """Return the app's keyring, or raise if it has none."""
    from flask import current_app

    ring = current_app.extensions.get("keyring")
    if ring is None:
        raise KeyringError("no keyring loaded; run 'registry init'")
    return ring
