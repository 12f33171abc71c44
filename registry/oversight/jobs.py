"""The scheduled oversight check (registry/jobs.py runs it every OVERSIGHT_CHECK_SECONDS)."""

from flask import Flask

from registry.oversight.check import check_registrations


def run_oversight_check(app: Flask | None = None) -> str:
    """Record the findings of the period ending now; return how many are new."""
    return f"{len(check_registrations())} new findings"
