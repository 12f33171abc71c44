"""Read-only requests: no write lock on SQLite, no transaction round trips on PostgreSQL."""

import pytest
from sqlalchemy import text

from registry.database import read_only
from registry.extensions import db
from tests.conftest import make_test_app


@pytest.fixture()
def probe(app, database_url, keyring, tmp_path):
    """Return a client of an app with a read-only and a writing probe view."""
    probe_app = make_test_app(database_url, keyring, str(tmp_path))
    probe_app.teardown_request(lambda _exc: db.session.remove())
    seen = {}

    def state(name):
        db.session.execute(text("SELECT 1"))
        driver = db.session.connection().connection.driver_connection
        seen[name] = (driver.autocommit, driver.info.transaction_status)
        return "ok"

    probe_app.get("/_read")(read_only(lambda: state("read")))
    probe_app.add_url_rule("/_write", "write", lambda: state("write"), methods=["POST"])
    with probe_app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's autocommit reads; SQLite's read path has its own tests")
    return probe_app, seen


def test_read_only_requests_open_no_transaction_and_writers_still_do(probe):
    probe_app, seen = probe
    client = probe_app.test_client()
    assert client.get("/_read").status_code == 200
    assert seen["read"] == (True, 0)  # autocommit, IDLE: no BEGIN, no ROLLBACK
    assert client.post("/_write").status_code == 200
    assert seen["write"] == (False, 2)  # INTRANS: a writing request keeps its transaction
    assert client.get("/_read").status_code == 200
    with probe_app.app_context():
        pooled = [db.engine.raw_connection() for _ in range(2)]
        try:
            assert all(p.driver_connection.autocommit is False for p in pooled)
        finally:
            for p in pooled:
                p.close()


def test_transaction_hooks_stay_on_the_apps_engine(app, tmp_path):
    """Another engine in the process keeps SQLite's defaults: the hooks are the app's own."""
    from sqlalchemy import create_engine

    other = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with other.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "delete"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 0
    other.dispose()
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as connection:
                assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
