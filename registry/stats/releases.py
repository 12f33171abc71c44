"""Write and list release records; every protected answer gets one (DESIGN §7)."""

import hashlib
import json
import secrets

from flask import g
from sqlalchemy import select

from registry import clock
from registry.audit.log import record
from registry.extensions import db
from registry.stats.models import StatsRelease

RELEASES_PER_PAGE = 100


def output_hash(cells: list[dict]) -> str:
    """Return the SHA-256 of the canonical JSON of released cells."""
    raw = json.dumps(cells, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def record_release(kind: str, definition: dict, answer: dict) -> StatsRelease:
    """Store the release record of a protected answer and audit it; flush, never commit.

    A protected answer's "ledger" item (year, measure, entry) goes to the release ledger with it.
    """
    cells = answer["cells"]
    ledgered = answer.pop("ledger", None)
    release = StatsRelease(
        ref=secrets.token_hex(12),
        kind=kind,
        released_at=clock.now(),
        released_by=g.user.id if g.get("user") else None,
        definition=definition,
        parameters=answer["protection"],
        cells=len(cells),
        suppressed=sum(1 for c in cells if c["status"] == "suppressed"),
        output_hash=output_hash(cells),
    )
    db.session.add(release)
    db.session.flush()
    record("stats.release", "stats_release", release.ref)
    if ledgered is not None:
        from registry.stats import ledger  # the ledger reads the population: load lazily

        year, measure, entry = ledgered
        ledger.record(release.id, year, measure, entry)
    return release


def list_releases(limit: int = RELEASES_PER_PAGE) -> list[StatsRelease]:
    """Return the latest release records, newest first."""
    stmt = select(StatsRelease).order_by(StatsRelease.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))
