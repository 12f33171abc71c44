"""Shared benchmark plumbing: a throwaway instance, gunicorn servers, and wrk runs."""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# One benchmark clinician registers linked patients by the thousand a minute: far past the
# per-user and per-clinic limits of docs/registration-oracle.md, whose 429s it would measure
# instead of registrations. The limits are still checked, with room to spare.
UNLIMITED_REGISTRATION = {
    "REGISTRY_LINKED_REGISTRATION_USER_LIMIT": "100000000 per minute",
    "REGISTRY_LINKED_REGISTRATION_CLINIC_LIMIT": "100000000 per minute",
}


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Instance:
    """A registry instance in a temporary folder (SQLite unless a database URL is given)."""

    def __init__(self, database_url: str = ""):
        self.path = Path(tempfile.mkdtemp(prefix="registry-bench-"))
        self.env = {
            **os.environ,
            "REGISTRY_INSTANCE_PATH": str(self.path / "instance"),
            "GUNICORN_ACCESSLOG": str(self.path / "access.log"),
        }
        self._server, self._database = None, None
        if database_url:
            self.env["REGISTRY_DATABASE_URL"] = self._new_database(database_url)
        self.cli("init")

    def _new_database(self, server_url: str) -> str:
        """Create a fresh database on the PostgreSQL server the URL names; return its URL."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        url = make_url(server_url)
        self._database = f"registry_bench_{os.getpid()}_{int(time.time())}"
        self._server = create_engine(url, isolation_level="AUTOCOMMIT")
        with self._server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self._database}"'))
        return url.set(database=self._database).render_as_string(hide_password=False)

    def cli(self, *args: str) -> str:
        """Run a registry command and return its output."""
        done = subprocess.run(
            [str(BIN / "registry"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def workers(self) -> int:
        """Return the worker processes gunicorn.conf.py runs: GUNICORN_WORKERS, else one."""
        return int(self.env.get("GUNICORN_WORKERS") or 1)

    def user(self, name: str, *roles: str, clinic: int | None = None) -> dict:
        """Create a user and return its JSON (with the token)."""
        args = ["user", "create", name, "--json"]
        for role in roles:
            args += ["--role", role]
        if clinic is not None:
            args += ["--clinic", str(clinic)]
        return json.loads(self.cli(*args))

    def cleanup(self) -> None:
        """Remove the temporary folder (and the benchmark's database)."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._server is not None:
            from sqlalchemy import text

            with self._server.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)'))
            self._server.dispose()


@contextlib.contextmanager
def gunicorn(app: str, env: dict, port: int, worker_count: int, config: bool = True):
    """Run gunicorn on a port until the block ends."""
    args = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(worker_count)]
    if config:
        args += ["-c", str(ROOT / "gunicorn.conf.py")]
    else:
        args += ["--access-logfile", env.get("GUNICORN_ACCESSLOG", "-")]
    process = subprocess.Popen(
        [*args, app],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until the server answers anything on its port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is up
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not come up")


def wrk(
    url: str,
    seconds: int = 10,
    connections: int = 16,
    headers: dict | None = None,
    script: str | None = None,
    p99: list | None = None,
) -> float:
    """Load a URL with wrk and return requests per second (non-2xx answers are an error).

    Given a list as `p99`, it also appends the run's 99th percentile latency in ms there.
    """
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it)")
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    if script:
        args += ["-s", script]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw non-2xx answers:\n{output}")
    if p99 is not None:
        p99.append(_milliseconds(re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)$", output, re.M)))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def _milliseconds(found: re.Match) -> float:
    """Return a wrk latency (number and unit) in milliseconds."""
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


def floor(full: str, token: str, seconds: int):
    """Return a run of GET /api/v1/me: what any authenticated API call costs before its work."""
    return lambda: wrk(full + "/api/v1/me", seconds, headers={"Authorization": f"Bearer {token}"})


def floor_line(medians: dict) -> str:
    """Return the report line of the floor run, as a ratio of the bare app."""
    return (
        f"floor: GET /api/v1/me            {medians['floor']:8.0f} req/s  ratio "
        f"{medians['floor'] / medians['bare']:.2f} (authentication and the answer, no work)"
    )


def alternate(runs: dict, rounds: int = 3, samples: dict | None = None) -> dict[str, float]:
    """Run each named measurement in turn, `rounds` times, and return the medians.

    Given a dict as `samples`, it also keeps each measurement's rounds there, in order.
    """
    results: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            results[name].append(run())
    if samples is not None:
        samples.update(results)
    return {name: statistics.median(values) for name, values in results.items()}
