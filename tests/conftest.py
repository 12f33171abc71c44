"""Fixtures: one database per test session, a rolled-back transaction per test, factories."""

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from flask import Flask, has_request_context, request
from flask.globals import app_ctx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker

from registry import create_app
from registry.crypto.keyring import Keyring
from registry.extensions import db

PG_URL = os.environ.get("REGISTRY_TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("REGISTRY_REQUIRE_POSTGRES") == "1"


def pytest_configure(config):
    """Refuse to start a run that must use PostgreSQL without one."""
    if REQUIRE_PG and not PG_URL:
        raise pytest.UsageError("REGISTRY_REQUIRE_POSTGRES=1 needs REGISTRY_TEST_DATABASE_URL")


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL-only tests without PostgreSQL (locally; CI requires them)."""
    if PG_URL:
        return
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="set REGISTRY_TEST_DATABASE_URL"))


_skipped_postgres_tests: list[str] = []


def pytest_runtest_logreport(report):
    """Remember PostgreSQL tests that skipped themselves."""
    if report.skipped and "postgres" in report.keywords:
        _skipped_postgres_tests.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """Fail a run that requires PostgreSQL if any PostgreSQL test was skipped."""
    if REQUIRE_PG and _skipped_postgres_tests:
        print(f"\nPostgreSQL tests were skipped: {_skipped_postgres_tests}")
        session.exitstatus = 1


def _postgres_database() -> Iterator[str]:
    """Create a fresh database for this session on the given server; drop it afterwards."""
    base = make_url(PG_URL)
    name = f"registry_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _new_database(directory) -> Iterator[str]:
    """Yield the URL of a new, empty database (PostgreSQL when configured, else SQLite)."""
    if PG_URL:
        yield from _postgres_database()
    else:
        yield "sqlite:///" + str(directory / "registry.sqlite3")


def migrate_database(app: Flask) -> None:
    """Apply the migrations and load the region list."""
    from flask_migrate import upgrade

    from registry.access.regions import load_regions

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        load_regions(app.config["REGIONS_FILE"])
        db.session.commit()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """Return the URL of this session's own database."""
    yield from _new_database(tmp_path_factory.mktemp("db"))


@pytest.fixture()
def fresh_app(keyring, tmp_path) -> Iterator[Flask]:
    """Return an app on its own new database whose writes really commit.

    For tests of concurrency, several processes or crash safety; slower than `client`.
    """
    for url in _new_database(tmp_path):
        app = make_test_app(url, keyring, str(tmp_path / "instance"))
        migrate_database(app)
        yield app
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    """Return a fresh keyring for the session."""
    return Keyring.generate()


def make_test_app(database_url: str, keyring: Keyring | None, instance: str, **extra) -> Flask:
    """Build a testing app on a database."""
    settings = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "KEYRING_OBJECT": keyring,
        "RATELIMIT_ENABLED": False,
        # Cheap argon2id hashes: the real cost is tested once, in tests/console.
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 64,
        "PASSWORD_HASH_PARALLELISM": 1,
    }
    settings.update(extra)
    os.environ["REGISTRY_INSTANCE_PATH"] = instance
    try:
        return create_app(settings)
    finally:
        os.environ.pop("REGISTRY_INSTANCE_PATH", None)


@pytest.fixture(scope="session")
def app(database_url, keyring, tmp_path_factory) -> Iterator[Flask]:
    """Return the session's app with a migrated database and the region list."""
    app = make_test_app(database_url, keyring, str(tmp_path_factory.mktemp("instance")))
    migrate_database(app)
    # Close each request's session at its end, as the app context teardown does in production.
    app.teardown_request(lambda _exc: db.session.remove() if has_request_context() else None)
    yield app
    with app.app_context():
        db.engine.dispose()


def _request_scope() -> tuple[int, int | None]:
    """Scope sessions per request, as in production where each request has its own context."""
    # The test client reuses the test's app context, so scoping by it alone would let a
    # request's rollback undo the test's own setup.
    request_id = id(request._get_current_object()) if has_request_context() else None
    return id(app_ctx._get_current_object()), request_id


@pytest.fixture()
def session(app) -> Iterator:
    """Run the test inside one transaction that is rolled back at the end."""
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        # A plain Session: Flask-SQLAlchemy's own picks its engine and would ignore `bind`.
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_request_scope,
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture()
def client(app, session):
    """Return a test client whose writes are rolled back after the test."""
    return app.test_client()


@pytest.fixture()
def make_clinic(session) -> Callable:
    """Return a factory of clinics."""
    from registry.access.models import Clinic

    def factory(
        name: str | None = None, region: str = "750000000", centre_type: str = "outpatient"
    ) -> Clinic:
        clinic = Clinic(
            name=name or f"Clinic {uuid.uuid4().hex[:6]}",
            region_code=region,
            centre_type=centre_type,
        )
        session.add(clinic)
        session.flush()
        return clinic

    return factory


@pytest.fixture()
def make_user(session, make_clinic) -> Callable:
    """Return a factory of (user, token) for roles; clinic roles get a clinic."""
    from registry.auth.models import CLINIC_ROLES
    from registry.auth.tokens import issue_token
    from registry.auth.users import create_user

    def factory(*roles: str, clinic=None, ttl_days: int = 30):
        if clinic is None and CLINIC_ROLES & set(roles):
            clinic = make_clinic()
        user = create_user(
            f"user-{uuid.uuid4().hex[:8]}", list(roles), clinic.id if clinic else None
        )
        _, secret = issue_token(user, ttl_days)
        return user, secret

    return factory


def bearer(token: str) -> dict:
    """Return the Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}
