"""gunicorn settings; every value can be overridden with GUNICORN_* environment variables."""

import os

from registry import load_config
from registry.server import per_process_limits_problem

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# One process by default, so that memory:// rate limits count exactly (several need Redis).
# Its event loop reads every request whole, and a thread pool runs the app: a slow client
# holds no thread (registry/server.py). Threads stay within a process's database pool (10).
worker_class = "registry.server.WholeRequestWorker"
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
asgi_lifespan = "off"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# Behind a load balancer, keep-alive lets it reuse connections.
keepalive = 5
# The access log names the path only (%(U)s): never a query string, never a body. Every value
# is escaped for a JSON string (registry/logs.py), so a request cannot forge a log line.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
logger_class = "registry.logs.JsonAccessLogger"
access_log_format = (
    '{"time":"%(t)s","method":"%(m)s","path":"%(U)s","status":%(s)s,'
    '"bytes":%(B)s,"duration_us":%(D)s,"request_id":"%({x-request-id}o)s"}'
)
# Proxy headers are trusted only from the addresses listed here.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server) -> None:
    """Refuse several worker processes whose rate limits would each count apart."""
    problem = per_process_limits_problem(server.cfg.workers, load_config()["RATELIMIT_STORAGE_URI"])
    if problem:
        raise SystemExit(f"registry: {problem}")
