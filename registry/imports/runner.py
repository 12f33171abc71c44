"""Run an import of a legacy register file batch by batch, each batch one committed transaction.

The run is keyed by the file's SHA-256: the same file again resumes after the last committed
line, or, once done, changes nothing. Like `registry synth`, this commits per batch itself:
a million rows cannot be one transaction, and each batch carries its progress and its audit
entry, so a crash between batches loses nothing and repeats nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from queue import Full, Queue
from threading import Event, Thread
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select, text

from registry import clock
from registry.audit.log import record
from registry.errors import Conflict
from registry.extensions import db
from registry.imports.legacy import LegacyRow, RowParser, RowRejected, read_rows
from registry.imports.models import ImportRun
from registry.imports.services import prepare_rows, write_batch
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
    sqlite_cache_kib: int | None = None,
) -> ImportRun:
    """Import a legacy CSV (docs/import.md); return its run. `after_batch(n)` follows each commit.

    A bad header or a file that is no UTF-8 CSV raises ValidationFailed before any write.
    `sqlite_cache_kib` enlarges SQLite's page cache for a process that ends with the import.
    """
    batch_size = batch_size or current_app.config["IMPORT_BATCH"]
    digest = file_digest(stream)
    _names, rows = read_rows(stream)
    run = _run_for(digest, actor)
    if run.status == "done":
        return run
    parser = RowParser(set(active_versions()), current_app.config["IMPORT_DEFAULT_PROTOCOL"])
    made = _batches(rows, parser, batch_size, run.last_line)
    with closing(_read_ahead(made)) as batches:
        for number, batch in enumerate(batches, start=1):
            _page_cache(sqlite_cache_kib)
            run = _commit_batch(run, batch, actor)
            if number & (number - 1) == 0:
                _analyze()  # after batches 1, 2, 4, 8…: whenever the tables have doubled
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


@dataclass
class _Batch:
    """Rows read for one transaction: the valid ones, the refused (line, rule), the last line."""

    rows: list[LegacyRow] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    read: int = 0
    last: int = 0


def _batches(
    rows: Iterator[tuple[int, dict]], parser: RowParser, size: int, after_line: int
) -> Iterator[_Batch]:
    """Yield the file's rows after a line in batches, validated and prepared for writing."""
    batch = _Batch(last=after_line)
    for line, cells in rows:
        if line <= after_line:
            continue  # committed by an earlier, interrupted run of this file
        try:
            batch.rows.append(parser.parse(line, cells))
        except RowRejected as exc:
            batch.refused.append((line, exc.rule))
        batch.read, batch.last = batch.read + 1, line
        if batch.read == size:
            prepare_rows(batch.rows)
            yield batch
            batch = _Batch(last=line)
    if batch.read:
        prepare_rows(batch.rows)
        yield batch


_END = object()


def _read_ahead(batches: Iterator[_Batch]) -> Iterator[_Batch]:
    """Yield batches that a thread of their own reads, checks and hashes one batch ahead.

    The thread needs no database: while this one waits on the database for a batch, it has
    the next ready (the drivers release the GIL while a statement runs).
    """
    app = current_app._get_current_object()
    ready: Queue = Queue(maxsize=1)
    stop = Event()

    def put(item) -> None:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return
            except Full:
                continue

    def produce() -> None:
        with app.app_context():
            try:
                for batch in batches:
                    put(batch)
                    if stop.is_set():
                        return
                put(_END)
            except BaseException as exc:  # handed over: raised in the importing thread
                put(exc)

    thread = Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


# The tables an import's lookups read: their row counts grow from nothing during an import.
_LOOKED_UP = ("linkage_tokens", "persons", "pseudonyms", "episodes", "escrows")


def _page_cache(kib: int | None) -> None:
    """Give this batch's SQLite connection a page cache of `kib` KiB (the default is 2 MiB).

    A million persons' token and pseudonym indexes take random pages: with the default cache
    each insert reads a page back from the OS, and a batch costs more the more is imported.
    """
    if kib and db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text(f"PRAGMA cache_size = -{int(kib)}"))


def _analyze() -> None:
    """Refresh PostgreSQL's planner statistics of the tables the import has grown.

    Without them the planner, still believing the tables nearly empty, reads them whole for
    each batch's lookups, and a batch costs more the more it has imported.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in _LOOKED_UP:
        db.session.execute(text(f"ANALYZE {table}"))
    db.session.commit()


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


def _commit_batch(run: ImportRun, batch: _Batch, actor: Actor) -> ImportRun:
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
        result = write_batch(batch.rows)
        refused = sorted(batch.refused + result.rejected)
        room = max(0, REPORTED_REJECTS - len(run.rejected))
        run.rejected = run.rejected + [[line, rule] for line, rule in refused[:room]]
        run.rows += batch.read
        run.rejected_count += len(refused)
        run.persons_created += result.persons_created
        run.persons_found += result.persons_found
        run.episodes_created += result.episodes_created
        run.episodes_skipped += result.episodes_skipped
        run.last_line = batch.last
        # Named by the run and the batch's last line: a resumed run numbers its batches anew.
        record("import.batch", "import_run", f"{run.id}:{batch.last}", actor=actor)
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
