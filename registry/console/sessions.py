"""Server-side sessions for /console: a random id in an HttpOnly cookie, the state in the database.

Flask's own session is a signed cookie that the server cannot take back; a console session must
end on the server when its user signs out or stops using it (idle timeout). Only /console paths
open one: the API and the public pages never read or set a cookie.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import Flask, Request, Response, current_app, request
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import bindparam, delete, insert, select, update
from werkzeug.datastructures import CallbackDict

from registry import clock
from registry.console.models import ConsoleSession
from registry.database import reading_bind
from registry.driver_sql import driver_query
from registry.extensions import db

PREFIX = "/console"
COOKIE = "registry_console"
# Over https the cookie takes the __Host- prefix: browsers then refuse it unless it is Secure,
# for the whole host (Path=/, no Domain), and set over https, so no sibling host can plant one.
HOST_COOKIE = "__Host-" + COOKIE
# A session's last use is written at most this often: the idle timeout is kept to a minute
# without a write on every page.
TOUCH_SECONDS = 60

_TABLE = ConsoleSession.__table__
_LOAD = select(
    _TABLE.c.id, _TABLE.c.user_id, _TABLE.c.data, _TABLE.c.created_at, _TABLE.c.last_seen_at
).where(_TABLE.c.id_hash == bindparam("id_hash"))


def cookie_name(req: Request) -> str:
    """Return the cookie's name for this request's scheme."""
    return HOST_COOKIE if req.is_secure else COOKIE


def _hash(secret: str) -> bytes:
    # The id carries 256 random bits, so a plain hash is as strong as a keyed one here.
    return hashlib.sha256(secret.encode()).digest()


class ConsoleSessionState(CallbackDict, SessionMixin):
    """One browser's console session: small state plus the signed-in user, if any."""

    def __init__(
        self,
        data: dict | None = None,
        *,
        row_id: int | None = None,
        user_id: int | None = None,
        last_seen_at: datetime | None = None,
        timed_out: bool = False,
    ):
        def on_update(state):
            state.modified = True
            state.accessed = True

        super().__init__(data or {}, on_update)
        self.row_id = row_id
        self.user_id = user_id
        self.last_seen_at = last_seen_at
        self.timed_out = timed_out  # the browser's session ended on the server (idle or old)
        self.new = row_id is None
        self.modified = False
        self.renew = False
        self.ended = False

    def begin(self, user_id: int | None) -> None:
        """Bind the session to a signed-in user (or none) under a new id: no fixation."""
        self.user_id = user_id
        self.renew = True
        self.pop("csrf_token", None)  # a new id gets a new CSRF token too
        self.modified = True

    def end(self) -> None:
        """Forget the session on the server and in the browser (sign-out)."""
        self.clear()
        self.user_id = None
        self.ended = True


def _alive(created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
    config = current_app.config
    idle = timedelta(minutes=config["CONSOLE_IDLE_MINUTES"])
    lifetime = timedelta(hours=config["CONSOLE_SESSION_HOURS"])
    return now - last_seen_at < idle and now - created_at < lifetime


class ConsoleSessionInterface(SessionInterface):
    """Keep /console sessions in the console_sessions table; other paths get none."""

    def open_session(self, app: Flask, req: Request) -> ConsoleSessionState | None:
        """Load the browser's session by its cookie, or start an empty one."""
        if not req.path.startswith(PREFIX):
            return None  # Flask's null session: nothing is read, nothing is set
        secret = req.cookies.get(cookie_name(req), "")
        if not secret or len(secret) > 100:
            return ConsoleSessionState()
        # On its own pooled connection: on SQLite a page that only reads takes no write lock.
        rows = driver_query(reading_bind(), _LOAD, {"id_hash": _hash(secret)})
        if not rows:
            return ConsoleSessionState(timed_out=True)
        row_id, user_id, data, created_at, last_seen_at = rows[0]
        if not _alive(created_at, last_seen_at, clock.now()):
            state = ConsoleSessionState(timed_out=True)
            state.row_id, state.renew = row_id, True  # deleted when the answer is saved
            return state
        return ConsoleSessionState(data, row_id=row_id, user_id=user_id, last_seen_at=last_seen_at)

    def save_session(self, app: Flask, state: SessionMixin, response: Response) -> None:
        """Write what changed, in a short transaction of its own, and set or clear the cookie."""
        if not isinstance(state, ConsoleSessionState):
            return
        name, now = cookie_name(request), clock.now()
        if state.ended:
            if state.row_id is not None:
                db.session.execute(delete(_TABLE).where(_TABLE.c.id == state.row_id))
                db.session.commit()
            response.delete_cookie(
                name, path="/", secure=_secure(), httponly=True, samesite="Strict"
            )
            return
        if not state and state.user_id is None:
            if state.row_id is not None:  # timed out: forget it; the next page says so
                db.session.execute(delete(_TABLE).where(_TABLE.c.id == state.row_id))
                db.session.commit()
            return  # nothing worth keeping (a page that renders no form)
        if state.row_id is None or state.renew:
            self._store_new(state, name, now, response)
        elif state.modified:
            self._update(state, {"data": dict(state), "last_seen_at": now})
        elif now - state.last_seen_at >= timedelta(seconds=TOUCH_SECONDS):
            self._update(state, {"last_seen_at": now})

    def _store_new(self, state, name: str, now: datetime, response: Response) -> None:
        if state.row_id is not None:
            db.session.execute(delete(_TABLE).where(_TABLE.c.id == state.row_id))
        secret = secrets.token_urlsafe(32)
        db.session.execute(
            insert(_TABLE).values(
                id_hash=_hash(secret),
                user_id=state.user_id,
                data=dict(state),
                created_at=now,
                last_seen_at=now,
            )
        )
        db.session.commit()
        # No Max-Age: the browser forgets the cookie when it closes; the server sooner.
        response.set_cookie(
            name, secret, path="/", secure=_secure(), httponly=True, samesite="Strict"
        )

    def _update(self, state, values: dict) -> None:
        db.session.execute(update(_TABLE).where(_TABLE.c.id == state.row_id).values(**values))
        db.session.commit()


def _secure() -> bool:
    return request.is_secure or current_app.config["CONSOLE_COOKIE_SECURE"]


def end_sessions_of(user_id: int) -> int:
    """Delete every console session of a user (disabled, or signed out everywhere)."""
    result = db.session.execute(delete(_TABLE).where(_TABLE.c.user_id == user_id))
    return result.rowcount


def expire_sessions(app: Flask) -> str:
    """Delete sessions past their idle timeout or lifetime (a scheduled job)."""
    now = clock.now()
    idle = now - timedelta(minutes=app.config["CONSOLE_IDLE_MINUTES"])
    old = now - timedelta(hours=app.config["CONSOLE_SESSION_HOURS"])
    result = db.session.execute(
        delete(_TABLE).where((_TABLE.c.last_seen_at < idle) | (_TABLE.c.created_at < old))
    )
    db.session.commit()
    return f"{result.rowcount} expired"
