"""Readiness checks: database reachable, keyring loaded, migrations current."""

import logging
from contextlib import suppress
from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from registry.extensions import db

log = logging.getLogger("registry.health")
MIGRATIONS = Path(__file__).parent / "migrations"


@cache
def migration_heads() -> frozenset[str]:
    """Return the head revisions shipped with this code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def readiness(app: Flask) -> dict[str, str]:
    """Return each dependency's state; values never carry secrets or exception text."""
    checks = {"keyring": "ok" if app.extensions.get("keyring") else "missing"}
    try:
        current = set(MigrationContext.configure(db.session.connection()).get_current_heads())
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current == migration_heads() else "pending"
    except Exception as exc:  # any failure means not ready; the reason goes to the log only
        log.warning("readiness: database check failed", extra={"error": type(exc).__name__})
        checks["database"] = "unreachable"
        checks["migrations"] = "unknown"
    finally:
        with suppress(Exception):  # a dead connection cannot roll back; the pool drops it
            db.session.rollback()
    return checks
