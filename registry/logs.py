"""Structured JSON logs carrying the request id; never a body, token or identifier."""

import logging
import sys

from flask import Flask, g, has_request_context
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
