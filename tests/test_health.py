"""Liveness and readiness probes."""

from sqlalchemy import text

from tests.conftest import make_test_app


def test_healthz_answers_without_auth(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok"}


def test_readyz_is_ok_when_everything_is_ready(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json["checks"] == {"keyring": "ok", "database": "ok", "migrations": "ok"}


def test_readyz_fails_without_a_keyring(database_url, tmp_path):
    app = make_test_app(database_url, None, str(tmp_path), KEYRING=str(tmp_path / "none.json"))
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"]["keyring"] == "missing"


def test_readyz_fails_when_migrations_are_pending(keyring, tmp_path):
    url = "sqlite:///" + str(tmp_path / "empty.sqlite3")
    app = make_test_app(url, keyring, str(tmp_path))
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"]["migrations"] == "pending"


def test_readyz_fails_quickly_when_the_database_is_unreachable(keyring, tmp_path):
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    app = make_test_app(url, keyring, str(tmp_path))
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"]["database"] == "unreachable"
    assert "nobody" not in answer.get_data(as_text=True)


def test_models_and_migrations_agree(app, session):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from registry.extensions import db

    context = MigrationContext.configure(session.connection(), opts={"compare_type": True})
    assert compare_metadata(context, db.metadata) == []
    assert session.execute(text("SELECT size FROM audit_head WHERE id = 1")).scalar() is not None
