"""Instructions per request of each benchmarked path, counted by callgrind, in process.

The throughput benchmarks measure what the targets ask for, but on a shared machine their
rates move by 10 to 20% from one run to the next: a change worth 3% cannot be seen there.
Instructions executed are repeatable to about 0.1%, whatever else the machine is doing, so
this is the tool to tell whether a change to a hot path helps, and by how much.

Each path runs in its own Python process under `valgrind --tool=callgrind`, with counting
switched on only after setup and a warm-up; its requests go straight to the WSGI app, so
neither an HTTP server nor a test client is counted. `--against REF` counts a git revision
too (checked out in a temporary worktree) and prints the change, path by path.
"""

import argparse
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATHS = ("bare", "floor", "anonymous", "linked", "event", "booking")
SETTINGS = {
    # As bench/booking.py sets them: an easy proof of work, one trusted proxy, no challenge limit.
    "REGISTRY_ALTCHA_MAX_NUMBER": "10",
    "REGISTRY_TRUSTED_PROXIES": "1",
    "REGISTRY_CHALLENGE_LIMIT": "100000000 per minute",
    # As bench/common.py's UNLIMITED_REGISTRATION: one clinician registers hundreds of patients.
    "REGISTRY_LINKED_REGISTRATION_USER_LIMIT": "100000000 per minute",
    "REGISTRY_LINKED_REGISTRATION_CLINIC_LIMIT": "100000000 per minute",
}


def main() -> None:
    """Count each path (and, given --against, the same at another revision); print them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="*", default=list(PATHS), help=f"any of {PATHS}")
    parser.add_argument("--requests", type=int, default=100, help="counted requests per path")
    parser.add_argument("--warm-up", type=int, default=100, help="uncounted requests first")
    parser.add_argument("--against", metavar="REF", help="also count this git revision")
    options = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: apt-get install valgrind")
    unknown = set(options.paths) - set(PATHS)
    if unknown:
        sys.exit(f"unknown paths: {', '.join(sorted(unknown))}")

    trees = {"this tree": HERE.parent}
    worktree = None
    if options.against:
        worktree = Path(tempfile.mkdtemp(prefix="registry-bench-ref-")) / "tree"
        git = ["git", "-C", str(HERE.parent)]
        subprocess.run([*git, "worktree", "add", "--detach", str(worktree), options.against],
                       check=True, capture_output=True)  # fmt: skip
        trees = {options.against: worktree, **trees}
    try:
        counts = {name: _count_all(root, options) for name, root in trees.items()}
    finally:
        if worktree is not None:
            subprocess.run(["git", "-C", str(HERE.parent), "worktree", "remove", "--force",
                            str(worktree)], check=False)  # fmt: skip
            shutil.rmtree(worktree.parent, ignore_errors=True)
    _report(counts, options.paths)


def _count_all(root: Path, options) -> dict[str, int]:
    """Count every path in a source tree, two processes at a time (callgrind uses one core)."""
    with ThreadPoolExecutor(2) as pool:
        found = pool.map(lambda path: _count(root, path, options), options.paths)
        return dict(zip(options.paths, found, strict=True))


def _count(root: Path, path: str, options) -> int:
    """Run one path under callgrind, counting only its timed requests; return per request."""
    work = Path(tempfile.mkdtemp(prefix="registry-bench-instr-"))
    env = {**os.environ, **SETTINGS, "REGISTRY_INSTANCE_PATH": str(work / "instance")}
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "bench")])
    try:
        cli = [sys.executable, "-c", "from registry.cli import main; main()"]
        subprocess.run([*cli, "init"], env=env, cwd=root, check=True, capture_output=True)
        seeded = subprocess.run([*cli, "demo", "--json"], env=env, cwd=root, check=True,
                                capture_output=True, text=True).stdout  # fmt: skip
        (work / "users.json").write_text(json.dumps(json.loads(seeded)["users"]))
        log = work / "callgrind.log"
        child = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={work / 'callgrind.out'}", f"--log-file={log}",
             sys.executable, __file__, "--child", path, str(options.warm_up),
             str(options.requests), str(work)],
            env=env, cwd=root,
        )  # fmt: skip
        _wait_for(work / "ready", child)
        subprocess.run(["callgrind_control", "--instr=on", str(child.pid)],
                       check=True, capture_output=True)  # fmt: skip
        (work / "go").touch()
        if child.wait() != 0:
            raise RuntimeError(f"the {path} run failed; see {log}")
        collected = re.search(r"Collected : (\d+)", log.read_text())
        return int(collected.group(1)) // options.requests
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _wait_for(flag: Path, child: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not flag.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the counted process did not get ready")
        time.sleep(0.2)


def _report(counts: dict[str, dict[str, int]], paths: list[str]) -> None:
    """Print instructions per request, as a ratio of the bare app's, and any change."""
    *before, (name, now) = counts.items()
    print(f"instructions per request, in process ({name})")
    for path in paths:
        line = f"  {path:<10} {now[path]:>12,}"
        if "bare" in now and path != "bare":
            line += f"   bare/this {now['bare'] / now[path]:.3f}"
        if before:
            ref, then = before[0]
            line += f"   {ref}: {then[path]:>12,}  change {now[path] / then[path] - 1:+.1%}"
        print(line)


