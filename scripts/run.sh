#!/usr/bin/env bash
# Run gunicorn and the scheduler side by side; Ctrl-C (or SIGTERM) stops both.
set -euo pipefail
registry scheduler &
scheduler=$!
gunicorn -c gunicorn.conf.py wsgi:app &
server=$!
stop() { kill -TERM "$server" "$scheduler" 2>/dev/null || true; }
trap stop INT TERM
# Whichever stops first takes the other down with it.
wait -n "$server" "$scheduler" || true
stop
wait
