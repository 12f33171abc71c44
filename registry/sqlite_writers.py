"""One SQLite writer at a time, queued on kernel locks instead of SQLite's sleeping retries.

SQLite lets one connection write at a time; a blocked writer polls with sleeps of 1 to 100 ms,
which wrecks throughput once several gunicorn workers write. Writers here wait on a thread lock
(within a process) and on flock(2) of a lock file beside the database (across processes), both
of which wake the next writer the moment the previous one commits.
"""

import fcntl
import os
import sqlite3
import threading

_queues: dict[str, "WriterQueue"] = {}
_registry_lock = threading.Lock()


class WriterQueue:
    """The writer lock of one database file."""

    def __init__(self, database_path: str):
        self._lock_path = database_path + ".writer-lock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    def _lock_file(self) -> int:
        """Open the lock file once per process (a forked child must not share the parent's)."""
        if self._pid != os.getpid():
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self, timeout: float) -> None:
        """Wait to become the writer; raise OperationalError after `timeout` seconds."""
        if not self._thread_lock.acquire(timeout=timeout):
            raise sqlite3.OperationalError("database is locked")
        try:
            fcntl.flock(self._lock_file(), fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        """Let the next writer in."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


def writer_queue(database_path: str) -> WriterQueue:
    """Return the queue of a database file, creating it on first use."""
    with _registry_lock:
        queue = _queues.get(database_path)
        if queue is None:
            queue = _queues[database_path] = WriterQueue(database_path)
        return queue
