"""The most a registration, an event or a booking could reach here, whatever our code did.

Through gunicorn, in one run, alternating rounds, it loads:
- bare: the bare Flask app (the denominator of every ratio);
- floor: GET /api/v1/me, what any authenticated call costs in our stack before its work;
- raw: the bare app plus the work itself on the raw driver, with no framework (no auth, no
  schemas, no SQLAlchemy, no services): bench/raw_registration_app.py, raw_event_app.py or
  raw_booking_app.py. Each makes the statements our endpoint makes and does its crypto, its
  protocol check or its rate limiting and proof of work with the registry's own functions;
- real: POST /api/v1/patients, /api/v1/episodes/{ref}/events or /api/v1/public/bookings.

For bookings, `--stack LAYERS` also loads bench/stack_booking_app.py: the raw booking through
only the libraries a booking endpoint must use (flask-limiter, marshmallow, SQLAlchemy), each at
its leanest, with the chosen ones on, so what each costs by itself can be read off.

Time per request adds up. A registration or an event costs at least the floor plus what `raw`
costs above `bare`: that sum is their ceiling, the ratio they would reach if everything
between the floor and the driver cost nothing. A booking is public (no authentication), so
its ceiling is `raw` itself.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile

from booking import BENCH_SETTINGS, make_slots, solved_payloads
from common import Instance, alternate, floor, floor_line, free_port, gunicorn, wrk
from episodes import open_episodes

LUA = os.path.join(os.path.dirname(__file__), "lua")
TARGETS = {"registration": 0.4, "event": 0.3, "booking": 0.3}
PATHS = {
    "registration": "/api/v1/patients",
    "event": "/",  # the script names each episode's path
    "booking": "/api/v1/public/bookings",
}


def main() -> None:
    """Measure and print the ceiling beside the real ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("work", choices=sorted(TARGETS))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=200, help="events: episodes to load")
    parser.add_argument("--bookings", type=int, default=20000, help="bookings: per wrk run")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    parser.add_argument(
        "--stack", action="append", default=[], metavar="LAYERS",
        help="bookings: also load bench/stack_booking_app.py with these layers on"
        " (comma-separated of limiter,schemas,sqlalchemy; 'none' for none); repeatable",
    )  # fmt: skip
    options = parser.parse_args()
    if options.stack and options.work != "booking":
        parser.error("--stack is for bookings")
    if options.work == "registration" and options.database_url:
        parser.error("the registration target is on SQLite")

    if options.work == "booking":
        os.environ.update(BENCH_SETTINGS)  # before the instance copies the environment
    instance = Instance(options.database_url)
    users = json.loads(instance.cli("demo", "--json"))["users"]
    clinician = next(u for u in users if u["roles"] == ["clinician"])
    os.environ.update({"WRK_TOKEN": clinician["token"], "WRK_BODY": '{"mode": "anonymous"}'})
    count = instance.workers()
    try:
        with contextlib.ExitStack() as servers:

            def serve(app: str, env: dict) -> str:
                return servers.enter_context(gunicorn(app, env, free_port(), count))

            full = serve("wsgi:app", instance.env)
            bare = serve("bench.bare_app:app", instance.env)
            app, env = f"bench.raw_{options.work}_app:app", _raw_env(instance, clinician)
            raw = serve(app, env)
            stacks = {
                f"stack {layers}": serve("bench.stack_booking_app:app",
                                         {**env, "STACK_LAYERS": layers})
                for layers in options.stack
            }  # fmt: skip
            load = _loader(options, instance, full, users)
            runs = {
                "bare": lambda: wrk(bare + "/", options.seconds, script=_lua("post_json")),
                "floor": floor(full, clinician["token"], options.seconds),
                "raw": lambda: load(raw),
                **{name: (lambda base=base: load(base)) for name, base in stacks.items()},
                "real": lambda: load(full),
            }
            report(options.work, alternate(runs, options.rounds), count, options.database_url)
    finally:
        instance.cleanup()


def _lua(name: str) -> str:
    return os.path.join(LUA, f"{name}.lua")


