"""Configuration layering and start-up refusal without a keyring."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from registry import create_app
from registry.config import Defaults, database_uri, from_environment

ROOT = Path(__file__).resolve().parent.parent


def test_environment_values_take_the_type_of_their_default():
    found = from_environment(
        {
            "REGISTRY_TOKEN_TTL_DAYS": "7",
            "REGISTRY_RATELIMIT_FAIL_OPEN": "no",
            "REGISTRY_LOG_LEVEL": "DEBUG",
            "REGISTRY_UNKNOWN": "x",
        }
    )
    assert found == {"TOKEN_TTL_DAYS": 7, "RATELIMIT_FAIL_OPEN": False, "LOG_LEVEL": "DEBUG"}


def test_database_url_defaults_to_sqlite_in_the_instance(tmp_path):
    assert database_uri("", str(tmp_path)) == f"sqlite:///{tmp_path}/registry.sqlite3"
    assert database_uri("postgresql://u@h/db", "x") == "postgresql+psycopg://u@h/db"


def test_instance_config_overrides_environment(tmp_path, monkeypatch, keyring):
    (tmp_path / "config.py").write_text("TOKEN_TTL_DAYS = 3\n")
    monkeypatch.setenv("REGISTRY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("REGISTRY_TOKEN_TTL_DAYS", "9")
    monkeypatch.setenv("REGISTRY_MAX_CONTENT_LENGTH", "1000")
    app = create_app({"TESTING": True, "KEYRING_OBJECT": keyring})
    assert app.config["TOKEN_TTL_DAYS"] == 3
    assert app.config["MAX_CONTENT_LENGTH"] == 1000
    assert Defaults.MAX_CONTENT_LENGTH == 64 * 1024


def test_service_refuses_to_start_without_a_keyring(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(SystemExit) as stopped:
        create_app({})
    assert "registry init" in str(stopped.value)


def test_keyring_can_come_from_the_environment_as_json(tmp_path, monkeypatch, keyring):
    monkeypatch.setenv("REGISTRY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("REGISTRY_KEYRING", keyring.dumps())
    app = create_app({})
    assert (
        app.extensions["keyring"].primary("linkage").material == keyring.primary("linkage").material
    )


def test_gunicorn_conf_runs_one_process_of_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_INSTANCE_PATH", str(tmp_path))
    for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS", "REGISTRY_RATELIMIT_STORAGE_URI"):
        monkeypatch.delenv(name, raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (conf["workers"], conf["threads"]) == (1, 8)
    assert conf["worker_class"] == "registry.server.WholeRequestWorker"
    monkeypatch.setenv("GUNICORN_WORKERS", "7")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"] == 7


def test_several_processes_need_a_shared_rate_limit_store(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("REGISTRY_RATELIMIT_STORAGE_URI", raising=False)
    on_starting = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["on_starting"]
    on_starting(SimpleNamespace(cfg=SimpleNamespace(workers=1)))  # one process: exact counts
    with pytest.raises(SystemExit, match="REGISTRY_RATELIMIT_STORAGE_URI"):
        on_starting(SimpleNamespace(cfg=SimpleNamespace(workers=3)))
    monkeypatch.setenv("REGISTRY_RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    on_starting(SimpleNamespace(cfg=SimpleNamespace(workers=3)))  # one count for all of them


def test_a_statistics_replica_needs_postgresql_on_both_sides(tmp_path, monkeypatch, keyring):
    monkeypatch.setenv("REGISTRY_INSTANCE_PATH", str(tmp_path))
    replica = {"TESTING": True, "KEYRING_OBJECT": keyring, "STATS_DATABASE_URL": "postgresql://r/x"}
    with pytest.raises(SystemExit, match="STATS_DATABASE_URL"):
        create_app(replica)  # the primary is SQLite here
    primary = {**replica, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://p/x"}
    with pytest.raises(SystemExit, match="STATS_DATABASE_URL"):
        create_app({**primary, "STATS_DATABASE_URL": "sqlite:///stats.sqlite3"})
    app = create_app(primary)
    assert app.config["SQLALCHEMY_BINDS"]["stats"]["url"] == "postgresql+psycopg://r/x"
    assert "stats" not in create_app({**primary, "STATS_DATABASE_URL": ""}).config.get(
        "SQLALCHEMY_BINDS", {}
    )
