"""Rotate a key purpose and re-key what is stored under it, batch by batch, resumably."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from registry.audit.log import record
from registry.crypto.keyring import Key, load_keyring
from registry.extensions import db
from registry.patients import keys
from registry.patients.models import CareCard, LinkageToken, Person

ROTATABLE = ("linkage", "care_card", "data")
_STORED = {
    "linkage": (LinkageToken, LinkageToken.key_version),
    "care_card": (CareCard, CareCard.key_version),
    "data": (Person, Person.wrapped_key_version),
}


def keyring_file() -> Path | None:
    """Return the keyring file behind this app, or None when it was given inline."""
    if current_app.config.get("KEYRING_OBJECT") is not None:
        return None
    return _keyring_path(current_app.config["KEYRING"], current_app.instance_path)


@functools.lru_cache(maxsize=16)
def _keyring_path(setting: str, instance_path: str) -> Path | None:
    # Cached: every keyed hash checks the file for a rotation, and building the path cost
    # more than the stat.
    if setting.lstrip().startswith("{"):
        return None
    return Path(setting) if setting else Path(instance_path) / "keyring.json"


def refresh_keyring() -> None:
    """Reload the keyring when its file changed, so running workers see a rotation at once."""
    path = keyring_file()
    if path is None:
        return
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return
    # The first call reloads too: the file may have changed since the app loaded it.
    if stamp != current_app.extensions.get("keyring_mtime"):
        current_app.extensions["keyring"] = load_keyring(
            current_app.config["KEYRING"], current_app.instance_path
        )
        current_app.extensions["keyring_mtime"] = stamp


def rotate_keyring(purpose: str) -> Key:
    """Add a new primary version of a purpose and save the keyring file (0600)."""
    if purpose not in ROTATABLE:
        raise ValueError(f"cannot rotate '{purpose}' here")
    ring = current_app.extensions["keyring"]
    path = keyring_file()
    if path is not None:
        # Reload first: another process may have rotated since this one started.
        ring = load_keyring(current_app.config["KEYRING"], current_app.instance_path)
    key = ring.rotate(purpose)
    if path is not None:
        ring.save(path)
        current_app.extensions["keyring"] = ring
        current_app.extensions["keyring_mtime"] = os.stat(path).st_mtime_ns
    record("keys.rotate", "key", key.key_id)
    db.session.commit()
    return key


def rekey_batch(purpose: str, limit: int, after_id: int = 0) -> keys.Batch:
    """Re-key one batch of rows older than the primary version and commit it."""
    batch = keys.REKEYERS[purpose](limit, after_id)
    db.session.commit()
    return batch


def rekey_all(purpose: str, limit: int) -> int:
    """Re-key every row older than the primary version, one committed batch at a time.

    Resumable and idempotent: a row already re-keyed is marked (or re-wrapped) and skipped.
    """
    total = after = 0
    while True:
        done, after = rekey_batch(purpose, limit, after)
        if not done:
            return total
        total += done


def prune_all(purpose: str, limit: int) -> int:
    """Delete every superseded row of a purpose in committed batches (data keys: nothing)."""
    if purpose == "data":
        return 0
    total = after = 0
    while True:
        done, after = keys.prune_superseded(purpose, limit, after)
        db.session.commit()
        if not done:
            return total
        total += done


def remaining(purpose: str) -> dict[int, int]:
    """Return {key version: rows} still stored under each version of a purpose."""
    _model, column = _STORED[purpose]
    rows = db.session.execute(
        select(column, func.count()).where(column.is_not(None)).group_by(column)
    ).all()
    return {version: count for version, count in rows}
