"""Requests per second of an authenticated GET through the full stack vs a bare Flask app.

Both run under gunicorn with the same worker count, loaded by wrk in the same run,
alternating rounds (median of five). Target: full / bare >= 0.6.
"""

import argparse

from common import Instance, alternate, free_port, gunicorn, wrk

TARGET = 0.6


def main() -> None:
    """Measure and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    options = parser.parse_args()

    instance = Instance(options.database_url)
    token = instance.user("bench.analyst", "analyst")["token"]
    count = instance.workers()
    try:
        with (
            gunicorn("wsgi:app", instance.env, free_port(), count) as full,
            gunicorn("bench.bare_app:app", instance.env, free_port(), count) as bare,
        ):
            medians = alternate(
                {
                    "bare": lambda: wrk(bare + "/", options.seconds),
                    "full": lambda: wrk(
                        full + "/api/v1/me",
                        options.seconds,
                        headers={"Authorization": f"Bearer {token}"},
                    ),
                },
                options.rounds,
            )
    finally:
        instance.cleanup()
    ratio = medians["full"] / medians["bare"]
    print(f"workers: {count}, database: {options.database_url or 'sqlite'}")
    print(f"bare Flask GET /             {medians['bare']:9.0f} req/s")
    print(
        f"registry GET /api/v1/me      {medians['full']:9.0f} req/s (bearer token, audit, headers)"
    )
    print(
        f"ratio full/bare: {ratio:.2f} (target >= {TARGET}) "
        f"{'OK' if ratio >= TARGET else 'BELOW TARGET'}"
    )


if __name__ == "__main__":
    main()
