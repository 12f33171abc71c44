"""Fixtures for import tests: legacy CSV files, clinics and protocols."""

import datetime as dt
import io
from collections.abc import Callable

import pytest

from registry.imports.legacy import COLUMNS
from tests.patients.conftest import new_iin

__all__ = ["COLUMNS", "legacy_csv", "new_iin"]


def legacy_csv(rows: list[dict]) -> bytes:
    """Return a legacy CSV file (every column, header first) of rows given as dicts."""
    lines = [",".join(COLUMNS)]
    lines += [",".join(str(row.get(name, "")) for name in COLUMNS) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture()
def shipped(session) -> None:
    """Install the shipped protocols in this test's transaction."""
    from registry.protocols.lifecycle import install_shipped_protocols

    install_shipped_protocols()
    session.flush()


@pytest.fixture()
def importer(shipped) -> Callable:
    """Return a helper that imports rows (or bytes) and returns the run's report."""
    from registry.imports.runner import report, run_import

    def call(rows: list[dict] | bytes, **options) -> dict:
        data = rows if isinstance(rows, bytes) else legacy_csv(rows)
        return report(run_import(io.BytesIO(data), **options))

    return call


def episode(iin: str, clinic_id: int, admitted: str, **extra) -> dict:
    """Return a row of a discharged heroin episode of an IIN at a clinic."""
    row = {
        "iin": iin,
        "clinic": clinic_id,
        "admitted_on": admitted,
        "discharged_on": extra.pop("discharged_on", admitted[:8] + "28"),
        "diagnosis": "F11.2",
        "primary_drug": "heroin",
        "discharge_reason": "completed",
    }
    row.update(extra)
    return row


BORN = dt.date(1984, 6, 1)
