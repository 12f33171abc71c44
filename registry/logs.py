"""Structured JSON logs carrying the request id; never a body, token or identifier."""

import json
import logging
import sys

from flask import Flask, g, has_request_context
from gunicorn.glogging import Logger
from pythonjsonlogger.json import JsonFormatter


class RequestIdFilter(logging.Filter):
    """Add the current request id (or '-') to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def json_handler() -> logging.Handler:
    """Return a stderr handler writing one JSON object per line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(RequestIdFilter())
    return handler


def configure(app: Flask) -> None:
    """Send the app's and the registry's logs through the JSON handler."""
    if app.testing:
        return  # pytest captures plain records; JSON adds nothing there
    # app.logger is the "registry" logger; replace Flask's plain-text default handler.
    logger = logging.getLogger("registry")
    ours = [h for h in logger.handlers if isinstance(h.formatter, JsonFormatter)]
    logger.handlers[:] = ours or [json_handler()]
    logger.setLevel(app.config["LOG_LEVEL"])
    logger.propagate = False


class JsonAccessLogger(Logger):
    """gunicorn's logger, with every access-log value escaped to sit inside a JSON string.

    gunicorn escapes only double quotes: a newline or NUL in a (percent-decoded) path went to
    the log raw, so one request could write a line of its choosing.
    """

    def atoms(self, resp, req, environ, request_time) -> dict:
        """Return gunicorn's atoms, their strings JSON-escaped."""
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            name: json_string_inside(value) if isinstance(value, str) else value
            for name, value in atoms.items()
        }


def json_string_inside(value: str) -> str:
    """Return the value escaped for the inside of a JSON string, with no bare quote left.

    Quotes become \\u0022 rather than \\": gunicorn adds a backslash before each quote itself.
    """
    return json.dumps(value)[1:-1].replace('\\"', "\\u0022")