# -- the counted process -------------------------------------------------------------------


def child(path: str, warm_up: int, requests: int, work: Path) -> None:
    """Set up one path, warm it up, wait to be counted, then run its requests."""
    send = _setup(path, work)
    for _ in range(warm_up):
        send()
    (work / "ready").touch()
    while not (work / "go").exists():
        time.sleep(0.05)
    for _ in range(requests):
        send()
    # Straight out: the interpreter's teardown would otherwise be counted with the requests.
    os._exit(0)


def _setup(path: str, work: Path):
    """Return a function sending one request of the path (checked for success)."""
    if path == "bare":
        from bare_app import app

        return _sender(app, "POST", lambda: "/", lambda: b'{"mode": "anonymous"}')
    from registry import create_app

    app = create_app()
    users = json.loads((work / "users.json").read_text())
    clinician = next(u for u in users if u["roles"] == ["clinician"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {clinician['token']}"}
    if path == "floor":
        return _sender(app, "GET", lambda: "/api/v1/me", lambda: b"", headers)
    if path == "anonymous":
        body = b'{"mode": "anonymous"}'
        return _sender(app, "POST", lambda: "/api/v1/patients", lambda: body, headers)
    if path == "linked":
        from iins import random_iin

        rng = random.Random(7)

        def linked() -> bytes:
            return json.dumps({"mode": "linked", "identity": {"iin": random_iin(rng)}}).encode()

        return _sender(app, "POST", lambda: "/api/v1/patients", linked, headers)
    if path == "event":
        episodes = iter(_open_episodes(app, clinician["token"], 50) * 1000)
        return _sender(
            app, "POST", lambda: f"/api/v1/episodes/{next(episodes)}/events",
            lambda: b'{"type": "visit"}', headers,
        )  # fmt: skip
    manager = next(u for u in users if u["roles"] == ["clinic_admin"])
    bookings = iter(_solved_bookings(app, manager, 5000))
    return _sender(app, "POST", lambda: "/api/v1/public/bookings", lambda: next(bookings),
                   {"HTTP_X_FORWARDED_FOR": "10.0.0.1"}, vary_address=True)  # fmt: skip


def _sender(app, method: str, path, body, headers: dict | None = None, vary_address=False):
    """Return a function calling the WSGI app once, as gunicorn would, and checking the answer."""
    count = iter(range(1 << 30))

    def send() -> None:
        data = body()
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path(), "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "wsgi.version": (1, 0), "CONTENT_LENGTH": str(len(data)),
            "CONTENT_TYPE": "application/json", "HTTP_HOST": "127.0.0.1:8000", **(headers or {}),
        }  # fmt: skip
        if vary_address:  # each booking from its own client, as in bench/booking.py
            n = next(count)
            environ["HTTP_X_FORWARDED_FOR"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        status = []
        answer = app(environ, lambda s, h, e=None: status.append(s))
        b"".join(answer)
        getattr(answer, "close", lambda: None)()
        if not status[0].startswith("20"):
            raise RuntimeError(f"{method} {environ['PATH_INFO']} answered {status[0]}")

    return send


def _open_episodes(app, token: str, count: int) -> list[int]:
    """Register patients and open a psychosocial episode for each; return the episode ids."""
    from registry.episodes.examples import ADMISSION_EXAMPLE

    client, auth = app.test_client(), {"Authorization": f"Bearer {token}"}
    ids = []
    for _ in range(count):
        patient = client.post("/api/v1/patients", json={"mode": "anonymous"}, headers=auth)
        episode = client.post(
            "/api/v1/episodes",
            json={
                "pseudonym": patient.get_json()["pseudonym"],
                "protocol": "psychosocial_outpatient",
                "diagnosis": "F11.2",
                "admitted_on": date.today().isoformat(),
                "admission": ADMISSION_EXAMPLE,
            },
            headers=auth,
        )
        ids.append(episode.get_json()["id"])
    return ids


def _solved_bookings(app, manager: dict, count: int) -> list[bytes]:
    """Create slots after the demo's own, solve `count` challenges; return booking bodies."""
    from registry.access.pow import solve

    client, auth = app.test_client(), {"Authorization": f"Bearer {manager['token']}"}
    clinic = manager["clinic_id"]
    service = client.get(f"/api/v1/clinics/{clinic}/services", headers=auth).get_json()[0]
    start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=15)
    slots = []
    for hour in range(-(-count // 1000)):
        answer = client.post(
            f"/api/v1/clinics/{clinic}/slots",
            json={
                "service_id": service["id"],
                "capacity": 1000,
                "starts_at": (start + timedelta(hours=hour)).isoformat(),
            },
            headers=auth,
        )
        slots.append(answer.get_json()[0]["id"])
    bodies = []
    for i in range(count):
        challenge = client.get("/api/v1/public/challenge").get_json()
        body = {"slot_id": slots[i % len(slots)], "altcha": solve(challenge)}
        bodies.append(json.dumps(body).encode())
    return bodies


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        name, warm, timed, folder = sys.argv[2:6]
        child(name, int(warm), int(timed), Path(folder))
    else:
        main()
