"""gunicorn settings; every value can be overridden with GUNICORN_* environment variables."""

import multiprocessing
import os

from registry import load_config
from registry.config import default_workers

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(
    os.environ.get("GUNICORN_WORKERS")
    or default_workers(load_config()["SQLALCHEMY_DATABASE_URI"], multiprocessing.cpu_count())
)
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# Behind a load balancer, keep-alive lets it reuse connections.
keepalive = 5
# The access log names the path only (%(U)s): never a query string, never a body.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
access_log_format = (
    '{"time":"%(t)s","method":"%(m)s","path":"%(U)s","status":%(s)s,'
    '"bytes":%(B)s,"duration_us":%(D)s,"request_id":"%({x-request-id}o)s"}'
)
# Proxy headers are trusted only from the addresses listed here.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
