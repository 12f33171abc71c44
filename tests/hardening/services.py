"""Private PostgreSQL and Redis servers that a test may stop and start (never the shared ones)."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.hardening.stack import free_port


def postgres_bin(name: str) -> Path | None:
    """Return the path of a PostgreSQL server program, if installed."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return found[-1] if found else (Path(p) if (p := shutil.which(name)) else None)


def _as_postgres() -> list[str]:
    """Return the prefix that runs a command as the postgres user (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PrivateCluster:
    """A throwaway PostgreSQL cluster on its own port, in a folder the postgres user owns."""

    def __init__(self):
        self.port = free_port()
        # Not under pytest's tmp_path: its parent is private to root, and postgres must enter.
        self.folder = Path(tempfile.mkdtemp(prefix="registry-test-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "data"
        self._run(
            postgres_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N"
        )

    def _run(self, *args) -> None:
        subprocess.run(
            [*_as_postgres(), *(str(a) for a in args)], check=True, capture_output=True, timeout=120
        )

    @property
    def url(self) -> str:
        """Return the URL of its `registry` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/registry"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            postgres_bin("pg_ctl"),
            "-D",
            self.data,
            "-o",
            options,
            "-l",
            self.folder / "log",
            "-w",
            "start",
        )

    def create_database(self) -> None:
        """Create the `registry` database."""
        self._run(
            postgres_bin("createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            self.port,
            "-U",
            "postgres",
            "registry",
        )

    def stop(self) -> None:
        """Stop the server at once, as a crash or an operator's restart would."""
        self._run(postgres_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        """Stop the server if it runs and delete its files."""
        subprocess.run(
            [
                *_as_postgres(),
                str(postgres_bin("pg_ctl")),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """A throwaway redis-server on its own port, without persistence."""

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        """Kill the server."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
