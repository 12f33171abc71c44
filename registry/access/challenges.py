"""Issue proof-of-work challenges and spend solutions once (keys from the keyring)."""

from datetime import timedelta

from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from registry import clock, keyring
from registry.access import pow
from registry.access.models import SpentChallenge
from registry.driver_sql import driver_execute
from registry.errors import ValidationFailed
from registry.extensions import db

PURPOSE = "altcha"


def issue_challenge() -> dict:
    """Return a fresh signed challenge at the configured difficulty."""
    expires_at = clock.now() + timedelta(seconds=current_app.config["ALTCHA_EXPIRES_SECONDS"])
    key = keyring().primary(PURPOSE).material
    return pow.create_challenge(key, current_app.config["ALTCHA_MAX_NUMBER"], expires_at)


def _refuse(reason: str) -> ValidationFailed:
    messages = {
        "malformed": "is not a proof-of-work solution",
        "invalid": "is not a valid solution of a challenge we issued",
        "expired": "solves a challenge that has expired; ask for a new one",
        "spent": "solves a challenge that was used already; ask for a new one",
    }
    return ValidationFailed(
        "the proof of work is not accepted", errors={"altcha": [messages[reason]]}
    )


def verify_solution(payload: str) -> pow.Solved:
    """Check a solution against every version of the key (rotation keeps it valid)."""
    now = clock.now()
    failure = "invalid"
    for key in reversed(keyring().history(PURPOSE)):
        try:
            return pow.verify(key.material, payload, now)
        except pow.PowError as exc:
            failure = exc.reason
            if failure != "invalid":
                break
    raise _refuse(failure)


def _spend_statement(dialect_module):
    """Return the INSERT … ON CONFLICT DO NOTHING RETURNING of one dialect."""
    table = SpentChallenge.__table__
    return (
        dialect_module.insert(table)
        .on_conflict_do_nothing(index_elements=["challenge"])
        # RETURNING, not rowcount: psycopg reports -1 for this statement.
        .returning(table.c.challenge)
    )


# Built once per dialect: every booking runs one, under the write lock.
_SPEND = {"postgresql": _spend_statement(postgresql), "sqlite": _spend_statement(sqlite)}


def spend(solved: pow.Solved) -> None:
    """Record the challenge as used; a second use (even a concurrent one) is refused."""
    # ON CONFLICT DO NOTHING: one statement instead of a savepoint, a flush and a release.
    connection = db.session.connection()
    values = {"challenge": solved.challenge, "expires_at": solved.expires_at}
    if not driver_execute(connection, _SPEND[connection.dialect.name], values):
        raise _refuse("spent")