def _raw_env(instance: Instance, clinician: dict) -> dict:
    """Return the raw app's environment: the instance's and its database's URL."""
    url = instance.env.get("REGISTRY_DATABASE_URL") or "sqlite:///" + os.path.join(
        instance.env["REGISTRY_INSTANCE_PATH"], "registry.sqlite3"
    )
    return {**instance.env, "RAW_DATABASE_URL": url, "RAW_CLINIC_ID": str(clinician["clinic_id"])}


def _loader(options, instance: Instance, full: str, users: list[dict]):
    """Prepare the work's data through the real app; return a function loading a server.

    Both apps write to the same database: each keeps the engine state, the slot counts and
    the audit log as the registry does, so each goes on from what the other stored.
    """
    path = PATHS[options.work]
    if options.work == "registration":
        return lambda base: wrk(base + path, options.seconds, script=_lua("post_json"))
    if options.work == "event":
        clinician = next(u for u in users if u["roles"] == ["clinician"])
        refs = open_episodes(full, clinician["token"], options.episodes)
        ids_file = os.path.join(instance.path, "episodes.txt")
        with open(ids_file, "w") as out:
            out.writelines(f"{ref}\n" for ref in refs)
        os.environ["WRK_EPISODES"] = ids_file
        return lambda base: wrk(base + path, options.seconds, script=_lua("events"))
    manager = next(u for u in users if u["roles"] == ["clinic_admin"])
    runs = options.rounds * (2 + len(options.stack))  # the raw app, the stacks, the real one
    slots = make_slots(full, manager, -(-options.bookings * runs // 1000), 1000, 15)
    done = iter(range(runs))

    def book(base: str) -> float:
        n = next(done)
        payloads = os.path.join(tempfile.mkdtemp(dir=instance.path), "payloads.txt")
        solved_payloads(full, slots, options.bookings, n * options.bookings, payloads)
        os.environ["WRK_PAYLOADS"] = payloads
        rate = wrk(base + path, options.seconds, script=_lua("bookings"))
        if rate * options.seconds > 0.95 * options.bookings:
            sys.exit("a run ran out of solved challenges: raise --bookings")
        return rate

    return book


def report(work: str, rates: dict, count: int, database_url: str) -> None:
    """Print each rate, the real ratio, and the ceiling the floor and the raw work leave."""
    micro = {name: 1e6 / rate for name, rate in rates.items()}  # µs per request, machine-wide
    public = work == "booking"
    ceiling = micro["raw"] if public else micro["floor"] + micro["raw"] - micro["bare"]
    start = micro["bare"] if public else micro["floor"]
    target = TARGETS[work]
    print(f"workers: {count}, database: {database_url or 'sqlite'}")
    print(f"bare Flask POST /                 {rates['bare']:8.0f} req/s")
    print(floor_line(rates))
    print(
        f"raw: bare app + the work itself   {rates['raw']:8.0f} req/s  ratio "
        f"{rates['raw'] / rates['bare']:.2f} (the raw driver, no auth, no framework)"
    )
    for name in (name for name in rates if name.startswith("stack ")):
        print(
            f"{name:<33} {rates[name]:8.0f} req/s  ratio {rates[name] / rates['bare']:.2f}"
            " (the raw work through only these libraries)"
        )
    print(
        f"real {work:<12}                 {rates['real']:8.0f} req/s  ratio "
        f"{rates['real'] / rates['bare']:.2f} (target >= {target})"
    )
    print(
        f"ceiling                           {1e6 / ceiling:8.0f} req/s  ratio "
        f"{micro['bare'] / ceiling:.2f} ({'raw' if public else 'floor + the work itself'}: "
        "if nothing else cost anything)"
    )
    print(
        f"above the {'bare app' if public else 'floor'} the {work} costs "
        f"{micro['real'] - start:.0f} µs, of which the work itself "
        f"{micro['raw'] - micro['bare']:.0f} µs; the target leaves "
        f"{micro['bare'] / target - start:.0f} µs"
    )


if __name__ == "__main__":
    main()
