"""Statistics count on a real streaming replica (STATS_DATABASE_URL); writes stay on the primary.

The test runs a PostgreSQL primary of its own and clones it with pg_basebackup, so that the
copy is small and quick, and no server setting (a replication entry in pg_hba.conf) has to
change: initdb's own pg_hba.conf lets replication connect from 127.0.0.1.
"""

import contextlib
import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from registry.extensions import db
from tests.conftest import bearer, make_test_app, migrate_database
from tests.stats.conftest import YEAR

pytestmark = pytest.mark.postgres


def _bin(name: str) -> str:
    """Return a PostgreSQL server program: on the PATH, else Debian's newest version's."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        pytest.fail(f"{name} not found: install the PostgreSQL server programs")
    return found


class Server:
    """A PostgreSQL server in a folder of its own, on its own port (run as postgres if root)."""

    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/registry"

    def run(self, *args: str) -> None:
        """Run a server program, as the postgres user when we are root (initdb refuses root)."""
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
            " -c fsync=off -c max_wal_senders=4 -c wal_level=replica"
        )
        log = str(self.folder.parent / f"{self.folder.name}.log")
        self.run(_bin("pg_ctl"), "-D", str(self.folder), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        if (self.folder / "postmaster.pid").exists():
            self.run(_bin("pg_ctl"), "-D", str(self.folder), "-m", "immediate", "-w", "stop")

    def scalar(self, sql: str, database: str = "registry"):
        engine = create_engine(self.url.rsplit("/", 1)[0] + f"/{database}")
        try:
            with engine.connect() as connection:
                return connection.execute(text(sql)).scalar()
        finally:
            engine.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def servers():
    """Yield (primary, replica): a new primary with a database, and its streaming replica."""
    base = Path(tempfile.mkdtemp(prefix="registry-replica-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(base, account.pw_uid, account.pw_gid)
    primary = Server(base / "primary", _free_port())
    replica = Server(base / "replica", _free_port())
    try:
        primary.run(
            _bin("initdb"), "-D", str(primary.folder), "-U", "postgres", "--auth=trust", "-N"
        )
        primary.start()
        primary.scalar("SELECT 1", database="postgres")
        engine = create_engine(primary.url.rsplit("/", 1)[0] + "/postgres")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("CREATE DATABASE registry"))
        engine.dispose()
        # -R writes standby.signal and the primary's address: the copy starts as a replica.
        primary.run(
            _bin("pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(replica.folder), "-R", "-X", "stream", "-c", "fast", "-N"),
        )
        replica.start()
        yield primary, replica
    finally:
        for server in (replica, primary):
            with contextlib.suppress(subprocess.SubprocessError):
                server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _wait_for_replay(primary: Server, replica: Server, timeout: float = 20) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    written = primary.scalar("SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + timeout
    query = f"SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn"
    while not replica.scalar(query):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.1)


def _cli(app, *args: str):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_statistics_read_the_replica_and_releases_are_written_on_the_primary(
    servers, keyring, tmp_path
):
    from registry.protocols.lifecycle import install_shipped_protocols
    from registry.stats.models import StatsRelease
    from registry.stats.population import count_groups

    primary, replica = servers
    app = make_test_app(
        primary.url, keyring, str(tmp_path / "instance"), STATS_DATABASE_URL=replica.url
    )
    migrate_database(app)
    with app.app_context():
        install_shipped_protocols()
        db.session.commit()
    _cli(app, "synth", "--persons", "400", "--seed", "3", "--year", str(YEAR))
    analyst = json.loads(_cli(app, "user", "create", "analyst", "--role", "analyst", "--json"))
    with app.app_context():
        clinic = db.session.execute(text("SELECT min(id) FROM clinics")).scalar()
    clinician = json.loads(
        _cli(
            app, "user", "create", "nurse", "--role", "clinician", "--clinic", str(clinic), "--json"
        )
    )
    _wait_for_replay(primary, replica)

    with app.app_context():
        assert db.engines["stats"].url.port == replica.port
        on_replica = count_groups("persons", YEAR, [("sex",)])[0]
    alone = make_test_app(primary.url, keyring, str(tmp_path / "instance"))
    with alone.app_context():
        assert "stats" not in db.engines
        on_primary = count_groups("persons", YEAR, [("sex",)])[0]
        db.engine.dispose()
    assert on_replica.total == on_primary.total > 300
    assert sorted(on_replica.counts.tolist()) == sorted(on_primary.counts.tolist())
    client = app.test_client()
    body = {"year": YEAR, "measure": "persons", "dimensions": ["sex"]}
    answer = client.post("/api/v1/stats/query", headers=bearer(analyst["token"]), json=body)
    assert answer.status_code == 200, answer.json
    # The release's record went to the primary, and from there to the replica.
    assert primary.scalar("SELECT count(*) FROM stats_releases") == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StatsRelease)) == 1

    # Without the replica, statistics are unavailable (503) while registration goes on.
    replica.stop()
    answer = client.post("/api/v1/stats/query", headers=bearer(analyst["token"]), json=body)
    assert answer.status_code == 503, answer.json
    registered = client.post(
        "/api/v1/patients", headers=bearer(clinician["token"]), json={"mode": "anonymous"}
    )
    assert registered.status_code == 201, registered.json
    assert primary.scalar("SELECT count(*) FROM persons") == 401
    with app.app_context():
        db.engines["stats"].dispose()
        db.engine.dispose()
