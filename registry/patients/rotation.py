"""Rotate a key purpose and re-key what is stored under it, batch by batch, resumably."""

from __future__ import annotations

import os
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

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
    setting = current_app.config["KEYRING"]
    if setting.lstrip().startswith("{"):
        return None
    return Path(setting) if setting else Path(current_app.instance_path) / "keyring.json"


def refresh_keyring() -> None:
    """Reload the keyring when its file changed, so running workers see a rotation at once."""
    path = keyring_file()
    if path is None:
        return
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return
    seen = current_app.extensions.get("keyring_mtime")
    if seen is None:
        current_app.extensions["keyring_mtime"] = stamp
    elif stamp != seen:
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


def rekey_batch(purpose: str, limit: int) -> int:
    """Re-key one batch of rows older than the primary version and commit it."""
    try:
        done = keys.REKEYERS[purpose](limit)
        db.session.commit()
        return done
    except IntegrityError:
        db.session.rollback()
        done = _rekey_one_by_one(purpose, limit)
        db.session.commit()
        return done


def _rekey_one_by_one(purpose: str, limit: int) -> int:
    """Re-key row by row; an old token whose new form exists already is a duplicate person.

    That can happen only when a worker still on the old key registered someone during the
    rotation: the duplicate is merged into the existing person and its stale token dropped.
    """
    done = 0
    for _ in range(limit):
        try:
            with db.session.begin_nested():
                moved = keys.REKEYERS[purpose](1)
        except IntegrityError:
            _merge_stale_duplicate(purpose)
            moved = 1
        if not moved:
            break
        done += moved
    return done


def _merge_stale_duplicate(purpose: str) -> None:
    """Merge the person of the oldest stale token into the holder of its re-keyed form."""
    model, _ = _STORED[purpose]
    history = keys.key_history(purpose)
    newest = max(history)
    stale = db.session.execute(
        select(model).where(model.key_version < newest).order_by(model.id).limit(1)
    ).scalar_one()
    digest = stale.digest
    for step in sorted(v for v in history if v > stale.key_version):
        digest = keys.rekey(digest, history[step])
    clause = [model.key_version == newest, model.digest == digest]
    if model is LinkageToken:
        clause.append(LinkageToken.kind == stale.kind)
    holder = db.session.execute(select(model).where(*clause)).scalar_one()
    duplicate = db.session.get(Person, stale.person_id)
    if duplicate.id != holder.person_id and duplicate.merged_into_id is None:
        duplicate.merged_into_id = holder.person_id
    db.session.delete(stale)
    db.session.flush()
    record("keys.rekey_duplicate_merged", "key", f"{purpose}:v{newest}")


def remaining(purpose: str) -> dict[int, int]:
    """Return {key version: rows} still stored under each version of a purpose."""
    _model, column = _STORED[purpose]
    rows = db.session.execute(
        select(column, func.count()).where(column.is_not(None)).group_by(column)
    ).all()
    return {version: count for version, count in rows}
