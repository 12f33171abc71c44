"""Run an import of a legacy register file batch by batch, each batch one committed transaction.

The run is keyed by the file's SHA-256: the same file again resumes after the last committed
line, or, once done, changes nothing. Like `registry synth`, this commits per batch itself:
a million rows cannot be one transaction, and each batch carries its progress and its audit
entry, so a crash between batches loses nothing and repeats nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select

from registry import clock
from registry.audit.log import record
from registry.errors import Conflict
from registry.extensions import db
from registry.imports.legacy import LegacyRow, RowParser, RowRejected, read_rows
from registry.imports.models import ImportRun
from registry.imports.services import write_batch
from registry.synth.bulk import active_versions

log = logging.getLogger(__name__)
# Refused rows kept in the report by line and rule; beyond these only the count grows.
REPORTED_REJECTS = 1000
Actor = tuple[int | None, str | None] | None


def file_digest(stream: BinaryIO) -> str:
    """Return the hex SHA-256 of a file's bytes and rewind it."""
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def run_import(
    stream: BinaryIO,
    *,
    batch_size: int | None = None,
    actor: Actor = None,
    after_batch: Callable[[int], None] | None = None,
) -> ImportRun:
    """Import a legacy CSV (docs/import.md); return its run. `after_batch(n)` follows each commit.

    A bad header or a file that is no UTF-8 CSV raises ValidationFailed before any write.
    """
    batch_size = batch_size or current_app.config["IMPORT_BATCH"]
    digest = file_digest(stream)
    _names, rows = read_rows(stream)
    run = _run_for(digest, actor)
    if run.status == "done":
        return run
    parser = RowParser(set(active_versions()), current_app.config["IMPORT_DEFAULT_PROTOCOL"])
    batch: list[LegacyRow] = []
    refused: list[tuple[int, str]] = []
    read, last, number = 0, run.last_line, 0
    for line, cells in rows:
        if line <= run.last_line:
            continue  # committed by an earlier, interrupted run of this file
        try:
            batch.append(parser.parse(line, cells))
        except RowRejected as exc:
            refused.append((line, exc.rule))
        read, last = read + 1, line
        if read == batch_size:
            number += 1
            run = _commit_batch(run, batch, refused, read, last, number, actor)
            if after_batch is not None:
                after_batch(number)
            batch, refused, read = [], [], 0
    if read:
        number += 1
        run = _commit_batch(run, batch, refused, read, last, number, actor)
        if after_batch is not None:
            after_batch(number)
    run.status, run.finished_at = "done", clock.now()
    record("import.done", "import_run", run.id, actor=actor)
    db.session.commit()
    log.info(
        "import %s done: %d rows, %d persons new, %d episodes, %d refused",
        run.id,
        run.rows,
        run.persons_created,
        run.episodes_created,
        run.rejected_count,
    )
    return run


def _run_for(digest: str, actor: Actor) -> ImportRun:
    """Return the file's run, starting one (committed, with its audit entry) if none exists."""
    run = db.session.execute(
        select(ImportRun).where(ImportRun.sha256 == digest)
    ).scalar_one_or_none()
    if run is not None:
        return run
    run = ImportRun(sha256=digest, status="running", last_line=1, rejected=[])
    db.session.add(run)
    db.session.flush()
    record("import.start", "import_run", run.id, actor=actor)
    db.session.commit()
    return run


def _commit_batch(
    run: ImportRun,
    rows: list[LegacyRow],
    refused: list[tuple[int, str]],
    read: int,
    last: int,
    number: int,
    actor: Actor,
) -> ImportRun:
    """Store one batch, its progress and its audit entry in one transaction, and commit it."""
    expected = run.last_line
    try:
        run = db.session.execute(
            select(ImportRun)
            .where(ImportRun.id == run.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        if run.last_line != expected:
            raise Conflict("another import of this file is running")
        result = write_batch(rows)
        refused = sorted(refused + result.rejected)
        room = max(0, REPORTED_REJECTS - len(run.rejected))
        run.rejected = run.rejected + [[line, rule] for line, rule in refused[:room]]
        run.rows += read
        run.rejected_count += len(refused)
        run.persons_created += result.persons_created
        run.persons_found += result.persons_found
        run.episodes_created += result.episodes_created
        run.episodes_skipped += result.episodes_skipped
        run.last_line = last
        record("import.batch", "import_run", f"{run.id}:{number}", actor=actor)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return run


def report(run: ImportRun) -> dict:
    """Return what a run did: counts, and refused rows by line and rule, never values."""
    return {
        "sha256": run.sha256,
        "status": run.status,
        "rows": run.rows,
        "persons_created": run.persons_created,
        "persons_found": run.persons_found,
        "episodes_created": run.episodes_created,
        "episodes_skipped": run.episodes_skipped,
        "rejected_count": run.rejected_count,
        "rejected": [{"line": line, "rule": rule} for line, rule in run.rejected],
    }
