"""The real service for hardening tests: an instance folder, gunicorn servers and schedulers."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Ports for the servers these tests start; REGISTRY_TEST_PORTS="low-high" moves them.
PORTS = os.environ.get("REGISTRY_TEST_PORTS", "18200-18299")


def free_port() -> int:
    """Return a free loopback port from the test range."""
    low, high = (int(p) for p in PORTS.split("-"))
    candidates = list(range(low, high + 1))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


class Stack:
    """One deployment's configuration: instance folder, database URL and settings."""

    def __init__(self, folder: Path, database_url: str, settings: dict | None = None):
        self.folder = folder
        self.database_url = database_url
        self.env = {
            **os.environ,
            "REGISTRY_INSTANCE_PATH": str(folder / "instance"),
            "REGISTRY_DATABASE_URL": database_url,
            "GUNICORN_ACCESSLOG": str(folder / "access.log"),
            **(settings or {}),
        }
        self.processes: list[subprocess.Popen] = []

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a registry command."""
        return subprocess.run(
            [str(BIN / "registry"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def seed(self) -> dict:
        """Run `registry init` and `registry demo --json`; return the demo's clinics and users."""
        # In this process: two fresh `registry` processes would cost seconds of imports each.
        from registry import create_app
        from registry.cli import demo_command, init_command
        from registry.extensions import db

        settings = {k: v for k, v in self.env.items() if k.startswith("REGISTRY_")}
        saved = {name: os.environ.get(name) for name in settings}
        os.environ.update(settings)
        try:
            app = create_app({"ALLOW_MISSING_KEYRING": True})
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name)
                else:
                    os.environ[name] = value
        runner = app.test_cli_runner()
        try:
            for command, args in ((init_command, []), (demo_command, ["--json"])):
                result = runner.invoke(command, args, catch_exceptions=False)
                assert result.exit_code == 0, result.output
            return json.loads(result.stdout)
        finally:
            with app.app_context():
                db.engine.dispose()

    def server(
        self, workers: int | None = None, port: int | None = None, env: dict | None = None
    ) -> "Server":
        """Start gunicorn with the project's gunicorn.conf.py (and settings of its own).

        `workers=None` leaves the count to gunicorn.conf.py, as `make run` does.
        """
        port = port or free_port()
        log = open(self.folder / f"gunicorn-{port}.log", "ab")  # noqa: SIM115 closed on stop
        count = [] if workers is None else ["--workers", str(workers)]
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                *count,
                "wsgi:app",
            ],
            env={**self.env, **(env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.processes.append(process)
        server = Server(process, f"http://127.0.0.1:{port}", log)
        server.wait_until_up()
        return server

    def scheduler(self) -> subprocess.Popen:
        """Start a scheduler process."""
        log = open(self.folder / f"scheduler-{len(self.processes)}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [str(BIN / "registry"), "scheduler"],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def server_logs(self) -> str:
        """Return what the gunicorn servers wrote (their own and the app's log lines)."""
        return "".join(path.read_text() for path in sorted(self.folder.glob("gunicorn-*.log")))

    def audit_verify(self) -> subprocess.CompletedProcess:
        """Run `registry audit verify`."""
        return self.cli("audit", "verify", check=False)

    def stop(self) -> None:
        """Stop every process this stack started."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


class Server:
    """A running gunicorn master and its workers."""

    def __init__(self, process: subprocess.Popen, url: str, log):
        self.process, self.url, self._log = process, url, log

    def wait_until_up(self, timeout: float = 60) -> None:
        """Wait until the server answers /healthz."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not come up")

    def workers(self) -> list[int]:
        """Return the pids of the master's live worker processes."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                children.append(int(stat.parent.name))
        return children

    def kill_a_worker(self, among: list[int] | None = None) -> int | None:
        """SIGKILL one worker at random (of `among`); gunicorn's master starts a new one."""
        pids = among or self.workers()
        if not pids:
            return None
        pid = random.choice(pids)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return pid
