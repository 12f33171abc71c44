"""Episode events recorded per second through gunicorn vs the bare Flask app (target >= 0.3).

Opens episodes through the API first, then loads POST /api/v1/episodes/{id}/events (visits,
checked against the pinned protocol and audited) side by side with the bare app's POSTs.
"""

import argparse
import json
import os
import tempfile
from datetime import date

from booking import call
from common import Instance, alternate, floor, floor_line, free_port, gunicorn, wrk

from registry.episodes.examples import ADMISSION_EXAMPLE

LUA = os.path.join(os.path.dirname(__file__), "lua")


def open_episodes(base: str, token: str, count: int) -> list[int]:
    """Register `count` anonymous patients and open a psychosocial episode for each."""
    ids = []
    for _ in range(count):
        pseudonym = call(base, "POST", "/api/v1/patients", token, {"mode": "anonymous"})
        episode = call(
            base,
            "POST",
            "/api/v1/episodes",
            token,
            {
                "pseudonym": pseudonym["pseudonym"],
                "protocol": "psychosocial_outpatient",
                "diagnosis": "F11.2",
                "admitted_on": date.today().isoformat(),
                "admission": ADMISSION_EXAMPLE,
            },
        )
        ids.append(episode["id"])
    return ids


def main() -> None:
    """Measure and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    options = parser.parse_args()

    instance = Instance(options.database_url)
    seeded = json.loads(instance.cli("demo", "--json"))
    clinician = next(u for u in seeded["users"] if u["roles"] == ["clinician"])
    count = instance.workers()
    try:
        with (
            gunicorn("wsgi:app", instance.env, free_port(), count) as full,
            gunicorn("bench.bare_app:app", instance.env, free_port(), count) as bare,
        ):
            ids_file = os.path.join(tempfile.mkdtemp(prefix="registry-bench-"), "episodes.txt")
            with open(ids_file, "w") as out:
                out.writelines(
                    f"{i}\n" for i in open_episodes(full, clinician["token"], options.episodes)
                )
            os.environ.update(
                {
                    "WRK_EPISODES": ids_file,
                    "WRK_TOKEN": clinician["token"],
                    "WRK_BODY": '{"type": "visit"}',
                }
            )
            medians = alternate(
                {
                    "bare": lambda: wrk(
                        bare + "/", options.seconds, script=os.path.join(LUA, "post_json.lua")
                    ),
                    "events": lambda: wrk(
                        full + "/", options.seconds, script=os.path.join(LUA, "events.lua")
                    ),
                    "floor": floor(full, clinician["token"], options.seconds),
                },
                options.rounds,
            )
    finally:
        instance.cleanup()
    ratio = medians["events"] / medians["bare"]
    print(
        f"workers: {count}, database: {options.database_url or 'sqlite'}, "
        f"episodes: {options.episodes}"
    )
    print(f"bare Flask POST /                 {medians['bare']:8.0f} req/s")
    print(floor_line(medians))
    print(
        f"events (POST …/events, visits)    {medians['events']:8.0f} req/s  ratio {ratio:.2f} "
        f"(target >= 0.3) {'OK' if ratio >= 0.3 else 'BELOW TARGET'}"
    )


if __name__ == "__main__":
    main()
