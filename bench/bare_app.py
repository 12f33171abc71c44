"""The floor: a bare Flask app answering {"ok": true}, served by the same gunicorn."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def ok():
    """Answer the smallest JSON there is."""
    return {"ok": True}


@app.post("/")
def ok_post():
    """Answer the smallest JSON there is, to a POST."""
    return {"ok": True}, 201
